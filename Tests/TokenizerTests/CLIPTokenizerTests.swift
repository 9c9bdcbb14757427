import Foundation
import Testing
import Tokenizer
import TestSupport

@Suite struct CLIPTokenizerTests {
    static let mergesPath = URL(fileURLWithPath: Fixtures.folder).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("assets/clip/bpe_simple_vocab_16e6.txt.gz").path

    struct Reference: Decodable {
        let prompts: [String]
        let raw_ids: [[Int]]
    }

    let reference: Reference
    let ids: FixtureFile
    init() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("models/tokenizer_prompts.json")))
        reference = try JSONDecoder().decode(Reference.self, from: data)
        ids = try FixtureFile("models/tokenizer_ids.safetensors")
    }

    /// transformers' CLIPTokenizer ids on 240 prompts (unicode, emoji, accents, weights syntax, very long, empty):
    /// identical, for the raw encoding and for both padding conventions.
    @Test func idsIdenticalToTransformers() throws {
        let sd1 = try CLIPTokenizer(mergesFile: Self.mergesPath, padding: .endOfText)
        let sd2 = try CLIPTokenizer(mergesFile: Self.mergesPath, padding: .zero)
        #expect(reference.prompts.count >= 200)
        let want1 = try ids.file.integers("sd1_ids"), want2 = try ids.file.integers("sd2_ids")
        var mismatches = 0
        for (i, prompt) in reference.prompts.enumerated() {
            let raw = sd1.encode(prompt)
            if raw != reference.raw_ids[i] {
                mismatches += 1
                Issue.record("prompt \(i) \(prompt.debugDescription): \(raw) != \(reference.raw_ids[i])")
            }
            #expect(sd1.tokenize(prompt) == Array(want1[(i * 77)..<((i + 1) * 77)]), "SD1 \(i)")
            #expect(sd2.tokenize(prompt) == Array(want2[(i * 77)..<((i + 1) * 77)]), "SD2 \(i)")
        }
        #expect(mismatches == 0)
    }

    /// open_clip's cleaning (ftfy subset + HTML unescaping): identical ids on the same prompts, which include
    /// curly quotes, ligatures, full-width text, entities, line separators and control characters.
    @Test func openCLIPCleaningMatchesOpenCLIP() throws {
        var tokenizer = try CLIPTokenizer(mergesFile: Self.mergesPath, padding: .zero)
        tokenizer.cleaning = .openCLIP
        let want = try ids.file.integers("open_clip_ids")
        for (i, prompt) in reference.prompts.enumerated() {
            #expect(tokenizer.tokenize(prompt) == Array(want[(i * 77)..<((i + 1) * 77)]), "prompt \(i) \(prompt.debugDescription)")
        }
    }

    @Test func missingOrBadVocabularyIsAClearError() throws {
        #expect(throws: TokenizerError.self) { try CLIPTokenizer(mergesFile: "/nonexistent/vocab.txt.gz") }
        let bad = Fixtures.temporaryFolder() + "/bad.txt"
        try "#version\nonly a few lines".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(throws: TokenizerError.self) { try CLIPTokenizer(mergesFile: bad) }
    }
}
