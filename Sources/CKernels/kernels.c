#include "ckernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#if defined(__x86_64__) && defined(__clang__)
#define PK_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define PK_CLONES
#endif

#include "pk_expf.h"
#include <stdlib.h>

PK_CLONES
void pk_exp(const float *x, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = pk_expf(x[i]);
}

// Reductions use 16 explicit lanes so they vectorise without -ffast-math (which would also break
// the -inf and NaN handling torch's softmax has).
#define PK_LANES 16

PK_CLONES
void pk_softmax_rows(float *data, size_t rows, size_t n, size_t ld) {
    for (size_t r = 0; r < rows; r++) {
        float *p = data + r * ld;
        float lanes[PK_LANES];
        for (int l = 0; l < PK_LANES; l++) lanes[l] = -INFINITY;
        size_t i = 0;
        for (; i + PK_LANES <= n; i += PK_LANES)
            for (int l = 0; l < PK_LANES; l++) lanes[l] = p[i + l] > lanes[l] ? p[i + l] : lanes[l];
        float m = -INFINITY;
        for (int l = 0; l < PK_LANES; l++) m = lanes[l] > m ? lanes[l] : m;
        for (; i < n; i++) m = p[i] > m ? p[i] : m;
        if (m == -INFINITY) {
            for (size_t j = 0; j < n; j++) p[j] = NAN;
            continue;
        }
        for (size_t j = 0; j < n; j++) p[j] = pk_expf(p[j] - m);
        float sums[PK_LANES] = {0};
        i = 0;
        for (; i + PK_LANES <= n; i += PK_LANES)
            for (int l = 0; l < PK_LANES; l++) sums[l] += p[i + l];
        float sum = 0.0f;
        for (int l = 0; l < PK_LANES; l++) sum += sums[l];
        for (; i < n; i++) sum += p[i];
        float inv = 1.0f / sum;
        for (size_t j = 0; j < n; j++) p[j] *= inv;
    }
}

PK_CLONES
void pk_f16_to_f32(const uint16_t *src, float *dst, size_t n) {
#if defined(__clang__) && (defined(__x86_64__) || defined(__aarch64__))
    // _Float16 → float compiles to vcvtph2ps on F16C/AVX-512 clones and to exact bit arithmetic elsewhere.
    const _Float16 *h = (const _Float16 *)src;
    for (size_t i = 0; i < n; i++) dst[i] = (float)h[i];
#else
    for (size_t i = 0; i < n; i++) {
        uint32_t sign = (uint32_t)(src[i] & 0x8000) << 16, e = (src[i] >> 10) & 0x1f, m = src[i] & 0x3ff, bits;
        if (e == 0) { float v = (float)m * 5.9604644775390625e-8f; memcpy(&bits, &v, 4); bits |= sign; }
        else if (e == 31) bits = sign | 0x7f800000 | (m << 13);
        else bits = sign | ((e + 112) << 23) | (m << 13);
        memcpy(dst + i, &bits, 4);
    }
#endif
}

PK_CLONES
void pk_bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
    uint32_t *out = (uint32_t *)dst;
    for (size_t i = 0; i < n; i++) out[i] = (uint32_t)src[i] << 16;
}

PK_CLONES
static const char *pk_level_probe(void) {
#if defined(__AVX512F__)
    return "avx512f";
#elif defined(__AVX2__)
    return "avx2";
#else
    return "default";
#endif
}

const char *pk_simd_level(void) { return pk_level_probe(); }

void pk_release_free_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

