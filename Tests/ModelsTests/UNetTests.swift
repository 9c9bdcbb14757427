import Checkpoint
import Models
import Testing
import Tensor
import TestSupport

@Suite struct UNetTests {
    func load(_ name: String, file: String = "diffusion_pytorch_model.safetensors") throws -> UNet2DConditionModel {
        let folder = Fixtures.path("models/\(name)")
        return try UNet2DConditionModel(config: try UNetConfig.load(folder + "/config.json"),
                                        weights: try SafetensorsFile(path: folder + "/" + file))
    }

    /// SD1-style (conv projections, fp32), SD2-style (linear projections, per-block heads, fp16 variant
    /// file), and the 9-channel inpainting U-Net; square latents and a 6×5 latent that no power of two divides.
    @Test(arguments: [("unet_sd1", "diffusion_pytorch_model.safetensors"),
                      ("unet_sd2", "diffusion_pytorch_model.fp16.safetensors"),
                      ("unet_inpaint", "diffusion_pytorch_model.safetensors")])
    func outputMatchesDiffusers(_ name: String, _ file: String) throws {
        let unet = try load(name, file: file)
        let expected = try FixtureFile("models/\(name)/expected.safetensors")
        for c in ["square", "odd"] {
            let x = try expected.tensor(c, "x"), ctx = try expected.tensor(c, "context")
            let t = try expected.tensor(c, "timestep").toArray()
            let out = unet.predict(x, timesteps: t, context: ctx)
            // U-Net output ≤ 1e-3 relative (issue 5).
            let error = scaledMaxError(out, try expected.tensor(c, "out"))
            #expect(error <= 1e-3, "\(name) \(c)")
        }
        #expect(unet.inChannels == (name == "unet_inpaint" ? 9 : 4))
    }
}
