import Checkpoint
import Foundation
import Models
import Pipeline
import Samplers
import Testing
import Tensor
import TestSupport

/// CLIP guidance's loss and ∂loss/∂latents (latents → VQ decode → [0, 1] → cutouts pooled to the tower's size →
/// CLIP → spherical distance) against torch.autograd on diffusers' community-pipeline formula
/// (make_autodiff_fixtures.py), with the small random VQ model and CLIP tower of the model tests.
@Suite struct CLIPGuidanceTests {
    let fx: FixtureFile
    let vq: VQModel
    let vision: CLIPVisionModel

    init() throws {
        fx = try FixtureFile("autodiff.safetensors")
        let folder = Fixtures.path("models/vae_vq")
        vq = try VQModel(config: try AutoencoderConfig.load(folder + "/config.json"),
                         weights: try SafetensorsFile(path: folder + "/diffusion_pytorch_model.fp16.safetensors"))
        let clip = Fixtures.path("default_model/clip_vision_tiny")
        vision = try CLIPVisionModel(config: CLIPVisionConfig.load(clip + "/config.json"),
                                     weights: try SafetensorsFile(path: clip + "/model.safetensors"))
    }

    func guide(_ name: String) throws -> CLIPGuide {
        var guide = CLIPGuide(decoder: vq, vision: vision, text: try fx.tensor(name, "text"),
                              scale: try fx.option(name, "scale"), scalingFactor: try fx.option(name, "scaling"))
        guide.mean = try fx.option(name, "mean")
        guide.std = try fx.option(name, "std")
        return guide
    }

    @Test(arguments: ["guidance_resize", "guidance_cutouts"])
    func lossAndGradientMatchTorch(name: String) throws {
        let cutouts: [[Int]] = try fx.option(name, "cutouts")
        let (loss, gradient) = try guide(name).lossAndGradient(try fx.tensor(name, "latents"),
                                                               cutouts: cutouts.map { Cutout(size: $0[0], x: $0[1], y: $0[2]) })
        let expectedLoss = try fx.tensor(name, "loss").pointer[0]
        #expect(abs(loss - expectedLoss) <= 1e-4 * abs(expectedLoss), "loss \(loss) vs \(expectedLoss)")
        let error = scaledMaxError(gradient, try fx.tensor(name, "grad"))
        #expect(error <= 1e-4, "gradient \(error)")
    }

    /// A step against the gradient lowers the loss (the sign the wrapper relies on), with the KL decoder (a VQ
    /// model's loss is flat between codebook switches); cutouts outside the image are refused.
    @Test func descentLowersTheLoss() throws {
        let folder = Fixtures.path("models/vae_kl")
        let kl = try AutoencoderKL(config: try AutoencoderConfig.load(folder + "/config.json"),
                                   weights: try SafetensorsFile(path: folder + "/diffusion_pytorch_model.safetensors"))
        let guide = CLIPGuide(decoder: kl, vision: vision, text: try fx.tensor("guidance_resize", "text"), scale: 100, scalingFactor: 0.18215)
        let latents = Tensor.randomUniform([1, 4, 6, 5], seed: 5, scale: 0.3)
        let (loss, gradient) = try guide.lossAndGradient(latents, cutouts: [])
        let norm = gradient.toArray().reduce(0) { $0 + $1 * $1 }.squareRoot()
        let stepped = Tensor.zip(latents, gradient) { $0 - 0.05 / norm * $1 }
        let (after, _) = try guide.lossAndGradient(stepped, cutouts: [])
        #expect(after < loss, "\(after) ≥ \(loss)")
        #expect(throws: PipelineError.self) { try guide.lossAndGradient(latents, cutouts: [Cutout(size: 8, x: 4, y: 0)]) }
    }

    /// MakeCutouts' size rule: between min(side, cut size) and the shorter side, always inside the image.
    @Test func randomCutoutsStayInside() {
        var rng = SplitMix64(seed: 3)
        let cuts = CLIPGuide.randomCutouts(count: 200, width: 64, height: 40, cutSize: 16, using: &rng)
        #expect(cuts.allSatisfy { $0.size >= 16 && $0.size <= 40 && $0.x + $0.size <= 64 && $0.y + $0.size <= 40 && $0.x >= 0 && $0.y >= 0 })
        #expect(Set(cuts.map(\.size)).count > 10)
        let whole = CLIPGuide.randomCutouts(count: 3, width: 32, height: 32, cutSize: 64, using: &rng)
        #expect(whole == Array(repeating: Cutout(size: 32, x: 0, y: 0), count: 3))
    }

    /// The wrapper: σ²/(σ² + 1) of the gradient subtracted from the inner denoiser's estimate; nothing at σ = 0.
    @Test func wrapperStepsAlongTheGradient() throws {
        struct Fixed: Denoiser {
            let value: Tensor
            func denoise(_ x: Tensor, level: NoiseLevel) throws -> Tensor { value }
        }
        let latents = try fx.tensor("guidance_resize", "latents")
        let guide = try guide("guidance_resize")
        let (_, gradient) = try guide.lossAndGradient(latents, cutouts: [])
        let wrapped = CLIPGuidedDenoiser(Fixed(value: latents), guide: guide, cutouts: 0, seed: 0, upsampling: 2)
        let out = try wrapped.denoise(latents, level: NoiseLevel(sigma: 2))
        let expected = Tensor.zip(latents, gradient) { $0 - 0.8 * $1 }
        #expect(scaledMaxError(out, expected) <= 1e-6)
        #expect(try wrapped.denoise(latents, level: NoiseLevel(sigma: 0)).toArray() == latents.toArray())
    }
}
