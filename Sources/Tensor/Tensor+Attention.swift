import CKernels
import Foundation

/// How fp32 attention without masks is computed: a fused C kernel for one vector width (`attention_f32.c`: queries
/// along the vector lanes, a block's scores kept transposed in L2, exp and E·V in register tiles; SD 1.5's 512 px
/// self-attention 1.5× faster than the OpenBLAS path on AVX-512), or OpenBLAS products around a separate softmax
/// (`blas`, the only one for causal or key-padded attention). Default: the widest the CPU runs, or
/// PHOSPHOR_ATTENTION_KERNEL (avx512, avx2, baseline, blas).
public enum AttentionKernel: String, CaseIterable, Sendable {
    case avx512, avx2, baseline, blas

    var level: Int32 { switch self { case .avx512: 2; case .avx2: 1; case .baseline, .blas: 0 } }

    /// The kernels this CPU runs, widest first.
    public static let available: [AttentionKernel] = allCases.filter { $0.level <= pk_attention_f32_best_level() }

    public static let preferred: AttentionKernel =
        getenv("PHOSPHOR_ATTENTION_KERNEL").flatMap { AttentionKernel(rawValue: String(cString: $0)) }
            .flatMap { available.contains($0) ? $0 : nil } ?? available[0]
}

extension Tensor {
    /// torch.nn.functional.scaled_dot_product_attention for q [..., Nq, D], k [..., Nk, D], v [..., Nk, Dv]
    /// (leading dims equal, e.g. [B, H]). Computed in blocks of query rows: each block's scores live in a per-worker
    /// scratch buffer, so the Nq × Nk matrix is never held whole (`blockRows` rows per block on the `blas` kernel; the
    /// fused kernels take 8–32).
    /// `causal` masks keys after the query position (CLIP's text transformer). `visibleKeys[b]` masks every key
    /// from that index on for batch row b (first leading dim): a key padding mask for right-padded text (BERT).
    public static func scaledDotProductAttention(query q0: Tensor, key k0: Tensor, value v0: Tensor,
                                                 scale: Float? = nil, causal: Bool = false, visibleKeys: [Int]? = nil,
                                                 blockRows: Int = attentionBlockRows,
                                                 kernel: AttentionKernel = .preferred) -> Tensor {
        let profileToken = OpProfile.begin(); defer { OpProfile.end(profileToken, "attention") }
        precondition(q0.rank >= 2 && k0.rank == q0.rank && v0.rank == q0.rank, "attention ranks differ: \(q0.shape) \(k0.shape) \(v0.shape)")
        let lead = Array(q0.shape.dropLast(2))
        precondition(Array(k0.shape.dropLast(2)) == lead && Array(v0.shape.dropLast(2)) == lead, "attention batch dims differ")
        let nq = q0.shape[q0.rank - 2], d = q0.shape[q0.rank - 1]
        let nk = k0.shape[k0.rank - 2], dv = v0.shape[v0.rank - 1]
        precondition(k0.shape[k0.rank - 1] == d && v0.shape[v0.rank - 2] == nk, "attention shapes \(q0.shape) \(k0.shape) \(v0.shape)")
        // Each matrix needs unit stride on its last dim; rows may be strided (head views of [B, N, H, D]).
        func rowMajor(_ t: Tensor) -> Tensor { t.strides[t.rank - 1] == 1 ? t : t.contiguous() }
        let q = rowMajor(q0), k = rowMajor(k0), v = rowMajor(v0)
        let alpha = scale ?? 1 / Float(d).squareRoot()
        let heads = lead.reduce(1, *)
        if let visible = visibleKeys {
            precondition(!lead.isEmpty && visible.count == lead[0] && visible.allSatisfy { $0 >= 1 && $0 <= nk },
                         "visibleKeys needs one count in 1...\(nk) per batch row")
        }
        let headsPerRow = lead.isEmpty ? 1 : heads / lead[0]
        let out = Tensor.empty(lead + [nq, dv])
        // Without masks: the bf16 path where it takes the products, else a fused kernel unless `blas` was asked for.
        let bf16 = BF16Compute.takes(m: nq, n: nk, k: d)
        if !causal && visibleKeys == nil && (bf16 || kernel != .blas) {
            if FLOPCounter.enabled && FLOPCounter.countsHere { FLOPCounter.add(2 * heads * nq * nk * (d + dv)) }
            if bf16 {
                attentionBF16(q: q, k: k, v: v, alpha: alpha, lead: lead, out: out)
            } else {
                fusedAttention(q: q, k: k, v: v, alpha: alpha, lead: lead, level: kernel.level, out: out)
            }
            return out
        }
        let (block, blocksPerHead, workers) = attentionBlocks(queries: nq, heads: heads, blockRows: blockRows)
        let scratch = Tensor.empty([max(workers, 1), block * nk])
        let slots = SlotPool(count: max(workers, 1))

        func headOffset(_ t: Tensor, _ h: Int) -> Int { t.headOffset(h, lead: lead) }
        let qs = q.strides[q.rank - 2], ks = k.strides[k.rank - 2], vs = v.strides[v.rank - 2]
        BLAS.singleThreaded {
            Parallel.forEach(heads * blocksPerHead) { task in
                let h = task / blocksPerHead, blk = task % blocksPerHead
                let r0 = blk * block, rows = min(block, nq - r0)
                let slot = slots.acquire()
                defer { slots.release(slot) }
                let s = scratch.pointer + slot * block * nk
                // Keys beyond the last visible one are never needed in causal mode.
                var keys = causal ? min(nk, r0 + rows) : nk
                if let visible = visibleKeys { keys = min(keys, visible[h / headsPerRow]) }
                BLAS.sgemm(transA: false, transB: true, m: rows, n: keys, k: d, alpha: alpha,
                           a: q.pointer + headOffset(q, h) + r0 * qs, lda: qs,
                           b: k.pointer + headOffset(k, h), ldb: ks,
                           c: s, ldc: keys)
                for r in 0..<rows {
                    let row = s + r * keys
                    if causal {
                        let visible = min(r0 + r + 1, keys)
                        for j in visible..<max(visible, keys) { row[j] = -.infinity }
                    }
                    softmaxRow(row, keys)
                }
                BLAS.sgemm(transA: false, transB: false, m: rows, n: dv, k: keys,
                           a: s, lda: keys, b: v.pointer + headOffset(v, h), ldb: vs,
                           c: out.pointer + h * nq * dv + r0 * dv, ldc: dv)
            }
        }
        return out
    }

