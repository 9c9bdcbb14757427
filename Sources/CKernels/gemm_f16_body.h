// One instruction set's fp32 GEMM with an IEEE-half operand (gemm_f16.c), included once per vector width. Before
// including: W (floats per vector), MR (rows per register tile), NV (vectors per tile row: NR = NV·W columns),
// PK_G(name) (name with the set's suffix), PK_G_TARGET (the attribute selecting the set); all undefined at the end.
//
// Blocking: for each block of NC columns and KC of the inner dimension, B is packed once ([strip][k][NR], zero-padded
// columns, NC·KC floats ≤ 768 KB: in L2); then each panel of MR rows of A is packed ([row][KC], zero-padded rows,
// 18 KB: in L1) and multiplied with every strip. fp16 values are widened while packed (F16C), so fp16 weights are read
// once, from their memory map, with no fp32 copy and no second packing pass.

typedef float PK_G(vec) __attribute__((vector_size(W * 4), aligned(4)));
typedef _Float16 PK_G(hvec) __attribute__((vector_size(W * 2), aligned(2)));
#define VEC PK_G(vec)
#define NR (NV * W)

// Transposes the W × W block in r (row t = r[t]) in registers: for each bit h of the index, rows i and i + h swap
// the lanes whose bit h is set in row i with the lanes whose bit h is clear in row i + h (log2 W stages of two-source
// shuffles).
#if W == 16
#define PK_LANES(F) F(0), F(1), F(2), F(3), F(4), F(5), F(6), F(7), F(8), F(9), F(10), F(11), F(12), F(13), F(14), F(15)
#else
#define PK_LANES(F) F(0), F(1), F(2), F(3), F(4), F(5), F(6), F(7)
#endif
#define PK_LO(j) (((j) & PK_H) == 0 ? (j) : W + (j) - PK_H)
#define PK_HI(j) (((j) & PK_H) == 0 ? (j) + PK_H : W + (j))
#define PK_STAGE                                                                                                   \
    _Pragma("clang loop unroll(full)") for (int i = 0; i < W; i++) if ((i & PK_H) == 0) {                          \
        VEC lo = r[i], hi = r[i + PK_H];                                                                           \
        r[i] = __builtin_shufflevector(lo, hi, PK_LANES(PK_LO));                                                   \
        r[i + PK_H] = __builtin_shufflevector(lo, hi, PK_LANES(PK_HI));                                            \
    }
PK_G_TARGET static inline void PK_G(transpose)(VEC r[W]) {
#if W == 16
#define PK_H 8
    PK_STAGE
#undef PK_H
#endif
#define PK_H 4
    PK_STAGE
#undef PK_H
#define PK_H 2
    PK_STAGE
#undef PK_H
#define PK_H 1
    PK_STAGE
#undef PK_H
}
#undef PK_STAGE
#undef PK_LO
#undef PK_HI
#undef PK_LANES

// C[MR × NR] (rows ldc apart) = or += Ap·Bp over kc: Ap [MR][PK_GEMM_KC], Bp [kc][NR]. Accumulators stay in registers.
// When storing (accumulate 0), rb (MR values, one per row) or cb (NR values, one per column) is added if given.
PK_G_TARGET __attribute__((noinline))
static void PK_G(micro)(size_t kc, const float *ap, const float *bp, float *c, size_t ldc, int accumulate,
                        const float *rb, const float *cb) {
    VEC acc[MR][NV];
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++)
#pragma clang loop unroll(full)
        for (int u = 0; u < NV; u++) acc[i][u] = (VEC){0};
    // The C tile is fetched while the products run (large C lives in L3 or memory).
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++)
#pragma clang loop unroll(full)
        for (int u = 0; u < NR; u += 16) __builtin_prefetch(c + i * ldc + u, 1);
    for (size_t k = 0; k < kc; k++) {
        VEC b[NV];
#pragma clang loop unroll(full)
        for (int u = 0; u < NV; u++) b[u] = *(const VEC *)(bp + k * NR + u * W);
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++) {
            float a = ap[i * PK_GEMM_KC + k];
#pragma clang loop unroll(full)
            for (int u = 0; u < NV; u++) acc[i][u] += a * b[u];
        }
    }
    if (accumulate) {
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++)
#pragma clang loop unroll(full)
            for (int u = 0; u < NV; u++) {
                VEC *p = (VEC *)(c + i * ldc + u * W);
                *p = *p + acc[i][u];
            }
    } else if (rb) {
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++)
#pragma clang loop unroll(full)
            for (int u = 0; u < NV; u++) *(VEC *)(c + i * ldc + u * W) = rb[i] + acc[i][u];
    } else if (cb) {
        VEC bias[NV];
#pragma clang loop unroll(full)
        for (int u = 0; u < NV; u++) bias[u] = *(const VEC *)(cb + u * W);
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++)
#pragma clang loop unroll(full)
            for (int u = 0; u < NV; u++) *(VEC *)(c + i * ldc + u * W) = bias[u] + acc[i][u];
    } else {
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++)
#pragma clang loop unroll(full)
            for (int u = 0; u < NV; u++) *(VEC *)(c + i * ldc + u * W) = acc[i][u];
    }
}

