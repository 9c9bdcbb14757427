import Foundation
import Tensor

/// DPM++ SDE: stochastic DPM-Solver++ (Lu et al. 2022) with an intermediate point at r = ½ and η = 1; two noise
/// draws per step; Euler on the last step to σ = 0. k-diffusion `sample_dpmpp_sde`; diffusers
/// DPMSolverSDEScheduler. Noise: i.i.d. normal draws from the caller's generator (samplers/README.md).
func sampleDPMPPSDE(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], noise: (_ shape: [Int]) -> Tensor,
                    callback: SamplerCallback?, afterStep: AfterStep? = nil) throws -> Tensor {
    var x = x0
    let steps = levels.count - 1
    for i in 0..<steps {
        let sigma = levels[i].sigma, next = levels[i + 1].sigma
        let denoised = try denoiser.denoise(x, level: levels[i])
        if next == 0 {
            x = eulerStep(x, denoised, sigma: Float(sigma), to: 0)
        } else {
            let h = Foundation.log(sigma) - Foundation.log(next)
            let mid = sigma * Foundation.exp(-h / 2)
            // Step 1: to the midpoint (ancestral: down to σ_d, noise of σ_u).
            let x2 = ancestralExponentialStep(x, denoised, from: sigma, to: mid, noise: noise)
            let denoised2 = try denoiser.denoise(x2, level: NoiseLevel(sigma: Double(Float(mid))))
            // Step 2: the whole step with the r = ½ combination (1 − 1/(2r))·D + 1/(2r)·D₂ = D₂.
            x = ancestralExponentialStep(x, denoised2, from: sigma, to: next, noise: noise)
        }
        x = try report(callback, afterStep, i, steps, x, denoised)
    }
    return x
}

/// x·σ_d/σ − expm1(log σ_d − log σ)·D + σ_u·noise, with (σ_d, σ_u) the ancestral split of σ → σ_to.
func ancestralExponentialStep(_ x: Tensor, _ denoised: Tensor, from sigma: Double, to target: Double,
                              noise: (_ shape: [Int]) -> Tensor) -> Tensor {
    let (down, up) = ancestralStep(from: Float(sigma), to: Float(target))
    let a = Float(Double(down) / sigma), b = Float(-Foundation.expm1(Foundation.log(Double(down)) - Foundation.log(sigma)))
    let stepped = Tensor.zip(x, denoised) { a * $0 + b * $1 }
    return Tensor.zip(stepped, noise(x.shape)) { $0 + $1 * up }
}
