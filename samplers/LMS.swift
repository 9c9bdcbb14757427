import Tensor

/// Linear multistep (order 4): x += Σ_k c_k · d_{i−k}, c_k the integral over [σ_i, σ_{i+1}] of the Lagrange
/// basis polynomial through the last σ. k-diffusion `sample_lms`; diffusers LMSDiscreteScheduler (which
/// integrates numerically; the integrand is a polynomial of degree < 4, so 4-point Gauss–Legendre is exact).
func sampleLMS(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], order maxOrder: Int = 4,
               callback: SamplerCallback?, afterStep: AfterStep? = nil) throws -> Tensor {
    var x = x0
    let steps = levels.count - 1
    let sigmas = levels.map(\.sigma)
    var derivatives: [Tensor] = []
    for i in 0..<steps {
        let denoised = try denoiser.denoise(x, level: levels[i])
        let sigma = Float(sigmas[i])
        derivatives.append((x - denoised).map { $0 / sigma })
        if derivatives.count > maxOrder { derivatives.removeFirst() }
        let order = min(i + 1, maxOrder)
        let coefficients = (0..<order).map { lmsCoefficient(sigmas, order: order, step: i, current: $0) }
        // x + Σ c_k · d_(newest − k), accumulated left to right in float32 as diffusers' Python sum.
        var sum: Tensor?
        for (k, c) in coefficients.enumerated() {
            let term = derivatives[derivatives.count - 1 - k].map { Float(c) * $0 }
            sum = sum.map { $0 + term } ?? term
        }
        x = x + sum!
        x = try report(callback, afterStep, i, steps, x, denoised)
    }
    return x
}

/// ∫ over [σ_step, σ_step+1] of Π_{k≠current} (τ − σ_{step−k}) / (σ_{step−current} − σ_{step−k}) dτ.
func lmsCoefficient(_ sigmas: [Double], order: Int, step t: Int, current: Int) -> Double {
    func basis(_ tau: Double) -> Double {
        var product = 1.0
        for k in 0..<order where k != current {
            product *= (tau - sigmas[t - k]) / (sigmas[t - current] - sigmas[t - k])
        }
        return product
    }
    // 4-point Gauss–Legendre on [a, b].
    let nodes = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526]
    let weights = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538]
    let a = sigmas[t], b = sigmas[t + 1]
    let half = (b - a) / 2, mid = (a + b) / 2
    return zip(nodes, weights).reduce(0) { $0 + $1.1 * basis(mid + half * $1.0) } * half
}
