import Foundation
import Testing
import Tensor
import TestSupport

/// fp16 weights, as checkpoints store them, in fp32 linear layers and convolutions: every `HalfWeightKernel` this CPU
/// runs (the direct kernels read the halves in place; `blas` converts them for sgemm) against torch on the same half
/// values widened to fp32 (Tests/Fixtures/make_fixtures.py, half_weight_fixtures: shapes at every tile edge).
@Suite struct HalfWeightTests {
    let fx: FixtureFile
    init() throws { fx = try FixtureFile("half_weights.safetensors") }

    static let cases = ["linear_edges", "linear_long_k", "linear_wide", "conv3_batched", "conv3_stride2", "conv1",
                        "conv3_large_plane"]

    /// Each case also with the weight widened to fp32 as a model holds it (the default model's decoded weights, fp32
    /// checkpoints): the direct kernels read it as fp32 (`PK_GEMM_F32_A`, `PK_GEMM_F32_BT`), `blas` hands it to sgemm.
    @Test(arguments: HalfWeightKernel.available, cases.flatMap { [$0, $0 + "@fp32"] })
    func matchesTorch(kernel: HalfWeightKernel, name caseName: String) throws {
        let name = caseName.replacingOccurrences(of: "@fp32", with: "")
        let half = try fx.file.packed("\(name).weight")
        #expect(half.dtype == .f16)
        let weight = caseName.hasSuffix("@fp32") ? PackedTensor(half.unpacked()) : half
        let x = try fx.tensor(name, "x"), bias = try? fx.tensor(name, "bias")
        let out: Tensor
        if name.hasPrefix("linear") {
            out = x.linear(packedWeight: weight, bias: bias, halfKernel: kernel)
        } else {
            let s: [Int] = try fx.option(name, "stride"), p: [Int] = try fx.option(name, "padding")
            out = Tensor.withWinograd(false) {
                x.conv2d(packedWeight: weight, bias: bias, options: Conv2dOptions(stride: (s[0], s[1]), padding: (p[0], p[1])),
                         halfKernel: kernel)
            }
        }
        #expect(scaledMaxError(out, try fx.tensor(name, "out")) <= fp32Tolerance, "\(caseName) with \(kernel)")
    }

    /// The Winograd path widens fp16 weights inside its weight transform: against torch on the same halves (odd
    /// plane with partial tiles; 14 output channels, one partial block; 64×64 plane).
    /// Every tile size, whole and blocked weight transforms, every products kernel.
    @Test(arguments: ["conv3_batched", "conv3_large_plane"], WinogradVariant.all)
    func winogradMatchesTorch(name: String, variant: WinogradVariant) throws {
        let weight = try fx.file.packed("\(name).weight")
        #expect(weight.dtype == .f16)
        let out = try fx.tensor(name, "x").conv2dWinograd3x3(packedWeight: weight, bias: try? fx.tensor(name, "bias"),
                                                             tile: variant.tile, weightTransform: variant.weightTransform,
                                                             products: variant.products)
        #expect(scaledMaxError(out, try fx.tensor(name, "out")) <= fp32Tolerance, "\(name) \(variant)")
    }

    /// The direct kernels add the bias as they store and overwrite whatever the output held before (stale values in
    /// reused buffers must not leak in): a product computed twice into recycled memory gives the same result.
    @Test(arguments: HalfWeightKernel.available.filter { $0 != .blas })
    func repeatableOnReusedMemory(kernel: HalfWeightKernel) throws {
        let weight = try fx.file.packed("linear_edges.weight")
        let x = try fx.tensor("linear_edges", "x")
        let first = x.linear(packedWeight: weight, halfKernel: kernel)
        _ = Tensor.full([3, 50, 136], .nan)
        let second = x.linear(packedWeight: weight, halfKernel: kernel)
        #expect(second.maxAbsDifference(first) == 0)
    }
}
