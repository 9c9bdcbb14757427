// The opt-in bf16 compute path: operands rounded to bf16 (nearest even) while packed into 16×32 tile order, products
// accumulated in fp32 — on Intel AMX tiles (TDPBF16PS: 16×16 fp32 += 16×32 bf16 · 32×16 bf16) or with AVX-512-BF16
// dot products (VDPBF16PS) on the same packed operands; a direct AMX convolution; the attention's softmax packed
// straight to tiles. Compiled for every x86-64 target (functions carry their own target attributes) and called only
// after pk_amx_bf16_available() / pk_avx512bf16_available() said yes; elsewhere those report 0 and the rest is empty.
#include "ckernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t pk_bf16_panel_elements(size_t rows, size_t k) { return ((rows + 15) / 16) * ((k + 31) / 32) * 512; }

size_t pk_bf16_conv_input_elements(size_t c, size_t h, size_t w, size_t ph, size_t pw) {
    return (c + 31) / 32 * 16 * (h + 2 * ph) * (w + 2 * pw) * 2;
}

size_t pk_bf16_conv_weight_elements(size_t o, size_t c, size_t taps) { return (o + 15) / 16 * taps * ((c + 31) / 32) * 512; }

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

int pk_avx512bf16_available(void) {
    static int state = -1;
    if (state >= 0) return state;
    unsigned a, b, c, d, a1, b1, c1, d1;
    int ok = 0;
    if (__get_cpuid_count(1, 0, &a, &b, &c, &d) && ((c >> 27) & 1) /* OSXSAVE */ &&
        __get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        int avx512 = ((b >> 16) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1);  // F, BW, VL
        int bf16 = __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1) && ((a1 >> 5) & 1);
        unsigned lo, hi;
        __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        ok = avx512 && bf16 && (lo & 0xe6) == 0xe6;  // the OS saves SSE, AVX, opmask and ZMM state
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

// The same from IEEE half values (exact widening, then bf16 rounding).
PK_AVX512BF16
static void pk_bf16_pack_row_f16(const uint16_t *src, size_t k, size_t kt, uint16_t *row) {
    for (size_t t = 0; t < kt; t++) {
        uint16_t *d = row + t * 512;
        size_t k0 = t * 32;
        __m512 lo, hi;
        if (src && k0 + 32 <= k) {
            lo = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + k0)));
            hi = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + k0 + 16)));
        } else {
            uint16_t tail[32] __attribute__((aligned(64)));
            for (int q = 0; q < 32; q++) tail[q] = (src && k0 + q < k) ? src[k0 + q] : 0;
            lo = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)tail));
            hi = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(tail + 16)));
        }
        _mm512_storeu_si512((void *)d, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
    }
}

void pk_bf16_pack_a_f16(const uint16_t *a, size_t lda, size_t m, size_t k, size_t b0, size_t b1, uint16_t *packed) {
    size_t kt = (k + 31) / 32;
    for (size_t i = b0 * 16; i < b1 * 16; i++)
        pk_bf16_pack_row_f16(i < m ? a + i * lda : NULL, k, kt, packed + ((i / 16) * kt) * 512 + (i % 16) * 32);
}

