import Foundation
import Tensor

/// An area of the image with a prompt of its own (regional prompting: ComfyUI's "Conditioning (Set Area)", A1111's
/// Regional Prompter): pixels from the top-left corner, and how strongly the area's prediction counts against the
/// whole image's (which counts 1). Reference: training/regions.py.
public struct PromptRegion: Codable, Equatable, Sendable {
    public var x: Int, y: Int, width: Int, height: Int
    public var prompt: String
    public var strength: Float

    public init(x: Int, y: Int, width: Int, height: Int, prompt: String, strength: Float = PromptRegion.defaultStrength) {
        (self.x, self.y, self.width, self.height, self.prompt, self.strength) = (x, y, width, height, prompt, strength)
    }

    enum CodingKeys: String, CodingKey { case x, y, width, height, prompt, strength }

    /// A region in a request's JSON (a PNG's metadata, a batch entry); the strength may be left out.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(x: try c.decode(Int.self, forKey: .x), y: try c.decode(Int.self, forKey: .y),
                  width: try c.decode(Int.self, forKey: .width), height: try c.decode(Int.self, forKey: .height),
                  prompt: try c.decode(String.self, forKey: .prompt),
                  strength: try c.decodeIfPresent(Float.self, forKey: .strength) ?? Self.defaultStrength)
    }

    /// The strength of regions that do not give one, and of `auto` layouts (regions.py DEFAULT_STRENGTH).
    public static let defaultStrength: Float = 1.5

    /// `X,Y,W,H[,STRENGTH]:PROMPT` (the command line's `--region`).
    public init(argument: String) throws {
        func fail() -> PipelineError {
            .invalidRequest("--region '\(argument)': expected X,Y,WIDTH,HEIGHT[,STRENGTH]:PROMPT (pixels), e.g. 0,0,64,128:a red circle")
        }
        guard let colon = argument.firstIndex(of: ":") else { throw fail() }
        let numbers = argument[..<colon].split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        let prompt = argument[argument.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        guard numbers.count == 4 || numbers.count == 5, !prompt.isEmpty else { throw fail() }
        let box = numbers.prefix(4).compactMap { Int($0) }
        guard box.count == 4 else { throw fail() }
        var strength = Self.defaultStrength
        if numbers.count == 5 {
            guard let s = Float(numbers[4]) else { throw fail() }
            strength = s
        }
        self.init(x: box[0], y: box[1], width: box[2], height: box[3], prompt: prompt, strength: strength)
    }

    /// The command line's spelling of this region (what `init(argument:)` reads).
    public var argument: String {
        "\(x),\(y),\(width),\(height)" + (strength == Self.defaultStrength ? "" : ",\(strength.formatted())") + ":\(prompt)"
    }

    /// Problems a user can fix, one line; `index` is the region's place (1-based) in the request.
    func validate(index: Int, imageWidth: Int, imageHeight: Int) throws {
        let name = "region \(index) (\(argument))"
        if prompt.trimmingCharacters(in: .whitespaces).isEmpty { throw PipelineError.invalidRequest("\(name): the prompt is empty") }
        if [x, y, width, height].contains(where: { $0 % 8 != 0 }) {
            throw PipelineError.invalidRequest("\(name): x, y, width and height must be multiples of 8 pixels")
        }
        if width < 8 || height < 8 || x < 0 || y < 0 || x + width > imageWidth || y + height > imageHeight {
            throw PipelineError.invalidRequest("\(name): must lie inside the \(imageWidth)×\(imageHeight) image and be at least 8×8")
        }
        if !(strength > 0 && strength <= 100) { throw PipelineError.invalidRequest("\(name): strength must be in (0, 100], got \(strength)") }
    }
}

/// Regions made from the prompt itself: "A left of B" puts A in the left part of the image and B in the right
/// (above/below likewise). regions.py `split_relation` and `auto_layout`, word for word.
public enum RegionLayout {
    /// Relation phrases, longest first where one starts another (regions.py RELATION_PHRASES).
    static let relationPhrases: [(words: [String], relation: Relation)] = ([
        ("to the left of", .left), ("on the left of", .left), ("left of", .left),
        ("to the right of", .right), ("on the right of", .right), ("right of", .right),
        ("on top of", .above), ("above", .above), ("over", .above),
        ("underneath", .below), ("beneath", .below), ("below", .below), ("under", .below),
    ] as [(String, Relation)]).map { ($0.0.split(separator: " ").map(String.init), $0.1) }
    static let backgroundWords: Set<String> = ["on", "with", "against"]

    public enum Relation: String, Sendable { case left, right, above, below }

    /// (first part, relation, second part) when the prompt has exactly one relation phrase between two non-empty
    /// parts; a trailing background clause ("on a yellow background") is copied to both parts.
    public static func splitRelation(_ prompt: String) -> (first: String, relation: Relation, second: String)? {
        let words = prompt.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        let lower = words.map { $0.lowercased() }
        var found: [(at: Int, length: Int, relation: Relation)] = []
        var i = 0
        while i < words.count {
            for (phrase, relation) in relationPhrases where i + phrase.count <= words.count && Array(lower[i..<(i + phrase.count)]) == phrase {
                found.append((i, phrase.count, relation))
                i += phrase.count - 1
                break
            }
            i += 1
        }
        guard found.count == 1 else { return nil }
        let (at, length, relation) = found[0]
        let first = Array(words[..<at])
        var second = Array(words[(at + length)...]), clause: [String] = []
        if second.count > 1 {
            for j in stride(from: second.count - 1, to: 0, by: -1)
            where backgroundWords.contains(second[j].lowercased())
                && second[(j + 1)...].contains(where: { trimmedPunctuation($0.lowercased()) == "background" }) {
                clause = Array(second[j...])
                second = Array(second[..<j])
                break
            }
        }
        guard !first.isEmpty, !second.isEmpty else { return nil }
        return ((first + clause).joined(separator: " "), relation, (second + clause).joined(separator: " "))
    }

