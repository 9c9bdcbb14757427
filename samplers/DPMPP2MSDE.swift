import Foundation
import Tensor

/// DPM++ 2M SDE: multistep DPM-Solver++(2M) for the SDE (η = 1, midpoint correction), fresh noise each step; the
/// last step to σ = 0 returns the denoised estimate. k-diffusion `sample_dpmpp_2m_sde`; diffusers
/// DPMSolverMultistepScheduler(algorithm_type "sde-dpmsolver++", solver_order 2).
func sampleDPMPP2MSDE(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], noise: (_ shape: [Int]) -> Tensor,
                      callback: SamplerCallback?, afterStep: AfterStep? = nil) throws -> Tensor {
    var x = x0
    let steps = levels.count - 1
    var previous: Tensor?
    var hLast = 0.0
    for i in 0..<steps {
        let sigma = levels[i].sigma, next = levels[i + 1].sigma
        let denoised = try denoiser.denoise(x, level: levels[i])
        if next == 0 {
            x = denoised
        } else {
            let h = Foundation.log(sigma) - Foundation.log(next)   // t = −log σ, h = t_next − t; η·h = h
            let a = Float(next / sigma * Foundation.exp(-h)), b = Float(-Foundation.expm1(-2 * h))
            x = Tensor.zip(x, denoised) { a * $0 + b * $1 }
            if let previous {
                let c = Float(0.5 * -Foundation.expm1(-2 * h) * (h / hLast))
                x = x + Tensor.zip(denoised, previous) { c * ($0 - $1) }
            }
            let scale = Float(next * (-Foundation.expm1(-2 * h)).squareRoot())
            x = Tensor.zip(x, noise(x.shape)) { $0 + $1 * scale }
            hLast = h
        }
        previous = denoised
        x = try report(callback, afterStep, i, steps, x, denoised)
    }
    return x
}
