import CKernels

/// Element types found in checkpoints. Compute is fp32; the others convert on load.
public enum DType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8, .u8, .bool: 1
        }
    }

    public var isFloatingPoint: Bool { self == .f64 || self == .f32 || self == .f16 || self == .bf16 }
}

/// IEEE binary16 → binary32, exact (handles subnormals, infinities and NaN).
@inline(__always)
public func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1f
    let mantissa = UInt32(h & 0x3ff)
    if exponent == 0 {
        // Zero or subnormal: value = mantissa × 2^-24.
        let magnitude = Float(mantissa) * 5.9604644775390625e-8
        return sign != 0 ? -magnitude : magnitude
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// binary32 → binary16 with round-to-nearest-even (as torch's .half()).
@inline(__always)
public func floatToHalf(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exponent = Int((bits >> 23) & 0xff)
    var mantissa = bits & 0x7f_ffff
    if exponent == 0xff { return sign | 0x7c00 | (mantissa != 0 ? 0x200 : 0) }
    var e = exponent - 127 + 15
    if e >= 31 { return sign | 0x7c00 }
    if e <= 0 {
        if e < -10 { return sign }
        mantissa |= 0x80_0000
        let shift = UInt32(14 - e)
        var half = mantissa >> shift
        let rest = mantissa & ((1 << shift) - 1)
        let halfway: UInt32 = 1 << (shift - 1)
        if rest > halfway || (rest == halfway && (half & 1) == 1) { half += 1 }
        return sign | UInt16(half)
    }
    var half = UInt32(e << 10) | (mantissa >> 13)
    let rest = mantissa & 0x1fff
    if rest > 0x1000 || (rest == 0x1000 && (half & 1) == 1) { half += 1 }
    e = Int(half >> 10)
    return sign | UInt16(truncatingIfNeeded: half)
}

@inline(__always)
public func bfloat16ToFloat(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

/// binary32 → bfloat16 with round-to-nearest-even (as torch's .bfloat16()).
@inline(__always)
public func floatToBfloat16(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    if f.isNaN { return UInt16(bits >> 16) | 0x40 }
    let rounding = ((bits >> 16) & 1) + 0x7fff
    return UInt16((bits &+ rounding) >> 16)
}

extension Tensor {
    /// Decodes raw little-endian elements of `dtype` into a new fp32 tensor, using all workers.
    public static func decode(_ raw: UnsafeRawPointer, dtype: DType, shape: [Int]) -> Tensor {
        let out = Tensor.empty(shape)
        let n = out.count, o = out.pointer
        Parallel.forRanges(n, minChunk: 1 << 16) { r in
            switch dtype {
            case .f32:
                UnsafeMutableRawPointer(o + r.lowerBound).copyMemory(from: raw + r.lowerBound * 4, byteCount: r.count * 4)
            case .f64:
                for i in r { o[i] = Float(raw.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
            case .f16 where Int(bitPattern: raw) % 2 == 0:
                pk_f16_to_f32(raw.assumingMemoryBound(to: UInt16.self) + r.lowerBound, o + r.lowerBound, r.count)
            case .bf16 where Int(bitPattern: raw) % 2 == 0:
                pk_bf16_to_f32(raw.assumingMemoryBound(to: UInt16.self) + r.lowerBound, o + r.lowerBound, r.count)
            case .f16:
                for i in r { o[i] = halfToFloat(raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
            case .bf16:
                for i in r { o[i] = bfloat16ToFloat(raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
            case .i64:
                for i in r { o[i] = Float(raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
            case .i32:
                for i in r { o[i] = Float(raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)) }
            case .i16:
                for i in r { o[i] = Float(raw.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)) }
            case .i8:
                for i in r { o[i] = Float(raw.load(fromByteOffset: i, as: Int8.self)) }
            case .u8, .bool:
                for i in r { o[i] = Float(raw.load(fromByteOffset: i, as: UInt8.self)) }
            }
        }
        return out
    }

    /// Encodes this tensor's elements as little-endian `dtype` bytes (floating-point dtypes round to nearest even).
    public func encoded(as dtype: DType) -> [UInt8] {
        let src = contiguous()
        var bytes = [UInt8](repeating: 0, count: count * dtype.byteSize)
        bytes.withUnsafeMutableBytes { raw in
            let p = src.pointer
            for i in 0..<src.count {
                let v = p[i]
                switch dtype {
                case .f32: raw.storeBytes(of: v.bitPattern, toByteOffset: i * 4, as: UInt32.self)
                case .f64: raw.storeBytes(of: Double(v).bitPattern, toByteOffset: i * 8, as: UInt64.self)
                case .f16: raw.storeBytes(of: floatToHalf(v), toByteOffset: i * 2, as: UInt16.self)
                case .bf16: raw.storeBytes(of: floatToBfloat16(v), toByteOffset: i * 2, as: UInt16.self)
                case .i64: raw.storeBytes(of: Int64(v), toByteOffset: i * 8, as: Int64.self)
                case .i32: raw.storeBytes(of: Int32(v), toByteOffset: i * 4, as: Int32.self)
                case .i16: raw.storeBytes(of: Int16(v), toByteOffset: i * 2, as: Int16.self)
                case .i8: raw.storeBytes(of: Int8(v), toByteOffset: i, as: Int8.self)
                case .u8, .bool: raw.storeBytes(of: UInt8(v), toByteOffset: i, as: UInt8.self)
                }
            }
        }
        return bytes
    }
}