void pk_bf16_pack_bt_f16(const uint16_t *b, size_t ldb, size_t k, size_t n, size_t b0, size_t b1, uint16_t *packed) {
    // Column j of B is row j of the half matrix: convert it as an A row, then transpose the 32-bit k-pairs.
    size_t kt = (k + 31) / 32;
    uint16_t rows[16 * 32] __attribute__((aligned(64)));
    for (size_t nb = b0; nb < b1; nb++) {
        for (size_t t = 0; t < kt; t++) {
            uint32_t *dst = (uint32_t *)(packed + (nb * kt + t) * 512);
            for (int c = 0; c < 16; c++) {
                size_t col = nb * 16 + c;
                pk_bf16_pack_row_f16(col < n ? b + col * ldb + t * 32 : NULL, k - t * 32 < 32 ? k - t * 32 : 32, 1,
                                     rows + c * 32);
            }
            const uint32_t *words = (const uint32_t *)rows;
            for (int p = 0; p < 16; p++)
                for (int c = 0; c < 16; c++) dst[p * 16 + c] = words[c * 16 + p];
        }
    }
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

PK_AVX512BF16
void pk_bf16_pack_im2col(const float *x, size_t channels, size_t height, size_t width, size_t kh, size_t kw,
                         size_t sh, size_t sw, size_t ph, size_t pw, size_t wo, size_t first_row, size_t rows,
                         size_t b0, size_t b1, uint16_t *packed) {
    size_t k = channels * kh * kw, n = rows * wo, kt = (k + 31) / 32, taps = kh * kw;
    const __m512i pairs = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                           23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (size_t nb = b0; nb < b1; nb++) {
        size_t j0 = nb * 16;
        // Fast path: 16 output pixels of one row at stride 1 read 16 neighbouring input values per tap.
        size_t y = first_row + j0 / wo, x0 = j0 % wo;
        int one_row = j0 + 16 <= n && x0 + 16 <= wo && sw == 1;
        for (size_t t = 0; t < kt; t++) {
            uint16_t *tile = packed + (nb * kt + t) * 512;
            for (int p = 0; p < 16; p++) {
                size_t kk = t * 32 + 2 * p;
                if (one_row) {
                    __m512 v[2];
                    for (int h = 0; h < 2; h++) {
                        size_t kr = kk + h;
                        v[h] = _mm512_setzero_ps();
                        if (kr >= k) continue;
                        size_t ci = kr / taps, tap = kr % taps, ky = tap / kw, kx = tap % kw;
                        long iy = (long)(y * sh + ky) - (long)ph;
                        if (iy < 0 || iy >= (long)height) continue;
                        long ix0 = (long)(x0 + kx) - (long)pw;
                        // Lanes whose input column lies inside the image (masked lanes are never read).
                        long lo = ix0 < 0 ? -ix0 : 0, hi = (long)width - ix0;
                        if (hi > 16) hi = 16;
                        if (hi <= lo) continue;
                        __mmask16 mask = (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
                        v[h] = _mm512_maskz_loadu_ps(mask, x + (ci * height + (size_t)iy) * width + ix0);
                    }
                    __m512i packed_pair = (__m512i)_mm512_cvtne2ps_pbh(v[1], v[0]);
                    _mm512_storeu_si512((void *)(tile + p * 32), _mm512_permutexvar_epi16(pairs, packed_pair));
                } else {
                    for (int c = 0; c < 16; c++)
                        for (int h = 0; h < 2; h++) {
                            size_t kr = kk + h, j = j0 + c;
                            float value = 0.0f;
                            if (kr < k && j < n) {
                                size_t ci = kr / taps, tap = kr % taps, ky = tap / kw, kx = tap % kw;
                                size_t oy = first_row + j / wo, ox = j % wo;
                                long iy = (long)(oy * sh + ky) - (long)ph, ix = (long)(ox * sw + kx) - (long)pw;
                                if (iy >= 0 && iy < (long)height && ix >= 0 && ix < (long)width)
                                    value = x[(ci * height + (size_t)iy) * width + (size_t)ix];
                            }
                            tile[p * 32 + c * 2 + h] = pk_bf16_round(value);
                        }
                }
            }
        }
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

// Blocking. The operand walked in the inner loop ("inner") is cut into chunks whose K slices (1 KB per tile) fit in
// PK_HOT_BYTES of L2 (2 MB per core on Sapphire Rapids); the outer operand's pair of tile rows stays in L1 meanwhile.
// K up to PK_KPASS tiles is done in one pass, the 2×2 C block accumulating in tile registers; a longer K is cut
// into passes, partial sums of the current chunk kept in a small scratch (4 KB per 32×32 block).
#define PK_HOT_BYTES (1u << 20)
#define PK_KPASS 64

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
    size_t mpairs = (mb1 - mb0 + 1) / 2, npairs = (nb1 - nb0 + 1) / 2;
    float buf[256] __attribute__((aligned(64)));
    // The larger operand goes outer, so the smaller one is the one re-read from cache.
    int m_outer = (mb1 - mb0) > (nb1 - nb0);
    size_t outer = m_outer ? mpairs : npairs, inner = m_outer ? npairs : mpairs;
    size_t kpass = kt <= PK_KPASS ? kt : PK_KPASS;
    size_t chunk = PK_HOT_BYTES / (2 * kpass * 1024);
    if (chunk < 1) chunk = 1;
    if (chunk > inner) chunk = inner;
    float *scratch = kpass < kt ? aligned_alloc(64, outer * chunk * 1024 * sizeof(float)) : NULL;
    for (size_t i0 = 0; i0 < inner; i0 += chunk) {
        size_t i1 = i0 + chunk < inner ? i0 + chunk : inner;
        for (size_t k0 = 0; k0 < kt; k0 += kpass) {
            size_t k1 = k0 + kpass < kt ? k0 + kpass : kt;
            int first = k0 == 0, last = k1 == kt;
            for (size_t o = 0; o < outer; o++) {
                for (size_t in = i0; in < i1; in++) {
                    size_t mp = m_outer ? o : in, np = m_outer ? in : o;
                    size_t mb = mb0 + 2 * mp, nb = nb0 + 2 * np;
                    int m2 = mb + 1 < mb1, n2 = nb + 1 < nb1;
                    const uint16_t *a0 = ap + mb * kt * 512, *a1 = ap + (m2 ? mb + 1 : mb) * kt * 512;
                    const uint16_t *b0 = bp + nb * kt * 512, *b1 = bp + (n2 ? nb + 1 : nb) * kt * 512;
                    float *s = scratch ? scratch + (o * chunk + (in - i0)) * 1024 : NULL;
                    if (first) {
                        _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
                    } else {
                        _tile_loadd(0, s, 64); _tile_loadd(1, s + 256, 64);
                        _tile_loadd(2, s + 512, 64); _tile_loadd(3, s + 768, 64);
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
                        _tile_stored(0, s, 64); _tile_stored(1, s + 256, 64);
                        _tile_stored(2, s + 512, 64); _tile_stored(3, s + 768, 64);
                        continue;
                    }
                    for (int q = 0; q < 4; q++) {
                        if (((q >> 1) && !m2) || ((q & 1) && !n2)) continue;
                        size_t r0 = (mb + (q >> 1)) * 16, j0 = (nb + (q & 1)) * 16;
                        if (alpha == 1.0f && beta == 0.0f && r0 + 16 <= m && j0 + 16 <= n) {
                            pk_tile_store(q, c + r0 * ldc + j0, ldc * sizeof(float));
                            continue;
                        }
                        pk_tile_store(q, buf, 64);
                        size_t rows = m - r0 < 16 ? m - r0 : 16, cols = n - j0 < 16 ? n - j0 : 16;
                        __mmask16 mask = (__mmask16)(cols == 16 ? 0xffffu : (1u << cols) - 1);
                        __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
                        for (size_t r = 0; r < rows; r++) {
                            float *d = c + (r0 + r) * ldc + j0;
                            __m512 v = _mm512_mul_ps(va, _mm512_load_ps(buf + r * 16));
                            if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, d), v);
                            _mm512_mask_storeu_ps(d, mask, v);
                        }
                    }
                }
            }
        }
    }
    free(scratch);
    _tile_release();
}

// The same product with AVX-512-BF16 dot products (VDPBF16PS) on the same packed operands, for CPUs without AMX
// (AMD Zen 4, Intel Cooper Lake): 8 rows × 32 columns of C in 16 registers; each B tile row (one k-pair, 16 columns)
// is one vector, each A k-pair one broadcast.
PK_AVX512BF16
void pk_avx512bf16_gemm(const uint16_t *ap, const uint16_t *bp, size_t m, size_t n, size_t k,
                        size_t mb0, size_t mb1, size_t nb0, size_t nb1, float alpha, float beta, float *c, size_t ldc) {
    size_t kt = (k + 31) / 32;
    size_t row_end = mb1 * 16 < m ? mb1 * 16 : m;
    for (size_t nb = nb0; nb < nb1; nb += 2) {
        int n2 = nb + 1 < nb1;
        const uint16_t *b0 = bp + nb * kt * 512, *b1 = bp + (n2 ? nb + 1 : nb) * kt * 512;
        for (size_t i0 = mb0 * 16; i0 < row_end; i0 += 8) {
            const uint16_t *a = ap + (i0 / 16) * kt * 512 + (i0 % 16) * 32;
            __m512 acc[8][2];
            for (int r = 0; r < 8; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
            for (size_t t = 0; t < kt; t++) {
                const uint16_t *at = a + t * 512, *bt0 = b0 + t * 512, *bt1 = b1 + t * 512;
                for (int p = 0; p < 16; p++) {
                    __m512bh v0 = (__m512bh)_mm512_loadu_si512((const void *)(bt0 + p * 32));
                    __m512bh v1 = (__m512bh)_mm512_loadu_si512((const void *)(bt1 + p * 32));
                    for (int r = 0; r < 8; r++) {
                        int32_t pair;
                        memcpy(&pair, at + r * 32 + 2 * p, sizeof pair);
                        __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
                        acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, v0);
                        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, v1);
                    }
                }
            }
            __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
            for (int r = 0; r < 8 && i0 + r < row_end; r++) {
                for (int h = 0; h < 2; h++) {
                    if (h && !n2) continue;
                    size_t j0 = (nb + h) * 16;
                    if (j0 >= n) continue;
                    size_t cols = n - j0 < 16 ? n - j0 : 16;
                    __mmask16 mask = (__mmask16)(cols == 16 ? 0xffffu : (1u << cols) - 1);
                    float *d = c + (i0 + r) * ldc + j0;
                    __m512 v = _mm512_mul_ps(va, acc[r][h]);
                    if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, d), v);
                    _mm512_mask_storeu_ps(d, mask, v);
                }
            }
        }
    }
}

