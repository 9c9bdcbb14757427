import Checkpoint
import Foundation
import ImageIO
import Models
import Tensor

/// The default model's CLIP: its ViT image tower and the locked MiniLM text tower with a learned projection (LiT),
/// for CLIP scores (100 · cosine of the unit embeddings, torchmetrics' CLIPScore before its clamp at 0).
public final class CLIPScorer {
    public let vision: CLIPVisionModel
    let text: BertConditioner
    let textProjection: Tensor   // [d, d]: embedding = W · pooled

    public init(folder: String) throws {
        let index = try Pipeline.modelIndex(folder)
        guard index["_class_name"] as? String == DefaultModel.className else {
            throw ModelError.unsupported(location: folder, detail: "CLIP scoring needs a Phosphor model folder with an image_encoder")
        }
        let model = try DefaultModel.load(folder, index: index)
        let imageFolder = try StableDiffusionLoader.componentFolder(folder, "image_encoder")
        vision = try CLIPVisionModel(config: CLIPVisionConfig.load(imageFolder + "/config.json"),
                                     weights: StableDiffusionLoader.weights(in: imageFolder, stem: "model", variant: nil))
        let projection = try SafetensorsFile(path: imageFolder + "/text_projection.safetensors")
        textProjection = try projection.tensor("text_projection.weight")
        text = model.conditioner
    }

    nonisolated(unsafe) private static var cache: [String: CLIPScorer] = [:]
    private static let cacheLock = NSLock()

    /// One scorer per folder for the process (guidance, best-of and search share it).
    public static func cached(folder: String) throws -> CLIPScorer {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let hit = cache[folder] { return hit }
        let made = try CLIPScorer(folder: folder)
        cache[folder] = made
        return made
    }

    /// Unit text embedding: the mean of the text tower's states over the real tokens, projected.
    public func textEmbedding(_ prompt: String) throws -> Tensor {
        let (row, length) = text.tokenizer.padded(text.tokenizer.encode(prompt))
        let states = try text.model.encode([row], lengths: [length])
        let d = states.shape[2]
        let s = states.contiguous().toArray()
        var pooled = [Float](repeating: 0, count: d)
        for t in 0..<length { for j in 0..<d { pooled[j] += s[t * d + j] } }
        let mean = Tensor(pooled.map { $0 / Float(length) }, shape: [1, d])
        return Self.unit(mean.linear(weight: textProjection, bias: Optional<Tensor>.none))
    }

    /// Unit image embedding of pixels [1, 3, H, W] in [-1, 1] (resized to the tower's input size if needed).
    public func imageEmbedding(_ pixels: Tensor) throws -> Tensor {
        Self.unit(try vision.imageEmbeds(pixels))
    }

    /// A PNG's pixels as the tower takes them: RGB in [-1, 1], box-resized to the input size.
    public func loadImage(_ path: String) throws -> Tensor {
        pixels(try PNG.read(path: path).rgb8())
    }

    /// 8-bit RGB as the tower takes it: RGB in [-1, 1], box-resized to the input size.
    public func pixels(_ rgb: RGBImage) -> Tensor {
        let s = vision.config.imageSize
        let out = Tensor.empty([1, 3, s, s])
        for y in 0..<s {
            let y0 = y * rgb.height / s, y1 = max(y0 + 1, (y + 1) * rgb.height / s)
            for x in 0..<s {
                let x0 = x * rgb.width / s, x1 = max(x0 + 1, (x + 1) * rgb.width / s)
                for c in 0..<3 {
                    var sum = 0
                    for yy in y0..<y1 { for xx in x0..<x1 { sum += Int(rgb.pixels[(yy * rgb.width + xx) * 3 + c]) } }
                    out.pointer[(c * s + y) * s + x] = Float(sum) / Float((y1 - y0) * (x1 - x0)) / 127.5 - 1
                }
            }
        }
        return out
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
