import ArgumentParser
import Foundation
import Pipeline

/// `phosphor score IMAGE… --prompt P`: CLIP score of each image against the prompt.
struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "CLIP score (100 · cosine) of images against a prompt, with the default model's CLIP (or --model's).")

    @Argument(help: "PNG images.") var images: [String]
    @Option(help: "The text to score against.") var prompt: String
    @Option(name: [.customLong("model"), .customLong("clip-model")], help: "The CLIP: a Phosphor model folder with an image_encoder, or a transformers CLIPModel folder (default: the embedded default model's).") var model: String?
    @Flag(help: "One JSON object per image.") var json = false

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image") }
    }

    func run() throws {
        let scorer = try CLIPScorer.cached(folder: model ?? Assets.defaultModel, mergesFile: Assets.clipMerges)
        let text = try scorer.textEmbedding(prompt)
        for path in images {
            let score = scorer.score(image: try scorer.imageEmbedding(try scorer.loadImage(path)), text: text)
            if json {
                let object: [String: Any] = ["image": path, "prompt": prompt, "clip_score": Double(score)]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            } else {
                print(String(format: "%7.2f  %@", score, path))
            }
        }
    }
}
