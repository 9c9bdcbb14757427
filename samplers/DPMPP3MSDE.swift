import Foundation
import Tensor

/// DPM++ 3M SDE: third-order multistep DPM-Solver++ for the SDE (η = 1), fresh noise each step; the last step to
/// σ = 0 returns the denoised estimate. k-diffusion `sample_dpmpp_3m_sde`.
func sampleDPMPP3MSDE(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], noise: (_ shape: [Int]) -> Tensor,
                      callback: SamplerCallback?, afterStep: AfterStep? = nil) throws -> Tensor {
    var x = x0
    let steps = levels.count - 1
    var d1: Tensor?, d2: Tensor?      // the last two denoised estimates
    var h1: Double?, h2: Double?      // and the step sizes that followed them
    for i in 0..<steps {
        let sigma = levels[i].sigma, next = levels[i + 1].sigma
        let denoised = try denoiser.denoise(x, level: levels[i])
        var h = h1 ?? 0
        if next == 0 {
            x = denoised
        } else {
            h = Foundation.log(sigma) - Foundation.log(next)
            let hEta = 2 * h
            let a = Float(Foundation.exp(-hEta)), b = Float(-Foundation.expm1(-hEta))
            x = Tensor.zip(x, denoised) { a * $0 + b * $1 }
            let phi2 = Foundation.expm1(-hEta) / hEta + 1
            if let h1, let h2, let d1, let d2 {
                let r0 = h1 / h, r1 = h2 / h
                let phi3 = phi2 / hEta - 0.5
                // d1_0 = (D − D₁)/r0, d1_1 = (D₁ − D₂)/r1; x += φ₂·(d1_0 + (d1_0 − d1_1)·r0/(r0+r1)) − φ₃·(d1_0 − d1_1)/(r0+r1)
                let first = Tensor.zip(denoised, d1) { ($0 - $1) / Float(r0) }
                let second = Tensor.zip(d1, d2) { ($0 - $1) / Float(r1) }
                let w = Float(r0 / (r0 + r1)), v = Float(1 / (r0 + r1))
                let p2 = Float(phi2), p3 = Float(phi3)
                let correction = Tensor.zip(first, second) { f, s in p2 * (f + (f - s) * w) - p3 * ((f - s) * v) }
                x = x + correction
            } else if let h1, let d1 {
                let r = Float(h1 / h), p2 = Float(phi2)
                x = x + Tensor.zip(denoised, d1) { p2 * (($0 - $1) / r) }
            }
            let scale = Float(next * (-Foundation.expm1(-2 * h)).squareRoot())
            x = Tensor.zip(x, noise(x.shape)) { $0 + $1 * scale }
        }
        (d1, d2) = (denoised, d1)
        (h1, h2) = (h, h1)
        x = try report(callback, afterStep, i, steps, x, denoised)
    }
    return x
}
