// Winograd F(m×m, 3×3) transforms for m = 4 and 6 (winograd_body.h once per size): Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A
// for 3×3, stride-1, padding-1 convolutions. Points: F(4,3) 0, ±1, ±2, ∞ (Lavin & Gray);
// F(6,3) 0, ±1, ±2, ±½, ∞ with the scaling of the wincnn / NNPACK matrices (benchmarks/winograd_error.py checks
// them exactly in rational arithmetic and measures their fp32 error: 1.4–1.6e-5 of the output's largest value against
// 0.9–1.2e-5 for F(4,3); the torch convolution fixtures run both sizes). Tiles are processed in groups of PK_WL lanes so every transform is a loop over lanes the compiler vectorises;
// constants are multiplications by reciprocals (a division per value made the transforms slower than the GEMMs).
#include "ckernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#define PK_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define PK_CLONES
#endif

#define PK_WL 16

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#define PK_WINO_AVX512 1
// Whether the transforms gather and store through AVX-512 registers (pk_wino_gather_avx512 and the two below) or
// value by value: the CPU's support, unless PHOSPHOR_WINOGRAD_TRANSPOSE=scalar or pk_wino_set_vector_transforms(0)
// (tests, A/B runs). Both ways compute the same values bit for bit.
static int pk_wino_vector_choice = -1;

static int pk_wino_vector_supported(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}

int pk_wino_vector_transforms(void) {
    int choice = __atomic_load_n(&pk_wino_vector_choice, __ATOMIC_RELAXED);
    if (choice < 0) {
        const char *env = getenv("PHOSPHOR_WINOGRAD_TRANSPOSE");
        choice = pk_wino_vector_supported() && !(env && strcmp(env, "scalar") == 0);
        __atomic_store_n(&pk_wino_vector_choice, choice, __ATOMIC_RELAXED);
    }
    return choice;
}

void pk_wino_set_vector_transforms(int enabled) {
    __atomic_store_n(&pk_wino_vector_choice, enabled < 0 ? -1 : enabled && pk_wino_vector_supported(), __ATOMIC_RELAXED);
}

// 16 × 8 ↔ 8 × 16 in registers, each 256-bit half on its own: z[r] holds row r of two 8 × 8 blocks (low and high
// halves); out[c] holds column c of both (low and high halves). Used both ways: lanes' rows into values' vectors (the
// input transform's gather) and values' vectors into lanes' rows (the output transform's stores).
__attribute__((target("avx512f")))
static inline void pk_wino_transpose_avx512(const __m512 z[8], __m512 out[8]) {
    // 128-bit chunks of s[j] (rows 0–3) and s[j + 4] (rows 4–7): column j in the chunks 0 and 2, j + 4 in 1 and 3.
    const __m512i low = _mm512_set_epi32(27, 26, 25, 24, 11, 10, 9, 8, 19, 18, 17, 16, 3, 2, 1, 0);
    const __m512i high = _mm512_set_epi32(31, 30, 29, 28, 15, 14, 13, 12, 23, 22, 21, 20, 7, 6, 5, 4);
    // Per 128-bit chunk, a 4 × 4 transpose of rows (r .. r + 3) × columns (4 per chunk).
    const __m512 t0 = _mm512_unpacklo_ps(z[0], z[1]), t1 = _mm512_unpackhi_ps(z[0], z[1]);
    const __m512 t2 = _mm512_unpacklo_ps(z[2], z[3]), t3 = _mm512_unpackhi_ps(z[2], z[3]);
    const __m512 t4 = _mm512_unpacklo_ps(z[4], z[5]), t5 = _mm512_unpackhi_ps(z[4], z[5]);
    const __m512 t6 = _mm512_unpacklo_ps(z[6], z[7]), t7 = _mm512_unpackhi_ps(z[6], z[7]);
    const __m512 s[8] = {
        _mm512_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
        _mm512_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)),
        _mm512_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2)),
        _mm512_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2)),
    };
    for (int j = 0; j < 4; j++) {
        out[j] = _mm512_permutex2var_ps(s[j], low, s[j + 4]);
        out[j + 4] = _mm512_permutex2var_ps(s[j], high, s[j + 4]);
    }
}