PK_CLONES
void pk_add(float *restrict dst, const float *restrict src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

// SiLU through the vectorisable exp: x·σ(x) = x / (1 + e^-x).
PK_CLONES
void pk_silu(const float *x, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = x[i] / (1.0f + pk_expf(-x[i]));
}

// out = silu(x·scale + shift): group norm's per-channel affine fused with the activation that follows it.
PK_CLONES
void pk_affine_silu(const float *x, float *out, size_t n, float scale, float shift) {
    for (size_t i = 0; i < n; i++) {
        float y = x[i] * scale + shift;
        out[i] = y / (1.0f + pk_expf(-y));
    }
}

// out = g · d silu(x)/dx = g · σ(x)·(1 + x·(1 − σ(x))).
PK_CLONES
void pk_silu_backward(const float *x, const float *g, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + pk_expf(-x[i]));
        out[i] = g[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}

// ---------------------------------------------------------------- Winograd F(4×4, 3×3)
// Lavin & Gray's matrices for the points 0, ±1, ±2, ∞: Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A. Tiles are processed in
// groups of PK_WL lanes so every transform is a loop over lanes the compiler vectorises.
#define PK_WL 16

// G z for three lane vectors z[0..2] (zs floats apart) into six (rs apart); multiplications by the reciprocals (a
// division per value made this transform slower than the GEMMs it feeds).
#define PK_G2(z, zs, r, rs)                                                                     \
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
#define PK_G(z, r, s) PK_G2(z, s, r, s)

// U = G g Gᵀ for output channels o0..<o1 and input channels c0..<c1, in panels of mr rows kc apart (pk_wino_products'
// U operand; one panel of o1 − o0 rows C apart is the plain [O][C] layout); rows past o1 − o0 up to `rows` zeroed.
// fp16 weights: each output channel's halves widened in one vector loop before the gathers below read them (element
// by element they were a scalar conversion each, 7 % of a 512 px U-Net step; widened per 16 lanes just before, the
// gathers' loads waited on the stores).
PK_CLONES
void pk_wino43_weights_packed(const void *w, int half, size_t C, size_t o0, size_t o1, size_t c0, size_t c1,
                              size_t mr, size_t kc, size_t rows, float *U, size_t kstride) {
    const size_t width = c1 - c0;
    float g[9 * PK_WL], t[18 * PK_WL], u[36 * PK_WL];
    float *wide = half ? malloc(width * 9 * sizeof(float)) : NULL;
    for (size_t r = 0; r < rows; r++) {
        float *base = U + r / mr * mr * kc + r % mr * kc;
        if (o0 + r >= o1) {
            for (int k = 0; k < 36; k++) memset(base + k * kstride, 0, width * sizeof(float));
            continue;
        }
        const size_t o = o0 + r;
        if (half) {
            const _Float16 *h = (const _Float16 *)w + (o * C + c0) * 9;
            for (size_t i = 0; i < width * 9; i++) wide[i] = (float)h[i];
        }
        for (size_t cc = 0; cc < width; cc += PK_WL) {
            const size_t lanes = width - cc < PK_WL ? width - cc : PK_WL;
            const float *src = half ? wide + cc * 9 : (const float *)w + (o * C + c0 + cc) * 9;
            if (lanes == PK_WL) {
                for (int k = 0; k < 9; k++)
                    for (int l = 0; l < PK_WL; l++) g[k * PK_WL + l] = src[l * 9 + k];
            } else {
                for (int k = 0; k < 9; k++)
                    for (size_t l = 0; l < PK_WL; l++) g[k * PK_WL + l] = l < lanes ? src[l * 9 + k] : 0.0f;
            }
            for (int j = 0; j < 3; j++) { const float *z = g + j * PK_WL; float *q = t + j * PK_WL; PK_G(z, q, 3 * PK_WL) }
            if (lanes == PK_WL) {  // whole groups: the second pass writes the destination rows itself
                for (int i = 0; i < 6; i++) {
                    const float *z = t + i * 3 * PK_WL;
                    float *q = base + i * 6 * kstride + cc;
                    PK_G2(z, PK_WL, q, kstride)
                }
                continue;
            }
            for (int i = 0; i < 6; i++) { const float *z = t + i * 3 * PK_WL; float *q = u + i * 6 * PK_WL; PK_G(z, q, PK_WL) }
            for (int k = 0; k < 36; k++) {
                float *row = base + k * kstride + cc;
                const float *v = u + k * PK_WL;
                for (size_t l = 0; l < lanes; l++) row[l] = v[l];
            }
        }
    }
    free(wide);
}

// Bᵀ z for six lane vectors z[0..5] (stride s floats apart), written to r[0..5] (stride s).
#define PK_BT(z, r, s)                                                                          \
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

PK_CLONES
void pk_wino43_input(const float *x, size_t C, size_t H, size_t W, size_t c0, size_t c1,
                     size_t t0, size_t count, float *V, size_t ldv, size_t nr) {
    const size_t th = (H + 3) / 4, tw = (W + 3) / 4, per_image = th * tw;
    const size_t plane36 = C * ldv;
    // In strips, every column of the last strip is written (zeros past count): the products multiply whole strips.
    const size_t end = nr < ldv ? (count + nr - 1) / nr * nr : count;
    float d[36 * PK_WL], e[36 * PK_WL];
    // Channels innermost: in strips, consecutive channels' values are adjacent (36 sequential write streams; tiles
    // innermost would touch a new page per strip and point).
    for (size_t g = 0; g < end; g += PK_WL) {
        const size_t lanes = g >= count ? 0 : count - g < PK_WL ? count - g : PK_WL;
        for (size_t c = c0; c < c1; c++) {
            for (size_t l = 0; l < PK_WL; l++) {
                if (l >= lanes) { for (int k = 0; k < 36; k++) d[k * PK_WL + l] = 0; continue; }
                const size_t t = t0 + g + l, img = t / per_image, r = t % per_image;
                const long y0 = (long)(r / tw) * 4 - 1, x0 = (long)(r % tw) * 4 - 1;
                const float *plane = x + (img * C + c) * H * W;
                if (y0 >= 0 && x0 >= 0 && y0 + 6 <= (long)H && x0 + 6 <= (long)W) {
                    for (int i = 0; i < 6; i++) {
                        const float *line = plane + (y0 + i) * W + x0;
                        for (int j = 0; j < 6; j++) d[(i * 6 + j) * PK_WL + l] = line[j];
                    }
                } else {
                    for (int i = 0; i < 6; i++) {
                        const long y = y0 + i;
                        for (int j = 0; j < 6; j++) {
                            const long xx = x0 + j;
                            d[(i * 6 + j) * PK_WL + l] =
                                (y >= 0 && y < (long)H && xx >= 0 && xx < (long)W) ? plane[y * W + xx] : 0.0f;
                        }
                    }
                }
            }
            // Bᵀ d: along i (rows) for each column j; then · B: along j for each row.
            for (int j = 0; j < 6; j++) { const float *z = d + j * PK_WL; float *r = e + j * PK_WL; PK_BT(z, r, 6 * PK_WL) }
            for (int i = 0; i < 6; i++) { const float *z = e + i * 6 * PK_WL; float *r = d + i * 6 * PK_WL; PK_BT(z, r, PK_WL) }
            float *dst = V + g / nr * C * nr + c * nr + g % nr;
            const size_t stored = nr < ldv ? PK_WL : lanes;
            for (int k = 0; k < 36; k++) {
                float *row = dst + k * plane36;
                const float *src = d + k * PK_WL;
                if (stored == PK_WL) { for (int l = 0; l < PK_WL; l++) row[l] = src[l]; }
                else { for (size_t l = 0; l < stored; l++) row[l] = src[l]; }
            }
        }
    }
}

// Aᵀ m for six lane vectors (stride s) into four (stride s).
#define PK_AT(m, o, s)                                                                          \
    for (int l = 0; l < PK_WL; l++) {                                                           \
        float m0 = m[0 * s + l], m1 = m[1 * s + l], m2 = m[2 * s + l];                          \
        float m3 = m[3 * s + l], m4 = m[4 * s + l], m5 = m[5 * s + l];                          \
        float a = m1 + m2, b = m1 - m2, c3 = m3 + m4, d3 = m3 - m4;                             \
        o[0 * s + l] = m0 + a + c3;                                                             \
        o[1 * s + l] = b + 2.0f * d3;                                                           \
        o[2 * s + l] = a + 4.0f * c3;                                                           \
        o[3 * s + l] = b + 8.0f * d3 + m5;                                                      \
    }

PK_CLONES
void pk_wino43_output(const float *M, size_t O, size_t mo, size_t ldm, size_t o0, size_t o1, size_t t0, size_t count,
                      const float *bias, float *y, size_t H, size_t W) {
    const size_t th = (H + 3) / 4, tw = (W + 3) / 4, per_image = th * tw;
    const size_t plane36 = mo * ldm;
    float m[36 * PK_WL], e[36 * PK_WL], q[16 * PK_WL];
    for (size_t o = o0; o < o1; o++) {
        const float b = bias ? bias[o] : 0.0f;
        for (size_t g = 0; g < count; g += PK_WL) {
            const size_t lanes = count - g < PK_WL ? count - g : PK_WL;
            const float *src = M + o * ldm + g;
            for (int k = 0; k < 36; k++) {
                const float *row = src + k * plane36;
                if (lanes == PK_WL) { for (int l = 0; l < PK_WL; l++) m[k * PK_WL + l] = row[l]; }
                else { for (size_t l = 0; l < PK_WL; l++) m[k * PK_WL + l] = l < lanes ? row[l] : 0.0f; }
            }
            // Aᵀ m along rows (i) per column j → e[4][6]; then along columns per row → q[4][4].
            for (int j = 0; j < 6; j++) { const float *z = m + j * PK_WL; float *r = e + j * PK_WL; PK_AT(z, r, 6 * PK_WL) }
            for (int i = 0; i < 4; i++) { const float *z = e + i * 6 * PK_WL; float *r = q + i * 4 * PK_WL; PK_AT(z, r, PK_WL) }
            for (size_t l = 0; l < lanes; l++) {
                const size_t t = t0 + g + l, img = t / per_image, r = t % per_image;
                const size_t yy = (r / tw) * 4, xx = (r % tw) * 4;
                float *plane = y + (img * O + o) * H * W;
                const size_t rows = H - yy < 4 ? H - yy : 4, cols = W - xx < 4 ? W - xx : 4;
                for (size_t i = 0; i < rows; i++)
                    for (size_t j = 0; j < cols; j++) plane[(yy + i) * W + xx + j] = q[(i * 4 + j) * PK_WL + l] + b;
            }
        }
    }
}

// ---------------------------------------------------------------- arithmetic and GELU
// out = a op b elementwise (op: 0 +, 1 −, 2 ×, 3 ÷), and with b one value (a row broadcast against a scalar).
PK_CLONES
void pk_binary(const float *a, const float *b, float *out, size_t n, int op) {
    switch (op) {
    case 0: for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i]; break;
    case 1: for (size_t i = 0; i < n; i++) out[i] = a[i] - b[i]; break;
    case 2: for (size_t i = 0; i < n; i++) out[i] = a[i] * b[i]; break;
    default: for (size_t i = 0; i < n; i++) out[i] = a[i] / b[i]; break;
    }
}

