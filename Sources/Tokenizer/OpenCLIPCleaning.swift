import Foundation

/// open_clip's text cleaning before BPE (open_clip tokenizer.py `_clean_lower`): ftfy.fix_text, HTML unescaping
/// twice, whitespace collapse and strip, lower-casing.
///
/// ftfy is reproduced for what prompts meet: NFC, Latin ligatures (ﬁ → fi), full-width characters (ＡＢ → AB,
/// ideographic space), curly quotes → straight, line breaks, control characters. Not reproduced: ftfy's
/// mojibake repair (`fix_encoding`, e.g. "Ã©" → "é") and HTML entities beyond the common named ones and
/// numeric references, so such prompts may tokenize differently from open_clip.
enum OpenCLIPCleaning {
    static func clean(_ text: String) -> String {
        var s = fixText(text)
        s = unescapeHTML(unescapeHTML(s))
        // " ".join(text.split()): split on whitespace runs, drop empties.
        s = s.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        return s.lowercased()
    }

    static let ligatures: [Unicode.Scalar: String] = [
        "\u{FB00}": "ff", "\u{FB01}": "fi", "\u{FB02}": "fl", "\u{FB03}": "ffi", "\u{FB04}": "ffl", "\u{FB05}": "ſt", "\u{FB06}": "st",
        "\u{0132}": "IJ", "\u{0133}": "ij", "\u{01C7}": "LJ", "\u{01C8}": "Lj", "\u{01C9}": "lj",
        "\u{01CA}": "NJ", "\u{01CB}": "Nj", "\u{01CC}": "nj",
    ]

    static func isControl(_ v: UInt32) -> Bool {
        v < 0x09 || v == 0x0B || (0x0E...0x1F).contains(v) || v == 0x7F || (0x206A...0x206F).contains(v) || v == 0xFEFF
            || (0xFFF9...0xFFFC).contains(v) || (0xE0000...0xE007F).contains(v)
    }

    /// The subset of ftfy.fix_text described above.
    static func fixText(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        let scalars = Array(text.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            let v = c.value
            i += 1
            if v == 0x0D { // \r\n and \r → \n
                out.append("\n")
                if i < scalars.count && scalars[i].value == 0x0A { i += 1 }
                continue
            }
            if v == 0x2028 || v == 0x2029 || v == 0x85 { out.append("\n"); continue }
            if isControl(v) { continue }
            if let lig = ligatures[c] { out.append(contentsOf: lig.unicodeScalars); continue }
            if v == 0x02BC || (0x2018...0x201B).contains(v) { out.append("'"); continue }
            if (0x201C...0x201F).contains(v) { out.append("\""); continue }
            if v == 0x3000 || (0xFF01...0xFFEF).contains(v) {
                // Full- and half-width forms → their compatibility decomposition (NFKC), as ftfy's width map.
                out.append(contentsOf: String(c).precomposedStringWithCompatibilityMapping.unicodeScalars)
                continue
            }
            out.append(c)
        }
        return String(out).precomposedStringWithCanonicalMapping
    }

    static let entities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}", "copy": "©", "reg": "®",
        "trade": "™", "hellip": "…", "mdash": "—", "ndash": "–", "lsquo": "‘", "rsquo": "’", "ldquo": "“", "rdquo": "”",
        "laquo": "«", "raquo": "»", "deg": "°", "times": "×", "divide": "÷", "euro": "€", "pound": "£", "yen": "¥",
        "cent": "¢", "sect": "§", "para": "¶", "middot": "·", "bull": "•", "eacute": "é", "egrave": "è", "agrave": "à",
        "uuml": "ü", "ouml": "ö", "auml": "ä", "szlig": "ß", "ccedil": "ç", "ntilde": "ñ",
    ]

    /// Python's html.unescape for numeric references and common named entities (with a trailing semicolon).
    static func unescapeHTML(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = ""
        var rest = Substring(s)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            let after = rest[rest.index(after: amp)...]
            if let semi = after.firstIndex(of: ";"), after.distance(from: after.startIndex, to: semi) <= 32 {
                let name = after[..<semi]
                var replacement: String?
                if name.hasPrefix("#x") || name.hasPrefix("#X") {
                    replacement = UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String($0) }
                } else if name.hasPrefix("#") {
                    replacement = UInt32(name.dropFirst(1)).flatMap(Unicode.Scalar.init).map { String($0) }
                } else {
                    replacement = entities[String(name)]
                }
                if let replacement {
                    out += replacement
                    rest = after[after.index(after: semi)...]
                    continue
                }
            }
            out += "&"
            rest = after
        }
        return out + rest
    }
}