// ---- Direct convolution on tiles (stride 1, output width a multiple of 16) ----
// The input is packed once per image, channel pairs interleaved and zero-bordered, so the B tile of one tap, 32
// channels and 16 neighbouring output pixels is 16 rows of 64 bytes a constant stride apart: TILELOADD reads it in
// place — no im2col matrix. The weights are packed tap-major to match: K runs over taps, then 32-channel tiles.

PK_AVX512BF16
void pk_bf16_pack_conv_input(const float *x, size_t c, size_t h, size_t w, size_t ph, size_t pw,
                             size_t p0, size_t p1, uint16_t *packed) {
    size_t hp = h + 2 * ph, wp = w + 2 * pw;
    const __m512i pairs = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                           23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (size_t p = p0; p < p1; p++) {
        uint16_t *plane = packed + p * hp * wp * 2;
        size_t c0 = 2 * p, c1 = 2 * p + 1;
        for (size_t yy = 0; yy < hp; yy++) {
            uint16_t *row = plane + yy * wp * 2;
            long y = (long)yy - (long)ph;
            if (y < 0 || y >= (long)h || c0 >= c) {
                memset(row, 0, wp * 4);
                continue;
            }
            const float *r0 = x + (c0 * h + (size_t)y) * w, *r1 = c1 < c ? x + (c1 * h + (size_t)y) * w : NULL;
            memset(row, 0, pw * 4);
            memset(row + (pw + w) * 2, 0, pw * 4);
            uint16_t *d = row + pw * 2;
            size_t i = 0;
            for (; i + 16 <= w; i += 16) {
                __m512 v0 = _mm512_loadu_ps(r0 + i), v1 = r1 ? _mm512_loadu_ps(r1 + i) : _mm512_setzero_ps();
                __m512i v = (__m512i)_mm512_cvtne2ps_pbh(v1, v0);
                _mm512_storeu_si512((void *)(d + i * 2), _mm512_permutexvar_epi16(pairs, v));
            }
            for (; i < w; i++) {
                d[i * 2] = pk_bf16_round(r0[i]);
                d[i * 2 + 1] = r1 ? pk_bf16_round(r1[i]) : 0;
            }
        }
    }
}

