import Checkpoint
import Models
import Testing
import Tensor
import TestSupport

/// Gradients through whole models on the tape against torch.autograd (make_autodiff_fixtures.py): the small random
/// autoencoders and CLIP image tower of the other model tests; ≤ 1e-4 relative to scale (issue 9).
@Suite struct DifferentiableModelTests {
    let fx: FixtureFile
    init() throws { fx = try FixtureFile("autodiff.safetensors") }

    func gradientError(_ name: String, input: String, grad: String, _ forward: (Variable) throws -> Variable) throws -> (value: Float, gradient: Float) {
        let tape = Tape()
        let x = tape.variable(try fx.tensor(name, input))
        let y = try forward(x)
        let dx = tape.gradient(of: y, seed: try fx.tensor(name, "g"), wrt: [x])[0]
        return (scaledMaxError(y.value, try fx.tensor(name, "out")), scaledMaxError(dx, try fx.tensor(name, grad)))
    }

    /// VQ decode with the quantiser's straight-through gradient (diffusers' VectorQuantizer returns z + (z_q − z).detach()).
    @Test func vqDecoder() throws {
        let folder = Fixtures.path("models/vae_vq")
        let vq = try VQModel(config: try AutoencoderConfig.load(folder + "/config.json"),
                             weights: try SafetensorsFile(path: folder + "/diffusion_pytorch_model.fp16.safetensors"))
        let (value, gradient) = try gradientError("vq_decoder", input: "z", grad: "dz") { vq.decode($0) }
        #expect(value <= 1e-4, "value \(value)")
        #expect(gradient <= 1e-4, "gradient \(gradient)")
    }

    @Test func klDecoder() throws {
        let folder = Fixtures.path("models/vae_kl")
        let vae = try AutoencoderKL(config: try AutoencoderConfig.load(folder + "/config.json"),
                                    weights: try SafetensorsFile(path: folder + "/diffusion_pytorch_model.safetensors"))
        let (value, gradient) = try gradientError("kl_decoder", input: "z", grad: "dz") { vae.decode($0) }
        #expect(value <= 1e-4, "value \(value)")
        #expect(gradient <= 1e-4, "gradient \(gradient)")
    }

    @Test func clipImageTower() throws {
        let folder = Fixtures.path("default_model/clip_vision_tiny")
        let model = try CLIPVisionModel(config: CLIPVisionConfig.load(folder + "/config.json"),
                                        weights: try SafetensorsFile(path: folder + "/model.safetensors"))
        let (value, gradient) = try gradientError("clip_vision", input: "pixels", grad: "dpixels") { try model.imageEmbeds($0) }
        #expect(value <= 1e-4, "value \(value)")
        #expect(gradient <= 1e-4, "gradient \(gradient)")
    }
}