    /// The fused C kernel: blocks of 32 (AVX-512), 16 (AVX2) or 8 queries, each against all keys of its head, shared
    /// among the workers. Every block reads its head's whole K and V, so they are first copied per head: K in the
    /// score tiles' order (`pk_attention_f32_pack_keys`), V contiguous when its rows are strided head views (rows of
    /// [B, N, H, D]: reading 40 of every 320 floats made SD 1.5's 512 px self-attention ~25 % slower).
    private static func fusedAttention(q: Tensor, k: Tensor, v: Tensor, alpha: Float, lead: [Int], level: Int32, out: Tensor) {
        let nq = q.shape[q.rank - 2], d = q.shape[q.rank - 1]
        let nk = k.shape[k.rank - 2], dv = v.shape[v.rank - 1]
        let heads = lead.reduce(1, *)
        let qs = q.strides[q.rank - 2], ks = k.strides[k.rank - 2], vs = v.strides[v.rank - 2]
        let packedKeys = pk_attention_f32_packed_keys(level, nk, d)
        let keys = Tensor.empty([heads * packedKeys])
        let copyValues = vs != dv
        let values = copyValues ? Tensor.empty([heads, nk, dv]) : v
        Parallel.forEach(heads) { h in
            pk_attention_f32_pack_keys(level, k.pointer + k.headOffset(h, lead: lead), ks, nk, d, keys.pointer + h * packedKeys)
            if copyValues {
                let src = v.pointer + v.headOffset(h, lead: lead), dst = values.pointer + h * nk * dv
                for j in 0..<nk { (dst + j * dv).update(from: src + j * vs, count: dv) }
            }
        }
        let (block, blocksPerHead, workers, perWorker) = fusedBlocks(level: level, queries: nq, keys: nk, heads: heads, d: d, dv: dv)
        let scratch = Tensor.empty([workers * perWorker])
        let slots = SlotPool(count: workers)
        Parallel.forEach(heads * blocksPerHead) { task in
            let h = task / blocksPerHead, r0 = task % blocksPerHead * block
            let slot = slots.acquire()
            defer { slots.release(slot) }
            let vh = copyValues ? values.pointer + h * nk * dv : v.pointer + v.headOffset(h, lead: lead)
            pk_attention_f32_block(level, q.pointer + q.headOffset(h, lead: lead) + r0 * qs, qs, min(block, nq - r0), d,
                                   keys.pointer + h * packedKeys, vh, copyValues ? dv : vs,
                                   nk, dv, alpha, scratch.pointer + slot * perWorker, out.pointer + h * nq * dv + r0 * dv, dv)
        }
    }