PK_CLONES
void pk_binary_scalar(const float *a, float b, float *out, size_t n, int op, int scalar_first) {
    if (scalar_first) {
        switch (op) {
        case 0: for (size_t i = 0; i < n; i++) out[i] = b + a[i]; break;
        case 1: for (size_t i = 0; i < n; i++) out[i] = b - a[i]; break;
        case 2: for (size_t i = 0; i < n; i++) out[i] = b * a[i]; break;
        default: for (size_t i = 0; i < n; i++) out[i] = b / a[i]; break;
        }
        return;
    }
    switch (op) {
    case 0: for (size_t i = 0; i < n; i++) out[i] = a[i] + b; break;
    case 1: for (size_t i = 0; i < n; i++) out[i] = a[i] - b; break;
    case 2: for (size_t i = 0; i < n; i++) out[i] = a[i] * b; break;
    default: for (size_t i = 0; i < n; i++) out[i] = a[i] / b; break;
    }
}

// Exact GELU 0.5·x·(1 + erf(x/√2)) with erf from Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7) on pk_expf;
// branch-free so the loop vectorises.
static inline float pk_gelu1(float x) {
    float z = x * 0.70710678118654752f;
    float az = fabsf(z);
    float t = 1.0f / (1.0f + 0.3275911f * az);
    float p = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
    float erf_abs = 1.0f - p * pk_expf(-az * az);
    float erf = z < 0 ? -erf_abs : erf_abs;
    return 0.5f * x * (1.0f + erf);
}

PK_CLONES
void pk_gelu(const float *x, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = pk_gelu1(x[i]);
}

// GEGLU's product: out = a · gelu(gate).
PK_CLONES
void pk_geglu(const float *a, const float *gate, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] * pk_gelu1(gate[i]);
}
