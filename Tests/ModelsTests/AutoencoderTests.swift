import Checkpoint
import Models
import Testing
import Tensor
import TestSupport

@Suite struct AutoencoderTests {
    /// The small random KL autoencoder of the fixtures (models/vae_kl).
    static func smallKL() throws -> AutoencoderKL {
        let folder = Fixtures.path("models/vae_kl")
        return try AutoencoderKL(config: try AutoencoderConfig.load(folder + "/config.json"),
                                 weights: try SafetensorsFile(path: folder + "/diffusion_pytorch_model.safetensors"))
    }

    @Test func klDecodeAndEncodeMatchDiffusers() throws {
        let vae = try Self.smallKL()
        #expect(vae.config.scalingFactor == 0.18215)
        let fx = try FixtureFile("models/vae_kl/expected.safetensors")
        // Decode ≤ 1e-3 relative (issue 5); a 6×5 latent, so odd sizes go through every layer.
        let decodeError = scaledMaxError(vae.decode(try fx.file.tensor("z")), try fx.file.tensor("decoded"))
        #expect(decodeError <= 1e-3)
        let (mean, logvar) = vae.encodeDistribution(try fx.file.tensor("image"))
        let meanError = scaledMaxError(mean, try fx.file.tensor("mean")), logvarError = scaledMaxError(logvar, try fx.file.tensor("logvar"))
        #expect(meanError <= 1e-3)
        #expect(logvarError <= 1e-3)
    }

    /// diffusers' tiled decode (enable_tiling): latents of 13×11 in tiles of 8 (the small VAE's sample_size 16) blended
    /// as diffusers blends them, ≤ 1e-4 of the scale; latents within one tile decode as a whole.
    @Test func tiledDecodeMatchesDiffusers() throws {
        let vae = try Self.smallKL()
        #expect(vae.config.sampleSize == 16)
        let fx = try FixtureFile("models/vae_kl/tiled.safetensors")
        for name in ["uneven", "one_tile"] {
            let error = scaledMaxError(vae.decodeTiled(try fx.tensor(name, "z")), try fx.tensor(name, "decoded"))
            #expect(error <= 1e-4, "\(name): \(error)")
        }
    }

    @Test func vqQuantisesAndDecodesLikeDiffusers() throws {
        let folder = Fixtures.path("models/vae_vq")
        let vq = try VQModel(config: try AutoencoderConfig.load(folder + "/config.json"),
                             weights: try SafetensorsFile(path: folder + "/diffusion_pytorch_model.fp16.safetensors"))
        let fx = try FixtureFile("models/vae_vq/expected.safetensors")
        let h = vq.encode(try fx.file.tensor("image"))
        let latentError = scaledMaxError(h, try fx.file.tensor("latents"))
        #expect(latentError <= 1e-3)
        // Code indices identical; quantise the reference latents so a near-tie cannot flip on encoder rounding.
        let (quantized, indices) = vq.quantize(try fx.file.tensor("latents"))
        #expect(indices == (try fx.file.integers("indices")))
        #expect(scaledMaxError(quantized, try fx.file.tensor("quantized")) <= 1e-6)
        let forced = scaledMaxError(vq.decode(try fx.file.tensor("latents"), forceNotQuantize: false), try fx.file.tensor("decoded_quantize"))
        let plain = scaledMaxError(vq.decode(try fx.file.tensor("quantized"), forceNotQuantize: true), try fx.file.tensor("decoded_no_quantize"))
        #expect(forced <= 1e-3)
        #expect(plain <= 1e-3)
    }
}
