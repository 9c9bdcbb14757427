/// An n-dimensional fp32 array: a view (shape, strides, offset) over shared storage.
/// Operations return new contiguous tensors unless documented as views.
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    public let storage: TensorStorage
    public let shape: [Int]
    public let strides: [Int]
    public let offset: Int

    public init(storage: TensorStorage, shape: [Int], strides: [Int], offset: Int = 0) {
        precondition(shape.count == strides.count, "shape \(shape) and strides \(strides) differ in rank")
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
    }

    /// A new contiguous tensor; uninitialised memory unless `zeroed`.
    public init(shape: [Int], zeroed: Bool = true) {
        let count = shape.reduce(1, *)
        self.init(storage: TensorStorage(count: count, zeroed: zeroed), shape: shape, strides: Tensor.contiguousStrides(shape))
    }

    /// Uninitialised contiguous tensor for outputs that are fully written.
    public static func empty(_ shape: [Int]) -> Tensor { Tensor(shape: shape, zeroed: false) }

    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, zeroed: true) }

    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        let t = Tensor.empty(shape)
        t.pointer.initialize(repeating: value, count: t.count)
        return t
    }

    public init(_ values: [Float], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values do not fill shape \(shape)")
        self.init(shape: shape, zeroed: false)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = running
            running *= max(shape[i], 1)
        }
        return strides
    }

    public var rank: Int { shape.count }
    public var count: Int { shape.reduce(1, *) }
    /// Pointer to element [0, 0, ...] of this view.
    public var pointer: UnsafeMutablePointer<Float> { storage.pointer + offset }

    public var isContiguous: Bool {
        var expected = 1
        for i in stride(from: rank - 1, through: 0, by: -1) where shape[i] != 1 {
            if strides[i] != expected { return false }
            expected *= shape[i]
        }
        return true
    }

    public var description: String { "Tensor\(shape)" }

    /// Normalises a possibly negative dimension index.
    public func axis(_ dim: Int) -> Int {
        let d = dim < 0 ? dim + rank : dim
        precondition(d >= 0 && d < rank, "dimension \(dim) out of range for rank \(rank)")
        return d
    }

    /// Element access by multi-index (slow; for tests and small tables).
    public subscript(_ index: Int...) -> Float {
        get { pointer[linearOffset(index)] }
        nonmutating set { pointer[linearOffset(index)] = newValue }
    }

    private func linearOffset(_ index: [Int]) -> Int {
        precondition(index.count == rank, "index rank \(index.count) for tensor rank \(rank)")
        var o = 0
        for (i, v) in index.enumerated() {
            precondition(v >= 0 && v < shape[i], "index \(index) out of bounds for \(shape)")
            o += v * strides[i]
        }
        return o
    }

    /// The elements in row-major order.
    public func toArray() -> [Float] {
        let c = contiguous()
        return Array(UnsafeBufferPointer(start: c.pointer, count: c.count))
    }
}

// MARK: - Views

