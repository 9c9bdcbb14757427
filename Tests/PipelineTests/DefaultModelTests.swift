import Foundation
import Pipeline
import Testing
import Tensor
import TestSupport

/// The shipped default model (assets/default) against training/sample.py's PyTorch reference sampler.
@Suite struct DefaultModelTests {
    static let folder = URL(fileURLWithPath: Fixtures.folder).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("assets/default").path

    struct Cases: Decodable {
        struct Case: Decodable { let prompt: String; let seed: UInt64; let steps: Int; let cfg_scale: Float }
        let text_prompts: [String]
        let cases: [Case]
    }

    func cases() throws -> Cases {
        try JSONDecoder().decode(Cases.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("default_model/cases.json"))))
    }

    /// The fp16 MiniLM text tower's states for whole prompts (padding included) within 1e-4 of the output's scale.
    @Test func textStatesMatchTransformers() throws {
        let pipeline = try Pipeline(model: Self.folder, mergesFile: "")
        let expected = try FixtureFile("default_model/expected.safetensors").file.tensor("text_states")
        let prompts = try cases().text_prompts
        for (i, prompt) in prompts.enumerated() {
            let (cond, _) = try pipeline.conditioner.context(prompt: prompt, negative: nil, clipSkip: 1)
            let error = scaledMaxError(cond, expected.narrowed(0, start: i, length: 1))
            #expect(error <= 1e-4, "\(prompt): \(error)")
        }
    }

    /// An image's and its regions' prompts with one negative, encoded in one batch (the negative once): each within
    /// the same tolerance. The text side is loaded once per folder (the pipeline's and CLIP's are one model).
    @Test func batchedContextsMatchTransformers() throws {
        let expected = try FixtureFile("default_model/expected.safetensors").file.tensor("text_states")
        let prompts = try cases().text_prompts
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.folder + "/model_index.json"))) as! [String: Any]
        let conditioner = try DefaultModel.conditioner(Self.folder, index: index)
        #expect(try DefaultModel.conditioner(Self.folder, index: index).model === conditioner.model)
        let encoded = try conditioner.contexts(prompts: Array(prompts.dropFirst()), negative: prompts[0], clipSkip: 1)
        #expect(encoded.count == prompts.count - 1)
        for (i, e) in encoded.enumerated() {
            let error = scaledMaxError(e.cond, expected.narrowed(0, start: i + 1, length: 1))
            #expect(error <= 1e-4, "\(prompts[i + 1]): \(error)")
            let negativeError = scaledMaxError(try #require(e.uncond), expected.narrowed(0, start: 0, length: 1))
            #expect(negativeError <= 1e-4, "negative \(prompts[0]): \(negativeError)")
        }
    }

    /// A1111 emphasis syntax is parsed, not tokenized: weight 1 is the plain text; other weights change the states.
    @Test func emphasisSyntaxWeightsTokenStates() throws {
        let pipeline = try Pipeline(model: Self.folder, mergesFile: "")
        func context(_ p: String) throws -> Tensor { try pipeline.conditioner.context(prompt: p, negative: nil, clipSkip: 1).cond }
        let plain = try context("two blue stars")
        #expect(scaledMaxError(try context("two (blue:1.0) stars"), plain) == 0)
        #expect(scaledMaxError(try context("two (blue:1.5) stars"), plain) > 1e-3)
        #expect(pipeline.conditioner.tokenCount("two (blue:1.5) stars") == (3, 30))
    }

    /// Whole generations (Euler from the model's scheduler config, CFG, torch CPU seed, the 7-channel U-Net's
    /// all-ones mask, VQ decode): final latents within 1e-3 of their scale, image PSNR ≥ 60 dB — with the CFG halves
    /// as two U-Net calls at once (this small model's default) and as one call.
    @Test(arguments: [true, false])
    func generationMatchesPyTorch(concurrentCalls: Bool) throws {
        let pipeline = try Pipeline(model: Self.folder, mergesFile: "")
        #expect(pipeline.defaults.width == 128 && pipeline.defaults.sampler == "euler" && pipeline.defaults.layout == "auto")
        let fx = try FixtureFile("default_model/expected.safetensors")
        for (i, c) in try cases().cases.enumerated() {
            var request = GenerationRequest(prompt: c.prompt)
            (request.width, request.height, request.steps, request.cfgScale) = (128, 128, c.steps, c.cfg_scale)
            (request.sampler, request.schedule, request.seed) = ("euler", "normal", c.seed)
            try Pipeline.withConcurrentCalls(concurrentCalls) { try Self.expectReference(pipeline, request, fx, "case\(i)") }
        }
    }

    /// Inpainting through the 7-channel U-Net (mask + masked-image latents), strength 1, against the reference sampler.
    @Test func inpaintingMatchesPyTorch() throws {
        let pipeline = try Pipeline(model: Self.folder, mergesFile: "")
        var request = GenerationRequest(prompt: "a yellow star")
        (request.width, request.height, request.steps, request.cfgScale) = (128, 128, 15, 5)
        (request.sampler, request.schedule, request.seed, request.strength) = ("euler", "normal", 5, 1)
        request.initImage = Fixtures.path("default_model/inpaint_image.png")
        request.mask = Fixtures.path("default_model/inpaint_mask.png")
        try Self.expectReference(pipeline, request, try FixtureFile("default_model/expected.safetensors"), "inpaint")
    }

    /// Generates the request and compares it with the fixture's `KEY_latents` (the final latents, within 1e-3 of their
    /// scale) and `KEY_image` (PSNR ≥ 60 dB on the float image, issue 10); returns the image.
    @discardableResult
    static func expectReference(_ pipeline: Pipeline, _ request: GenerationRequest, _ fx: FixtureFile, _ key: String) throws -> Tensor {
        var last: Tensor?
        let image = try pipeline.generate(request, progress: { _, _, latents, _ in last = latents; return true })
        let latentError = scaledMaxError(try #require(last), try fx.file.tensor(key + "_latents"))
        #expect(latentError <= 1e-3, "\(request.prompt): latents \(latentError)")
        let expected = try fx.file.tensor(key + "_image").toArray().map { min(max($0 / 2 + 0.5, 0), 1) }
        let actual = image.toArray()
        let mse = zip(actual, expected).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(actual.count)
        let psnr = 10 * log10(1 / max(mse, 1e-30))
        #expect(psnr >= 60, "\(request.prompt): \(psnr) dB")
        return image
    }

    /// Per-step previews: the default model decodes the denoised estimate with its VQ decoder; the last step's
    /// preview is the final image.
    @Test func previewOfTheLastStepIsTheImage() throws {
        let pipeline = try Pipeline(model: Self.folder, mergesFile: "")
        var request = GenerationRequest(prompt: "a green square")
        (request.width, request.height, request.steps, request.cfgScale, request.sampler, request.schedule) = (128, 128, 4, 5, "euler", "normal")
        var preview: Tensor?
        let image = try pipeline.generate(request, progress: { _, _, _, denoised in preview = pipeline.previewImage(denoised); return true })
        let p = try #require(preview)
        #expect(p.shape == [1, 3, 128, 128])
        // Euler's last step lands on its denoised estimate (σ = 0), so the last preview is the image itself.
        #expect(scaledMaxError(p, image) <= 1e-5)
    }

    /// The shipped CLIP (ViT image tower, MiniLM + projection): embeddings and CLIP scores of two scene PNGs against
    /// three captions, as transformers computes them.
    @Test func clipScoresMatchTransformers() throws {
        let scorer = try CLIPScorer(folder: Self.folder, mergesFile: "")
        let prompts = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("default_model/clip_prompts.json"))))
        let fx = try FixtureFile("default_model/expected.safetensors").file
        let expectedScores = try fx.tensor("clip_scores").toArray()
        let texts = try prompts.map { try scorer.textEmbedding($0) }
        for (j, t) in texts.enumerated() {
            #expect(scaledMaxError(t, try fx.tensor("clip_text_embeds").narrowed(0, start: j, length: 1).reshaped([t.count])) <= 1e-4)
        }
        for i in 0..<2 {
            let image = try scorer.imageEmbedding(try scorer.loadImage(Fixtures.path("default_model/clip_scene\(i).png")))
            #expect(scaledMaxError(image, try fx.tensor("clip_image_embeds").narrowed(0, start: i, length: 1).reshaped([image.count])) <= 1e-4)
            for (j, t) in texts.enumerated() {
                let score = scorer.score(image: image, text: t)
                #expect(abs(score - expectedScores[i * prompts.count + j]) <= 0.01, "image \(i) prompt \(j): \(score)")
            }
        }
    }
}