    /// The fused kernel's query rows per block, blocks per head, workers, and scratch floats per worker (rounded up
    /// to 64 bytes).
    private static func fusedBlocks(level: Int32, queries nq: Int, keys nk: Int, heads: Int, d: Int, dv: Int)
        -> (block: Int, blocksPerHead: Int, workers: Int, perWorker: Int) {
        let block = pk_attention_f32_block_rows(level)
        let blocksPerHead = (nq + block - 1) / block
        return (block, blocksPerHead, max(1, min(Parallel.threadCount, heads * blocksPerHead)),
                (pk_attention_f32_scratch(level, nk, d, dv) + 15) / 16 * 16)
    }

    /// Element offset of head `h` (flat index over the leading dims `lead`) in this [lead..., N, D] view.
    func headOffset(_ h: Int, lead: [Int]) -> Int {
        var rem = h, o = 0
        for i in stride(from: lead.count - 1, through: 0, by: -1) {
            o += (rem % lead[i]) * strides[i]
            rem /= lead[i]
        }
        return o
    }

    /// Query rows per block (PHOSPHOR_ATTENTION_BLOCK, default 256).
    public static let attentionBlockRows: Int =
        getenv("PHOSPHOR_ATTENTION_BLOCK").flatMap { Int(String(cString: $0)) }.map { max(1, $0) } ?? 256

    /// Bytes of scratch `scaledDotProductAttention` allocates beyond its output for these sizes (d = dv = `dim`), at
    /// most: the fused kernels' copies of K and V (V only when its rows are strided) and per-worker blocks.
    public static func attentionScratchBytes(queries nq: Int, keys nk: Int, heads: Int, dim: Int,
                                             blockRows: Int = attentionBlockRows, kernel: AttentionKernel = .preferred) -> Int {
        if kernel != .blas {
            let blocks = fusedBlocks(level: kernel.level, queries: nq, keys: nk, heads: heads, d: dim, dv: dim)
            let copies = heads * (pk_attention_f32_packed_keys(kernel.level, nk, dim) + nk * dim)
            return (blocks.workers * blocks.perWorker + copies) * MemoryLayout<Float>.stride
        }
        let (block, _, workers) = attentionBlocks(queries: nq, heads: heads, blockRows: blockRows)
        return max(workers, 1) * block * nk * MemoryLayout<Float>.stride
    }

    /// Rows per query block, blocks per head, and workers (each with one block × keys scratch buffer).
    private static func attentionBlocks(queries nq: Int, heads: Int, blockRows: Int) -> (block: Int, blocksPerHead: Int, workers: Int) {
        let block = max(1, min(blockRows, nq))
        let blocksPerHead = (nq + block - 1) / block
        return (block, blocksPerHead, min(Parallel.threadCount, heads * blocksPerHead))
    }
}

/// Hands out scratch slot indices to concurrent workers.
final class SlotPool: @unchecked Sendable {
    private var free: [Int]
    private let lock = NSLock()
    init(count: Int) { free = Array(0..<count) }
    func acquire() -> Int {
        lock.lock(); defer { lock.unlock() }
        return free.removeLast()
    }
    func release(_ i: Int) {
        lock.lock(); defer { lock.unlock() }
        free.append(i)
    }
}
