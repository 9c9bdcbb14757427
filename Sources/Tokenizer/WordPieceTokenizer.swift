import Foundation

/// BERT's uncased WordPiece tokenizer, as transformers' BertTokenizer(Fast) with do_lower_case: clean the text
/// (drop NUL, U+FFFD and control characters; whitespace → space), put spaces around CJK ideographs, strip
/// accents (NFD, drop non-spacing marks), lowercase, split on whitespace and around every punctuation
/// character, then greedy longest-match-first word pieces ("##" continues a word; a word with no full cover,
/// or over 100 characters, is [UNK]).
public struct WordPieceTokenizer: Sendable {
    public let vocabulary: [String: Int]
    public let clsId: Int, sepId: Int, padId: Int, unkId: Int
    public let maxLength: Int
    static let maxWordCharacters = 100

    public init(vocabFile: String, maxLength: Int) throws {
        guard let data = FileManager.default.contents(atPath: vocabFile), String(data: data, encoding: .utf8) != nil else {
            throw TokenizerError.cannotRead(path: vocabFile)
        }
        // One token per line (its number is its id; a repeated token keeps its first id), split on the bytes:
        // Foundation's line splitting took ~30 ms of a 30,522-line vocabulary, a noticeable part of a 2 s image.
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(data.count / 6)
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var start = 0, i = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count && bytes[end] != 0x0A { end += 1 }
                var stop = end
                if stop > start && bytes[stop - 1] == 0x0D { stop -= 1 }
                let token = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<stop]), as: UTF8.self)
                if vocab[token] == nil { vocab[token] = i }
                i += 1
                start = end + 1
            }
        }
        func id(_ t: String) throws -> Int {
            guard let v = vocab[t] else { throw TokenizerError.malformed(path: vocabFile, detail: "no \(t) token") }
            return v
        }
        vocabulary = vocab
        clsId = try id("[CLS]"); sepId = try id("[SEP]"); padId = try id("[PAD]"); unkId = try id("[UNK]")
        self.maxLength = maxLength
    }

    /// Word pieces of the text (no special tokens).
    public func tokenize(_ text: String) -> [String] {
        Self.basicTokens(text).flatMap(wordPieces)
    }

    /// Ids of the text's word pieces (no special tokens).
    public func encode(_ text: String) -> [Int] {
        tokenize(text).map { vocabulary[$0] ?? unkId }
    }

    /// [CLS] ids [SEP] padded with [PAD] to `maxLength` (truncated to fit), and how many are real tokens.
    public func padded(_ ids: [Int]) -> (ids: [Int], length: Int) {
        let body = Array(ids.prefix(maxLength - 2))
        let row = [clsId] + body + [sepId]
        return (row + [Int](repeating: padId, count: maxLength - row.count), row.count)
    }

    // MARK: basic tokenizer

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format: return true
        default: return false
        }
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        if s == " " || s == "\t" || s == "\n" || s == "\r" { return true }
        return s.properties.generalCategory == .spaceSeparator
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    static func isCJK(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }

    /// Normalised words and punctuation marks, in order.
    static func basicTokens(_ text: String) -> [String] {
        var cleaned = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if s.value == 0 || s.value == 0xFFFD || isControl(s) { continue }
            if isWhitespace(s) { cleaned.append(" "); continue }
            if isCJK(s) { cleaned.append(" "); cleaned.append(s); cleaned.append(" "); continue }
            cleaned.append(s)
        }
        // Strip accents (NFD, drop Mn), then lowercase each scalar.
        var normal = String.UnicodeScalarView()
        for s in String(cleaned).decomposedStringWithCanonicalMapping.unicodeScalars
        where s.properties.generalCategory != .nonspacingMark {
            normal.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
        }
        var tokens: [String] = []
        var word = String.UnicodeScalarView()
        func flush() { if !word.isEmpty { tokens.append(String(word)); word = String.UnicodeScalarView() } }
        for s in normal {
            if isWhitespace(s) { flush(); continue }
            if isPunctuation(s) { flush(); tokens.append(String(s)); continue }
            word.append(s)
        }
        flush()
        return tokens
    }

    // MARK: word pieces

    func wordPieces(_ word: String) -> [String] {
        let scalars = Array(word.unicodeScalars)
        if scalars.count > Self.maxWordCharacters { return ["[UNK]"] }
        var pieces: [String] = []
        var start = 0
        while start < scalars.count {
            var end = scalars.count
            var found: String?
            while start < end {
                var piece = String(String.UnicodeScalarView(scalars[start..<end]))
                if start > 0 { piece = "##" + piece }
                if vocabulary[piece] != nil { found = piece; break }
                end -= 1
            }
            guard let match = found else { return ["[UNK]"] }
            pieces.append(match)
            start = end
        }
        return pieces
    }
}
