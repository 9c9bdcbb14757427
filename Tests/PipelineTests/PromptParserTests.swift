import Pipeline
import Testing

/// A1111's own examples for its parser (modules/prompt_parser.py, parse_prompt_attention docstring).
@Suite struct PromptParserTests {
    func pairs(_ s: String) -> [(String, Double?)] { PromptParser.parse(s).map { ($0.text, $0.weight) } }

    func same(_ a: [(String, Double?)], _ b: [(String, Double?)]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && (($0.1 == nil && $1.1 == nil) || abs(($0.1 ?? 0) - ($1.1 ?? 0)) < 1e-12) }
    }

    @Test func a1111DocstringExamples() {
        #expect(same(pairs("normal text"), [("normal text", 1.0)]))
        #expect(same(pairs("an (important) word"), [("an ", 1.0), ("important", 1.1), (" word", 1.0)]))
        #expect(same(pairs("(unbalanced"), [("unbalanced", 1.1)]))
        #expect(same(pairs("\\(literal\\]"), [("(literal]", 1.0)]))
        #expect(same(pairs("(unnecessary)(parens)"), [("unnecessaryparens", 1.1)]))
        #expect(same(pairs("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky)))."),
                     [("a ", 1.0), ("house", 1.5730000000000004), (" ", 1.1), ("on", 1.0), (" a ", 1.1), ("hill", 0.55),
                      (", sun, ", 1.1), ("sky", 1.4641000000000006), (".", 1.1)]))
    }

    @Test func breakAndEdgeCases() {
        #expect(same(pairs("a cat BREAK a dog"), [("a cat", 1.0), ("BREAK", nil), ("a dog", 1.0)]))
        #expect(same(pairs("BREAKFAST"), [("BREAKFAST", 1.0)]))
        #expect(same(pairs(""), [("", 1.0)]))
        #expect(same(pairs("time: 5pm"), [("time: 5pm", 1.0)]))
    }
}
