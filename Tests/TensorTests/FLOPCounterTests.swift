import Testing
import Tensor

/// The GEMM FLOP counter behind `phosphor bench sd`: direct-computation counts, as torch's FlopCounterMode reports
/// them (2·multiply-adds), for a 3×3 and a 1×1 convolution and a linear layer; nothing counted outside `count`.
@Suite struct FLOPCounterTests {
    @Test func convolutionAndLinearCounts() {
        let x = Tensor.randomUniform([2, 8, 10, 12], seed: 1)
        let w3 = Tensor.randomUniform([16, 8, 3, 3], seed: 2), w1 = Tensor.randomUniform([4, 8, 1, 1], seed: 3)
        let three = FLOPCounter.count { _ = x.conv2d(weight: w3, bias: nil, options: Conv2dOptions(stride: 1, padding: 1)) }
        #expect(three == 2 * 2 * 16 * 8 * 9 * 10 * 12)
        let one = FLOPCounter.count { _ = x.conv2d(weight: w1, bias: nil, options: Conv2dOptions(stride: 1, padding: 0)) }
        #expect(one == 2 * 2 * 4 * 8 * 10 * 12)
        let tokens = Tensor.randomUniform([3, 5, 32], seed: 4), w = Tensor.randomUniform([24, 32], seed: 5)
        #expect(FLOPCounter.count { _ = tokens.linear(weight: w) } == 2 * 15 * 24 * 32)
        #expect(!FLOPCounter.enabled)
    }
}
