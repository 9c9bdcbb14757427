import Foundation
import Tensor

/// DPM-Solver++(2M) (Lu et al. 2022, arXiv:2211.01095), data prediction, multistep; first-order on the first
/// step and on the final step to σ = 0. k-diffusion `sample_dpmpp_2m`.
func sampleDPMPP2M(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], callback: SamplerCallback?, afterStep: AfterStep? = nil) throws -> Tensor {
    var x = x0
    let steps = levels.count - 1
    var previous: Tensor?
    func t(_ sigma: Double) -> Double { -Foundation.log(sigma) }
    for i in 0..<steps {
        let sigma = levels[i].sigma, next = levels[i + 1].sigma
        let denoised = try denoiser.denoise(x, level: levels[i])
        let ratio = Float(next / sigma)
        if next == 0 {
            x = denoised
        } else {
            let h = t(next) - t(sigma)
            let coefficient = Float(-Foundation.expm1(-h))
            if let old = previous, i > 0 {
                let hLast = t(sigma) - t(levels[i - 1].sigma)
                let r = hLast / h
                let a = Float(1 + 1 / (2 * r)), b = Float(1 / (2 * r))
                let dPrime = Tensor.zip(denoised, old) { a * $0 - b * $1 }
                x = Tensor.zip(x, dPrime) { ratio * $0 + coefficient * $1 }
            } else {
                x = Tensor.zip(x, denoised) { ratio * $0 + coefficient * $1 }
            }
        }
        previous = denoised
        x = try report(callback, afterStep, i, steps, x, denoised)
    }
    return x
}
