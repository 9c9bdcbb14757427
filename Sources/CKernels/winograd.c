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
                   float *V, size_t ldv, size_t nr) {
    switch (m) {
    case 6: pk_w63_input(x, C, H, W, c0, c1, t0, count, V, ldv, nr); break;
    default: pk_w43_input(x, C, H, W, c0, c1, t0, count, V, ldv, nr); break;
    }
}

void pk_wino_output(int m, const float *M, size_t O, size_t mo, size_t ldm, size_t o0, size_t o1, size_t t0,
                    size_t count, const float *bias, float *y, size_t H, size_t W) {
    switch (m) {
    case 6: pk_w63_output(M, O, mo, ldm, o0, o1, t0, count, bias, y, H, W); break;
    default: pk_w43_output(M, O, mo, ldm, o0, o1, t0, count, bias, y, H, W); break;
    }
}
