extension Tensor {
    /// Deterministic uniform values in [-scale, scale) from a SplitMix64 stream (benchmarks and tests;
    /// not the torch-compatible generator, which lives with the samplers).
    public static func randomUniform(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        let t = Tensor.empty(shape)
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        for i in 0..<t.count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            t.pointer[i] = (Float(z >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
        return t
    }
}
