import Checkpoint
import Foundation
import ImageIO
import Models
import Tensor
import Tokenizer

/// A CLIP model for scores, guidance and search (100 · cosine of the unit embeddings, torchmetrics' CLIPScore
/// before its clamp at 0): a ViT image tower and a text tower, from either
/// - a Phosphor model folder: its image_encoder and the locked MiniLM text tower with a learned projection (LiT), or
/// - a transformers CLIPModel folder a user supplies (OpenAI CLIP, or OpenCLIP converted to that layout): config.json
///   with text_config/vision_config, model.safetensors (text_model.*, vision_model.*, text_projection,
///   visual_projection), preprocessor_config.json for the pixel mean/std (OpenAI's when absent); prompts through the
///   CLIP BPE tokenizer.
public final class CLIPScorer {
    public let vision: CLIPVisionModel
    enum TextTower {
        /// Mean of the MiniLM states over the real tokens.
        case locked(BertConditioner)
        /// transformers CLIPTextModel's pooled output: the final-norm state at the first end-of-text token.
        case clip(CLIPTextModel, CLIPTokenizer)
    }
    let text: TextTower
    let textProjection: Tensor   // [projection, hidden]: embedding = W · pooled
    /// Per-channel normalisation of [0, 1] pixels for the image tower: (p − mean) / std.
    public let mean: [Float], std: [Float]
    /// The folder it was loaded from (the gallery index records which CLIP made its embeddings).
    public let folder: String

