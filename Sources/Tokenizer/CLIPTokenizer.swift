import Foundation

/// Turns a prompt into token ids.
public protocol Tokenizing: Sendable {
    /// Ids of the text alone: no start/end tokens, no truncation, no padding.
    func encode(_ text: String) -> [Int]
    /// `[start] + ids (truncated) + [end] + padding`, exactly `maxLength` long.
    func tokenize(_ text: String) -> [Int]
}

public enum TokenizerError: Error, CustomStringConvertible {
    case badVocabulary(path: String, detail: String)
    case cannotRead(path: String)
    case malformed(path: String, detail: String)
    public var description: String {
        switch self {
        case let .badVocabulary(path, detail): "\(path): not a CLIP BPE vocabulary: \(detail)"
        case let .cannotRead(path): "\(path): cannot read the tokenizer vocabulary"
        case let .malformed(path, detail): "\(path): not a WordPiece vocabulary: \(detail)"
        }
    }
}

/// CLIP's byte-level BPE, giving the ids of transformers' `CLIPTokenizer` (tokenizers backend) as
/// diffusers uses it: special tokens split out first, then NFC, whitespace runs → one space,
/// lower-casing, CLIP's regex split, byte-level mapping, BPE with the `</w>` word suffix.
/// (open_clip additionally runs ftfy.fix_text and HTML unescaping; that cleaning is not applied here.)
public struct CLIPTokenizer: Tokenizing {
    public enum Padding: Sendable {
        /// SD 1.x: pad with `<|endoftext|>` (49407).
        case endOfText
        /// SD 2.x / OpenCLIP: pad with id 0.
        case zero
    }

    public enum Cleaning: Sendable {
        /// transformers' CLIPTokenizer, as diffusers uses it (the default).
        case transformers
        /// open_clip's tokenizer: ftfy-style fixes and HTML unescaping first (see OpenCLIPCleaning for the limits),
        /// no special-token matching in the text.
        case openCLIP
    }

    public static let startOfText = "<|startoftext|>"
    public static let endOfText = "<|endoftext|>"

    public let vocabulary: [String: Int]
    let ranks: [Pair: Int]
    public let startId: Int
    public let endId: Int
    public var padding: Padding
    public var maxLength: Int
    public var cleaning: Cleaning = .transformers
    private let cache = WordCache()

    struct Pair: Hashable {
        let a: String
        let b: String
    }

