import Tensor

/// Euler (Karras et al. 2022, Algorithm 2 without churn). k-diffusion `sample_euler`; diffusers EulerDiscreteScheduler.
func sampleEuler(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], callback: SamplerCallback?, afterStep: AfterStep? = nil) throws -> Tensor {
    var x = x0
    let steps = levels.count - 1
    for i in 0..<steps {
        let denoised = try denoiser.denoise(x, level: levels[i])
        x = eulerStep(x, denoised, sigma: Float(levels[i].sigma), to: Float(levels[i + 1].sigma))
        x = try report(callback, afterStep, i, steps, x, denoised)
    }
    return x
}
