import Tensor

/// DPM2 a: the DPM2 midpoint step down to σ_down, then fresh noise of σ_up (η = 1).
/// k-diffusion `sample_dpm_2_ancestral`; diffusers KDPM2AncestralDiscreteScheduler.
func sampleDPM2Ancestral(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], noise: (_ shape: [Int]) -> Tensor,
                         callback: SamplerCallback?, afterStep: AfterStep? = nil) throws -> Tensor {
    var x = x0
    let steps = levels.count - 1
    for i in 0..<steps {
        let denoised = try denoiser.denoise(x, level: levels[i])
        let (down, up) = ancestralStep(from: Float(levels[i].sigma), to: Float(levels[i + 1].sigma))
        x = try midpointStep(denoiser, x, denoised, from: levels[i].sigma, to: Double(down))
        if down > 0 {
            x = Tensor.zip(x, noise(x.shape)) { $0 + $1 * up }
        }
        x = try report(callback, afterStep, i, steps, x, denoised)
    }
    return x
}
