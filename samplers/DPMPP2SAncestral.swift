import Foundation
import Tensor

/// DPM++ 2S a: a single-step DPM-Solver++(2S) (Lu et al. 2022, arXiv:2211.01095) step to σ_down through the
/// log-σ midpoint, then fresh noise of σ_up (η = 1). k-diffusion `sample_dpmpp_2s_ancestral` (no diffusers class).
func sampleDPMPP2SAncestral(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], noise: (_ shape: [Int]) -> Tensor,
                            callback: SamplerCallback?, afterStep: AfterStep? = nil) throws -> Tensor {
    var x = x0
    let steps = levels.count - 1
    for i in 0..<steps {
        let sigma = levels[i].sigma
        let denoised = try denoiser.denoise(x, level: levels[i])
        let (down, up) = ancestralStep(from: Float(sigma), to: Float(levels[i + 1].sigma))
        if down == 0 {
            x = eulerStep(x, denoised, sigma: Float(sigma), to: 0)
        } else {
            // t = −log σ; h = t_down − t; the intermediate point s = t + h/2.
            let h = Foundation.log(sigma) - Foundation.log(Double(down))
            let mid = sigma * Foundation.exp(-h / 2)
            let a = Float(mid / sigma), b = Float(-Foundation.expm1(-h / 2))
            let x2 = Tensor.zip(x, denoised) { a * $0 + b * $1 }
            let denoised2 = try denoiser.denoise(x2, level: NoiseLevel(sigma: Double(Float(mid))))
            let c = Float(Double(down) / sigma), e = Float(-Foundation.expm1(-h))
            x = Tensor.zip(x, denoised2) { c * $0 + e * $1 }
        }
        if levels[i + 1].sigma > 0 {
            x = Tensor.zip(x, noise(x.shape)) { $0 + $1 * up }
        }
        x = try report(callback, afterStep, i, steps, x, denoised)
    }
    return x
}