// The input transform's gather on AVX-512 (wn = m + 2 ≤ 8 values per tile row): per tile row i, each lane's 8 values
// from row y0 + i, columns x0.. (zero-masked outside the image, `xmask` per lane, and for lanes whose row is outside),
// transposed into d[(i·wn + j)·16 + lane]. The scalar gather stores value by value and is bound by stores (36 per tile
// for F(4,3)); this stores whole vectors.
__attribute__((target("avx512f,avx512vl")))
static void pk_wino_gather_avx512(const float *plane, const size_t *off, const long *y0, const long *x0,
                                  const unsigned char *xmask, size_t H, size_t W, int wn, float *d) {
    for (int i = 0; i < wn; i++) {
        __m512 z[8], out[8];
        for (int l = 0; l < 8; l++) {
            __m256 half[2];
            for (int h = 0; h < 2; h++) {
                const int lane = l + 8 * h;
                const long y = y0[lane] + i;
                const int inside = y >= 0 && y < (long)H;
                const __mmask8 m = inside ? xmask[lane] : 0;
                half[h] = _mm256_maskz_loadu_ps(m, plane + off[lane] + (inside ? y : 0) * (long)W + x0[lane]);
            }
            z[l] = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(half[0])),
                                                       _mm256_castps_pd(half[1]), 1));
        }
        pk_wino_transpose_avx512(z, out);
        for (int j = 0; j < wn; j++) _mm512_storeu_ps(d + (i * wn + j) * PK_WL, out[j]);
    }
}

// The weight transform's gather on AVX-512: lane l's 3×3 kernel (9 floats at src + 9·l, lanes < `lanes`; zeros
// past them) into g[k·16 + l]: values 0–7 by the transpose, value 8 by a gather. The scalar gather had been half of
// the weight transform's time (the compiler's gathers of 8 values each, waiting on memory).
__attribute__((target("avx512f,avx512vl")))
static void pk_wino_weights_gather_avx512(const float *src, size_t lanes, float *g) {
    __m512 z[8], out[8];
    for (int l = 0; l < 8; l++) {
        const __m256 lo = _mm256_maskz_loadu_ps((size_t)l < lanes ? 0xFF : 0, src + 9 * l);
        const __m256 hi = _mm256_maskz_loadu_ps((size_t)l + 8 < lanes ? 0xFF : 0, src + 9 * (l + 8));
        z[l] = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
    }
    pk_wino_transpose_avx512(z, out);
    for (int k = 0; k < 8; k++) _mm512_storeu_ps(g + k * PK_WL, out[k]);
    const __m512i last = _mm512_set_epi32(143, 134, 125, 116, 107, 98, 89, 80, 71, 62, 53, 44, 35, 26, 17, 8);
    const __mmask16 used = lanes >= PK_WL ? 0xFFFF : (__mmask16)((1u << lanes) - 1);
    _mm512_storeu_ps(g + 8 * PK_WL, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), used, last, src, 4));
}

// The output transform's stores on AVX-512: q[(i·wm + j)·16 + lane] + b (wm ≤ 8 values per row) transposed into each
// lane's rows, stored under masks: lane l's row i at out + corner[l] + i·W, columns in cmask[l], rows below rows[l]
// (lanes past the tiles have none).
__attribute__((target("avx512f,avx512vl")))
static void pk_wino_scatter_avx512(const float *q, int wm, float b, float *out, const size_t *corner,
                                   const unsigned char *rows, const unsigned char *cmask, size_t W) {
    const __m512 bias = _mm512_set1_ps(b);
    for (int i = 0; i < wm; i++) {
        __m512 z[8], t[8];
        for (int j = 0; j < 8; j++) z[j] = j < wm ? _mm512_add_ps(_mm512_loadu_ps(q + (i * wm + j) * PK_WL), bias) : _mm512_setzero_ps();
        pk_wino_transpose_avx512(z, t);
        for (int l = 0; l < 8; l++) {
            if (i < rows[l]) _mm256_mask_storeu_ps(out + corner[l] + i * W, cmask[l], _mm512_castps512_ps256(t[l]));
            if (i < rows[l + 8])
                _mm256_mask_storeu_ps(out + corner[l + 8] + i * W, cmask[l + 8],
                                      _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t[l]), 1)));
        }
    }
}
#else
int pk_wino_vector_transforms(void) { return 0; }
void pk_wino_set_vector_transforms(int enabled) { (void)enabled; }
#endif