// Packs rows [i0, i0 + MR) of A, inner range [k0, k0 + kc), into ap [MR][PK_GEMM_KC] (rows past m1 are zeros).
PK_G_TARGET
static void PK_G(pack_a)(int mode, const void *a, size_t lda, size_t i0, size_t m1, size_t k0, size_t kc, float *ap) {
    for (int i = 0; i < MR; i++) {
        float *dst = ap + i * PK_GEMM_KC;
        if (i0 + i >= m1) {
            for (size_t k = 0; k < kc; k++) dst[k] = 0.0f;
        } else if (mode == PK_GEMM_HALF_A) {
            const _Float16 *src = (const _Float16 *)a + (i0 + i) * lda + k0;
            for (size_t k = 0; k < kc; k++) dst[k] = (float)src[k];
            // The next panel's row, read from memory while this panel is multiplied (a weight is used once per
            // column, so with few columns the multiply waits on memory otherwise).
            if (i0 + MR + i < m1)
                for (size_t k = 0; k < kc; k += 32) __builtin_prefetch(src + MR * lda + k);
        } else {
            const float *src = (const float *)a + (i0 + i) * lda + k0;
            for (size_t k = 0; k < kc; k++) dst[k] = src[k];
            if (i0 + MR + i < m1)
                for (size_t k = 0; k < kc; k += 16) __builtin_prefetch(src + MR * lda + k);
        }
    }
}

