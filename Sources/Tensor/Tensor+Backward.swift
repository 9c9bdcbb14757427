import CKernels
import Foundation

// Vector-Jacobian products of the forward kernels (gradients with respect to the input; weights are constants),
// used by the tape (Tape.swift). Each names the forward it differentiates.

extension Tensor {
    /// The gradient of a broadcast: sums this gradient over the dimensions `target` was broadcast along.
    public func summed(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition(broadcastShape(target, shape) == shape, "cannot sum \(shape) to \(target)")
        let out = Tensor.zeros(target)
        let view = out.expanded(to: shape)
        let g = contiguous()
        // One thread: several gradient elements add into the same output element.
        StridedLoop.run(shape: shape, strides: [g.strides, view.strides], minRowsPerThread: Int.max) { o, n, s in
            let src = g.pointer + o[0], dst = view.pointer + o[1]
            for j in 0..<n { dst[j * s[1]] += src[j * s[0]] }
        }
        return out
    }

    /// Backward of `upsampleNearest2x`: each input pixel gets the sum of its 2×2 block.
    public func upsampleNearest2xBackward() -> Tensor {
        let (n, c, h2, w2) = (shape[0], shape[1], shape[2], shape[3])
        let h = h2 / 2, w = w2 / 2
        let g = contiguous()
        let out = Tensor.empty([n, c, h, w])
        let gs = g.pointer, os = out.pointer
        Parallel.forRanges(n * c * h, minChunk: max(1, 8192 / max(w, 1))) { r in
            for row in r {
                let top = gs + row * 2 * w2, bottom = top + w2
                let dst = os + row * w
                for j in 0..<w { dst[j] = top[2 * j] + top[2 * j + 1] + bottom[2 * j] + bottom[2 * j + 1] }
            }
        }
        return out
    }

    /// Window bounds of torch's adaptive pooling: [⌊i·in/out⌋, ⌈(i+1)·in/out⌉).
    static func adaptiveWindow(_ i: Int, _ input: Int, _ output: Int) -> Range<Int> {
        (i * input / output)..<(((i + 1) * input + output - 1) / output)
    }

    /// torch.nn.functional.adaptive_avg_pool2d for NCHW.
    public func adaptiveAvgPool2d(height ho: Int, width wo: Int) -> Tensor {
        precondition(rank == 4 && ho > 0 && wo > 0, "adaptive_avg_pool2d needs NCHW and a positive size, got \(shape)")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let x = contiguous()
        let out = Tensor.empty([n, c, ho, wo])
        let rows = (0..<ho).map { Tensor.adaptiveWindow($0, h, ho) }, cols = (0..<wo).map { Tensor.adaptiveWindow($0, w, wo) }
        let xs = x.pointer, os = out.pointer
        Parallel.forRanges(n * c) { r in
            for plane in r {
                let src = xs + plane * h * w, dst = os + plane * ho * wo
                for i in 0..<ho {
                    for j in 0..<wo {
                        var s: Float = 0
                        for y in rows[i] { for xx in cols[j] { s += src[y * w + xx] } }
                        dst[i * wo + j] = s / Float(rows[i].count * cols[j].count)
                    }
                }
            }
        }
        return out
    }

    /// Backward of `adaptiveAvgPool2d`: each window's gradient spread evenly over its inputs.
    public func adaptiveAvgPool2dBackward(inputHeight h: Int, inputWidth w: Int) -> Tensor {
        let (n, c, ho, wo) = (shape[0], shape[1], shape[2], shape[3])
        let g = contiguous()
        let out = Tensor.zeros([n, c, h, w])
        let rows = (0..<ho).map { Tensor.adaptiveWindow($0, h, ho) }, cols = (0..<wo).map { Tensor.adaptiveWindow($0, w, wo) }
        let gs = g.pointer, os = out.pointer
        Parallel.forRanges(n * c) { r in
            for plane in r {
                let src = gs + plane * ho * wo, dst = os + plane * h * w
                for i in 0..<ho {
                    for j in 0..<wo {
                        let v = src[i * wo + j] / Float(rows[i].count * cols[j].count)
                        for y in rows[i] { for xx in cols[j] { dst[y * w + xx] += v } }
                    }
                }
            }
        }
        return out
    }

