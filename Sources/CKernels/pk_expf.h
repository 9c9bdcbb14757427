// The scalar exp the kernels share (kernels.c, attention_f32.c); vectorises in their loops.
#ifndef PK_EXPF_H
#define PK_EXPF_H
#include <stdint.h>
#include <string.h>

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

#endif
