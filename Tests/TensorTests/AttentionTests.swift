import Testing
import Tensor
import TestSupport

@Suite struct AttentionTests {
    let fx: FixtureFile
    init() throws { fx = try FixtureFile("attention.safetensors") }

    /// Block sizes that do and do not divide the query count, so every block boundary is exercised.
    @Test(arguments: [1, 7, 32, 256])
    func selfAttention(blockRows: Int) throws {
        let out = Tensor.scaledDotProductAttention(query: try fx.tensor("self", "q"), key: try fx.tensor("self", "k"),
                                                   value: try fx.tensor("self", "v"), blockRows: blockRows)
        #expect(scaledMaxError(out, try fx.tensor("self", "out")) <= fp32Tolerance)
    }

    @Test func crossAttention() throws {
        let out = Tensor.scaledDotProductAttention(query: try fx.tensor("cross", "q"), key: try fx.tensor("cross", "k"),
                                                   value: try fx.tensor("cross", "v"), blockRows: 24)
        #expect(scaledMaxError(out, try fx.tensor("cross", "out")) <= fp32Tolerance)
    }

    @Test(arguments: [5, 77])
    func causalAttention(blockRows: Int) throws {
        let out = Tensor.scaledDotProductAttention(query: try fx.tensor("causal", "q"), key: try fx.tensor("causal", "k"),
                                                   value: try fx.tensor("causal", "v"), causal: true, blockRows: blockRows)
        #expect(scaledMaxError(out, try fx.tensor("causal", "out")) <= fp32Tolerance)
    }

    @Test func headViewsWithCustomScale() throws {
        let q = try fx.tensor("views", "qb").transposed(1, 2)
        let k = try fx.tensor("views", "kb").transposed(1, 2)
        let v = try fx.tensor("views", "vb").transposed(1, 2)
        #expect(!q.isContiguous)
        let scale: Float = try fx.option("views", "scale")
        let out = Tensor.scaledDotProductAttention(query: q, key: k, value: v, scale: scale, blockRows: 16)
        #expect(out.shape == [2, 5, 50, 24])
        #expect(scaledMaxError(out, try fx.tensor("views", "out")) <= fp32Tolerance)
    }

    @Test func scratchNeverHoldsTheWholeScoreMatrix() {
        // 512 px SD1.5: 2 × 8 heads, 4096 tokens. The full score matrix alone would be 64 MiB per head.
        let bytes = Tensor.attentionScratchBytes(queries: 4096, keys: 4096, heads: 16)
        #expect(bytes < 4096 * 4096 * 4)
        #expect(bytes < 200_000_000)
    }
}
