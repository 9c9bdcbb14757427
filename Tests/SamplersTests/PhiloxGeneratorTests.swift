import Samplers
import Testing
import Tensor
import TestSupport

/// Philox 4×32-10 blocks against randomgen, and A1111's "NV" normals (modules/rng_philox.py layout, see
/// make_sampler_fixtures.py) bit for bit.
@Suite struct PhiloxGeneratorTests {
    let fx: FixtureFile
    init() throws { fx = try FixtureFile("samplers.safetensors") }

    @Test func blocksMatchRandomgen() throws {
        let counters = try fx.file.integers("philox.counters"), keys = try fx.file.integers("philox.keys")
        let blocks = try fx.file.integers("philox.blocks")
        #expect(counters.count == blocks.count && blocks.count >= 64)
        for i in 0..<(blocks.count / 4) {
            let c = counters[(4 * i)..<(4 * i + 4)].map { UInt32($0) }, k = keys[(2 * i)..<(2 * i + 2)].map { UInt32($0) }
            let b = PhiloxGenerator.block(counter: (c[0], c[1], c[2], c[3]), key: (k[0], k[1]))
            #expect([b.0, b.1, b.2, b.3].map { Int($0) } == Array(blocks[(4 * i)..<(4 * i + 4)]), "block \(i)")
        }
    }

    @Test(arguments: [UInt64(0), 42, 1 << 32 - 1, 123_456_789_012])
    func normalsMatchBitForBit(seed: UInt64) throws {
        for n in [7, 16, 17] {
            var g = PhiloxGenerator(seed: seed)
            #expect(g.randn([n]).toArray() == (try fx.file.tensor("philox.seed\(seed).randn\(n)").toArray()), "n = \(n)")
        }
        // The second call of one generator moves the counter's first word (A1111's offset).
        var g = PhiloxGenerator(seed: seed)
        _ = g.randn([3])
        #expect(g.randn([16]).toArray() == (try fx.file.tensor("philox.seed\(seed).offset1.randn16").toArray()))
        #expect(g.offset == 2)
    }

    @Test func latentsMatch() throws {
        var g = PhiloxGenerator(seed: 0)
        let got = g.randn([4, 64, 64]), want = try fx.file.tensor("philox.seed0.latents64")
        #expect(got.shape == want.shape)
        #expect(got.toArray() == want.toArray())
    }
}