// ------------------------------------------------------------------------------------------------- F(4×4, 3×3)
#define WM 4
#define PK_W(name) pk_w43_##name
#define PK_WG(z, zs, r, rs)                                                                     \
    for (int l = 0; l < PK_WL; l++) {                                                           \
        float g0 = z[0 * zs + l], g1 = z[1 * zs + l], g2 = z[2 * zs + l];                       \
        float a = (g0 + g2) * (1.0f / 6.0f), b = g1 * (1.0f / 6.0f);                            \
        float c = g0 * (1.0f / 24.0f) + g2 * (1.0f / 6.0f), d = g1 * (1.0f / 12.0f);            \
        r[0 * rs + l] = g0 * 0.25f;                                                             \
        r[1 * rs + l] = -a - b;                                                                 \
        r[2 * rs + l] = -a + b;                                                                 \
        r[3 * rs + l] = c + d;                                                                  \
        r[4 * rs + l] = c - d;                                                                  \
        r[5 * rs + l] = g2;                                                                     \
    }
#define PK_WBT(z, r, s)                                                                         \
    for (int l = 0; l < PK_WL; l++) {                                                           \
        float z0 = z[0 * s + l], z1 = z[1 * s + l], z2 = z[2 * s + l];                          \
        float z3 = z[3 * s + l], z4 = z[4 * s + l], z5 = z[5 * s + l];                          \
        r[0 * s + l] = 4.0f * z0 - 5.0f * z2 + z4;                                              \
        r[1 * s + l] = -4.0f * (z1 + z2) + z3 + z4;                                             \
        r[2 * s + l] = 4.0f * (z1 - z2) - z3 + z4;                                              \
        r[3 * s + l] = 2.0f * (z3 - z1) - z2 + z4;                                              \
        r[4 * s + l] = 2.0f * (z1 - z3) - z2 + z4;                                              \
        r[5 * s + l] = 4.0f * z1 - 5.0f * z3 + z5;                                              \
    }
#define PK_WAT(m, o, s)                                                                         \
    for (int l = 0; l < PK_WL; l++) {                                                           \
        float m0 = m[0 * s + l], m1 = m[1 * s + l], m2 = m[2 * s + l];                          \
        float m3 = m[3 * s + l], m4 = m[4 * s + l], m5 = m[5 * s + l];                          \
        float a = m1 + m2, b = m1 - m2, c3 = m3 + m4, d3 = m3 - m4;                             \
        o[0 * s + l] = m0 + a + c3;                                                             \
        o[1 * s + l] = b + 2.0f * d3;                                                           \
        o[2 * s + l] = a + 4.0f * c3;                                                           \
        o[3 * s + l] = b + 8.0f * d3 + m5;                                                      \
    }
#include "winograd_body.h"

// ------------------------------------------------------------------------------------------------- F(6×6, 3×3)
#define WM 6
#define PK_W(name) pk_w63_##name
#define PK_WG(z, zs, r, rs)                                                                     \
    for (int l = 0; l < PK_WL; l++) {                                                           \
        float g0 = z[0 * zs + l], g1 = z[1 * zs + l], g2 = z[2 * zs + l];                       \
        float a = (g0 + g2) * (-2.0f / 9.0f), b = g1 * (-2.0f / 9.0f);                          \
        float c = g0 * (1.0f / 90.0f) + g2 * (2.0f / 45.0f), d = g1 * (1.0f / 45.0f);           \
        float e = g0 * (32.0f / 45.0f) + g2 * (8.0f / 45.0f), f = g1 * (16.0f / 45.0f);         \
        r[0 * rs + l] = g0;                                                                     \
        r[1 * rs + l] = a + b;                                                                  \
        r[2 * rs + l] = a - b;                                                                  \
        r[3 * rs + l] = c + d;                                                                  \
        r[4 * rs + l] = c - d;                                                                  \
        r[5 * rs + l] = e + f;                                                                  \
        r[6 * rs + l] = e - f;                                                                  \
        r[7 * rs + l] = g2;                                                                     \
    }
