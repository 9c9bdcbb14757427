import Testing
import Tensor
import TestSupport

@Suite struct ElementwiseTests {
    let fx: FixtureFile
    init() throws { fx = try FixtureFile("elementwise.safetensors") }

    @Test func activations() throws {
        let x = try fx.tensor("act", "x")
        // Transcendental functions differ from torch's vectorised ones by a few ulp: 1e-6 of scale.
        #expect(scaledMaxError(x.silu(), try fx.tensor("act", "silu")) <= 1e-6)
        #expect(scaledMaxError(x.gelu(), try fx.tensor("act", "gelu")) <= 1e-6)
        #expect(scaledMaxError(x.geluTanh(), try fx.tensor("act", "gelu_tanh")) <= 1e-6)
        #expect(scaledMaxError(x.quickGelu(), try fx.tensor("act", "quick_gelu")) <= 1e-6)
    }

    @Test func broadcasting() throws {
        let a = try fx.tensor("bcast", "a"), b = try fx.tensor("bcast", "b")
        // One rounding per element, as in torch: exact.
        #expect(scaledMaxError(a + b, try fx.tensor("bcast", "add")) == 0)
        #expect(scaledMaxError(a * b, try fx.tensor("bcast", "mul")) == 0)
        #expect(scaledMaxError(a - b, try fx.tensor("bcast", "sub")) == 0)
        // The broadcast operand first (the C loop's scalar-first path): × commutes exactly, − negates exactly.
        #expect(scaledMaxError(b * a, try fx.tensor("bcast", "mul")) == 0)
        #expect(scaledMaxError((b - a) * Tensor([-1], shape: [1]), try fx.tensor("bcast", "sub")) == 0)
        let x = try fx.tensor("chbias", "x")
        #expect(scaledMaxError(x.addingChannelBias(try fx.tensor("chbias", "bias")), try fx.tensor("chbias", "out")) == 0)
        let t = try fx.tensor("tadd", "base").transposed()
        #expect(scaledMaxError(t + (try fx.tensor("tadd", "c")), try fx.tensor("tadd", "out")) == 0)
    }

    /// GEGLU's fused product on [..., 2d] rows is the two halves' product with gelu of the second (the U-Net
    /// fixtures check it against diffusers inside the transformer blocks).
    @Test func gegluIsHalfTimesGeluOfOtherHalf() throws {
        let rows = Tensor.randomUniform([37, 6], seed: 9, scale: 4)   // d = 3
        let parts = rows.chunk(2, dim: -1)
        #expect(scaledMaxError(rows.geglu(), parts[0].contiguous() * parts[1].contiguous().gelu()) == 0)
    }

    @Test func upsampleConcatChunkEmbedding() throws {
        #expect(scaledMaxError(try fx.tensor("upsample", "x").upsampleNearest2x(), try fx.tensor("upsample", "out")) == 0)
        let a = try fx.tensor("cat", "a"), b = try fx.tensor("cat", "b")
        #expect(scaledMaxError(Tensor.concat([a, b], dim: 1), try fx.tensor("cat", "dim1")) == 0)
        #expect(scaledMaxError(Tensor.concat([a, a], dim: -1), try fx.tensor("cat", "dimlast")) == 0)
        let parts = try fx.tensor("chunk", "x").chunk(3, dim: 1)
        #expect(parts.map(\.shape) == [[2, 3, 3], [2, 3, 3], [2, 1, 3]])
        for (i, p) in parts.enumerated() {
            #expect(scaledMaxError(p, try fx.tensor("chunk", "part\(i)")) == 0)
        }
        let ids = try fx.integers("embed", "ids")
        let out = Tensor.embedding(try fx.tensor("embed", "table"), ids: ids, shape: [2, 3])
        #expect(scaledMaxError(out, try fx.tensor("embed", "out")) == 0)
    }

    @Test func parallelMapCoversEveryElement() {
        // Large enough to be split across workers; odd length so chunks are uneven.
        let n = 1_000_003
        let x = Tensor((0..<n).map { Float($0) }, shape: [n])
        let y = x.map { $0 * 2 }
        #expect(y[0] == 0 && y[n - 1] == Float(2 * (n - 1)) && y[n / 2] == Float(2 * (n / 2)))
        #expect(y.sum() == Double(n) * Double(n - 1))
    }
}
