import Tensor

/// Latent Consistency Model sampling (Luo et al. 2023, arXiv:2310.04378): each step takes the model's consistency
/// estimate (denoised, with LCM's boundary scalings c_skip/c_out at the level's timestep × 10, σ_data = ½) and
/// re-noises it to the next level with fresh noise; the last step returns it. diffusers LCMScheduler.
func sampleLCM(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], noise: (_ shape: [Int]) -> Tensor,
               callback: SamplerCallback?, afterStep: AfterStep? = nil) throws -> Tensor {
    var x = x0
    let steps = levels.count - 1
    for i in 0..<steps {
        let sigma = levels[i].sigma
        var denoised = try denoiser.denoise(x, level: levels[i])
        if let t = levels[i].timestep {
            let scaled = t * 10, dataVariance = 0.25
            let cSkip = dataVariance / (scaled * scaled + dataVariance), cOut = scaled / (scaled * scaled + dataVariance).squareRoot()
            // c_skip multiplies the model's (VP) input sample x/√(σ²+1).
            let skip = Float(cSkip / (sigma * sigma + 1).squareRoot()), out = Float(cOut)
            denoised = Tensor.zip(denoised, x) { out * $0 + skip * $1 }
        }
        if i < steps - 1 {
            let next = Float(levels[i + 1].sigma)
            x = Tensor.zip(denoised, noise(denoised.shape)) { $0 + $1 * next }
        } else {
            x = denoised
        }
        x = try report(callback, afterStep, i, steps, x, denoised)
    }
    return x
}
