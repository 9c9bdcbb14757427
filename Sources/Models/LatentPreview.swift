import Tensor

/// A fast preview of SD 1.x/2.x latents without the VAE: each latent pixel's 4 channels mapped linearly to RGB
/// (the community's fitted factors, as in ComfyUI's latent_formats.SD15 and A1111's "Approx NN/cheap" preview),
/// giving an image at 1/8 of the output size in [0, 1]. Used for per-step progress previews.
public enum LatentPreview {
    /// latent channel c → (R, G, B) contribution. Reference: ComfyUI comfy/latent_formats.py SD15.latent_rgb_factors.
    public static let sd15Factors: [[Float]] = [
        [0.3512, 0.2297, 0.3227],
        [0.3250, 0.4974, 0.2350],
        [-0.2829, 0.1762, 0.2721],
        [-0.2120, -0.2616, -0.7177],
    ]

    /// latents [B, 4, H, W] (unscaled, as the sampler holds them) → RGB [B, 3, H, W] in [0, 1].
    public static func rgb(_ latents: Tensor, factors: [[Float]] = sd15Factors) -> Tensor {
        precondition(latents.rank == 4 && latents.shape[1] == factors.count, "preview needs [B, \(factors.count), H, W] latents")
        let x = latents.contiguous()
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let out = Tensor.empty([b, 3, h, w])
        let plane = h * w
        for n in 0..<b {
            for p in 0..<plane {
                for rgb in 0..<3 {
                    var v: Float = 0
                    for ch in 0..<c { v += x.pointer[(n * c + ch) * plane + p] * factors[ch][rgb] }
                    // The map gives roughly [-1, 1]; shown as (v + 1) / 2, clamped.
                    out.pointer[(n * 3 + rgb) * plane + p] = min(max((v + 1) / 2, 0), 1)
                }
            }
        }
        return out
    }
}
