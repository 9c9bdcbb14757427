import Foundation
import Tensor

/// A source of standard normal noise: the initial latents, ancestral/SDE noise and VAE posterior samples all come
/// from one of these, in the order the pipeline asks.
public protocol NormalNoiseSource {
    mutating func randn(_ shape: [Int]) -> Tensor
}

extension TorchGenerator: NormalNoiseSource {}

/// Philox 4×32-10 (Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2, 3") normals laid out as
/// A1111's "NV" RNG source (modules/rng_philox.py, also stable-diffusion.cpp's PhiloxRNG), which imitates
/// `torch.randn` on an NVIDIA GPU so that A1111 seeds made on GPUs reproduce: element i of the k-th call uses
/// counter (k, 0, i, 0) and key (seed low, seed high); the first two words of the block give one Box–Muller normal
/// (the sine branch), computed in double and rounded to float.
public struct PhiloxGenerator: NormalNoiseSource, Sendable {
    public let seed: UInt64
    /// How many `randn` calls came before (the counter's first word).
    public private(set) var offset: UInt32 = 0

    public init(seed: UInt64) { self.seed = seed }

    /// The 4×32-bit block for a counter and key after 10 rounds.
    public static func block(counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = counter
        var (k0, k1) = key
        for round in 0..<10 {
            if round > 0 {
                k0 &+= 0x9E37_79B9
                k1 &+= 0xBB67_AE85
            }
            let p0 = UInt64(c0) * 0xD251_1F53, p1 = UInt64(c2) * 0xCD9E_8D57
            (c0, c1, c2, c3) = (UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0, UInt32(truncatingIfNeeded: p1),
                                UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1, UInt32(truncatingIfNeeded: p0))
        }
        return (c0, c1, c2, c3)
    }

    /// One normal from two 32-bit words: u, v uniform in (0, 1) and (0, 2π) at the centre of their 2⁻³² cells.
    static func boxMuller(_ x: UInt32, _ y: UInt32) -> Float {
        let inv = Double(Float(2.3283064e-10)), inv2pi = Double(Float(2.3283064e-10 * 6.2831855))
        let u = Double(x) * inv + Double(Float(inv) / 2)
        let v = Double(y) * inv2pi + Double(Float(inv2pi) / 2)
        return Float((-2 * Foundation.log(u)).squareRoot() * Foundation.sin(v))
    }

    public mutating func randn(_ shape: [Int]) -> Tensor {
        let out = Tensor.empty(shape)
        let key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        let n = shape.reduce(1, *)
        for i in 0..<n {
            let b = Self.block(counter: (offset, 0, UInt32(truncatingIfNeeded: i), 0), key: key)
            out.pointer[i] = Self.boxMuller(b.0, b.1)
        }
        offset &+= 1
        return out
    }
}
