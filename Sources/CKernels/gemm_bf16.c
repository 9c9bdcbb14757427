// bfloat16 GEMM on Intel AMX tiles (TDPBF16PS: 16×16 fp32 += 16×32 bf16 · 32×16 bf16), for the opt-in bf16
// compute path. Operands are rounded to bf16 (nearest even) while packed into tile order; products accumulate in fp32.
// Compiled for every x86-64 target (functions carry their own target attributes) and used only after
// pk_amx_bf16_available() said yes; elsewhere the entry points do nothing and report 0.
#include "ckernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PK_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define PK_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl")))

int pk_amx_bf16_available(void) {
    static int state = -1;  // racy first call is harmless: every caller computes the same answer
    if (state >= 0) return state;
    unsigned a, b, c, d;
    int ok = 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        int amx_bf16 = (d >> 22) & 1, amx_tile = (d >> 24) & 1, avx512bw = (b >> 30) & 1;
        unsigned a1, b1, c1, d1;
        int avx512bf16 = __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1) && ((a1 >> 5) & 1);
        if (amx_bf16 && amx_tile && avx512bw && avx512bf16) {
#if defined(__linux__)
            // Linux hands out the 8 KB tile-data state only on request (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA).
            ok = syscall(SYS_arch_prctl, 0x1023, 18) == 0;
#endif
        }
    }
    state = ok;
    return ok;
}

static inline uint16_t pk_bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

size_t pk_bf16_panel_elements(size_t rows, size_t k) { return ((rows + 15) / 16) * ((k + 31) / 32) * 512; }

// One row of A (k values; or zeros when src is NULL) into its place in the row block's kt tiles (1024 bytes apart).
PK_AVX512BF16
static void pk_bf16_pack_row(const float *src, size_t k, size_t kt, uint16_t *row) {
    for (size_t t = 0; t < kt; t++) {
        uint16_t *d = row + t * 512;
        size_t k0 = t * 32;
        if (src && k0 + 32 <= k) {
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + k0 + 16), _mm512_loadu_ps(src + k0));
            _mm512_storeu_si512((void *)d, (__m512i)v);
        } else {
            for (int q = 0; q < 32; q++) d[q] = (src && k0 + q < k) ? pk_bf16_round(src[k0 + q]) : 0;
        }
    }
}

void pk_bf16_pack_a(const float *a, size_t lda, size_t m, size_t k, size_t b0, size_t b1, uint16_t *packed) {
    size_t kt = (k + 31) / 32;
    for (size_t i = b0 * 16; i < b1 * 16; i++)
        pk_bf16_pack_row(i < m ? a + i * lda : NULL, k, kt, packed + ((i / 16) * kt) * 512 + (i % 16) * 32);
}

PK_AVX512BF16
void pk_bf16_pack_b(const float *b, size_t ldb, int trans, size_t k, size_t n, size_t b0, size_t b1, uint16_t *packed) {
    size_t kt = (k + 31) / 32;
    // Word 2c + h of a tile row is element (k = 2p + h, column c): interleave the two converted source rows.
    const __m512i pairs = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                           23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (size_t nb = b0; nb < b1; nb++) {
        size_t n0 = nb * 16;
        int full = n0 + 16 <= n;
        for (size_t t = 0; t < kt; t++) {
            uint16_t *tile = packed + (nb * kt + t) * 512;
            size_t k0 = t * 32;
            if (!trans) {
                for (int p = 0; p < 16; p++) {
                    size_t kk = k0 + 2 * p;
                    if (full && kk + 1 < k) {
                        __m512 r0 = _mm512_loadu_ps(b + kk * ldb + n0), r1 = _mm512_loadu_ps(b + (kk + 1) * ldb + n0);
                        __m512i v = (__m512i)_mm512_cvtne2ps_pbh(r1, r0);
                        _mm512_storeu_si512((void *)(tile + p * 32), _mm512_permutexvar_epi16(pairs, v));
                    } else {
                        for (int c = 0; c < 16; c++)
                            for (int h = 0; h < 2; h++) {
                                size_t kr = kk + h, col = n0 + c;
                                tile[p * 32 + c * 2 + h] = (kr < k && col < n) ? pk_bf16_round(b[kr * ldb + col]) : 0;
                            }
                    }
                }
            } else {
                // Element (k, col) at b[col·ldb + k]: convert 32 k-values of each column, then the 16×16 transpose
                // of 32-bit (k-pair) words puts pair p of column c at word p·16 + c.
                uint32_t rows[16][16] __attribute__((aligned(64)));
                for (int c = 0; c < 16; c++) {
                    size_t col = n0 + c;
                    if (col < n && k0 + 32 <= k) {
                        const float *s = b + col * ldb + k0;
                        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + 16), _mm512_loadu_ps(s));
                        _mm512_store_si512((void *)rows[c], (__m512i)v);
                    } else {
                        uint16_t *w = (uint16_t *)rows[c];
                        for (int q = 0; q < 32; q++) {
                            size_t kr = k0 + q;
                            w[q] = (col < n && kr < k) ? pk_bf16_round(b[col * ldb + kr]) : 0;
                        }
                    }
                }
                uint32_t *dst = (uint32_t *)tile;
                for (int p = 0; p < 16; p++)
                    for (int c = 0; c < 16; c++) dst[p * 16 + c] = rows[c][p];
            }
        }
    }
}

