import CKernels
import Foundation

extension Tensor {
    /// Attention for the bf16 compute path (AMX tiles or AVX-512-BF16) (`BF16Compute`): per head, K and V are packed to bf16 once,
    /// then each block of query rows runs S = α·Q·Kᵀ (tiles), E = exp(S − row max) rounded to bf16, O = E·V
    /// (tiles, fp32 accumulation) and O ÷ Σ E per row (the softmax's normalisation applied after the product). Heads are shared among the workers. Same contract as the fp32 path without masks.
    static func attentionBF16(q: Tensor, k: Tensor, v: Tensor, alpha: Float, lead: [Int], out: Tensor) {
        let nq = q.shape[q.rank - 2], d = q.shape[q.rank - 1]
        let nk = k.shape[k.rank - 2], dv = v.shape[v.rank - 1]
        let heads = lead.reduce(1, *)
        let qs = q.strides[q.rank - 2], ks = k.strides[k.rank - 2], vs = v.strides[v.rank - 2]
        func headOffset(_ t: Tensor, _ h: Int) -> Int { t.headOffset(h, lead: lead) }
        // 64 query rows per block and a padded score row: AMX tile stores are the bottleneck at d = 40, and rows
        // exactly 16 KB apart alias in L1 (measured per head, 4096 keys: 64 rows ~1.5× faster than 128).
        let block = min(nq, 64), lds = nk + 16
        let ktBlocks = (nk + 15) / 16, vBlocks = (dv + 15) / 16, rowBlocks = (block + 15) / 16
        guard let kernel = BF16Compute.currentKernel else { preconditionFailure("bf16 attention without a bf16 kernel") }
        Parallel.forEach(heads) { h in
            let kp = UnsafeMutablePointer<UInt16>.allocate(capacity: pk_bf16_panel_elements(nk, d))
            let vp = UnsafeMutablePointer<UInt16>.allocate(capacity: pk_bf16_panel_elements(dv, nk))
            let qp = UnsafeMutablePointer<UInt16>.allocate(capacity: pk_bf16_panel_elements(block, d))
            let pp = UnsafeMutablePointer<UInt16>.allocate(capacity: pk_bf16_panel_elements(block, nk))
            let s = UnsafeMutablePointer<Float>.allocate(capacity: block * lds)
            let inv = UnsafeMutablePointer<Float>.allocate(capacity: rowBlocks * 16)
            defer { kp.deallocate(); vp.deallocate(); qp.deallocate(); pp.deallocate(); s.deallocate(); inv.deallocate() }
            pk_bf16_pack_b(k.pointer + headOffset(k, h), ks, 1, d, nk, 0, ktBlocks, kp)
            pk_bf16_pack_b(v.pointer + headOffset(v, h), vs, 0, nk, dv, 0, vBlocks, vp)
            let qh = q.pointer + headOffset(q, h), oh = out.pointer + h * nq * dv
            var r0 = 0
            while r0 < nq {
                let rows = min(block, nq - r0), mt = min(rowBlocks, (rows + 15) / 16)
                pk_bf16_pack_a(qh + r0 * qs, qs, rows, d, 0, mt, qp)
                BF16Compute.run(kernel, qp, kp, m: rows, n: nk, k: d, rowBlocks: 0..<mt, columnBlocks: 0..<ktBlocks,
                                alpha: alpha, beta: 0, c: s, ldc: lds)
                pk_softmax_pack_bf16(s, rows, nk, lds, pp, inv)
                let o = oh + r0 * dv
                BF16Compute.run(kernel, pp, vp, m: rows, n: dv, k: nk, rowBlocks: 0..<mt, columnBlocks: 0..<vBlocks,
                                alpha: 1, beta: 0, c: o, ldc: dv)
                for r in 0..<rows {
                    let scale = inv[r], row = o + r * dv
                    for j in 0..<dv { row[j] *= scale }
                }
                r0 += rows
            }
        }
    }
}
