extension Tensor {
    /// The (pointer offset, leading dimension, transposed) description of a matrix view over the
    /// last two dims, or nil when neither of its two strides is 1 (then a copy is needed).
    fileprivate func matrixLayout() -> (ld: Int, trans: Bool)? {
        let r = shape[rank - 2], c = shape[rank - 1]
        let sr = strides[rank - 2], sc = strides[rank - 1]
        if sc == 1 || c == 1 { return (max(sr, c, 1), false) }
        if sr == 1 || r == 1 { return (max(sc, r, 1), true) }
        return nil
    }

    /// Batched matrix product with torch.matmul broadcasting over leading dims ([..., M, K] × [..., K, N]).
    /// Transposed views (e.g. `k.transposed()`) are used in place without copying.
    public static func matmul(_ a0: Tensor, _ b0: Tensor) -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "linear / matmul") }
        precondition(a0.rank >= 2 && b0.rank >= 2, "matmul needs rank ≥ 2, got \(a0.shape) and \(b0.shape)")
        let a = a0.matrixLayout() == nil ? a0.contiguous() : a0
        let b = b0.matrixLayout() == nil ? b0.contiguous() : b0
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1]
        let n = b.shape[b.rank - 1]
        precondition(b.shape[b.rank - 2] == k, "matmul inner dimensions differ: \(a.shape) × \(b.shape)")
        let batch = broadcastShape(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
        let ea = a.expanded(to: batch + [m, k]), eb = b.expanded(to: batch + [k, n])
        let la = a.matrixLayout()!, lb = b.matrixLayout()!
        let out = Tensor.empty(batch + [m, n])
        let batchCount = batch.reduce(1, *)
        var ia = [Int](repeating: 0, count: batch.count)
        for bi in 0..<batchCount {
            var oa = 0, ob = 0
            for d in 0..<batch.count { oa += ia[d] * ea.strides[d]; ob += ia[d] * eb.strides[d] }
            BLAS.sgemm(transA: la.trans, transB: lb.trans, m: m, n: n, k: k,
                       a: ea.pointer + oa, lda: la.ld, b: eb.pointer + ob, ldb: lb.ld,
                       c: out.pointer + bi * m * n, ldc: n)
            var d = batch.count - 1
            while d >= 0 { ia[d] += 1; if ia[d] < batch[d] { break }; ia[d] = 0; d -= 1 }
        }
        return out
    }

    /// torch.nn.functional.linear: x[..., in] · Wᵀ + b, with W of shape [out, in].
    public func linear(weight: Tensor, bias: Tensor? = nil) -> Tensor {
        linear(weightShape: weight.shape, weight: { weight.contiguous() }, half: nil, bias: bias)
    }

    /// linear with the weight still in its stored type: on the bf16 path (`BF16Compute`) fp16 weights are packed
    /// straight to tiles, without the fp32 copy `unpacked()` makes.
    /// In fp32, fp16 weights are multiplied in place by `halfKernel` (`HalfWeightKernel`; `blas` converts them first).
    public func linear(packedWeight: PackedTensor, bias: Tensor? = nil, halfKernel: HalfWeightKernel = .preferred) -> Tensor {
        linear(weightShape: packedWeight.shape, weight: { packedWeight.unpacked() },
               half: packedWeight.dtype == .f16 ? packedWeight : nil,
               single: packedWeight.isAlignedFloat && Tensor.fp32WeightsOnKernel ? packedWeight : nil,
               bias: bias, halfKernel: halfKernel)
    }

    /// `half`: the weight as fp16 values; `single`: as fp32 values the register-tile kernel may multiply in place
    /// (`fp32WeightsOnKernel`) where `halfKernel` takes the shape.
    private func linear(weightShape: [Int], weight: () -> Tensor, half: PackedTensor?, single: PackedTensor? = nil,
                        bias: Tensor?, halfKernel: HalfWeightKernel = .blas) -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "linear / matmul") }
        let inFeatures = shape[rank - 1]
        precondition(weightShape.count == 2 && weightShape[1] == inFeatures, "linear weight \(weightShape) for input \(shape)")
        let outFeatures = weightShape[0]
        let x = contiguous()
        let rows = count / max(inFeatures, 1)
        let out = Tensor.empty(Array(shape.dropLast()) + [outFeatures])
        if let bias { precondition(bias.count == outFeatures, "linear bias \(bias.shape) for \(outFeatures) outputs") }
        if let stored = half ?? single, !BF16Compute.takes(m: rows, n: outFeatures, k: inFeatures),
           halfKernel.takes(weightRows: outFeatures, linear: true) {
            let bc = bias?.contiguous()
            halfKernel.linear(x: x.pointer, m: rows, k: inFeatures, weights: stored.raw, half: stored.dtype == .f16, n: outFeatures,
                              c: out.pointer, bias: bc.map { UnsafePointer($0.pointer) })
            withExtendedLifetime((stored.owner, bc)) {}
            return out
        }
        var beta: Float = 0
        if let bias {
            let bc = bias.contiguous()
            let o = out.pointer, bp = bc.pointer
            Parallel.forRanges(rows, minChunk: max(1, 16384 / max(outFeatures, 1))) { r in
                for i in r { (o + i * outFeatures).update(from: bp, count: outFeatures) }
            }
            beta = 1
        }
        if let half, BF16Compute.takes(m: rows, n: outFeatures, k: inFeatures) {
            if FLOPCounter.enabled && FLOPCounter.countsHere { FLOPCounter.add(2 * rows * outFeatures * inFeatures) }
            BF16Compute.gemm(halfTransposedB: half.raw, owner: half.owner, m: rows, n: outFeatures, k: inFeatures, a: x.pointer,
                             beta: beta, c: out.pointer)
            return out
        }
        let w = weight()
        BLAS.sgemm(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures,
                   a: x.pointer, lda: inFeatures, b: w.pointer, ldb: inFeatures,
                   beta: beta, c: out.pointer, ldc: outFeatures)
        return out
    }
}
