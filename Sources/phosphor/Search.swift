import ArgumentParser
import Foundation
import ImageIO
import Pipeline

/// `phosphor search "QUERY" FOLDER`: the folder's images ranked by CLIP similarity to a text (or, with --like, to an
/// image), through the folder's cached embedding index.
struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rank a folder's images by CLIP similarity to a text, or to an image with --like (cached index, updated incrementally).")

    @Argument(help: "QUERY FOLDER: what to look for (not with --like) and the folder of PNGs (default: outputs).")
    var words: [String] = []
    @Option(help: "Rank by similarity to this image instead of a text (\"more like this\").") var like: String?
    @Option(help: "How many results (default 10).") var top = 10
    @Option(name: [.customLong("model"), .customLong("clip-model")], help: "The CLIP: a Phosphor model folder with an image_encoder, or a transformers CLIPModel folder (default: the embedded default model's).") var model: String?
    @Flag(help: "One JSON object per result.") var json = false

    var query: String? { like == nil ? words.first : nil }
    var folder: String { (like == nil ? words.dropFirst().first : words.first) ?? "outputs" }

    func validate() throws {
        if like == nil && words.isEmpty { throw ValidationError("give a text to search for, or --like IMAGE") }
        if words.count > (like == nil ? 2 : 1) { throw ValidationError("expected \(like == nil ? "QUERY [FOLDER]" : "[FOLDER] with --like"), got \(words.count) arguments") }
        if top < 1 { throw ValidationError("--top must be at least 1") }
    }

    func run() throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw ValidationError("\(folder): no such folder")
        }
        let scorer = try CLIPScorer.cached(folder: model ?? Assets.defaultModel, mergesFile: Assets.clipMerges)
        var index = GalleryIndex(folder: folder)
        let embedded = try index.update(with: scorer)
        if embedded > 0 { FileHandle.standardError.write(Data("indexed \(embedded) new or changed images in \(folder)\n".utf8)) }
        let ranked: [(file: String, score: Float)]
        if let like {
            let rgb = try PNG.read(path: like).rgb8()
            let (whole, regions) = try scorer.embeddings(rgb)
            let query = [whole] + regions
            let same = URL(fileURLWithPath: like).deletingLastPathComponent().standardizedFileURL == URL(fileURLWithPath: folder).standardizedFileURL
            ranked = index.ranked(like: query, excluding: same ? (like as NSString).lastPathComponent : nil)
        } else {
            ranked = index.ranked(by: try scorer.textEmbedding(query!).toArray(), regions: true)
        }
        for (file, score) in ranked.prefix(top) {
            let path = folder + "/" + file
            if json {
                let object: [String: Any] = ["image": path, "score": Double(score)]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            } else {
                print(String(format: "%7.2f  %@", score, path))
            }
        }
    }
}