    /// Python's `str.rstrip(".,;:!?")`.
    private static func trimmedPunctuation(_ word: String) -> String {
        var w = Substring(word)
        while let last = w.last, ".,;:!?".contains(last) { w = w.dropLast() }
        return String(w)
    }

    /// Two regions for a relation prompt, each a little more than half the image on its side (half + an eighth,
    /// rounded up to 8 pixels, so they overlap in the middle); [] when the prompt has no single relation.
    public static func auto(prompt: String, width: Int, height: Int) -> [PromptRegion] {
        guard let (first, relation, second) = splitRelation(prompt) else { return [] }
        let horizontal = relation == .left || relation == .right
        let extent = horizontal ? width : height
        let side = min(extent, (extent / 2 + extent / 8 + 7) / 8 * 8)
        var (near, far) = (0, extent - side)
        if relation == .right || relation == .below { swap(&near, &far) }
        if horizontal {
            return [PromptRegion(x: near, y: 0, width: side, height: height, prompt: first),
                    PromptRegion(x: far, y: 0, width: side, height: height, prompt: second)]
        }
        return [PromptRegion(x: 0, y: near, width: width, height: side, prompt: first),
                PromptRegion(x: 0, y: far, width: width, height: side, prompt: second)]
    }

    /// Latent pixels over which a region's weight ramps up from an edge inside the image.
    public static func featherWidth(_ w: Int, _ h: Int) -> Int { max(1, min(8, min(w, h) / 4)) }

    /// [h × w] weights (row-major) of a region at latent (x0, y0), w × h, in a width × height latent: the strength
    /// times a ramp (1/F, 2/F, …, 1) from each edge inside the image (edges on the image's border are not feathered).
    public static func weights(x0: Int, y0: Int, w: Int, h: Int, width: Int, height: Int, strength: Float) -> [Float] {
        let f = featherWidth(w, h)
        func ramp(_ i: Int, _ n: Int, _ start: Int, _ total: Int) -> Double {
            var r = 1.0
            if start > 0 { r = min(r, Double(i + 1) / Double(f)) }
            if start + n < total { r = min(r, Double(n - i) / Double(f)) }
            return r
        }
        var out = [Float](repeating: 0, count: w * h)
        for i in 0..<h {
            for j in 0..<w { out[i * w + j] = Float(Double(strength) * ramp(i, h, y0, height) * ramp(j, w, x0, width)) }
        }
        return out
    }
}

/// Regional prompting over a guided noise prediction: the whole latent's prediction (weight 1) plus each region's,
/// computed on its crop of the latents (and of the inpainting U-Net's extra channels) with its own context, blended
/// by `RegionLayout.weights` and divided by the sum of the weights (MultiDiffusion's region paths, Bar-Tal et al.
/// 2023; regions.py, sample.py `generate_regional`).
struct RegionalPrediction {
    struct Area {
        let x0: Int, y0: Int, w: Int, h: Int
        let weights: [Float]
        let context: Tensor
    }

    let areas: [Area]
    /// 1 + Σ weights at each latent pixel [height × width].
    let total: [Float]
    let width: Int, height: Int

    init(regions: [PromptRegion], factor: Int, latentWidth: Int, latentHeight: Int, contexts: [Tensor]) {
        (width, height) = (latentWidth, latentHeight)
        var total = [Float](repeating: 1, count: latentWidth * latentHeight)
        var areas: [Area] = []
        for (region, context) in zip(regions, contexts) {
            let (x0, y0, w, h) = (region.x / factor, region.y / factor, region.width / factor, region.height / factor)
            let weights = RegionLayout.weights(x0: x0, y0: y0, w: w, h: h, width: latentWidth, height: latentHeight, strength: region.strength)
            for i in 0..<h {
                for j in 0..<w { total[(y0 + i) * latentWidth + x0 + j] += weights[i * w + j] }
            }
            areas.append(Area(x0: x0, y0: y0, w: w, h: h, weights: weights, context: context))
        }
        self.areas = areas
        self.total = total
    }

    /// Each area's crop of a model input [n, C, H, W] (latents and any extra channels), in `areas`' order.
    func crops(of input: Tensor) -> [Tensor] {
        areas.map { area in input.narrowed(2, start: area.y0, length: area.h).narrowed(3, start: area.x0, length: area.w).contiguous() }
    }

    /// `whole`: the guided prediction for the whole latent [n, C, H, W]; `predictions`: each area's guided prediction
    /// on its crop (`crops(of:)`) with its own context, in `areas`' order.
    func blend(whole: Tensor, areas predictions: [Tensor]) -> Tensor {
        precondition(predictions.count == areas.count, "one prediction per area")
        let out = whole.contiguous().copy()
        let n = out.shape[0], channels = out.shape[1], plane = width * height
        for (area, prediction) in zip(areas, predictions) {
            let g = prediction.contiguous()
            for b in 0..<(n * channels) {
                let dst = out.pointer + b * plane, src = g.pointer + b * area.w * area.h
                for i in 0..<area.h {
                    for j in 0..<area.w { dst[(area.y0 + i) * width + area.x0 + j] += area.weights[i * area.w + j] * src[i * area.w + j] }
                }
            }
        }
        for b in 0..<(n * channels) {
            let p = out.pointer + b * plane
            for k in 0..<plane { p[k] /= total[k] }
        }
        return out
    }
}