    /// `mergesFile`: the CLIP BPE vocabulary (assets/clip), for CLIPModel folders.
    public init(folder: String, mergesFile: String) throws {
        self.folder = folder
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw ModelError.unsupported(location: folder, detail: "no such CLIP model folder")
        }
        if let index = try? Pipeline.modelIndex(folder), index["_class_name"] as? String == DefaultModel.className {
            let conditioner = try DefaultModel.conditioner(folder, index: index)
            let imageFolder = try StableDiffusionLoader.componentFolder(folder, "image_encoder")
            vision = try CLIPVisionModel(config: CLIPVisionConfig.load(imageFolder + "/config.json"),
                                         weights: StableDiffusionLoader.weights(in: imageFolder, stem: "model", variant: nil))
            let projection = try SafetensorsFile(path: imageFolder + "/text_projection.safetensors")
            textProjection = try projection.tensor("text_projection.weight")
            text = .locked(conditioner)
            (mean, std) = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
            return
        }
        let configPath = folder + "/config.json"
        guard let data = FileManager.default.contents(atPath: configPath),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let textJSON = json["text_config"], let visionJSON = json["vision_config"] else {
            throw ModelError.unsupported(location: folder, detail: "not a CLIP model: needs a Phosphor model folder with an image_encoder, or a transformers CLIPModel folder (config.json with text_config and vision_config)")
        }
        func decode<T: Decodable>(_ part: Any, _ type: T.Type) throws -> T {
            do { return try JSONDecoder().decode(T.self, from: try JSONSerialization.data(withJSONObject: part)) } catch {
                throw ModelError.badConfig(path: configPath, detail: "\(error)")
            }
        }
        var visionConfig = try decode(visionJSON, CLIPVisionConfig.self)
        if let projection = json["projection_dim"] as? Int { visionConfig.projectionDim = projection }
        let weights = try StableDiffusionLoader.weights(in: folder, stem: "model", variant: nil)
        vision = try CLIPVisionModel(config: visionConfig, weights: weights)
        let textModel = try CLIPTextModel(config: try decode(textJSON, CLIPTextConfig.self), weights: weights)
        textProjection = try WeightReader(weights)["text_projection"].tensor("weight")
        text = .clip(textModel, try CLIPTokenizer(mergesFile: mergesFile))
        let processor = FileManager.default.contents(atPath: folder + "/preprocessor_config.json")
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        mean = (processor?["image_mean"] as? [Double])?.map(Float.init) ?? [0.48145466, 0.4578275, 0.40821073]
        std = (processor?["image_std"] as? [Double])?.map(Float.init) ?? [0.26862954, 0.26130258, 0.27577711]
    }

    nonisolated(unsafe) private static var cache: [String: CLIPScorer] = [:]
    private static let cacheLock = NSLock()

    /// One scorer per folder for the process (guidance, best-of and search share it).
    public static func cached(folder: String, mergesFile: String) throws -> CLIPScorer {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let hit = cache[folder] { return hit }
        let made = try CLIPScorer(folder: folder, mergesFile: mergesFile)
        cache[folder] = made
        return made
    }

    /// Unit text embedding of a prompt.
    public func textEmbedding(_ prompt: String) throws -> Tensor {
        let pooled: Tensor
        switch text {
        case let .locked(bert):
            // The mean of the text tower's states over the real tokens.
            let (row, length) = bert.tokenizer.padded(bert.tokenizer.encode(prompt))
            let states = try bert.model.encode([row], lengths: [length])
            let d = states.shape[2]
            let s = states.contiguous().toArray()
            var sum = [Float](repeating: 0, count: d)
            for t in 0..<length { for j in 0..<d { sum[j] += s[t * d + j] } }
            pooled = Tensor(sum.map { $0 / Float(length) }, shape: [1, d])
        case let .clip(model, tokenizer):
            let ids = tokenizer.tokenize(prompt)
            let states = try model.encode([ids], clipSkip: 1)
            let end = ids.firstIndex(of: tokenizer.endId) ?? ids.count - 1
            pooled = states.narrowed(1, start: end, length: 1).reshaped([1, states.shape[2]]).contiguous()
        }
        return Self.unit(pooled.linear(weight: textProjection, bias: Optional<Tensor>.none))
    }

    /// Unit image embedding of pixels [1, 3, H, W] in [-1, 1] (resized to the tower's input size if needed).
    public func imageEmbedding(_ pixels: Tensor) throws -> Tensor {
        Self.unit(try vision.imageEmbeds(pixels))
    }

    /// A PNG's pixels as the tower takes them: box-resized to the input size, normalised with `mean` and `std`.
    public func loadImage(_ path: String) throws -> Tensor {
        pixels(try PNG.read(path: path).rgb8())
    }

    /// 8-bit RGB as the tower takes it: box-resized to the input size (a square image; others are squashed),
    /// normalised with `mean` and `std` (the default model's tower: [-1, 1]).
    public func pixels(_ rgb: RGBImage) -> Tensor {
        precondition(rgb.channels == 3, "CLIP pixels from \(rgb.channels)-channel samples (decode with rgb8())")
        let s = vision.config.imageSize
        let out = Tensor.empty([1, 3, s, s])
        for y in 0..<s {
            let y0 = y * rgb.height / s, y1 = max(y0 + 1, (y + 1) * rgb.height / s)
            for x in 0..<s {
                let x0 = x * rgb.width / s, x1 = max(x0 + 1, (x + 1) * rgb.width / s)
                for c in 0..<3 {
                    var sum = 0
                    for yy in y0..<y1 { for xx in x0..<x1 { sum += Int(rgb.pixels[(yy * rgb.width + xx) * 3 + c]) } }
                    out.pointer[(c * s + y) * s + x] = (Float(sum) / Float((y1 - y0) * (x1 - x0)) / 255 - mean[c]) / std[c]
                }
            }
        }
        return out
    }

    /// The crops `embeddings` embeds besides the whole image, as fractions (x, y, width, height) of the image: a 3×3 grid of half-side
    /// squares (stride ¼), a 3×3 grid of ⅝-side squares (stride 3/16), and the four halves. On the 200-scene search
    /// evaluation (training/search_eval.py) ranking by the best of the whole image and these regions lifted colour+shape
    /// precision@5 from 0.46 to 0.85: a query names one object, a whole-scene embedding mixes two or three.
    public static let regions: [(x: Double, y: Double, w: Double, h: Double)] = {
        var out: [(x: Double, y: Double, w: Double, h: Double)] = []
        for (side, step) in [(0.5, 0.25), (0.625, 0.1875)] {
            for j in 0..<3 { for i in 0..<3 { out.append((Double(i) * step, Double(j) * step, side, side)) } }
        }
        return out + [(0, 0, 0.5, 1), (0.5, 0, 0.5, 1), (0, 0, 1, 0.5), (0, 0.5, 1, 0.5)]
    }()

    /// Unit embeddings of the whole image and of its `regions` (each cropped, then box-resized to the tower's input as
    /// `pixels`), all through the tower in one batch.
    public func embeddings(_ rgb: RGBImage) throws -> (whole: [Float], regions: [[Float]]) {
        let crops = try [pixels(rgb)] + Self.regions.map { r -> Tensor in
            let x0 = Int((r.x * Double(rgb.width)).rounded()), y0 = Int((r.y * Double(rgb.height)).rounded())
            let w = max(1, min(rgb.width - x0, Int((r.w * Double(rgb.width)).rounded())))
            let h = max(1, min(rgb.height - y0, Int((r.h * Double(rgb.height)).rounded())))
            var bytes = [UInt8](repeating: 0, count: w * h * 3)
            for y in 0..<h {
                let from = ((y0 + y) * rgb.width + x0) * 3
                bytes.replaceSubrange((y * w * 3)..<((y + 1) * w * 3), with: rgb.pixels[from..<(from + w * 3)])
            }
            return pixels(try RGBImage(width: w, height: h, channels: 3, pixels: bytes))
        }
        let embeds = try vision.imageEmbeds(Tensor.concat(crops, dim: 0))
        let d = embeds.shape[1]
        let all = (0..<crops.count).map { Self.unit(embeds.narrowed(0, start: $0, length: 1).reshaped([d])).toArray() }
        return (all[0], Array(all.dropFirst()))
    }

    /// The CLIP score (100 · cosine) of 8-bit RGB pixels against a unit text embedding.
    public func score(_ rgb: RGBImage, text: Tensor) throws -> Float {
        score(image: try imageEmbedding(pixels(rgb)), text: text)
    }

    /// 100 · cosine similarity.
    public func score(image: Tensor, text: Tensor) -> Float {
        100 * zip(image.toArray(), text.toArray()).reduce(0) { $0 + $1.0 * $1.1 }
    }

    static func unit(_ t: Tensor) -> Tensor {
        let v = t.toArray()
        let norm = max(v.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
        return Tensor(v.map { $0 / norm }, shape: [v.count])
    }
}
