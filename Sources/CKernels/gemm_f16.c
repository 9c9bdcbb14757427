// fp32 GEMM with one IEEE-half operand — fp16 weights multiplied straight from their memory map (gemm_f16_body.h):
// the half values are widened while they are packed into cache-sized blocks, so there is no fp32 copy of the weight
// and no second packing pass (what converting for OpenBLAS costs: write 4 bytes, read them back, pack them). One copy
// per vector width, chosen at run time: AVX-512 (16 floats) and AVX2 + FMA + F16C (8); a CPU with neither has no
// such kernel (level 0) and its callers convert and use sgemm.
#include "ckernels.h"
#include <stddef.h>

#define PK_GEMM_KC 384
#define PK_GEMM_NC 512

#if defined(__x86_64__) && defined(__clang__)
// 32 zmm: 12 rows × 2 vectors of accumulators, 2 B vectors, broadcasts.
#define W 16
#define MR 12
#define NV 2
#define PK_G(name) pk_g512_##name
#define PK_G_TARGET __attribute__((target("avx512f")))
#include "gemm_f16_body.h"

// 16 ymm: 6 rows × 2 vectors, 2 B vectors, broadcasts.
#define W 8
#define MR 6
#define NV 2
#define PK_G(name) pk_g256_##name
#define PK_G_TARGET __attribute__((target("avx2,fma,f16c")))
#include "gemm_f16_body.h"
#endif

int pk_gemm_f16_best_level(void) {
#if defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) return 1;
#endif
    return 0;
}

size_t pk_gemm_f16_rows(int level) { return level == 2 ? 12 : 6; }
size_t pk_gemm_f16_columns(int level) { return level == 2 ? 32 : 16; }
size_t pk_gemm_f16_inner_block(void) { return PK_GEMM_KC; }
size_t pk_gemm_f16_scratch(int level) { return PK_GEMM_KC * PK_GEMM_NC + pk_gemm_f16_rows(level) * PK_GEMM_KC; }

void pk_gemm_f16(int level, int mode, size_t m0, size_t m1, size_t n0, size_t n1, size_t k, const void *a, size_t lda,
                 const void *b, size_t ldb, size_t plane, size_t bgs, float *c, size_t ldc, size_t cgs, int accumulate,
                 const float *bias, float *scratch) {
    if (m0 >= m1 || n0 >= n1) return;
#if defined(__x86_64__) && defined(__clang__)
    if (level == 2) { pk_g512_gemm(mode, m0, m1, n0, n1, k, a, lda, b, ldb, plane, bgs, c, ldc, cgs, accumulate, bias, scratch); return; }
    if (level == 1) { pk_g256_gemm(mode, m0, m1, n0, n1, k, a, lda, b, ldb, plane, bgs, c, ldc, cgs, accumulate, bias, scratch); return; }
#endif
    (void)level; (void)mode; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)plane; (void)bgs; (void)c; (void)ldc;
    (void)cgs; (void)accumulate; (void)bias; (void)scratch;
}

void pk_wino_products(int level, size_t k0, size_t k1, size_t panels, size_t strips, size_t kc, const float *u,
                      size_t ukstride, const float *v, size_t vkstride, size_t vsstride, float *m, size_t mkstride,
                      size_t ldm, int accumulate) {
#if defined(__x86_64__) && defined(__clang__)
    if (level == 2) { pk_g512_wino(k0, k1, panels, strips, kc, u, ukstride, v, vkstride, vsstride, m, mkstride, ldm, accumulate); return; }
    if (level == 1) { pk_g256_wino(k0, k1, panels, strips, kc, u, ukstride, v, vkstride, vsstride, m, mkstride, ldm, accumulate); return; }
#endif
    (void)level; (void)k0; (void)k1; (void)panels; (void)strips; (void)kc; (void)u; (void)ukstride; (void)v;
    (void)vkstride; (void)vsstride; (void)m; (void)mkstride; (void)ldm; (void)accumulate;
}