PK_AVX512BF16
void pk_bf16_pack_conv_weights(const void *weights, int half, size_t o, size_t c, size_t taps,
                               size_t b0, size_t b1, uint16_t *packed) {
    size_t ct = (c + 31) / 32;
    const float *wf = (const float *)weights;
    const uint16_t *wh = (const uint16_t *)weights;
    // One output channel's 32 input channels × taps are contiguous: widen them into `block` (zeros past C), then
    // gather each tap's 32 values (stride taps) into a tile row.
    float *block = aligned_alloc(64, ((32 * taps * sizeof(float) + 63) / 64) * 64);
    const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i stride_lo = _mm512_mullo_epi32(lanes, _mm512_set1_epi32((int)taps));
    const __m512i stride_hi = _mm512_mullo_epi32(_mm512_add_epi32(lanes, _mm512_set1_epi32(16)), _mm512_set1_epi32((int)taps));
    for (size_t ob = b0; ob < b1; ob++) {
        for (int r = 0; r < 16; r++) {
            size_t oc = ob * 16 + r;
            for (size_t t = 0; t < ct; t++) {
                size_t first = t * 32, count = oc < o ? (c - first < 32 ? c - first : 32) * taps : 0;
                size_t base = (oc * c + first) * taps, i = 0;
                if (half) {
                    for (; i + 16 <= count; i += 16)
                        _mm512_store_ps(block + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(wh + base + i))));
                    for (; i < count; i++) {
                        _Float16 hv;
                        memcpy(&hv, wh + base + i, sizeof hv);
                        block[i] = (float)hv;
                    }
                } else {
                    memcpy(block, wf + base, count * sizeof(float));
                    i = count;
                }
                for (; i < 32 * taps; i++) block[i] = 0.0f;
                for (size_t tap = 0; tap < taps; tap++) {
                    __m512i off = _mm512_set1_epi32((int)tap);
                    __m512 lo = _mm512_i32gather_ps(_mm512_add_epi32(stride_lo, off), block, 4);
                    __m512 hi = _mm512_i32gather_ps(_mm512_add_epi32(stride_hi, off), block, 4);
                    uint16_t *d = packed + ((ob * taps + tap) * ct + t) * 512 + r * 32;
                    _mm512_storeu_si512((void *)d, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
                }
            }
        }
    }
    free(block);
}

