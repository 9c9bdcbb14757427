import CKernels

/// A read-only tensor kept in its stored element type — typically fp16/bf16 weights memory-mapped from a
/// checkpoint — and converted to fp32 only when used, so a model costs its size on disk, not twice it.
/// fp32 data that is 4-byte aligned unpacks without copying.
public struct PackedTensor: @unchecked Sendable, CustomStringConvertible {
    public let dtype: DType
    public let shape: [Int]
    public let raw: UnsafeRawPointer
    /// Keeps the memory behind `raw` alive (a memory map, or an fp32 tensor's storage).
    public let owner: AnyObject

    public init(dtype: DType, shape: [Int], raw: UnsafeRawPointer, owner: AnyObject) {
        self.dtype = dtype
        self.shape = shape
        self.raw = raw
        self.owner = owner
    }

    /// Wraps an fp32 tensor (made contiguous).
    public init(_ tensor: Tensor) {
        let c = tensor.contiguous()
        self.init(dtype: .f32, shape: c.shape, raw: UnsafeRawPointer(c.pointer), owner: c.storage)
    }

    /// `tensor`'s values rounded to IEEE half, in memory the result owns: fp16 weights without a checkpoint (tests,
    /// benchmarks).
    public static func half(_ tensor: Tensor) -> PackedTensor {
        final class Bits {
            let pointer: UnsafeMutableRawPointer
            init(_ bytes: [UInt8]) {
                pointer = .allocate(byteCount: max(bytes.count, 1), alignment: 64)
                pointer.copyMemory(from: bytes, byteCount: bytes.count)
            }
            deinit { pointer.deallocate() }
        }
        let bits = Bits(tensor.encoded(as: .f16))
        return PackedTensor(dtype: .f16, shape: tensor.shape, raw: UnsafeRawPointer(bits.pointer), owner: bits)
    }

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    public var byteCount: Int { count * dtype.byteSize }
    public var description: String { "PackedTensor(\(dtype.rawValue))\(shape)" }

    /// fp32 values at a float-aligned address: read in place (`unpacked()` views them, the GEMM kernels read them).
    public var isAlignedFloat: Bool { dtype == .f32 && Int(bitPattern: raw) % MemoryLayout<Float>.alignment == 0 }

    /// The values as a fp32 tensor: a view of the same memory for aligned fp32, a converted copy otherwise.
    public func unpacked() -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "fp16 → fp32 weights") }
        if isAlignedFloat {
            let pointer = UnsafeMutablePointer(mutating: raw.assumingMemoryBound(to: Float.self))
            return Tensor(storage: TensorStorage(borrowing: pointer, count: count, owner: owner),
                          shape: shape, strides: Tensor.contiguousStrides(shape))
        }
        return Tensor.decode(raw, dtype: dtype, shape: shape)
    }

    public func reshaped(_ newShape: [Int]) -> PackedTensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return PackedTensor(dtype: dtype, shape: newShape, raw: raw, owner: owner)
    }

    /// Rows start..<start+length along dim 0 (a view).
    public func rows(_ start: Int, _ length: Int) -> PackedTensor {
        precondition(rank >= 1 && start >= 0 && start + length <= shape[0], "rows \(start)..<\(start + length) of \(shape)")
        let rowBytes = count / max(shape[0], 1) * dtype.byteSize
        var s = shape
        s[0] = length
        return PackedTensor(dtype: dtype, shape: s, raw: raw + start * rowBytes, owner: owner)
    }

    /// Embedding lookup straight from packed rows: only the rows asked for are converted.
    public func gatherRows(_ ids: [Int], shape idsShape: [Int]) -> Tensor {
        precondition(rank == 2, "gatherRows needs a [V, D] table, got \(shape)")
        let dim = shape[1]
        let out = Tensor.empty(idsShape + [dim])
        for (i, id) in ids.enumerated() {
            precondition(id >= 0 && id < shape[0], "row \(id) outside a table of \(shape[0])")
            let row = rows(id, 1).unpacked()
            (out.pointer + i * dim).update(from: row.pointer, count: dim)
        }
        return out
    }
}
