import Tensor

/// A model seen by a sampler (k-diffusion convention): given noisy latents `x` at noise level
/// `sigma`, return the denoised estimate of the clean latents. Prediction type, CFG and inpaint
/// blending are wrappers that conform to this protocol; samplers never see them.
public protocol Denoiser {
    func denoise(_ x: Tensor, sigma: Float) throws -> Tensor
}
