import Foundation
import Testing
import TestSupport
import Tokenizer

@Suite struct WordPieceTokenizerTests {
    struct Expected: Decodable {
        let prompts: [String]
        let ids: [[Int]]
        let padded32: [[Int]]
        let lengths32: [Int]
    }

    static let vocab = URL(fileURLWithPath: Fixtures.folder).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("assets/default/tokenizer/vocab.txt").path

    /// Ids equal to transformers' BertTokenizer and BertTokenizerFast (which the fixture script asserts agree)
    /// for every prompt: accents, CJK, scripts, emoji, control characters, punctuation, over-long words.
    @Test func idsMatchTransformers() throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("default_model/tokenizer.json"))))
        let tokenizer = try WordPieceTokenizer(vocabFile: Self.vocab, maxLength: 32)
        for (i, prompt) in expected.prompts.enumerated() {
            let ids = tokenizer.encode(prompt)
            #expect(ids == expected.ids[i], "\(prompt.debugDescription)")
            let (row, length) = tokenizer.padded(ids)
            #expect(row == expected.padded32[i] && length == expected.lengths32[i], "\(prompt.debugDescription) padded")
        }
    }

    @Test func unreadableVocabularyNamesThePath() {
        #expect(throws: TokenizerError.self) { try WordPieceTokenizer(vocabFile: "/nonexistent/vocab.txt", maxLength: 32) }
        let empty = Fixtures.temporaryFolder() + "/vocab.txt"
        _ = FileManager.default.createFile(atPath: empty, contents: Data("a\nb\n".utf8))
        do {
            _ = try WordPieceTokenizer(vocabFile: empty, maxLength: 32)
            Issue.record("a vocabulary without [CLS] was accepted")
        } catch {
            #expect("\(error)".contains(empty) && "\(error)".contains("[CLS]"))
        }
    }
}