PK_AMX
void pk_amx_conv(const uint16_t *wpk, const uint16_t *xpk, size_t c, size_t h, size_t w, size_t kh, size_t kw,
                 size_t ph, size_t pw, size_t o, size_t ob0, size_t ob1, size_t jb0, size_t jb1, float *out, int accumulate) {
    if (ob0 >= ob1 || jb0 >= jb1) return;
    size_t hp = h + 2 * ph, wpad = w + 2 * pw, ho = hp - kh + 1, wo = wpad - kw + 1, plane = ho * wo;
    size_t ct = (c + 31) / 32, taps = kh * kw, kt = taps * ct;
    size_t bstride = hp * wpad * 4;  // bytes between channel pairs: one tile row to the next
    pk_tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) { cfg.rows[i] = 16; cfg.colsb[i] = 64; }
    _tile_loadconfig(&cfg);
    float buf[256] __attribute__((aligned(64)));
    size_t jlast = jb1 - 1;
    for (size_t ob = ob0; ob < ob1; ob += 2) {
        int o2 = ob + 1 < ob1;
        const uint16_t *a0 = wpk + ob * kt * 512, *a1 = wpk + (o2 ? ob + 1 : ob) * kt * 512;
        int full0 = (ob + 1) * 16 <= o, full1 = o2 && (ob + 2) * 16 <= o;
        for (size_t jb = jb0; jb < jb1; jb += 2) {
            size_t jbs[2] = {jb, jb + 1 <= jlast ? jb + 1 : jb};
            const uint16_t *xb[2];
            float *cp[2][2];
            for (int s = 0; s < 2; s++) {
                size_t j = jbs[s] * 16, y = j / wo, x0 = j % wo;
                xb[s] = xpk + (y * wpad + x0) * 2;
                for (int q = 0; q < 2; q++) cp[q][s] = out + (ob + q) * 16 * plane + y * wo + x0;
            }
            // C from the output (bias, beta = 1) or zero.
            if (accumulate && full0) {
                _tile_loadd(0, cp[0][0], plane * 4); _tile_loadd(1, cp[0][1], plane * 4);
            } else if (accumulate) {
                for (int s = 0; s < 2; s++) {
                    memset(buf, 0, sizeof buf);
                    for (size_t r = 0; r < 16 && ob * 16 + r < o; r++) memcpy(buf + r * 16, cp[0][s] + r * plane, 64);
                    if (s == 0) _tile_loadd(0, buf, 64); else _tile_loadd(1, buf, 64);
                }
            } else {
                _tile_zero(0); _tile_zero(1);
            }
            if (accumulate && full1) {
                _tile_loadd(2, cp[1][0], plane * 4); _tile_loadd(3, cp[1][1], plane * 4);
            } else if (accumulate && o2) {
                for (int s = 0; s < 2; s++) {
                    memset(buf, 0, sizeof buf);
                    for (size_t r = 0; r < 16 && (ob + 1) * 16 + r < o; r++) memcpy(buf + r * 16, cp[1][s] + r * plane, 64);
                    if (s == 0) _tile_loadd(2, buf, 64); else _tile_loadd(3, buf, 64);
                }
            } else {
                _tile_zero(2); _tile_zero(3);
            }
            for (size_t tap = 0; tap < taps; tap++) {
                size_t ky = tap / kw, kx = tap % kw;
                size_t shift = (ky * wpad + kx) * 2;
                for (size_t t = 0; t < ct; t++) {
                    size_t k = tap * ct + t;
                    const uint16_t *x0p = xb[0] + t * 16 * hp * wpad * 2 + shift, *x1p = xb[1] + t * 16 * hp * wpad * 2 + shift;
                    _tile_loadd(4, a0 + k * 512, 64);
                    _tile_loadd(6, x0p, bstride);
                    _tile_loadd(5, a1 + k * 512, 64);
                    _tile_loadd(7, x1p, bstride);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
            }
            int second = jbs[1] != jbs[0];
            for (int q = 0; q < 2; q++) {
                if (q == 1 && !o2) continue;
                int full = q == 0 ? full0 : full1;
                for (int s = 0; s < 2; s++) {
                    if (s == 1 && !second) continue;
                    int tile = q * 2 + s;
                    if (full) {
                        pk_tile_store(tile, cp[q][s], plane * 4);
                    } else {
                        pk_tile_store(tile, buf, 64);
                        for (size_t r = 0; r < 16 && (ob + q) * 16 + r < o; r++) memcpy(cp[q][s] + r * plane, buf + r * 16, 64);
                    }
                }
            }
        }
    }
    _tile_release();
}

