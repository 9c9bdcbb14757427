// fp32 scaled-dot-product attention for one head and a block of queries, fused (attention_f32_body.h): scores in
// register tiles, the block's transposed scores kept in L2, exp and E·V in passes of 64 keys, rows scaled by 1/Σe at
// the store. One copy per vector width, chosen at run time: AVX-512 (16 floats), AVX2+FMA (8), baseline (4).
#include "ckernels.h"
#include "pk_expf.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>

// pk_expf's polynomial on 16 lanes with AVX-512's rounding and scaling instructions (vrndscaleps, vscalefps) in place
// of the float-integer tricks: 13 instructions instead of about 22. Arguments below −87.34 give 2⁻¹²⁶·e^r-sized
// values (≤ 1.2e-38) instead of 0 — nothing next to a softmax sum ≥ 1.
__attribute__((target("avx512f"))) static inline __m512 pk_exp512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.33654f));
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, k);
}

// 32 zmm: score tiles 12 keys × 2 vectors (+ 2 query, 1 broadcast, 2 max registers), E·V tiles 10 columns × 2.
#define W 16
#define QV 2
#define KR 12
#define CC 10
#define PK_ATT(name) pk_att512_##name
#define PK_ATT_TARGET __attribute__((target("avx512f")))
#define PK_ATT_VEXP(x) pk_exp512((__m512)(x))
#include "attention_f32_body.h"

// 16 ymm: 5 keys × 2 vectors, 6 columns × 2.
#define W 8
#define QV 2
#define KR 5
#define CC 6
#define PK_ATT(name) pk_att256_##name
#define PK_ATT_TARGET __attribute__((target("avx2,fma")))
#include "attention_f32_body.h"
#endif

#define W 4
#define QV 2
#define KR 5
#define CC 6
#define PK_ATT(name) pk_att128_##name
#define PK_ATT_TARGET
#include "attention_f32_body.h"

int pk_attention_f32_best_level(void) {
#if defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

size_t pk_attention_f32_block_rows(int level) { return level == 2 ? 32 : level == 1 ? 16 : 8; }

size_t pk_attention_f32_scratch(int level, size_t nk, size_t d, size_t dv) {
    return pk_attention_f32_block_rows(level) * (d + dv + 2 + nk);
}

static size_t pk_attention_key_tile(int level) { return level == 2 ? 12 : 5; }

size_t pk_attention_f32_packed_keys(int level, size_t nk, size_t d) {
    size_t kr = pk_attention_key_tile(level);
    return (nk + kr - 1) / kr * kr * d;
}

void pk_attention_f32_pack_keys(int level, const float *k, size_t ks, size_t nk, size_t d, float *dst) {
#if defined(__x86_64__) && defined(__clang__)
    if (level == 2) { pk_att512_pack_keys(k, ks, nk, d, dst); return; }
    if (level == 1) { pk_att256_pack_keys(k, ks, nk, d, dst); return; }
#endif
    pk_att128_pack_keys(k, ks, nk, d, dst);
}

void pk_attention_f32_block(int level, const float *q, size_t qs, size_t rows, size_t d, const float *kp,
                            const float *v, size_t vs, size_t nk, size_t dv, float alpha, float *scratch,
                            float *out, size_t ldo) {
#if defined(__x86_64__) && defined(__clang__)
    if (level == 2) { pk_att512_block(q, qs, rows, d, kp, v, vs, nk, dv, alpha, scratch, out, ldo); return; }
    if (level == 1) { pk_att256_block(q, qs, rows, d, kp, v, vs, nk, dv, alpha, scratch, out, ldo); return; }
#endif
    pk_att128_block(q, qs, rows, d, kp, v, vs, nk, dv, alpha, scratch, out, ldo);
}
