import Testing
import Tensor
import TestSupport

/// fp32 ops must match PyTorch within 1e-4 of the output's scale (issue 3); GEMM reorderings
/// typically land near 1e-6, so 1e-4 still catches any wrong index or transpose.
let fp32Tolerance: Float = 1e-4

@Suite struct LinearTests {
    let fx: FixtureFile
    init() throws { fx = try FixtureFile("linear.safetensors") }

    @Test(arguments: ["small", "nobias", "odd", "clip"])
    func linear(_ name: String) throws {
        let x = try fx.tensor(name, "x"), w = try fx.tensor(name, "weight")
        let b = try? fx.tensor(name, "bias")
        let out = x.linear(weight: w, bias: b)
        #expect(scaledMaxError(out, try fx.tensor(name, "out")) <= fp32Tolerance)
    }

    @Test func linearOnTransposedView() throws {
        let x = try fx.tensor("transposed", "base").transposed(1, 2)
        #expect(!x.isContiguous)
        let out = x.linear(weight: try fx.tensor("transposed", "weight"), bias: try fx.tensor("transposed", "bias"))
        #expect(scaledMaxError(out, try fx.tensor("transposed", "out")) <= fp32Tolerance)
    }

    @Test func batchedMatmul() throws {
        let out = Tensor.matmul(try fx.tensor("bmm", "a"), try fx.tensor("bmm", "b"))
        #expect(scaledMaxError(out, try fx.tensor("bmm", "out")) <= fp32Tolerance)
    }

    @Test func broadcastMatmul() throws {
        let out = Tensor.matmul(try fx.tensor("bcast", "a"), try fx.tensor("bcast", "b"))
        #expect(out.shape == [2, 3, 5, 4])
        #expect(scaledMaxError(out, try fx.tensor("bcast", "out")) <= fp32Tolerance)
    }

    @Test func matmulWithTransposedOperands() throws {
        let bt = try fx.tensor("bt", "bt").transposed()
        let out = Tensor.matmul(try fx.tensor("bt", "a"), bt)
        #expect(scaledMaxError(out, try fx.tensor("bt", "out")) <= fp32Tolerance)
        let at = try fx.tensor("at", "at").transposed()
        let out2 = Tensor.matmul(at, try fx.tensor("at", "b"))
        #expect(scaledMaxError(out2, try fx.tensor("at", "out")) <= fp32Tolerance)
    }
}
