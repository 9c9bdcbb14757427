import Testing
import Tensor

@Suite struct OpProfileTests {
    /// The profile names each outermost op's kind once (nested ops count towards the outer one), and 3×3 convolutions
    /// take the Winograd path from 32 tiles on, from 8 for small weights (`smallWeightProduct`), im2col below.
    @Test func kindsAndWinogradChoice() {
        let w = Tensor.randomUniform([32, 32, 3, 3], seed: 1, scale: 0.1)
        let wide = Tensor.randomUniform([288, 288, 3, 3], seed: 4, scale: 0.01)   // 288² > 256² channel pairs
        let tiny = Tensor.randomUniform([1, 32, 8, 8], seed: 5)       // 4 tiles of 4×4
        let small = Tensor.randomUniform([1, 32, 16, 16], seed: 2)     // 16 tiles
        let large = Tensor.randomUniform([1, 32, 32, 32], seed: 3)     // 64 tiles
        let wideSmall = Tensor.randomUniform([1, 288, 16, 16], seed: 6)
        let options = Conv2dOptions(stride: 1, padding: 1)
        let kinds = OpProfile.record {
            _ = tiny.conv2d(weight: w, options: options)
            _ = small.conv2d(weight: w, options: options)
            _ = large.conv2d(weight: w, options: options)
            _ = wideSmall.conv2d(weight: wide, options: options)
            _ = large.permuted([0, 2, 3, 1]).silu()                    // silu of a non-contiguous view: copy nested
        }
        let calls = Dictionary(uniqueKeysWithValues: kinds.map { ($0.kind, $0.calls) })
        #expect(calls == ["conv 3×3 im2col": 2, "conv 3×3 Winograd": 2, "elementwise": 1])
        #expect(kinds.allSatisfy { $0.seconds >= 0 })
    }
}
