import Checkpoint
import Models
import Pipeline
import Testing
import Tensor
import TestSupport
import Tokenizer

@Suite struct PromptEncoderTests {
    let tokenizer: CLIPTokenizer
    let encoder: CLIPTextModel
    init() throws {
        tokenizer = try CLIPTokenizer(mergesFile: PipelineTests.merges)
        let folder = Fixtures.path("models/tiny_sd/text_encoder")
        encoder = try CLIPTextModel(config: CLIPTextConfig.load(folder + "/config.json"), weights: SafetensorsFile(path: folder + "/model.safetensors"))
    }

    @Test func plainPromptIsOneDiffusersChunk() throws {
        let p = PromptEncoder(tokenizer: tokenizer, textEncoder: encoder)
        let chunks = p.chunks("a photo of a cat")
        #expect(chunks.count == 1 && chunks[0].tokens == tokenizer.tokenize("a photo of a cat"))
        #expect(chunks[0].weights.allSatisfy { $0 == 1 })
        // Unweighted: exactly the text encoder's output for the tokenizer's ids.
        let direct = try encoder.encode([tokenizer.tokenize("a photo of a cat")], clipSkip: 1)
        #expect(try p.encode("a photo of a cat", clipSkip: 1).toArray() == direct.toArray())
    }

    @Test func longPromptsBreakAndCommasMakeChunks() throws {
        let p = PromptEncoder(tokenizer: tokenizer, textEncoder: encoder)
        let words = Array(repeating: "cat", count: 80).joined(separator: " ")
        let long = p.chunks(words)
        #expect(long.count == 2 && long.allSatisfy { $0.tokens.count == 77 })
        #expect(Array(long[1].tokens.prefix(6)) == [tokenizer.startId] + [Int](repeating: tokenizer.encode("cat")[0], count: 5))
        let broken = p.chunks("a cat BREAK a dog")
        #expect(broken.count == 2 && broken[0].tokens == tokenizer.tokenize("a cat") && broken[1].tokens == tokenizer.tokenize("a dog"))
        // 70 words, a comma, 10 words: the first chunk ends at the comma, the 10 words move to the second.
        let commas = p.chunks(Array(repeating: "cat", count: 70).joined(separator: " ") + ", " + Array(repeating: "dog", count: 10).joined(separator: " "))
        #expect(commas.count == 2)
        #expect(commas[0].tokens[71] == tokenizer.encode(",")[0] && commas[0].tokens[72] == tokenizer.endId)
        #expect(commas[1].tokens[1...10].allSatisfy { $0 == tokenizer.encode("dog")[0] })
        #expect(try p.encode(words, clipSkip: 1).shape == [1, 154, 32])
    }

    @Test func emphasisScalesTokensAndKeepsTheMean() throws {
        let p = PromptEncoder(tokenizer: tokenizer, textEncoder: encoder)
        let chunk = p.chunks("a (red:1.5) cat")[0]
        #expect(chunk.weights[1...4] == [1, 1.5, 1, 1])
        let plain = try encoder.encode([chunk.tokens], clipSkip: 1)
        let weighted = try p.encode("a (red:1.5) cat", clipSkip: 1)
        #expect(abs(weighted.sum() - plain.sum()) <= 1e-4 * max(abs(plain.sum()), 1))
        // Token 2 ("red") is 1.5× token 2 of the plain encoding, up to the common mean correction.
        let ratio = weighted[0, 2, 0] / plain[0, 2, 0], ref = weighted[0, 1, 0] / plain[0, 1, 0]
        #expect(abs(ratio / ref - 1.5) <= 1e-4)
    }
}