    /// Backward of `conv2d` with respect to its input (a transposed convolution): per tile of output rows,
    /// columns = Wᵀ·dY by GEMM, then scattered back onto the input (col2im).
    public func conv2dInputGradient(weight: Tensor, inputShape: [Int], options: Conv2dOptions) -> Tensor {
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (o, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let (ho, wo) = (shape[2], shape[3])
        precondition(shape[0] == n && shape[1] == o, "conv2d gradient \(shape) for weight \(weight.shape) and input \(inputShape)")
        let (sh, sw) = options.stride, (ph, pw) = options.padding
        let g = contiguous(), wt = weight.contiguous()
        let plane = ho * wo, kdim = c * kh * kw
        if kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 {
            let out = Tensor.empty(inputShape)
            for img in 0..<n {
                BLAS.sgemm(transA: true, transB: false, m: c, n: plane, k: o, a: wt.pointer, lda: c,
                           b: g.pointer + img * o * plane, ldb: plane, c: out.pointer + img * c * h * w, ldc: h * w)
            }
            return out
        }
        let out = Tensor.zeros(inputShape)
        let rowsPerTile = min(ho, max((256 + wo - 1) / wo, (4 << 20) / max(kdim * wo, 1)))
        let col = Tensor.empty([kdim, rowsPerTile * wo])
        for img in 0..<n {
            var y0 = 0
            while y0 < ho {
                let rows = min(rowsPerTile, ho - y0), cols = rows * wo
                BLAS.sgemm(transA: true, transB: false, m: kdim, n: cols, k: o, a: wt.pointer, lda: kdim,
                           b: g.pointer + img * o * plane + y0 * wo, ldb: plane, c: col.pointer, ldc: cols)
                let dst = out.pointer + img * c * h * w, src = col.pointer
                // One channel per task: a channel's kernel rows write only its own plane.
                Parallel.forRanges(c) { range in
                    for ci in range {
                        let target = dst + ci * h * w
                        for kr in (ci * kh * kw)..<((ci + 1) * kh * kw) {
                            let ky = (kr / kw) % kh, kx = kr % kw
                            let row = src + kr * cols
                            let lo = max(0, (pw - kx + sw - 1) / sw)
                            let last = w - 1 + pw - kx
                            let hi = last < 0 ? 0 : min(wo, last / sw + 1)
                            guard lo < hi else { continue }
                            for r in 0..<rows {
                                let iy = (y0 + r) * sh - ph + ky
                                if iy < 0 || iy >= h { continue }
                                let line = target + iy * w, from = row + r * wo
                                if sw == 1 {
                                    pk_add(line + (lo - pw + kx), from + lo, hi - lo)
                                } else {
                                    for ox in lo..<hi { line[ox * sw - pw + kx] += from[ox] }
                                }
                            }
                        }
                    }
                }
                y0 += rows
            }
        }
        return out
    }

    /// Backward of `groupNorm` with respect to x: per group, dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / σ with
    /// dx̂ = dy·γ (statistics in double precision, as the forward).
    public static func groupNormBackward(_ x0: Tensor, gradOutput g0: Tensor, groups: Int, weight: Tensor?, eps: Float) -> Tensor {
        let x = x0.contiguous(), g = g0.contiguous()
        let n = x.shape[0], c = x.shape[1]
        let spatial = x.count / max(n * c, 1), perGroup = c / groups, groupSize = perGroup * spatial
        let wp = weight?.contiguous()
        let out = Tensor.empty(x.shape)
        let xs = x.pointer, gs = g.pointer, os = out.pointer
        Parallel.forEach(n * groups) { task in
            let base = task * groupSize
            let (mean, inv) = normStatistics(xs + base, groupSize, eps: eps)
            let group = task % groups
            var m1 = 0.0, m2 = 0.0
            for cc in 0..<perGroup {
                let gamma = Double(wp?.pointer[group * perGroup + cc] ?? 1)
                let o = base + cc * spatial
                for i in 0..<spatial {
                    let dxh = Double(gs[o + i]) * gamma
                    m1 += dxh
                    m2 += dxh * (Double(xs[o + i]) - mean) * inv
                }
            }
            m1 /= Double(groupSize)
            m2 /= Double(groupSize)
            for cc in 0..<perGroup {
                let gamma = Double(wp?.pointer[group * perGroup + cc] ?? 1)
                let o = base + cc * spatial
                for i in 0..<spatial {
                    let xh = (Double(xs[o + i]) - mean) * inv
                    os[o + i] = Float(inv * (Double(gs[o + i]) * gamma - m1 - xh * m2))
                }
            }
        }
        return out
    }

    /// Backward of `layerNorm` with respect to x (the group-norm formula over each row).
    public static func layerNormBackward(_ x0: Tensor, gradOutput g0: Tensor, weight: Tensor?, eps: Float) -> Tensor {
        let x = x0.contiguous(), g = g0.contiguous()
        let d = x.shape[x.rank - 1], rows = x.count / max(d, 1)
        let wp = weight?.contiguous()
        let out = Tensor.empty(x.shape)
        let xs = x.pointer, gs = g.pointer, os = out.pointer
        Parallel.forRanges(rows, minChunk: max(1, 4096 / max(d, 1))) { r in
            for row in r {
                let p = xs + row * d, q = gs + row * d, o = os + row * d
                let (mean, inv) = normStatistics(p, d, eps: eps)
                var m1 = 0.0, m2 = 0.0
                for i in 0..<d {
                    let dxh = Double(q[i]) * Double(wp?.pointer[i] ?? 1)
                    m1 += dxh
                    m2 += dxh * (Double(p[i]) - mean) * inv
                }
                m1 /= Double(d)
                m2 /= Double(d)
                for i in 0..<d {
                    let dxh = Double(q[i]) * Double(wp?.pointer[i] ?? 1)
                    o[i] = Float(inv * (dxh - m1 - (Double(p[i]) - mean) * inv * m2))
                }
            }
        }
        return out
    }

    /// Backward of `scaledDotProductAttention` (not causal) for contiguous q [..., Nq, D], k [..., Nk, D],
    /// v [..., Nk, Dv] (FlashAttention-2's backward, Dao 2023, in blocks of query rows): P is recomputed per block;
    /// dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dO ⊙ O)), dQ = α·dS·K, dK = α·dSᵀ·Q.
    public static func attentionBackward(query q: Tensor, key k: Tensor, value v: Tensor, gradOutput g0: Tensor,
                                         scale alpha: Float, blockRows: Int = 256) -> (Tensor, Tensor, Tensor) {
        let nq = q.shape[q.rank - 2], d = q.shape[q.rank - 1], nk = k.shape[k.rank - 2], dv = v.shape[v.rank - 1]
        let heads = q.count / max(nq * d, 1)
        let g = g0.contiguous()
        let dq = Tensor.empty(q.shape), dk = Tensor.zeros(k.shape), dvOut = Tensor.zeros(v.shape)
        let block = max(1, min(blockRows, nq))
        let parallelHeads = heads >= Parallel.threadCount
        let workers = parallelHeads ? min(Parallel.threadCount, heads) : 1
        let scratch = Tensor.empty([workers, 2 * block * nk])
        let slots = SlotPool(count: workers)
        func head(_ h: Int) {
            let slot = slots.acquire()
            defer { slots.release(slot) }
            let p = scratch.pointer + slot * 2 * block * nk, dp = p + block * nk
            let qh = q.pointer + h * nq * d, kh = k.pointer + h * nk * d, vh = v.pointer + h * nk * dv
            let gh = g.pointer + h * nq * dv
            var r0 = 0
            while r0 < nq {
                let rows = min(block, nq - r0)
                BLAS.sgemm(transA: false, transB: true, m: rows, n: nk, k: d, alpha: alpha, a: qh + r0 * d, lda: d, b: kh, ldb: d, c: p, ldc: nk)
                for r in 0..<rows { softmaxRow(p + r * nk, nk) }
                // dV += Pᵀ·dO
                BLAS.sgemm(transA: true, transB: false, m: nk, n: dv, k: rows, a: p, lda: nk, b: gh + r0 * dv, ldb: dv,
                           beta: 1, c: dvOut.pointer + h * nk * dv, ldc: dv)
                // dP = dO·Vᵀ
                BLAS.sgemm(transA: false, transB: true, m: rows, n: nk, k: dv, a: gh + r0 * dv, lda: dv, b: vh, ldb: dv, c: dp, ldc: nk)
                for r in 0..<rows {
                    var s: Float = 0
                    for j in 0..<nk { s += p[r * nk + j] * dp[r * nk + j] }
                    for j in 0..<nk { dp[r * nk + j] = p[r * nk + j] * (dp[r * nk + j] - s) }
                }
                // dQ = α·dS·K ; dK += α·dSᵀ·Q
                BLAS.sgemm(transA: false, transB: false, m: rows, n: d, k: nk, alpha: alpha, a: dp, lda: nk, b: kh, ldb: d,
                           c: dq.pointer + h * nq * d + r0 * d, ldc: d)
                BLAS.sgemm(transA: true, transB: false, m: nk, n: d, k: rows, alpha: alpha, a: dp, lda: nk, b: qh + r0 * d, ldb: d,
                           beta: 1, c: dk.pointer + h * nk * d, ldc: d)
                r0 += rows
            }
        }
        if parallelHeads {
            BLAS.singleThreaded { Parallel.forEach(heads) { head($0) } }
        } else {
            for h in 0..<heads { head(h) }
        }
        return (dq, dk, dvOut)
    }
}
