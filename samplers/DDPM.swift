import Tensor

/// DDPM ancestral sampling (Ho et al. 2020) with the posterior variance β̃ ("fixed_small"): the posterior mean and
/// variance equal DDIM's with η = 1, so this is that update on the same levels. diffusers DDPMScheduler.
func sampleDDPM(_ denoiser: Denoiser, _ x0: Tensor, levels: [NoiseLevel], noise: (_ shape: [Int]) -> Tensor,
                callback: SamplerCallback?, afterStep: AfterStep? = nil) throws -> Tensor {
    try sampleDDIM(denoiser, x0, levels: levels, eta: 1, noise: noise, callback: callback, afterStep: afterStep)
}
