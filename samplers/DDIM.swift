import Tensor

/// DDIM (Song et al. 2021, arXiv:2010.02502) with stochasticity η, written over σ (x in k-diffusion's VE form,
/// ᾱ = 1/(1+σ²)) so it runs on any σ schedule; η = 0 is the deterministic DDIM (equal to Euler in this form).
/// diffusers DDIMScheduler.step (set_alpha_to_one: the last step lands on ᾱ = 1, σ = 0).
func sampleDDIM(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], eta: Float, noise: (_ shape: [Int]) -> Tensor,
                callback: SamplerCallback?, afterStep: AfterStep? = nil) throws -> Tensor {
    var x = x0
    let steps = levels.count - 1
    for i in 0..<steps {
        let sigma = Float(levels[i].sigma), next = Float(levels[i + 1].sigma)
        let denoised = try denoiser.denoise(x, level: levels[i])
        let alpha = 1 / (1 + sigma * sigma), alphaPrev = 1 / (1 + next * next)
        let variance = (1 - alphaPrev) / (1 - alpha) * (1 - alpha / alphaPrev)
        let std = eta * max(variance, 0).squareRoot()
        let direction = (max(1 - alphaPrev - std * std, 0) / alphaPrev).squareRoot()
        // ε from the VE latents; x_prev (VE) = x0 + √((1−ᾱ_prev−std²)/ᾱ_prev)·ε + std/√ᾱ_prev · noise.
        x = Tensor.zip(x, denoised) { xv, d in d + direction * ((xv - d) / sigma) }
        if std > 0 {
            let scale = std / alphaPrev.squareRoot()
            x = Tensor.zip(x, noise(x.shape)) { $0 + scale * $1 }
        }
        x = try report(callback, afterStep, i, steps, x, denoised)
    }
    return x
}
