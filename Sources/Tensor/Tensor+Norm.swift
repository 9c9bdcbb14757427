import CKernels
import Foundation

extension Tensor {
    /// torch.nn.functional.group_norm over [N, C, *] with per-channel affine weight and bias.
    /// Statistics use a two-pass mean/variance in double precision.
    public func groupNorm(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "group norm (+SiLU)") }
        return groupNorm(groups: groups, weight: weight, bias: bias, eps: eps, silu: false)
    }

    /// silu(group_norm(x)) in one pass over the output (the pattern of every resnet block and decoder tail).
    public func groupNormSiLU(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "group norm (+SiLU)") }
        return groupNorm(groups: groups, weight: weight, bias: bias, eps: eps, silu: true)
    }

    func groupNorm(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float, silu: Bool) -> Tensor {
        precondition(rank >= 2, "group_norm needs [N, C, ...], got \(shape)")
        let n = shape[0], c = shape[1]
        precondition(groups > 0 && c % groups == 0, "\(c) channels do not split into \(groups) groups")
        let spatial = count / max(n * c, 1)
        let perGroup = c / groups
        let groupSize = perGroup * spatial
        let x = contiguous()
        let out = Tensor.empty(shape)
        let wp = weight?.contiguous(), bp = bias?.contiguous()
        let xs = x.pointer, os = out.pointer
        Parallel.forEach(n * groups) { task in
            let base = task * groupSize
            let (mean, inverseStd) = normStatistics(xs + base, groupSize, eps: eps)
            let inv = Float(inverseStd)
            let m = Float(mean)
            let g = task % groups
            for cc in 0..<perGroup {
                let ch = g * perGroup + cc
                let scale = inv * (wp?.pointer[ch] ?? 1)
                let shift = (bp?.pointer[ch] ?? 0) - m * scale
                let o = base + cc * spatial
                if silu {
                    pk_affine_silu(xs + o, os + o, spatial, scale, shift)
                } else {
                    for i in 0..<spatial { os[o + i] = xs[o + i] * scale + shift }
                }
            }
        }
        return out
    }

    /// torch.nn.functional.layer_norm over the last dimension.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "layer norm") }
        let d = shape[rank - 1]
        let rows = count / max(d, 1)
        let x = contiguous()
        let out = Tensor.empty(shape)
        let wp = weight?.contiguous(), bp = bias?.contiguous()
        let xs = x.pointer, os = out.pointer
        Parallel.forRanges(rows, minChunk: max(1, 4096 / max(d, 1))) { r in
            for row in r {
                let p = xs + row * d, q = os + row * d
                let (mean, inverseStd) = normStatistics(p, d, eps: eps)
                let inv = Float(inverseStd)
                let m = Float(mean)
                if let wp, let bp {
                    for i in 0..<d { q[i] = (p[i] - m) * inv * wp.pointer[i] + bp.pointer[i] }
                } else {
                    for i in 0..<d { q[i] = (p[i] - m) * inv * (wp?.pointer[i] ?? 1) + (bp?.pointer[i] ?? 0) }
                }
            }
        }
        return out
    }

    /// torch.softmax along `dim` (numerically stable).
    public func softmax(dim: Int = -1) -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "softmax") }
        let d = axis(dim)
        if d != rank - 1 {
            return transposed(d, -1).softmax(dim: -1).transposed(d, -1).contiguous()
        }
        let out = copy()
        let cols = shape[rank - 1]
        let rows = count / max(cols, 1)
        let p = out.pointer
        Parallel.forRanges(rows, minChunk: max(1, 4096 / max(cols, 1))) { r in
            for row in r { softmaxRow(p + row * cols, cols) }
        }
        return out
    }
}


/// In-place stable softmax of one row (vectorised C kernel, SIMD level chosen at load time).
@inline(__always)
func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    pk_softmax_rows(p, 1, n, n)
}

/// Two-pass mean and 1/√(variance + eps) of `count` floats, in double precision (the statistics of group and layer
/// norm, forward and backward).
@inline(__always)
func normStatistics(_ p: UnsafePointer<Float>, _ count: Int, eps: Float) -> (mean: Double, inverseStd: Double) {
    var mean = 0.0, variance = 0.0
    pk_norm_statistics(p, count, &mean, &variance)
    return (mean, 1 / (variance + Double(eps)).squareRoot())
}
