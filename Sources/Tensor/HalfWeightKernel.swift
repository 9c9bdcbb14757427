import CKernels
import Foundation

/// How fp32 products use IEEE-half (fp16) weights: `avx512` and `avx2` multiply them straight from their memory map
/// (`gemm_f16.c`: widened while packed, F16C), `blas` converts the whole weight to fp32 and calls OpenBLAS's sgemm.
/// The direct kernels save the fp32 copy and OpenBLAS's second packing pass — what dominates when a weight meets few
/// columns (the 8² and 4² U-Net levels: `phosphor bench ops`). `PHOSPHOR_HALF_GEMM` picks one (e.g. `blas` for A/B runs).
public enum HalfWeightKernel: String, CaseIterable, Sendable {
    case avx512, avx2, blas

    var level: Int32 { switch self { case .avx512: 2; case .avx2: 1; case .blas: 0 } }

    /// The kernels this CPU runs, widest first (`blas` always).
    public static let available: [HalfWeightKernel] = allCases.filter { $0 == .blas || $0.level <= pk_gemm_f16_best_level() }

    public static let preferred: HalfWeightKernel =
        getenv("PHOSPHOR_HALF_GEMM").flatMap { HalfWeightKernel(rawValue: String(cString: $0)) }
            .flatMap { available.contains($0) ? $0 : nil } ?? available[0]

    /// Whether this kernel multiplies a weight with this many rows (output channels or features): `blas` never, and
    /// a weight of fewer rows than a register tile spans (12 or 6 for convolutions, 32 or 16 for linear layers) goes to
    /// sgemm too — the tile would mostly multiply padding (a VAE's 3-channel output convolution), and converting so
    /// small a weight costs nothing.
    func takes(weightRows: Int, linear: Bool) -> Bool {
        self != .blas && weightRows >= Int(linear ? pk_gemm_f16_columns(level) : pk_gemm_f16_rows(level))
    }

    /// C (rows ldc apart) = W·B (+ bias, one value per row of W) for fp16 weights W [m × k] (rows k apart) and fp32
    /// columns B: column j of group g = j / plane at b + g·bGroupStride + row·ldb + j % plane, its result at
    /// c + g·cGroupStride + row·ldc + j % plane (a group per image: one product for a batch of images). Not for `blas`.
    /// `half` false: W is fp32 (a model's decoded or fp32-stored weights), read as it is.
    func convolution(weights: UnsafeRawPointer, half: Bool = true, m: Int, k: Int, columns b: UnsafePointer<Float>, n: Int,
                     ldb: Int, plane: Int, bGroupStride: Int, c: UnsafeMutablePointer<Float>, ldc: Int, cGroupStride: Int,
                     bias: UnsafePointer<Float>?) {
        run(mode: half ? PK_GEMM_HALF_A : PK_GEMM_F32_A, m: m, n: n, k: k, splitRows: true, a: weights, lda: k, b: UnsafeRawPointer(b), ldb: ldb,
            plane: plane, bGroupStride: bGroupStride, c: c, ldc: ldc, cGroupStride: cGroupStride, bias: bias)
    }

    /// C [m × n] (rows n apart) = X·Wᵀ (+ bias, n values) for fp32 X [m × k] (rows k apart) and fp16 W [n × k]: a
    /// linear layer. The bias is added as each tile is stored (no pass over C to fill it in first). `half` false: W
    /// is fp32.
    func linear(x: UnsafePointer<Float>, m: Int, k: Int, weights: UnsafeRawPointer, half: Bool = true, n: Int,
                c: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?) {
        // Workers split the token rows when there are more of them than weight rows, or too few weight rows for two
        // strips each: each then packs its own rows of X once for all strips (weight rows split, every worker would
        // pack all of X for half the strips). Otherwise the weight's rows: each widens only its part of W.
        let strips = (n + Int(pk_gemm_f16_columns(level)) - 1) / Int(pk_gemm_f16_columns(level))
        run(mode: half ? PK_GEMM_HALF_BT : PK_GEMM_F32_BT, m: m, n: n, k: k, splitRows: m >= n || strips < 2 * Parallel.threadCount,
            a: UnsafeRawPointer(x), lda: k, b: weights, ldb: k, plane: n, bGroupStride: 0, c: c, ldc: n, cGroupStride: 0,
            bias: bias)
    }

    private func run(mode: Int32, m: Int, n: Int, k: Int, splitRows: Bool, a: UnsafeRawPointer, lda: Int,
                     b: UnsafeRawPointer, ldb: Int, plane: Int, bGroupStride: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                     cGroupStride: Int, bias: UnsafePointer<Float>?) {
        precondition(self != .blas, "the blas kernel converts weights and calls sgemm instead")
        guard m > 0 && n > 0 else { return }
        if FLOPCounter.enabled && FLOPCounter.countsHere { FLOPCounter.add(2 * m * n * k) }
        let level = level
        let unit = Int(splitRows ? pk_gemm_f16_rows(level) : pk_gemm_f16_columns(level))
        let units = ((splitRows ? m : n) + unit - 1) / unit
        // A worker per ≥ 16 MFLOP (smaller products are not worth waking one).
        let workers = max(1, min(Parallel.threadCount, units, 2 * m * n * k / (16 << 20)))
        let perWorker = (Int(pk_gemm_f16_scratch(level)) + 15) / 16 * 16
        let scratch = Tensor.empty([workers * perWorker])
        let sp = scratch.pointer
        let cp = UnsafeMutablePointer<Float>(c)
        Parallel.forRanges(workers) { r in
            for slot in r {
                let first = units * slot / workers * unit, last = min(units * (slot + 1) / workers * unit, splitRows ? m : n)
                let (m0, m1, n0, n1) = splitRows ? (first, last, 0, n) : (0, m, first, last)
                pk_gemm_f16(level, mode, m0, m1, n0, n1, k, a, lda, b, ldb, plane, bGroupStride, cp, ldc, cGroupStride,
                            0, bias, sp + slot * perWorker)
            }
        }
        withExtendedLifetime(scratch) {}
    }
}
