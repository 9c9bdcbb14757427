import Foundation
import Tensor

/// Reproduces torch's CPU generator: `torch.Generator("cpu").manual_seed(seed)` followed by
/// `torch.randn` / `torch.rand` on float32 tensors, so a seed gives the same latents and ancestral
/// noise as diffusers on a CPU, bit for bit (uniforms, the double path, and the float Box–Muller path of
/// torch's x86 AVX2 kernel with the fused multiply-adds of its compiled wheel).
/// Reference: ATen CPUGeneratorImpl (mt19937), core/DistributionsHelper.h (uniform_real_distribution,
/// normal_distribution<double> with its cached second sample), native/cpu/DistributionTemplates.h
/// (normal_fill / normal_fill_16 for float tensors of ≥ 16 elements, with the recomputed tail).
public struct TorchGenerator: Sendable {
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 624
    /// The second Box–Muller value of the double path, kept for the next draw (torch's next_double_normal_sample).
    private var nextDoubleNormal: Double?

    public init(seed: UInt64) {
        // at::mt19937::init_with_uint32: only the low 32 bits seed the state.
        state[0] = UInt32(truncatingIfNeeded: seed)
        for j in 1..<624 {
            let prev = state[j - 1]
            state[j] = 1_812_433_253 &* (prev ^ (prev >> 30)) &+ UInt32(j)
        }
        index = 624
    }

    /// One 32-bit mt19937 output (CPUGeneratorImpl::random).
    public mutating func random() -> UInt32 {
        if index >= 624 { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// CPUGeneratorImpl::random64: two draws, the first as the high word.
    public mutating func random64() -> UInt64 {
        let hi = UInt64(random()), lo = UInt64(random())
        return hi << 32 | lo
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7FFF_FFFF)
            var v = state[(i + 397) % 624] ^ (y >> 1)
            if y & 1 != 0 { v ^= 0x9908_B0DF }
            state[i] = v
        }
        index = 0
    }

    /// uniform_real_distribution<float>(0, 1): 24 random bits.
    public mutating func uniformFloat() -> Float {
        Float(Double(random() & 0xFF_FFFF) * (1.0 / 16_777_216.0))
    }

    /// uniform_real_distribution<double>(0, 1): 53 random bits.
    public mutating func uniformDouble() -> Double {
        Double(random64() & ((1 << 53) - 1)) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// normal_distribution<double>: Box–Muller on two doubles, the sine half cached for the next call.
    public mutating func normalDouble() -> Double {
        if let cached = nextDoubleNormal {
            nextDoubleNormal = nil
            return cached
        }
        let u1 = uniformDouble(), u2 = uniformDouble()
        let r = (-2.0 * Foundation.log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        nextDoubleNormal = r * Foundation.sin(theta)
        return r * Foundation.cos(theta)
    }

    /// torch.randn(shape) into a new float32 tensor.
    public mutating func randn(_ shape: [Int]) -> Tensor {
        let out = Tensor.empty(shape)
        let n = out.count
        let data = out.pointer
        if n < 16 {
            for i in 0..<n { data[i] = Float(normalDouble()) }
            return out
        }
        for i in 0..<n { data[i] = uniformFloat() }
        var i = 0
        while i + 16 <= n {
            TorchGenerator.normalFill16(data + i)
            i += 16
        }
        if n % 16 != 0 {
            // torch redraws the last 16 values (overlapping the previous block) for the tail.
            let tail = data + (n - 16)
            for j in 0..<16 { tail[j] = uniformFloat() }
            TorchGenerator.normalFill16(tail)
        }
        return out
    }

    /// torch.rand(shape) into a new float32 tensor.
    public mutating func rand(_ shape: [Int]) -> Tensor {
        let out = Tensor.empty(shape)
        for i in 0..<out.count { out.pointer[i] = uniformFloat() }
        return out
    }

    /// normal_fill_16_AVX2: the Box–Muller transform torch runs on x86 CPUs with AVX2, whose log and
    /// sincos are avx_mathfun's Cephes polynomials (log256_ps, sincos256_ps) in float arithmetic.
    /// Which multiply-adds are fused follows the compiled torch wheel (GCC contracts each multiply into the add
    /// that consumes it); with that, every value matches bit for bit.
    private static func normalFill16(_ p: UnsafeMutablePointer<Float>) {
        let twoPi = Float(2.0 * Double.pi)
        for j in 0..<8 {
            let u1 = 1 - p[j]
            let u2 = p[j + 8]
            let radius = (-2 * CephesFloat.log(u1)).squareRoot()
            let theta = twoPi * u2
            let (sine, cosine) = CephesFloat.sincos(theta)
            p[j] = radius * cosine
            p[j + 8] = radius * sine
        }
    }
}

/// Scalar transcriptions of avx_mathfun's log256_ps and sincos256_ps (Cephes single-precision
/// polynomials), operation for operation, so results match torch's AVX2 random-normal kernel bit for bit.
enum CephesFloat {
    static func log(_ x0: Float) -> Float {
        // x = m · 2^e with m in [0.5, 1); valid for the positive normal inputs Box–Muller gives it.
        let bits = x0.bitPattern
        var e = Float(Int32(bitPattern: bits >> 23) - 0x7f) + 1
        var x = Float(bitPattern: (bits & ~0x7f80_0000) | 0x3f00_0000)
        let small = x < 0.707106781186547524
        let tmp: Float = small ? x : 0
        x = x - 1
        e = e - (small ? 1 : 0)
        x = x + tmp
        let z = x * x
        var y: Float = 7.0376836292e-2
        for c: Float in [-1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
                         2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1] {
            y = c.addingProduct(y, x)
        }
        y = y * x
        // torch's wheel contracts each multiply into the add that consumes it: y·z into the e·q1 addition, then
        // −½z into y, and e·ln2_hi into x.
        y = (e * -2.12194440e-4).addingProduct(y, z)
        y = y.addingProduct(z, -0.5)
        x = x + y
        x = x.addingProduct(e, 0.693359375)
        return x
    }

    static func sincos(_ x0: Float) -> (sin: Float, cos: Float) {
        var signSin = x0.sign == .minus
        var x = abs(x0)
        var y = x * 1.27323954473516
        var j = Int32(y) // truncation, as cvttps
        j = (j + 1) & ~1
        y = Float(j)
        let swapSign = (j & 4) != 0
        let polyIsSin = (j & 2) == 0
        // Extended-precision range reduction, each step one fused multiply-add.
        x = x.addingProduct(y, -0.78515625)
        x = x.addingProduct(y, -2.4187564849853515625e-4)
        x = x.addingProduct(y, -3.77489497744594108e-8)
        let cosNegative = (~(j - 2) & 4) != 0
        signSin = signSin != swapSign
        let z = x * x
        // Cosine polynomial; its last multiply by z fuses into the subtraction of ½z (an fmsub).
        var yc = Float(-1.388731625493765e-3).addingProduct(2.443315711809948e-5, z)
        yc = Float(4.166664568298827e-2).addingProduct(yc, z)
        yc = yc * z
        yc = (-(z * 0.5)).addingProduct(yc, z)
        yc = yc + 1
        var ys = Float(8.3321608736e-3).addingProduct(-1.9515295891e-4, z)
        ys = Float(-1.6666654611e-1).addingProduct(ys, z)
        ys = ys * z
        ys = x.addingProduct(ys, x)
        var s = polyIsSin ? ys : yc
        var c = polyIsSin ? yc : ys
        if signSin { s = -s }
        if cosNegative { c = -c }
        return (s, c)
    }
}
