/// A1111's prompt emphasis syntax (modules/prompt_parser.py `parse_prompt_attention`):
/// `(text)` ×1.1, `[text]` ÷1.1, `(text:1.3)` ×1.3, `\(` `\)` `\[` `\]` `\\` literals, `BREAK` starts a new
/// 75-token chunk; unbalanced brackets apply to the end; neighbouring runs of equal weight merge.
public enum PromptParser {
    public struct Fragment: Equatable, Sendable {
        public var text: String
        /// The attention multiplier; `nil` marks a BREAK.
        public var weight: Double?
        public init(_ text: String, _ weight: Double?) {
            self.text = text
            self.weight = weight
        }
    }

    public static func parse(_ text: String) -> [Fragment] {
        var res: [Fragment] = []
        var round: [Int] = [], square: [Int] = []
        func multiply(from start: Int, _ m: Double) {
            for p in start..<res.count where res[p].weight != nil { res[p].weight! *= m }
        }
        let s = Array(text)
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "\\" {
                // \( \) \[ \] \\ are literals; a lone backslash is itself.
                if i + 1 < s.count, "()[]\\".contains(s[i + 1]) {
                    res.append(Fragment(String(s[i + 1]), 1))
                    i += 2
                } else {
                    res.append(Fragment("\\", 1))
                    i += 1
                }
            } else if c == "(" {
                round.append(res.count); i += 1
            } else if c == "[" {
                square.append(res.count); i += 1
            } else if c == ":", let (weight, end) = weightSuffix(s, from: i), !round.isEmpty {
                // `:1.3)` closes the innermost round bracket with that weight.
                multiply(from: round.removeLast(), weight)
                i = end
            } else if c == ")" && !round.isEmpty {
                multiply(from: round.removeLast(), 1.1); i += 1
            } else if c == "]" && !square.isEmpty {
                multiply(from: square.removeLast(), 1 / 1.1); i += 1
            } else {
                // Plain text: a run of characters that are not \ ( ) [ ] :, or a single one of those left over.
                var j = i + 1
                if !"\\()[]:".contains(c) {
                    while j < s.count && !"\\()[]:".contains(s[j]) { j += 1 }
                }
                appendSplittingBreaks(String(s[i..<j]), to: &res)
                i = j
            }
        }
        for p in round { multiply(from: p, 1.1) }
        for p in square { multiply(from: p, 1 / 1.1) }
        if res.isEmpty { res = [Fragment("", 1)] }
        var k = 0
        while k + 1 < res.count {
            if res[k].weight == res[k + 1].weight && res[k].weight != nil {
                res[k].text += res[k + 1].text
                res.remove(at: k + 1)
            } else {
                k += 1
            }
        }
        return res
    }

    /// `:` followed by `[+-]?[.\d]+` and `)` (A1111's `:\s*([+-]?[.\d]+)\s*\)`), returning the weight and the index after `)`.
    static func weightSuffix(_ s: [Character], from i: Int) -> (Double, Int)? {
        var j = i + 1
        while j < s.count && s[j] == " " { j += 1 }
        let start = j
        if j < s.count && (s[j] == "+" || s[j] == "-") { j += 1 }
        while j < s.count && (s[j].isASCII && (s[j].isNumber || s[j] == ".")) { j += 1 }
        let number = String(s[start..<j])
        while j < s.count && s[j] == " " { j += 1 }
        guard j < s.count, s[j] == ")", let value = Double(number) else { return nil }
        return (value, j + 1)
    }

    /// A1111's `\s*\bBREAK\b\s*` split inside plain text.
    static func appendSplittingBreaks(_ text: String, to res: inout [Fragment]) {
        var parts: [String] = []
        var current = ""
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let isWordBoundaryBefore = i == 0 || !(chars[i - 1].isLetter || chars[i - 1].isNumber || chars[i - 1] == "_")
            if isWordBoundaryBefore, i + 5 <= chars.count, String(chars[i..<(i + 5)]) == "BREAK",
               i + 5 == chars.count || !(chars[i + 5].isLetter || chars[i + 5].isNumber || chars[i + 5] == "_") {
                while let last = current.last, last.isWhitespace { current.removeLast() }
                parts.append(current)
                current = ""
                i += 5
                while i < chars.count && chars[i].isWhitespace { i += 1 }
                continue
            }
            current.append(chars[i])
            i += 1
        }
        parts.append(current)
        for (n, part) in parts.enumerated() {
            if n > 0 { res.append(Fragment("BREAK", nil)) }
            res.append(Fragment(part, 1))
        }
    }
}
