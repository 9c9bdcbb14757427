extension Tensor {
    /// torch.cat along `dim`.
    public static func concat(_ tensors: [Tensor], dim: Int) -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "copy / concat / upsample") }
        precondition(!tensors.isEmpty, "concat of no tensors")
        let first = tensors[0]
        let d = first.axis(dim)
        var shape = first.shape
        shape[d] = 0
        for t in tensors {
            precondition(t.rank == first.rank, "concat rank mismatch: \(t.shape) vs \(first.shape)")
            for i in 0..<t.rank where i != d {
                precondition(t.shape[i] == first.shape[i], "concat shape mismatch on dim \(i): \(t.shape) vs \(first.shape)")
            }
            shape[d] += t.shape[d]
        }
        let out = Tensor.empty(shape)
        var start = 0
        for t in tensors {
            let view = out.narrowed(d, start: start, length: t.shape[d])
            view.assign(t)
            start += t.shape[d]
        }
        return out
    }

    /// The batch (dimension 0) repeated `times` times in a row: rows [0..<n, 0..<n, …] (torch's x.repeat(times, 1, …)).
    public func repeatedBatch(_ times: Int) -> Tensor {
        precondition(times >= 1, "a batch repeated \(times) times")
        return times == 1 ? self : Tensor.concat(Array(repeating: self, count: times), dim: 0)
    }

    /// This tensor with its batch repeated to `other`'s, whose batch must be a multiple of it (as is: already equal).
    public func matchingBatch(of other: Tensor) -> Tensor {
        let (mine, theirs) = (shape[0], other.shape[0])
        precondition(theirs % mine == 0, "a batch of \(mine) cannot be repeated to \(theirs)")
        return repeatedBatch(theirs / mine)
    }

    /// Copies `source` (broadcast to this view's shape) into this view's elements.
    public func assign(_ source: Tensor) {
        let src = source.expanded(to: shape)
        StridedLoop.run(shape: shape, strides: [strides, src.strides]) { o, n, s in
            let dst = pointer + o[0], from = src.pointer + o[1]
            if s[0] == 1 && s[1] == 1 { dst.update(from: from, count: n) }
            else { for j in 0..<n { dst[j * s[0]] = from[j * s[1]] } }
        }
    }

    /// torch.split with explicit sizes: views along `dim`.
    public func split(_ sizes: [Int], dim: Int) -> [Tensor] {
        let d = axis(dim)
        precondition(sizes.reduce(0, +) == shape[d], "split sizes \(sizes) do not sum to \(shape[d])")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return narrowed(d, start: start, length: size)
        }
    }

    /// torch.chunk: `chunks` views along `dim`, the last possibly smaller.
    public func chunk(_ chunks: Int, dim: Int) -> [Tensor] {
        let d = axis(dim)
        let size = (shape[d] + chunks - 1) / chunks
        var sizes: [Int] = []
        var left = shape[d]
        while left > 0 { sizes.append(min(size, left)); left -= size }
        return split(sizes, dim: d)
    }

    /// torch.nn.functional.interpolate(scale_factor=2, mode="nearest") for NCHW.
    public func upsampleNearest2x() -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "copy / concat / upsample") }
        precondition(rank == 4, "upsample needs NCHW, got \(shape)")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let x = contiguous()
        let out = Tensor.empty([n, c, 2 * h, 2 * w])
        let xs = x.pointer, os = out.pointer
        Parallel.forRanges(n * c * h, minChunk: max(1, 8192 / max(w, 1))) { r in
            for row in r {
                let src = xs + row * w
                let dst = os + row * 4 * w
                for j in 0..<w { dst[2 * j] = src[j]; dst[2 * j + 1] = src[j] }
                (dst + 2 * w).update(from: dst, count: 2 * w)
            }
        }
        return out
    }

    /// torch.nn.functional.embedding: rows of `table` [V, D] for each id; result shape idsShape + [D].
    public static func embedding(_ table: Tensor, ids: [Int], shape idsShape: [Int]? = nil) -> Tensor {
        precondition(table.rank == 2, "embedding table must be [V, D], got \(table.shape)")
        let v = table.shape[0], dim = table.shape[1]
        let t = table.contiguous()
        let out = Tensor.empty((idsShape ?? [ids.count]) + [dim])
        precondition(out.count == ids.count * dim, "ids shape \(idsShape ?? []) does not hold \(ids.count) ids")
        for (i, id) in ids.enumerated() {
            precondition(id >= 0 && id < v, "token id \(id) outside the embedding table of \(v)")
            (out.pointer + i * dim).update(from: t.pointer + id * dim, count: dim)
        }
        return out
    }
}

extension Tensor {
    /// torch.nn.functional.interpolate(size=(height, width), mode="nearest") for NCHW:
    /// source index floor(dst · in/out) in float, as ATen's nearest_idx (exact halving for 2×).
    public func upsampleNearest(height ho: Int, width wo: Int) -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "copy / concat / upsample") }
        precondition(rank == 4, "upsample needs NCHW, got \(shape)")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        if ho == 2 * h && wo == 2 * w { return upsampleNearest2x() }
        func sourceIndex(_ dst: Int, _ input: Int, _ output: Int) -> Int {
            if output == 2 * input { return dst >> 1 }
            let scale = Float(input) / Float(output)
            return min(Int((Float(dst) * scale).rounded(.down)), input - 1)
        }
        let rows = (0..<ho).map { sourceIndex($0, h, ho) }
        let cols = (0..<wo).map { sourceIndex($0, w, wo) }
        let x = contiguous()
        let out = Tensor.empty([n, c, ho, wo])
        let xs = x.pointer, os = out.pointer
        Parallel.forRanges(n * c, minChunk: max(1, 8192 / max(ho * wo, 1))) { r in
            for plane in r {
                let src = xs + plane * h * w, dst = os + plane * ho * wo
                for y in 0..<ho {
                    let line = src + rows[y] * w
                    for xo in 0..<wo { dst[y * wo + xo] = line[cols[xo]] }
                }
            }
        }
        return out
    }
}

extension Tensor {
    /// Zero padding of the last two dims (torch.nn.functional.pad(x, (left, right, top, bottom))).
    public func padded2d(top: Int = 0, bottom: Int = 0, left: Int = 0, right: Int = 0) -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "copy / concat / upsample") }
        precondition(rank >= 2 && min(top, bottom, left, right) >= 0, "bad padding for \(shape)")
        var s = shape
        s[rank - 2] += top + bottom
        s[rank - 1] += left + right
        let out = Tensor.zeros(s)
        out.narrowed(rank - 2, start: top, length: shape[rank - 2]).narrowed(rank - 1, start: left, length: shape[rank - 1]).assign(self)
        return out
    }
}
