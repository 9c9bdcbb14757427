import Testing
import Tensor
import TestSupport

@Suite struct AttentionTests {
    let fx: FixtureFile
    init() throws { fx = try FixtureFile("attention.safetensors") }

    /// Block sizes that do and do not divide the query count, so every block boundary is exercised (OpenBLAS path;
    /// the fused kernels' blocks are their own: 8, 16 or 32 queries).
    @Test(arguments: [1, 7, 32, 256])
    func selfAttention(blockRows: Int) throws {
        let out = Tensor.scaledDotProductAttention(query: try fx.tensor("self", "q"), key: try fx.tensor("self", "k"),
                                                   value: try fx.tensor("self", "v"), blockRows: blockRows, kernel: .blas)
        #expect(scaledMaxError(out, try fx.tensor("self", "out")) <= fp32Tolerance)
    }

    /// Every fp32 kernel this CPU runs, on self- and cross-attention (keys and queries not multiples of any tile).
    @Test(arguments: AttentionKernel.available)
    func everyKernel(kernel: AttentionKernel) throws {
        for name in ["self", "cross"] {
            let out = Tensor.scaledDotProductAttention(query: try fx.tensor(name, "q"), key: try fx.tensor(name, "k"),
                                                       value: try fx.tensor(name, "v"), kernel: kernel)
            #expect(scaledMaxError(out, try fx.tensor(name, "out")) <= fp32Tolerance, "\(name) with \(kernel)")
        }
    }

    @Test func crossAttention() throws {
        let out = Tensor.scaledDotProductAttention(query: try fx.tensor("cross", "q"), key: try fx.tensor("cross", "k"),
                                                   value: try fx.tensor("cross", "v"), blockRows: 24, kernel: .blas)
        #expect(scaledMaxError(out, try fx.tensor("cross", "out")) <= fp32Tolerance)
    }

    @Test(arguments: [5, 77])
    func causalAttention(blockRows: Int) throws {
        let out = Tensor.scaledDotProductAttention(query: try fx.tensor("causal", "q"), key: try fx.tensor("causal", "k"),
                                                   value: try fx.tensor("causal", "v"), causal: true, blockRows: blockRows)
        #expect(scaledMaxError(out, try fx.tensor("causal", "out")) <= fp32Tolerance)
    }

    @Test(arguments: AttentionKernel.available)
    func headViewsWithCustomScale(kernel: AttentionKernel) throws {
        let q = try fx.tensor("views", "qb").transposed(1, 2)
        let k = try fx.tensor("views", "kb").transposed(1, 2)
        let v = try fx.tensor("views", "vb").transposed(1, 2)
        #expect(!q.isContiguous)
        let scale: Float = try fx.option("views", "scale")
        let out = Tensor.scaledDotProductAttention(query: q, key: k, value: v, scale: scale, blockRows: 16, kernel: kernel)
        #expect(out.shape == [2, 5, 50, 24])
        #expect(scaledMaxError(out, try fx.tensor("views", "out")) <= fp32Tolerance)
    }

    @Test func scratchNeverHoldsTheWholeScoreMatrix() {
        // 512 px SD1.5: 2 × 8 heads, 4096 tokens. The full score matrix alone would be 64 MiB per head.
        for kernel in AttentionKernel.available {
            let bytes = Tensor.attentionScratchBytes(queries: 4096, keys: 4096, heads: 16, dim: 40, kernel: kernel)
            #expect(bytes < 4096 * 4096 * 4, "\(kernel)")
            #expect(bytes < 200_000_000)
        }
    }
}