#else
int pk_amx_bf16_available(void) { return 0; }
void pk_bf16_pack_conv_input(const float *x, size_t c, size_t h, size_t w, size_t ph, size_t pw,
                             size_t p0, size_t p1, uint16_t *packed) {
    (void)x; (void)c; (void)h; (void)w; (void)ph; (void)pw; (void)p0; (void)p1; (void)packed;
}
void pk_bf16_pack_conv_weights(const void *weights, int half, size_t o, size_t c, size_t taps,
                               size_t b0, size_t b1, uint16_t *packed) {
    (void)weights; (void)half; (void)o; (void)c; (void)taps; (void)b0; (void)b1; (void)packed;
}
void pk_amx_conv(const uint16_t *wpk, const uint16_t *xpk, size_t c, size_t h, size_t w, size_t kh, size_t kw,
                 size_t ph, size_t pw, size_t o, size_t ob0, size_t ob1, size_t jb0, size_t jb1, float *out, int accumulate) {
    (void)wpk; (void)xpk; (void)c; (void)h; (void)w; (void)kh; (void)kw; (void)ph; (void)pw; (void)o; (void)ob0; (void)ob1;
    (void)jb0; (void)jb1; (void)out; (void)accumulate;
}
int pk_avx512bf16_available(void) { return 0; }
void pk_avx512bf16_gemm(const uint16_t *ap, const uint16_t *bp, size_t m, size_t n, size_t k,
                        size_t mb0, size_t mb1, size_t nb0, size_t nb1, float alpha, float beta, float *c, size_t ldc) {
    (void)ap; (void)bp; (void)m; (void)n; (void)k; (void)mb0; (void)mb1; (void)nb0; (void)nb1;
    (void)alpha; (void)beta; (void)c; (void)ldc;
}
void pk_bf16_pack_a(const float *a, size_t lda, size_t m, size_t k, size_t b0, size_t b1, uint16_t *packed) {
    (void)a; (void)lda; (void)m; (void)k; (void)b0; (void)b1; (void)packed;
}
void pk_bf16_pack_b(const float *b, size_t ldb, int trans, size_t k, size_t n, size_t b0, size_t b1, uint16_t *packed) {
    (void)b; (void)ldb; (void)trans; (void)k; (void)n; (void)b0; (void)b1; (void)packed;
}
void pk_bf16_pack_im2col(const float *x, size_t channels, size_t height, size_t width, size_t kh, size_t kw,
                         size_t sh, size_t sw, size_t ph, size_t pw, size_t wo, size_t first_row, size_t rows,
                         size_t b0, size_t b1, uint16_t *packed) {
    (void)x; (void)channels; (void)height; (void)width; (void)kh; (void)kw; (void)sh; (void)sw; (void)ph; (void)pw;
    (void)wo; (void)first_row; (void)rows; (void)b0; (void)b1; (void)packed;
}
void pk_bf16_pack_a_f16(const uint16_t *a, size_t lda, size_t m, size_t k, size_t b0, size_t b1, uint16_t *packed) {
    (void)a; (void)lda; (void)m; (void)k; (void)b0; (void)b1; (void)packed;
}
void pk_bf16_pack_bt_f16(const uint16_t *b, size_t ldb, size_t k, size_t n, size_t b0, size_t b1, uint16_t *packed) {
    (void)b; (void)ldb; (void)k; (void)n; (void)b0; (void)b1; (void)packed;
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