extension Tensor {
    /// A view with a new shape; copies only when the layout does not allow a view. One entry may be -1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let unknown = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != unknown }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            resolved[unknown] = count / known
        }
        precondition(resolved.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        let base = isContiguous ? self : contiguous()
        return Tensor(storage: base.storage, shape: resolved, strides: Tensor.contiguousStrides(resolved), offset: base.offset)
    }

    /// A view with dimensions reordered: result dim i is source dim `order[i]`.
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.count == rank && Set(order) == Set(0..<rank), "bad permutation \(order) for rank \(rank)")
        return Tensor(storage: storage, shape: order.map { shape[$0] }, strides: order.map { strides[$0] }, offset: offset)
    }

    /// A view with two dimensions swapped.
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(axis(a), axis(b))
        return permuted(order)
    }

    /// A view of `length` entries starting at `start` along `dim`.
    public func narrowed(_ dim: Int, start: Int, length: Int) -> Tensor {
        let d = axis(dim)
        precondition(start >= 0 && length >= 0 && start + length <= shape[d], "narrow \(start)..<\(start + length) out of \(shape[d]) on dim \(d)")
        var s = shape
        s[d] = length
        return Tensor(storage: storage, shape: s, strides: strides, offset: offset + start * strides[d])
    }

    /// A view every `step`-th entry along `dim` (step > 0).
    public func strided(_ dim: Int, step: Int) -> Tensor {
        let d = axis(dim)
        precondition(step > 0)
        var s = shape, st = strides
        s[d] = (shape[d] + step - 1) / step
        st[d] = strides[d] * step
        return Tensor(storage: storage, shape: s, strides: st, offset: offset)
    }

    /// A view of index `i` along `dim`, with that dimension removed.
    public func selected(_ dim: Int, _ i: Int) -> Tensor {
        let d = axis(dim)
        precondition(i >= 0 && i < shape[d], "index \(i) out of \(shape[d]) on dim \(d)")
        var s = shape, st = strides
        s.remove(at: d)
        st.remove(at: d)
        return Tensor(storage: storage, shape: s, strides: st, offset: offset + i * strides[d])
    }

    /// A broadcast view (stride 0 on expanded dims) to `target`, aligned on trailing dimensions.
    public func expanded(to target: [Int]) -> Tensor {
        precondition(target.count >= rank, "cannot expand \(shape) to \(target)")
        let lead = target.count - rank
        var st = [Int](repeating: 0, count: target.count)
        for i in 0..<rank {
            let t = target[lead + i]
            if shape[i] == t { st[lead + i] = strides[i] }
            else { precondition(shape[i] == 1, "cannot broadcast \(shape) to \(target)"); st[lead + i] = 0 }
        }
        return Tensor(storage: storage, shape: target, strides: st, offset: offset)
    }

    public func unsqueezed(_ dim: Int) -> Tensor {
        let d = dim < 0 ? dim + rank + 1 : dim
        precondition(d >= 0 && d <= rank)
        var s = shape, st = strides
        s.insert(1, at: d)
        st.insert(d < rank ? strides[d] * shape[d] : 1, at: d)
        return Tensor(storage: storage, shape: s, strides: st, offset: offset)
    }

    /// A contiguous copy, or `self` when already contiguous.
    public func contiguous() -> Tensor { isContiguous ? self : copy() }

    /// A contiguous copy that never aliases `self`.
    public func copy() -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "copy / concat / upsample") }
        let out = Tensor.empty(shape)
        StridedLoop.run(shape: shape, strides: [out.strides, strides]) { offsets, n, inner in
            let dst = out.pointer + offsets[0]
            let src = pointer + offsets[1]
            let s = inner[1]
            if s == 1 { dst.update(from: src, count: n) }
            else { for j in 0..<n { dst[j] = src[j * s] } }
        }
        return out
    }
}

/// Iterates an n-d index space row by row (the last dimension is the inner loop), splitting
/// rows between threads. `body(offsets, innerCount, innerStrides)` gets one start offset per stride set.
public enum StridedLoop {
    public static func run(shape: [Int], strides: [[Int]], minRowsPerThread: Int = 0,
                           _ body: ([Int], Int, [Int]) -> Void) {
        let total = shape.reduce(1, *)
        guard total > 0 else { return }
        if shape.isEmpty {
            body([Int](repeating: 0, count: strides.count), 1, [Int](repeating: 1, count: strides.count))
            return
        }
        // Merge adjacent dimensions that are contiguous with each other in every stride set.
        var dims: [Int] = [shape[0]]
        var sts: [[Int]] = strides.map { [$0[0]] }
        for i in 1..<shape.count {
            let mergeable = strides.allSatisfy { $0[i - 1] == $0[i] * shape[i] }
            if mergeable {
                dims[dims.count - 1] *= shape[i]
                for k in 0..<sts.count { sts[k][sts[k].count - 1] = strides[k][i] }
            } else {
                dims.append(shape[i])
                for k in 0..<sts.count { sts[k].append(strides[k][i]) }
            }
        }
        let inner = dims[dims.count - 1]
        let innerStrides = sts.map { $0[$0.count - 1] }
        let outerDims = Array(dims.dropLast())
        let rows = outerDims.reduce(1, *)
        let minRows = minRowsPerThread > 0 ? minRowsPerThread : max(1, 32768 / max(inner, 1))
        Parallel.forRanges(rows, minChunk: minRows) { range in
            var index = [Int](repeating: 0, count: outerDims.count)
            var r = range.lowerBound
            for d in stride(from: outerDims.count - 1, through: 0, by: -1) {
                index[d] = r % outerDims[d]
                r /= outerDims[d]
            }
            var offsets = [Int](repeating: 0, count: sts.count)
            for k in 0..<sts.count {
                for d in 0..<outerDims.count { offsets[k] += index[d] * sts[k][d] }
            }
            for _ in range {
                body(offsets, inner, innerStrides)
                // Advance the odometer.
                var d = outerDims.count - 1
                while d >= 0 {
                    index[d] += 1
                    for k in 0..<sts.count { offsets[k] += sts[k][d] }
                    if index[d] < outerDims[d] { break }
                    for k in 0..<sts.count { offsets[k] -= sts[k][d] * outerDims[d] }
                    index[d] = 0
                    d -= 1
                }
            }
        }
    }
}
