import Testing
import Tensor
import TestSupport

@Suite struct NormTests {
    let fx: FixtureFile
    init() throws { fx = try FixtureFile("norm.safetensors") }

    @Test(arguments: ["unet", "vae", "offset", "rank3", "gn1280"])
    func groupNorm(_ name: String) throws {
        let groups: Int = try fx.option(name, "groups"), eps: Float = try fx.option(name, "eps")
        let out = try fx.tensor(name, "x").groupNorm(groups: groups, weight: fx.tensor(name, "weight"),
                                                     bias: fx.tensor(name, "bias"), eps: eps)
        #expect(scaledMaxError(out, try fx.tensor(name, "out")) <= fp32Tolerance)
    }

    @Test(arguments: ["ln_clip", "ln_odd"])
    func layerNorm(_ name: String) throws {
        let eps: Float = try fx.option(name, "eps")
        let out = try fx.tensor(name, "x").layerNorm(weight: fx.tensor(name, "weight"), bias: fx.tensor(name, "bias"), eps: eps)
        #expect(scaledMaxError(out, try fx.tensor(name, "out")) <= fp32Tolerance)
    }

    @Test func layerNormOnTransposedView() throws {
        let x = try fx.tensor("ln_transposed", "base").transposed(1, 2)
        let out = x.layerNorm(weight: try fx.tensor("ln_transposed", "weight"), bias: try fx.tensor("ln_transposed", "bias"))
        #expect(scaledMaxError(out, try fx.tensor("ln_transposed", "out")) <= fp32Tolerance)
    }

    @Test func softmaxAlongEitherDimension() throws {
        let x = try fx.tensor("softmax_last", "x")
        #expect(scaledMaxError(x.softmax(dim: -1), try fx.tensor("softmax_last", "out")) <= fp32Tolerance)
        #expect(scaledMaxError(x.softmax(dim: 1), try fx.tensor("softmax_dim1", "out")) <= fp32Tolerance)
    }

    @Test func softmaxWithMaskedAndHugeLogits() throws {
        let out = try fx.tensor("softmax_extreme", "x").softmax()
        let expected = try fx.tensor("softmax_extreme", "out")
        #expect(scaledMaxError(out, expected) <= fp32Tolerance)
        // Masked entries are exactly zero, as in torch.
        #expect(out[0, 0] == 0 && out[1, 3] == 0)
    }
}
