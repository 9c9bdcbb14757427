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

// Cephes expf: e^x = 2^k e^r with |r| <= ln2/2; branch-free so the loop vectorises.
static inline float pk_expf(float x) {
    float xc = x < -87.33654f ? -87.33654f : (x > 88.37626f ? 88.37626f : x);
    // Round to nearest with the 1.5·2^23 trick (no roundps needed on the baseline ISA).
    float t = xc * 1.44269504088896341f + 12582912.0f;
    float k = t - 12582912.0f;
    float r = xc - k * 0.693359375f;
    r = r - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t ki = (int32_t)k;
    int32_t bits = (ki + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = p * scale;
    return x < -87.33654f ? 0.0f : y;
}

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
