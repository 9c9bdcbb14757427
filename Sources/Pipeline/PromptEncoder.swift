import Models
import Tensor
import Tokenizer

/// Prompt → cross-attention context the way A1111 builds it (modules/sd_hijack_clip.py): emphasis weights per
/// token, chunks of 75 tokens each wrapped in start/end tokens (BREAK or a full chunk starts the next; a full
/// chunk backs up to a comma within its last 20 tokens), every chunk encoded alone and the chunks concatenated
/// ([1, 77·chunks, width]). Weights scale the hidden states, then the chunk's mean is restored.
/// A plain prompt of ≤ 75 tokens gives exactly what diffusers gives.
public struct PromptEncoder {
    public static let chunkLength = 75
    public static let commaBacktrack = 20

    public let tokenizer: CLIPTokenizer
    public let textEncoder: TextEncoding

    public init(tokenizer: CLIPTokenizer, textEncoder: TextEncoding) {
        self.tokenizer = tokenizer
        self.textEncoder = textEncoder
    }

    public struct Chunk: Equatable {
        public var tokens: [Int]
        public var weights: [Double]
    }

    /// The 77-token chunks (with start/end tokens and padding) and their per-token weights.
    public func chunks(_ prompt: String) -> [Chunk] {
        let pad = tokenizer.padding == .zero ? 0 : tokenizer.endId
        let comma = tokenizer.encode(",").first ?? -1
        var chunks: [Chunk] = []
        var tokens: [Int] = [], weights: [Double] = []
        var lastComma = -1
        func close() {
            // [start] + text + [end] + padding: SD 1.x pads with the end token (as A1111 and diffusers), SD 2.x with
            // 0 after the end token (as diffusers; A1111's placement of the end token differs for SD 2.x).
            let missing = max(Self.chunkLength - tokens.count, 0)
            chunks.append(Chunk(tokens: [tokenizer.startId] + tokens + [tokenizer.endId] + [Int](repeating: pad, count: missing),
                                weights: [1] + weights + [1] + [Double](repeating: 1, count: missing)))
            tokens = []; weights = []; lastComma = -1
        }
        for fragment in PromptParser.parse(prompt) {
            guard let weight = fragment.weight else { close(); continue }
            for token in tokenizer.encode(fragment.text) {
                if token == comma {
                    lastComma = tokens.count
                } else if tokens.count == Self.chunkLength, lastComma != -1, tokens.count - lastComma <= Self.commaBacktrack {
                    let cut = lastComma + 1
                    let (movedT, movedW) = (Array(tokens[cut...]), Array(weights[cut...]))
                    tokens.removeSubrange(cut...)
                    weights.removeSubrange(cut...)
                    close()
                    tokens = movedT; weights = movedW
                }
                if tokens.count == Self.chunkLength { close() }
                tokens.append(token)
                weights.append(weight)
            }
        }
        if !tokens.isEmpty || chunks.isEmpty { close() }
        return chunks
    }

    /// [1, 77·chunks, width]; `minChunks` pads with encodings of "" (A1111 pads the shorter of prompt and
    /// negative prompt this way so both have the same length).
    public func encode(_ prompt: String, clipSkip: Int, minChunks: Int = 1) throws -> Tensor {
        try encode(chunks(prompt), clipSkip: clipSkip, minChunks: minChunks)
    }

    /// Encodes chunks made by `chunks(_:)`, padded to `minChunks` with the chunk of "".
    public func encode(_ chunks: [Chunk], clipSkip: Int, minChunks: Int = 1) throws -> Tensor {
        try encode(batch: [chunks], clipSkip: clipSkip, minChunks: minChunks)[0]
    }

    /// Encodes several prompts' chunks (each list padded to `minChunks` with the chunk of "") in one batch through the
    /// text encoder — one pass over its weights for a prompt and its negative — and returns one context per list.
    public func encode(batch: [[Chunk]], clipSkip: Int, minChunks: Int = 1) throws -> [Tensor] {
        let empty = self.chunks("")[0]
        let padded = batch.map { $0 + [Chunk](repeating: empty, count: max(0, minChunks - $0.count)) }
        let all = padded.flatMap { $0 }
        let states = try textEncoder.encode(all.map(\.tokens), clipSkip: clipSkip)
        var row = 0
        return padded.map { chunks in
            let parts = chunks.map { chunk -> Tensor in
                defer { row += 1 }
                return Self.emphasized(states.narrowed(0, start: row, length: 1).contiguous(), weights: chunk.weights)
            }
            return parts.count == 1 ? parts[0] : Tensor.concat(parts, dim: 1)
        }
    }

    /// A1111's emphasis: hidden states [1, n, width] scaled per token, then rescaled so their mean is the original's.
    /// All weights 1 leaves z as it is.
    static func emphasized(_ z: Tensor, weights: [Double]) -> Tensor {
        guard weights.contains(where: { $0 != 1 }) else { return z }
        let originalMean = z.sum() / Double(z.count)
        let weighted = z * Tensor(weights.map(Float.init), shape: [1, weights.count, 1])
        let newMean = weighted.sum() / Double(weighted.count)
        return weighted.scaled(Float(originalMean / newMean))
    }
}
