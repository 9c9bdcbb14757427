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

// Mean and (biased) variance of n floats, summed in double in 16 explicit lanes so the loops vectorise without
// -ffast-math; two passes, as the scalar loop it replaced (mean first, then the squared deviations).
PK_CLONES
void pk_norm_statistics(const float *p, size_t n, double *mean, double *variance) {
    double lanes[PK_LANES] = {0};
    size_t i = 0;
    for (; i + PK_LANES <= n; i += PK_LANES)
        for (int l = 0; l < PK_LANES; l++) lanes[l] += (double)p[i + l];
    double sum = 0.0;
    for (int l = 0; l < PK_LANES; l++) sum += lanes[l];
    for (; i < n; i++) sum += (double)p[i];
    double m = sum / (double)n;
    for (int l = 0; l < PK_LANES; l++) lanes[l] = 0.0;
    i = 0;
    for (; i + PK_LANES <= n; i += PK_LANES)
        for (int l = 0; l < PK_LANES; l++) { double d = (double)p[i + l] - m; lanes[l] += d * d; }
    double squares = 0.0;
    for (int l = 0; l < PK_LANES; l++) squares += lanes[l];
    for (; i < n; i++) { double d = (double)p[i] - m; squares += d * d; }
    *mean = m;
    *variance = squares / (double)n;
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
