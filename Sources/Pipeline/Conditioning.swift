import Models
import Tensor
import Tokenizer

/// Prompt (and negative prompt, for classifier-free guidance) → the U-Net's cross-attention context.
public protocol PromptConditioning {
    /// [1, tokens, width] for the prompt and, when `negative` is given, for it (same token count).
    func context(prompt: String, negative: String?, clipSkip: Int) throws -> (cond: Tensor, uncond: Tensor?)
    /// Tokens the prompt uses and how many one context holds (a 77-token CLIP chunk holds 75).
    func tokenCount(_ prompt: String) -> (used: Int, capacity: Int)
    /// `context(prompt:negative:clipSkip:)` for each prompt with the same negative (an image's prompt and its
    /// regions' prompts).
    func contexts(prompts: [String], negative: String?, clipSkip: Int) throws -> [(cond: Tensor, uncond: Tensor?)]
}

extension PromptConditioning {
    public func contexts(prompts: [String], negative: String?, clipSkip: Int) throws -> [(cond: Tensor, uncond: Tensor?)] {
        try prompts.map { try context(prompt: $0, negative: negative, clipSkip: clipSkip) }
    }
}

/// Stable Diffusion: CLIP text encoder with A1111 prompt syntax and 75-token chunks (PromptEncoder).
public struct CLIPConditioner: PromptConditioning {
    public let encoder: PromptEncoder

    public func context(prompt: String, negative: String?, clipSkip: Int) throws -> (cond: Tensor, uncond: Tensor?) {
        let condChunks = encoder.chunks(prompt)
        let uncondChunks = negative.map { encoder.chunks($0) } ?? []
        let count = max(condChunks.count, uncondChunks.count)
        let contexts = try encoder.encode(batch: negative == nil ? [condChunks] : [condChunks, uncondChunks],
                                          clipSkip: clipSkip, minChunks: count)
        return (contexts[0], negative == nil ? nil : contexts[1])
    }

    public func tokenCount(_ prompt: String) -> (used: Int, capacity: Int) {
        let used = PromptParser.parse(prompt).reduce(0) { $0 + ($1.weight == nil ? 0 : encoder.tokenizer.encode($1.text).count) }
        return (used, PromptEncoder.chunkLength)
    }
}

/// Phosphor's default model: a BERT (all-MiniLM-L6-v2) text tower whose last hidden state over a fixed-length,
/// right-padded row is the context. A1111 emphasis syntax weights the token states as PromptEncoder does (then
/// restores the mean); BREAK is a plain separator; text beyond the row is cut off.
public struct BertConditioner: PromptConditioning {
    public let tokenizer: WordPieceTokenizer
    public let model: BertModel

    public func context(prompt: String, negative: String?, clipSkip: Int) throws -> (cond: Tensor, uncond: Tensor?) {
        try contexts(prompts: [prompt], negative: negative, clipSkip: clipSkip)[0]
    }

    /// All prompts and the negative in one batch (one pass over the text tower's weights), the negative once.
    public func contexts(prompts: [String], negative: String?, clipSkip: Int) throws -> [(cond: Tensor, uncond: Tensor?)] {
        let encoded = try encode(batch: prompts + (negative.map { [$0] } ?? []))
        return prompts.indices.map { (encoded[$0], negative == nil ? nil : encoded[prompts.count]) }
    }

    func weightedTokens(_ prompt: String) -> (ids: [Int], weights: [Double]) {
        var ids: [Int] = [], weights: [Double] = []
        for fragment in PromptParser.parse(prompt) {
            guard let weight = fragment.weight else { continue }
            let tokens = tokenizer.encode(fragment.text)
            ids += tokens
            weights += [Double](repeating: weight, count: tokens.count)
        }
        return (ids, weights)
    }

    public func encode(_ prompt: String) throws -> Tensor { try encode(batch: [prompt])[0] }

    /// Several prompts in one batch through the text tower (one pass over its weights), a context each.
    public func encode(batch prompts: [String]) throws -> [Tensor] {
        let rows = prompts.map { prompt -> (row: [Int], length: Int, weights: [Double]) in
            let (ids, weights) = weightedTokens(prompt)
            let (row, length) = tokenizer.padded(ids)
            return (row, length, [1] + weights.prefix(length - 2) + [Double](repeating: 1, count: row.count - length + 1))
        }
        let z = try model.encode(rows.map(\.row), lengths: rows.map(\.length))
        return rows.indices.map { i in
            PromptEncoder.emphasized(z.narrowed(0, start: i, length: 1).contiguous(), weights: rows[i].weights)
        }
    }

    public func tokenCount(_ prompt: String) -> (used: Int, capacity: Int) {
        (weightedTokens(prompt).ids.count, tokenizer.maxLength - 2)
    }
}