// e^x for x ≤ 0 to bf16 accuracy: 2^(x·log₂e) split into 2^k (vscalefps) and 2^f on |f| ≤ ½ (degree-4 Taylor,
// relative error ≤ 4.3e-5, far below bf16's 2⁻⁹ rounding). −inf gives 0.
PK_AVX512BF16
static inline __m512 pk_exp_bf16(__m512 x) {
    __m512 t = _mm512_mul_ps(_mm512_max_ps(x, _mm512_set1_ps(-126.0f)), _mm512_set1_ps(1.44269504f));
    __m512 k = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(t, k);
    __m512 p = _mm512_set1_ps(9.6181291e-3f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504109e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022651e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    __m512 y = _mm512_scalef_ps(p, k);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-126.0f), _CMP_LT_OQ), y, _mm512_setzero_ps());
}

PK_AVX512BF16
void pk_softmax_pack_bf16(const float *s, size_t rows, size_t n, size_t ld, uint16_t *packed, float *inv) {
    size_t kt = (n + 31) / 32;
    float e[32] __attribute__((aligned(64)));
    for (size_t i = 0; i < (rows + 15) / 16 * 16; i++) {
        uint16_t *row = packed + (i / 16) * kt * 512 + (i % 16) * 32;
        if (i >= rows) {
            for (size_t t = 0; t < kt; t++) memset(row + t * 512, 0, 64);
            continue;
        }
        const float *p = s + i * ld;
        float lanes[16];
        for (int l = 0; l < 16; l++) lanes[l] = -INFINITY;
        size_t j = 0;
        for (; j + 16 <= n; j += 16)
            for (int l = 0; l < 16; l++) lanes[l] = p[j + l] > lanes[l] ? p[j + l] : lanes[l];
        float m = -INFINITY;
        for (int l = 0; l < 16; l++) m = lanes[l] > m ? lanes[l] : m;
        for (; j < n; j++) m = p[j] > m ? p[j] : m;
        __m512 vm = _mm512_set1_ps(m), sums = _mm512_setzero_ps();
        for (size_t t = 0; t < kt; t++) {
            size_t k0 = t * 32;
            __m512 lo, hi;
            if (k0 + 32 <= n) {
                lo = _mm512_loadu_ps(p + k0);
                hi = _mm512_loadu_ps(p + k0 + 16);
            } else {
                for (int q = 0; q < 32; q++) e[q] = k0 + q < n ? p[k0 + q] : -INFINITY;
                lo = _mm512_load_ps(e);
                hi = _mm512_load_ps(e + 16);
            }
            lo = pk_exp_bf16(_mm512_sub_ps(lo, vm));
            hi = pk_exp_bf16(_mm512_sub_ps(hi, vm));
            sums = _mm512_add_ps(sums, _mm512_add_ps(lo, hi));
            _mm512_storeu_si512((void *)(row + t * 512), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
        float sum = _mm512_reduce_add_ps(sums);
        inv[i] = m == -INFINITY ? NAN : 1.0f / sum;  // a row of -inf scores is NaN, as torch
    }
}

typedef struct {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} pk_tile_config;

// C tile q of a 2×2 block: store and load by constant tile number (the intrinsics need immediates).
PK_AMX static inline void pk_tile_store(int q, float *p, size_t stride) {
    switch (q) {
    case 0: _tile_stored(0, p, stride); break;
    case 1: _tile_stored(1, p, stride); break;
    case 2: _tile_stored(2, p, stride); break;
    default: _tile_stored(3, p, stride); break;
    }
}

// The inner operand's K slice kept hot across the outer loop (L2 is 2 MB per core on Sapphire Rapids): when the
// whole inner panel is larger, K is cut into passes and partial sums go through a scratch block between passes.
#define PK_INNER_BYTES (1u << 20)

PK_AMX
void pk_amx_gemm(const uint16_t *ap, const uint16_t *bp, size_t m, size_t n, size_t k,
                 size_t mb0, size_t mb1, size_t nb0, size_t nb1, float alpha, float beta, float *c, size_t ldc) {
    if (mb0 >= mb1 || nb0 >= nb1) return;
    size_t kt = (k + 31) / 32;
    pk_tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) { cfg.rows[i] = 16; cfg.colsb[i] = 64; }
    _tile_loadconfig(&cfg);
    // Partial sums between K passes: rows mb0·16.. and columns nb0·16.., rounded up to whole 2×2 blocks.
    size_t mpairs = (mb1 - mb0 + 1) / 2, npairs = (nb1 - nb0 + 1) / 2;
    size_t lds = npairs * 32;
    float buf[256] __attribute__((aligned(64)));
    // Keep the smaller packed operand hot: walk the larger one in the outer loop.
    int m_outer = (mb1 - mb0) > (nb1 - nb0);
    size_t outer = m_outer ? mpairs : npairs, inner = m_outer ? npairs : mpairs;
    size_t kpass = PK_INNER_BYTES / (inner * 2 * 1024);
    if (kpass < 8) kpass = 8;
    if (kpass > kt) kpass = kt;
    float *scratch = kpass < kt ? aligned_alloc(64, mpairs * 32 * lds * sizeof(float)) : NULL;
    for (size_t k0 = 0; k0 < kt; k0 += kpass) {
        size_t k1 = k0 + kpass < kt ? k0 + kpass : kt;
        int first = k0 == 0, last = k1 == kt;
        for (size_t o = 0; o < outer; o++) {
            for (size_t in = 0; in < inner; in++) {
                size_t mp = m_outer ? o : in, np = m_outer ? in : o;
                size_t mb = mb0 + 2 * mp, nb = nb0 + 2 * np;
                int m2 = mb + 1 < mb1, n2 = nb + 1 < nb1;
                const uint16_t *a0 = ap + mb * kt * 512, *a1 = ap + (m2 ? mb + 1 : mb) * kt * 512;
                const uint16_t *b0 = bp + nb * kt * 512, *b1 = bp + (n2 ? nb + 1 : nb) * kt * 512;
                float *s = scratch ? scratch + (mp * 32) * lds + np * 32 : NULL;
                size_t sb = lds * sizeof(float);
                if (first) {
                    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
                } else {
                    _tile_loadd(0, s, sb); _tile_loadd(1, s + 16, sb);
                    _tile_loadd(2, s + 16 * lds, sb); _tile_loadd(3, s + 16 * lds + 16, sb);
                }
                for (size_t t = k0; t < k1; t++) {
                    _tile_loadd(4, a0 + t * 512, 64);
                    _tile_loadd(6, b0 + t * 512, 64);
                    _tile_loadd(5, a1 + t * 512, 64);
                    _tile_loadd(7, b1 + t * 512, 64);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
                if (!last) {
                    _tile_stored(0, s, sb); _tile_stored(1, s + 16, sb);
                    _tile_stored(2, s + 16 * lds, sb); _tile_stored(3, s + 16 * lds + 16, sb);
                    continue;
                }
                for (int q = 0; q < 4; q++) {
                    if (((q >> 1) && !m2) || ((q & 1) && !n2)) continue;
                    size_t i0 = (mb + (q >> 1)) * 16, j0 = (nb + (q & 1)) * 16;
                    if (alpha == 1.0f && beta == 0.0f && i0 + 16 <= m && j0 + 16 <= n) {
                        pk_tile_store(q, c + i0 * ldc + j0, ldc * sizeof(float));
                        continue;
                    }
                    pk_tile_store(q, buf, 64);
                    size_t rows = m - i0 < 16 ? m - i0 : 16, cols = n - j0 < 16 ? n - j0 : 16;
                    __mmask16 mask = (__mmask16)(cols == 16 ? 0xffffu : (1u << cols) - 1);
                    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
                    for (size_t r = 0; r < rows; r++) {
                        float *d = c + (i0 + r) * ldc + j0;
                        __m512 v = _mm512_mul_ps(va, _mm512_load_ps(buf + r * 16));
                        if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, d), v);
                        _mm512_mask_storeu_ps(d, mask, v);
                    }
                }
            }
        }
    }
    free(scratch);
    _tile_release();
}