#define PK_WBT(z, r, s)                                                                         \
    for (int l = 0; l < PK_WL; l++) {                                                           \
        float z0 = z[0 * s + l], z1 = z[1 * s + l], z2 = z[2 * s + l], z3 = z[3 * s + l];       \
        float z4 = z[4 * s + l], z5 = z[5 * s + l], z6 = z[6 * s + l], z7 = z[7 * s + l];       \
        float a1 = z2 + z6 - 4.25f * z4, b1 = z1 + z5 - 4.25f * z3;                             \
        float a2 = 0.25f * z2 + z6 - 1.25f * z4, b2 = 0.5f * z1 - 2.5f * z3 + 2.0f * z5;        \
        float a3 = 4.0f * z2 + z6 - 5.0f * z4, b3 = 2.0f * z1 - 2.5f * z3 + 0.5f * z5;          \
        r[0 * s + l] = z0 - z6 + 5.25f * (z4 - z2);                                             \
        r[1 * s + l] = a1 + b1;                                                                 \
        r[2 * s + l] = a1 - b1;                                                                 \
        r[3 * s + l] = a2 + b2;                                                                 \
        r[4 * s + l] = a2 - b2;                                                                 \
        r[5 * s + l] = a3 + b3;                                                                 \
        r[6 * s + l] = a3 - b3;                                                                 \
        r[7 * s + l] = z7 - z1 + 5.25f * (z3 - z5);                                             \
    }
#define PK_WAT(m, o, s)                                                                         \
    for (int l = 0; l < PK_WL; l++) {                                                           \
        float m0 = m[0 * s + l], m1 = m[1 * s + l], m2 = m[2 * s + l], m3 = m[3 * s + l];       \
        float m4 = m[4 * s + l], m5 = m[5 * s + l], m6 = m[6 * s + l], m7 = m[7 * s + l];       \
        float a1 = m1 + m2, b1 = m1 - m2, a2 = m3 + m4, b2 = m3 - m4, a3 = m5 + m6, b3 = m5 - m6; \
        o[0 * s + l] = m0 + a1 + a2 + a3;                                                       \
        o[1 * s + l] = b1 + 2.0f * b2 + 0.5f * b3;                                              \
        o[2 * s + l] = a1 + 4.0f * a2 + 0.25f * a3;                                             \
        o[3 * s + l] = b1 + 8.0f * b2 + 0.125f * b3;                                            \
        o[4 * s + l] = a1 + 16.0f * a2 + 0.0625f * a3;                                          \
        o[5 * s + l] = b1 + 32.0f * b2 + 0.03125f * b3 + m7;                                    \
    }
#include "winograd_body.h"

void pk_wino_weights_packed(int m, const void *w, int half, size_t C, size_t o0, size_t o1, size_t c0, size_t c1,
                            size_t mr, size_t kc, size_t rows, float *U, size_t kstride) {
    switch (m) {
    case 6: pk_w63_weights_packed(w, half, C, o0, o1, c0, c1, mr, kc, rows, U, kstride); break;
    default: pk_w43_weights_packed(w, half, C, o0, o1, c0, c1, mr, kc, rows, U, kstride); break;
    }
}

void pk_wino_input(int m, const float *x, size_t C, size_t H, size_t W, size_t c0, size_t c1, size_t t0, size_t count,
                   float *V, size_t ldv, size_t nr, size_t vplane) {
    switch (m) {
    case 6: pk_w63_input(x, C, H, W, c0, c1, t0, count, V, ldv, nr, vplane); break;
    default: pk_w43_input(x, C, H, W, c0, c1, t0, count, V, ldv, nr, vplane); break;
    }
}

void pk_wino_output(int m, const float *M, size_t O, size_t ldm, size_t mplane, size_t o0, size_t o1, size_t t0,
                    size_t count, const float *bias, float *y, size_t H, size_t W) {
    switch (m) {
    case 6: pk_w63_output(M, O, ldm, mplane, o0, o1, t0, count, bias, y, H, W); break;
    default: pk_w43_output(M, O, ldm, mplane, o0, o1, t0, count, bias, y, H, W); break;
    }
}
