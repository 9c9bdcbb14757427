import Foundation
import Tensor

/// DPM2: a second-order step through the log-σ midpoint (DPM-Solver-2, Lu et al. 2022, in Karras et al.'s
/// Algorithm 2 frame, no churn); Euler on the last step to σ = 0. k-diffusion `sample_dpm_2`;
/// diffusers KDPM2DiscreteScheduler.
func sampleDPM2(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], callback: SamplerCallback?,
                afterStep: AfterStep? = nil) throws -> Tensor {
    var x = x0
    let steps = levels.count - 1
    for i in 0..<steps {
        let denoised = try denoiser.denoise(x, level: levels[i])
        x = try midpointStep(denoiser, x, denoised, from: levels[i].sigma, to: levels[i + 1].sigma)
        x = try report(callback, afterStep, i, steps, x, denoised)
    }
    return x
}

/// One DPM-Solver-2 step from σ to σ_to given the denoised estimate at σ: the derivative evaluated at
/// σ_mid = exp(lerp(log σ, log σ_to, ½)) moves x the whole way; a plain Euler step when σ_to = 0.
func midpointStep(_ denoiser: Denoiser, _ x: Tensor, _ denoised: Tensor, from sigma: Double, to target: Double) throws -> Tensor {
    let s = Float(sigma)
    let d = (x - denoised).map { $0 / s }
    if target == 0 { return Tensor.zip(x, d) { $0 - $1 * s } }
    let mid = Float(Foundation.exp((Foundation.log(sigma) + Foundation.log(target)) / 2))
    let x2 = Tensor.zip(x, d) { $0 + $1 * (mid - s) }
    let denoised2 = try denoiser.denoise(x2, level: NoiseLevel(sigma: Double(mid)))
    let d2 = (x2 - denoised2).map { $0 / mid }
    let dt = Float(target) - s
    return Tensor.zip(x, d2) { $0 + $1 * dt }
}