#else
int pk_amx_bf16_available(void) { return 0; }
size_t pk_bf16_panel_elements(size_t rows, size_t k) { return ((rows + 15) / 16) * ((k + 31) / 32) * 512; }
void pk_bf16_pack_a(const float *a, size_t lda, size_t m, size_t k, size_t b0, size_t b1, uint16_t *packed) {
    (void)a; (void)lda; (void)m; (void)k; (void)b0; (void)b1; (void)packed;
}
void pk_bf16_pack_b(const float *b, size_t ldb, int trans, size_t k, size_t n, size_t b0, size_t b1, uint16_t *packed) {
    (void)b; (void)ldb; (void)trans; (void)k; (void)n; (void)b0; (void)b1; (void)packed;
}
void pk_softmax_pack_bf16(const float *s, size_t rows, size_t n, size_t ld, uint16_t *packed, float *inv) {
    (void)s; (void)rows; (void)n; (void)ld; (void)packed; (void)inv;
}
void pk_amx_gemm(const uint16_t *ap, const uint16_t *bp, size_t m, size_t n, size_t k,
                 size_t mb0, size_t mb1, size_t nb0, size_t nb1, float alpha, float beta, float *c, size_t ldc) {
    (void)ap; (void)bp; (void)m; (void)n; (void)k; (void)mb0; (void)mb1; (void)nb0; (void)nb1;
    (void)alpha; (void)beta; (void)c; (void)ldc;
}
#endif