    /// Loads the merges list (`bpe_simple_vocab_16e6.txt.gz`, as shipped with OpenAI CLIP and open_clip).
    public init(mergesFile path: String, padding: Padding = .endOfText, maxLength: Int = 77) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.badVocabulary(path: path, detail: "cannot read the file")
        }
        let text = String(decoding: path.hasSuffix(".gz") ? try Gzip.decompress(data, path: path) : data, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // The first line is a version header; CLIP uses the next 49152 - 256 - 2 merges.
        let mergeCount = 49152 - 256 - 2
        guard lines.count > mergeCount else {
            throw TokenizerError.badVocabulary(path: path, detail: "\(lines.count) lines, need \(mergeCount + 1)")
        }
        lines = Array(lines[1...mergeCount])
        var merges: [Pair] = []
        merges.reserveCapacity(lines.count)
        for (i, line) in lines.enumerated() {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { throw TokenizerError.badVocabulary(path: path, detail: "line \(i + 2) is not a merge pair") }
            merges.append(Pair(a: String(parts[0]), b: String(parts[1])))
        }
        self.init(merges: merges, padding: padding, maxLength: maxLength)
    }

    init(merges: [Pair], padding: Padding, maxLength: Int) {
        let byteChars = ByteLevel.vocabularyOrder.map { String($0) }
        var tokens = byteChars + byteChars.map { $0 + "</w>" } + merges.map { $0.a + $0.b }
        tokens += [CLIPTokenizer.startOfText, CLIPTokenizer.endOfText]
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() { vocabulary[t] = i }
        var ranks: [Pair: Int] = [:]
        ranks.reserveCapacity(merges.count)
        for (i, m) in merges.enumerated() where ranks[m] == nil { ranks[m] = i }
        self.vocabulary = vocabulary
        self.ranks = ranks
        startId = vocabulary[CLIPTokenizer.startOfText]!
        endId = vocabulary[CLIPTokenizer.endOfText]!
        self.padding = padding
        self.maxLength = maxLength
    }

    public func encode(_ text: String) -> [Int] {
        if cleaning == .openCLIP {
            let specials = CLIPPreTokenizer.openCLIPSpecials
            return CLIPPreTokenizer.split(OpenCLIPCleaning.clean(text), specials: specials).flatMap { word -> [Int] in
                word == specials[0] ? [startId] : word == specials[1] ? [endId] : bpeIds(ByteLevel.encode(word))
            }
        }
        var ids: [Int] = []
        for segment in splitSpecialTokens(text) {
            switch segment {
            case .special(let id): ids.append(id)
            case .text(let t):
                for word in CLIPPreTokenizer.split(CLIPPreTokenizer.normalize(t)) {
                    ids += bpeIds(ByteLevel.encode(word))
                }
            }
        }
        return ids
    }

    public func tokenize(_ text: String) -> [Int] {
        var ids = [startId] + encode(text).prefix(maxLength - 2) + [endId]
        let pad = padding == .endOfText ? endId : 0
        while ids.count < maxLength { ids.append(pad) }
        return ids
    }

    private enum Segment { case text(String), special(Int) }

    /// Added tokens, matched in the raw text before any normalisation. SD 2.x's tokenizer config makes
    /// its pad token "!" an added token too, so every "!" in a prompt becomes id 0 there (as in diffusers).
    private var addedTokens: [(text: String, id: Int)] {
        var tokens = [(CLIPTokenizer.startOfText, startId), (CLIPTokenizer.endOfText, endId)]
        if padding == .zero { tokens.append(("!", 0)) }
        return tokens
    }

    private func splitSpecialTokens(_ text: String) -> [Segment] {
        let added = addedTokens
        var segments: [Segment] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            var first: (range: Range<Substring.Index>, id: Int)?
            for token in added {
                if let r = rest.range(of: token.text), r.lowerBound < (first?.range.lowerBound ?? rest.endIndex) {
                    first = (r, token.id)
                }
            }
            guard let match = first else { segments.append(.text(String(rest))); break }
            if match.range.lowerBound > rest.startIndex { segments.append(.text(String(rest[..<match.range.lowerBound]))) }
            segments.append(.special(match.id))
            rest = rest[match.range.upperBound...]
        }
        return segments
    }

    private func bpeIds(_ word: String) -> [Int] {
        if let hit = cache.get(word) { return hit }
        var symbols = word.map { String($0) }
        guard !symbols.isEmpty else { return [] }
        symbols[symbols.count - 1] += "</w>"
        while symbols.count > 1 {
            var best: (rank: Int, index: Int)?
            for i in 0..<(symbols.count - 1) {
                if let r = ranks[Pair(a: symbols[i], b: symbols[i + 1])], r < (best?.rank ?? Int.max) { best = (r, i) }
            }
            guard let (rank, _) = best else { break }
            // Merge every occurrence of the best pair, left to right (as the reference BPE does).
            let pair = Pair(a: symbols[best!.index], b: symbols[best!.index + 1])
            _ = rank
            var merged: [String] = []
            var i = 0
            while i < symbols.count {
                if i < symbols.count - 1 && symbols[i] == pair.a && symbols[i + 1] == pair.b {
                    merged.append(pair.a + pair.b)
                    i += 2
                } else {
                    merged.append(symbols[i])
                    i += 1
                }
            }
            symbols = merged
        }
        let ids = symbols.map { vocabulary[$0] ?? endId }
        cache.set(word, ids)
        return ids
    }
}

/// A thread-safe memo of BPE results per word.
final class WordCache: @unchecked Sendable {
    private var table: [String: [Int]] = [:]
    private let lock = NSLock()
    func get(_ key: String) -> [Int]? { lock.lock(); defer { lock.unlock() }; return table[key] }
    func set(_ key: String, _ value: [Int]) {
        lock.lock(); defer { lock.unlock() }
        if table.count > 100_000 { table.removeAll(keepingCapacity: true) }
        table[key] = value
    }
}
