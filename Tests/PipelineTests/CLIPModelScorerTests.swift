import Checkpoint
import Foundation
import ImageIO
import Models
import Pipeline
import Testing
import Tensor
import TestSupport

/// A user's transformers CLIPModel folder (a small random one, fp16, OpenAI layout; make_clip_model_fixtures.py) as
/// the CLIP for scores, guidance and search: text and image features against transformers' get_text_features /
/// get_image_features, ≤ 1e-4 of their scale.
@Suite struct CLIPModelScorerTests {
    static let merges = URL(fileURLWithPath: Fixtures.folder).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("assets/clip/bpe_simple_vocab_16e6.txt.gz").path

    @Test func featuresMatchTransformers() throws {
        let folder = Fixtures.path("models/clip_full")
        let scorer = try CLIPScorer(folder: folder, mergesFile: Self.merges)
        let fx = try Fixtures.open("models/clip_full/expected.safetensors")
        let prompts = try JSONDecoder().decode([String].self, from: Data(try #require(fx.metadata["prompts"]).utf8))
        let expectedText = try fx.tensor("text_embeds")
        func unit(_ t: Tensor) -> Tensor {
            let v = t.toArray(), n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return Tensor(v.map { $0 / n }, shape: [v.count])
        }
        for (i, prompt) in prompts.enumerated() {
            let error = scaledMaxError(try scorer.textEmbedding(prompt), unit(expectedText.narrowed(0, start: i, length: 1).contiguous()))
            #expect(error <= 1e-4, "\(prompt): \(error)")
        }
        // The processor's mean/std (OpenAI's) from preprocessor_config.json; an image at the tower's size is not resampled.
        #expect(scorer.mean == [0.48145466, 0.4578275, 0.40821073])
        let rgb = try RGBImage(width: 32, height: 32, channels: 3, pixels: try fx.integers("rgb").map(UInt8.init))
        let pixels = scorer.pixels(rgb)
        #expect(scaledMaxError(pixels, try fx.tensor("pixel_values")) <= 1e-6)
        let error = scaledMaxError(try scorer.imageEmbedding(pixels), unit(try fx.tensor("image_embeds")))
        #expect(error <= 1e-4, "image: \(error)")
        #expect(throws: ModelError.self) { try CLIPScorer(folder: Fixtures.path("models/vae_kl"), mergesFile: Self.merges) }
    }
}