// Packs columns [j0, j0 + nc) of B, inner range [k0, k0 + kc), into strips bp [strip][PK_GEMM_KC][NR] (columns past
// n1 are zeros). PK_GEMM_HALF_A: B fp32, column j of group g = j / plane at b + g·bgs + k·ldb + j % plane.
// PK_GEMM_HALF_BT: B = Wᵀ for an fp16 W [N × K] (rows ldb apart): each W row is widened, then written down a strip.
PK_G_TARGET
static void PK_G(pack_b)(int mode, const void *b, size_t ldb, size_t plane, size_t bgs, size_t j0, size_t nc,
                         size_t n1, size_t k0, size_t kc, float *bp) {
    size_t strips = (nc + NR - 1) / NR;
    for (size_t s = 0; s < strips; s++) {
        float *strip = bp + s * PK_GEMM_KC * NR;
        size_t js = j0 + s * NR;
        if (mode == PK_GEMM_HALF_BT || mode == PK_GEMM_F32_BT) {
            // W rows of W values at a time (halves widened), transposed in registers; the last kc % W by element.
            const _Float16 *w = (const _Float16 *)b;
            const float *wf = (const float *)b;
            int half = mode == PK_GEMM_HALF_BT;
            size_t kv = kc / W * W;
            for (int u = 0; u < NV; u++) {
                size_t jv = js + u * W;
                // The next W rows (a cold weight streams from memory; strided reads alone would wait on each line).
                for (int t = 0; t < W; t++)
                    if (jv + W + t < n1) {
                        if (half)
                            for (size_t k = 0; k < kc; k += 32) __builtin_prefetch(w + (jv + W + t) * ldb + k0 + k);
                        else
                            for (size_t k = 0; k < kc; k += 16) __builtin_prefetch(wf + (jv + W + t) * ldb + k0 + k);
                    }
                for (size_t k = 0; k < kv; k += W) {
                    VEC r[W];
                    if (half) {
#pragma clang loop unroll(full)
                        for (int t = 0; t < W; t++)
                            r[t] = jv + t < n1 ? __builtin_convertvector(*(const PK_G(hvec) *)(w + (jv + t) * ldb + k0 + k), VEC)
                                               : (VEC){0};
                    } else {
#pragma clang loop unroll(full)
                        for (int t = 0; t < W; t++)
                            r[t] = jv + t < n1 ? *(const VEC *)(wf + (jv + t) * ldb + k0 + k) : (VEC){0};
                    }
                    PK_G(transpose)(r);
#pragma clang loop unroll(full)
                    for (int t = 0; t < W; t++) *(VEC *)(strip + (k + t) * NR + u * W) = r[t];
                }
                for (int t = 0; t < W; t++)
                    for (size_t k = kv; k < kc; k++)
                        strip[k * NR + u * W + t] = jv + t >= n1 ? 0.0f
                            : half ? (float)w[(jv + t) * ldb + k0 + k] : wf[(jv + t) * ldb + k0 + k];
            }
            continue;
        }
        const float *src = (const float *)b;
        size_t p = js % plane;
        if (js + NR <= n1 && p + NR <= plane) {
            const float *col = src + (js / plane) * bgs + k0 * ldb + p;
            for (size_t k = 0; k < kc; k++)
#pragma clang loop unroll(full)
                for (int u = 0; u < NV; u++) *(VEC *)(strip + k * NR + u * W) = *(const VEC *)(col + k * ldb + u * W);
            continue;
        }
        // The strip crosses groups (planes narrower than NR, e.g. the 16 pixels of a 4×4 latent) or the end: copied
        // as runs of columns contiguous within one group (element by element, down each column, this was a third of
        // a 4²-level convolution's time).
        for (size_t jj = 0; jj < NR;) {
            size_t j = js + jj;
            if (j >= n1) {
                for (size_t k = 0; k < kc; k++)
                    for (size_t x = jj; x < NR; x++) strip[k * NR + x] = 0.0f;
                break;
            }
            size_t q = j % plane, run = NR - jj;
            if (run > plane - q) run = plane - q;
            if (run > n1 - j) run = n1 - j;
            const float *col = src + (j / plane) * bgs + k0 * ldb + q;
            for (size_t k = 0; k < kc; k++)
                for (size_t x = 0; x < run; x++) strip[k * NR + jj + x] = col[k * ldb + x];
            jj += run;
        }
    }
}

// Winograd's products on operands its transforms wrote in this kernel's layouts, so nothing is packed here: for the
// points k0 ≤ k < k1, M_k[o][t] (+)= Σ_c U_k[o][c]·V_k[c][t] over one block of kc input channels. U: panel p of point
// k at u + k·ukstride + p·MR·PK_GEMM_KC ([MR][PK_GEMM_KC], as pack_a writes it); V: strip s of point k at
// v + k·vkstride + s·vsstride ([kc][NR], as pack_b writes it); M: row o of point k at m + k·mkstride + o·ldm, every
// tile whole (the caller pads M to `panels`·MR rows and `strips`·NR columns).
PK_G_TARGET __attribute__((noinline))
static void PK_G(wino)(size_t k0, size_t k1, size_t panels, size_t strips, size_t kc, const float *u, size_t ukstride,
                       const float *v, size_t vkstride, size_t vsstride, float *m, size_t mkstride, size_t ldm,
                       int accumulate) {
    for (size_t k = k0; k < k1; k++)
        for (size_t p = 0; p < panels; p++) {
            const float *ap = u + k * ukstride + p * MR * PK_GEMM_KC;
            for (size_t s = 0; s < strips; s++)
                PK_G(micro)(kc, ap, v + k * vkstride + s * vsstride, m + k * mkstride + p * MR * ldm + s * NR, ldm,
                            accumulate, NULL, NULL);
        }
}

