import Checkpoint
import Testing
import Tensor
import TestSupport

@Suite struct DTypeTests {
    let fx: FixtureFile
    init() throws { fx = try FixtureFile("elementwise.safetensors") }

    @Test func halfAndBfloat16DecodeExactly() throws {
        // Stored as F16/BF16 by torch; the reader converts to fp32, which must equal torch's .float().
        #expect(scaledMaxError(try fx.tensor("dtype", "half"), try fx.tensor("dtype", "half_as_float")) == 0)
        #expect(scaledMaxError(try fx.tensor("dtype", "bf16"), try fx.tensor("dtype", "bf16_as_float")) == 0)
    }

    @Test func halfAndBfloat16EncodeLikeTorch() throws {
        let x = try fx.tensor("dtype", "x")
        #expect(x.encoded(as: .f16) == Array(try fx.file.rawBytes("dtype.half")))
        #expect(x.encoded(as: .bf16) == Array(try fx.file.rawBytes("dtype.bf16")))
    }
}
