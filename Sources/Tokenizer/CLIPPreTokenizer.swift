import Foundation

/// CLIP's text normalisation and regex split:
/// `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
/// (transformers CLIPTokenizer, leftmost-first alternation over code points).
enum CLIPPreTokenizer {
    /// NFC, every run of whitespace → one space, Unicode lower-casing (tokenizers' normalizer sequence).
    static func normalize(_ text: String) -> String {
        let nfc = text.precomposedStringWithCanonicalMapping
        var out = String.UnicodeScalarView()
        var inSpace = false
        for s in nfc.unicodeScalars {
            if s.properties.isWhitespace {
                if !inSpace { out.append(" ") }
                inSpace = true
            } else {
                out.append(s)
                inSpace = false
            }
        }
        return String(out).lowercased()
    }

    static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    static func isNumber(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }

    static func isSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }

    static let contractions: [[Unicode.Scalar]] = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map { Array($0.unicodeScalars) }
    static let transformersSpecials = ["<|startoftext|>", "<|endoftext|>"]
    /// open_clip's regex names its special tokens differently.
    static let openCLIPSpecials = ["<start_of_text>", "<end_of_text>"]

    static func split(_ text: String, specials specialWords: [String] = transformersSpecials) -> [String] {
        let specials = specialWords.map { Array($0.unicodeScalars) }
        let s = Array(text.unicodeScalars)
        var words: [String] = []
        var i = 0
        func matches(_ p: [Unicode.Scalar], at i: Int) -> Bool {
            i + p.count <= s.count && Array(s[i..<(i + p.count)]) == p
        }
        func emit(_ range: Range<Int>) {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: s[range])
            words.append(String(v))
        }
        outer: while i < s.count {
            for p in specials + contractions where matches(p, at: i) {
                emit(i..<(i + p.count))
                i += p.count
                continue outer
            }
            let c = s[i]
            if isLetter(c) {
                var j = i + 1
                while j < s.count && isLetter(s[j]) { j += 1 }
                emit(i..<j); i = j
            } else if isNumber(c) {
                emit(i..<(i + 1)); i += 1
            } else if !isSpace(c) {
                var j = i + 1
                while j < s.count && !isSpace(s[j]) && !isLetter(s[j]) && !isNumber(s[j]) { j += 1 }
                emit(i..<j); i = j
            } else {
                i += 1
            }
        }
        return words
    }
}

/// GPT-2's reversible byte → printable character table (bytes_to_unicode).
enum ByteLevel {
    /// The characters in CLIP's vocabulary order: printable bytes first, then the remapped ones.
    static let vocabularyOrder: [Character] = {
        let printable = Array(33...126) + Array(161...172) + Array(174...255)
        let others = (0..<256).filter { !printable.contains($0) }
        return (printable + others).map { table[$0] }
    }()

    static let table: [Character] = {
        var bs = Array(33...126) + Array(161...172) + Array(174...255)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b)
            cs.append(256 + n)
            n += 1
        }
        var byByte = [Character](repeating: " ", count: 256)
        for (b, c) in zip(bs, cs) { byByte[b] = Character(Unicode.Scalar(UInt32(c))!) }
        return byByte
    }()

    /// The word's UTF-8 bytes as table characters.
    static func encode(_ word: String) -> String {
        String(word.utf8.map { table[Int($0)] })
    }
}