PK_G_TARGET __attribute__((noinline))
static void PK_G(gemm)(int mode, size_t m0, size_t m1, size_t n0, size_t n1, size_t K, const void *a, size_t lda,
                       const void *b, size_t ldb, size_t plane, size_t bgs, float *c, size_t ldc, size_t cgs,
                       int accumulate, const float *bias, float *scratch) {
    float *bp = scratch, *ap = scratch + PK_GEMM_KC * PK_GEMM_NC;
    float tile[MR * NR];
    for (size_t j0 = n0; j0 < n1; j0 += PK_GEMM_NC) {
        size_t nc = n1 - j0 < PK_GEMM_NC ? n1 - j0 : PK_GEMM_NC;
        size_t strips = (nc + NR - 1) / NR;
        // Equal inner blocks of at most PK_GEMM_KC: K = 320 is one pass over C, not 256 + 64. With fp32 weights
        // (the default model's), whole PK_GEMM_KC blocks and the rest last: the sums' rounding then follows torch's
        // more closely (ConvTests against torch, U-Net shapes: max error 3.6–4.7e-7 against 4.8–6.3e-7 with equal
        // blocks, OpenBLAS 3.6–5.4e-7), which a regional generation amplifies ~1000× over its 12 steps
        // (RegionTests case 0: final latents 6.6e-4 of their scale against 1.46e-3, tolerance 1e-3).
        size_t blocks = (K + PK_GEMM_KC - 1) / PK_GEMM_KC;
        size_t step = mode == PK_GEMM_F32_A || mode == PK_GEMM_F32_BT ? PK_GEMM_KC : (K + blocks - 1) / blocks;
        for (size_t k0 = 0; k0 < K; k0 += step) {
            size_t kc = K - k0 < step ? K - k0 : step;
            int add = accumulate || k0 > 0;
            // The bias is added with the first inner block's results: per row of C (convolution weights are A), or
            // per column (linear weights are Bᵀ).
            int columnBias = mode == PK_GEMM_HALF_BT || mode == PK_GEMM_F32_BT;
            const float *rb = columnBias ? NULL : bias, *cb = columnBias ? bias : NULL;
            PK_G(pack_b)(mode, b, ldb, plane, bgs, j0, nc, n1, k0, kc, bp);
            for (size_t i0 = m0; i0 < m1; i0 += MR) {
                PK_G(pack_a)(mode, a, lda, i0, m1, k0, kc, ap);
                size_t rows = m1 - i0 < MR ? m1 - i0 : MR;
                for (size_t s = 0; s < strips; s++) {
                    size_t js = j0 + s * NR, p = js % plane;
                    size_t cols = n1 - js < NR ? n1 - js : NR;
                    const float *strip = bp + s * PK_GEMM_KC * NR;
                    if (rows == MR && cols == NR && p + NR <= plane) {
                        PK_G(micro)(kc, ap, strip, c + (js / plane) * cgs + i0 * ldc + p, ldc, add, rb ? rb + i0 : NULL,
                                    cb ? cb + js : NULL);
                        continue;
                    }
                    PK_G(micro)(kc, ap, strip, tile, NR, 0, NULL, NULL);
                    // Stored as runs of columns contiguous within one group, row by row.
                    for (size_t jj = 0; jj < cols;) {
                        size_t j = js + jj, q = j % plane, run = cols - jj;
                        if (run > plane - q) run = plane - q;
                        float *base = c + (j / plane) * cgs + i0 * ldc + q;
                        for (size_t i = 0; i < rows; i++) {
                            float *dst = base + i * ldc;
                            const float *t = tile + i * NR + jj;
                            if (add) for (size_t x = 0; x < run; x++) dst[x] += t[x];
                            else if (rb) for (size_t x = 0; x < run; x++) dst[x] = rb[i0 + i] + t[x];
                            else if (cb) for (size_t x = 0; x < run; x++) dst[x] = cb[j + x] + t[x];
                            else for (size_t x = 0; x < run; x++) dst[x] = t[x];
                        }
                        jj += run;
                    }
                }
            }
        }
    }
}

#undef VEC
#undef NR
#undef W
#undef MR
#undef NV
#undef PK_G
#undef PK_G_TARGET
