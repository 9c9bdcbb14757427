import Tensor

/// Heun's second-order method (Karras et al. 2022, Algorithm 1 without churn); the last step to σ = 0 is Euler.
/// k-diffusion `sample_heun`; diffusers HeunDiscreteScheduler (which evaluates the corrector at σ_next's timestep).
func sampleHeun(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], callback: SamplerCallback?, afterStep: AfterStep? = nil) throws -> Tensor {
    var x = x0
    let steps = levels.count - 1
    for i in 0..<steps {
        let sigma = Float(levels[i].sigma), next = Float(levels[i + 1].sigma)
        let denoised = try denoiser.denoise(x, level: levels[i])
        let d = (x - denoised).map { $0 / sigma }
        let dt = next - sigma
        if next == 0 {
            x = Tensor.zip(x, d) { $0 + $1 * dt }
        } else {
            let x2 = Tensor.zip(x, d) { $0 + $1 * dt }
            let denoised2 = try denoiser.denoise(x2, level: levels[i + 1])
            let d2 = (x2 - denoised2).map { $0 / next }
            let average = Tensor.zip(d, d2) { ($0 + $1) / 2 }
            x = Tensor.zip(x, average) { $0 + $1 * dt }
        }
        x = try report(callback, afterStep, i, steps, x, denoised)
    }
    return x
}
