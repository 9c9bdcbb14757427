// Hot elementwise kernels in C, compiled once per SIMD level (AVX-512, AVX2+FMA, baseline) with
// target_clones: the loader picks the best version for the running CPU. Plain loops, auto-vectorised.
#ifndef PHOSPHOR_CKERNELS_H
#define PHOSPHOR_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

// In-place numerically stable softmax of `rows` rows of length n, rows `ld` floats apart.
// A row that is all -inf becomes NaN (as torch).
void pk_softmax_rows(float *data, size_t rows, size_t n, size_t ld);

// out[i] = exp(x[i]) for i < n (max relative error ~2e-7; inputs below -87.3 give 0).
void pk_exp(const float *x, float *out, size_t n);

// Which clone the loader picked for pk_exp: "avx512f", "avx2", or "default".
const char *pk_simd_level(void);

// IEEE half / bfloat16 (little-endian bit patterns) -> float32, exact.
void pk_f16_to_f32(const uint16_t *src, float *dst, size_t n);
void pk_bf16_to_f32(const uint16_t *src, float *dst, size_t n);

// dst[i] += src[i] for i < n (the ranges must not overlap).
void pk_add(float *restrict dst, const float *restrict src, size_t n);

// SiLU x/(1 + e^-x) with pk_exp's exp; the fused silu(x·scale + shift); and its backward g·silu'(x).
void pk_silu(const float *x, float *out, size_t n);
void pk_affine_silu(const float *x, float *out, size_t n, float scale, float shift);
void pk_norm_statistics(const float *p, size_t n, double *mean, double *variance);
void pk_silu_backward(const float *x, const float *g, float *out, size_t n);

// Winograd F(m×m, 3×3), m = 4 or 6 (winograd.c), for 3×3, stride-1, padding-1 convolutions, in three steps
// around P = (m + 2)² GEMMs M[k] = U[k]·V[k] (k = (m + 2)·i + j, the transformed position):
// U = G g Gᵀ of the weights w[O][C][3][3] (fp32, or IEEE half when `half`), for output channels o0..<o1 and input
// channels c0..<c1: value (k, o, c) at U + k·kstride + r / mr·mr·kc + r % mr·kc + c − c0 (r = o − o0), rows r from
// o1 − o0 up to `rows` zeros — panels of mr rows as pk_wino_products reads them, or with mr = rows = o1 − o0 and
// kc = C the plain [P][O][C] layout (kstride = O·C);
// V[P][C][ldv] = Bᵀ d B of the (m + 2)² input tiles (column = tile − t0) for channels c0..<c1 and tiles t0..<t0+count
// of an N×C×H×W input (tiles of m×m outputs numbered image by image, row by row; zero padding outside);
// y[N][O][H][W] = Aᵀ M A + bias for channels o0..<o1 and the same tiles (M: point k's row o at M + k·mplane + o·ldm;
// partial tiles clipped).
// With nr < ldv, V is laid out in strips of nr tiles as the fp16 GEMM's B operand (pk_wino_products): element
// (k, c, t) at V + k·vplane + (t / nr)·C·nr + c·nr + t % nr (vplane ≥ C·ldv), the strips' columns past `count`
// zeros (groups of 16 tiles are stored whole: nr a multiple of 16); nr = ldv is the plain layout V + k·vplane + c·ldv + t (only `count` columns written).
// pk_wino_vector_transforms: 1 when the transforms gather and store through AVX-512 registers (transposes), 0 value by
// value (CPUs without AVX-512, PHOSPHOR_WINOGRAD_TRANSPOSE=scalar); pk_wino_set_vector_transforms(0/1, −1 = as the
// CPU and environment say) switches for the whole process. Both compute the same values bit for bit.
int pk_wino_vector_transforms(void);
void pk_wino_set_vector_transforms(int enabled);
void pk_wino_weights_packed(int m, const void *w, int half, size_t C, size_t o0, size_t o1, size_t c0, size_t c1,
                            size_t mr, size_t kc, size_t rows, float *U, size_t kstride);
void pk_wino_input(int m, const float *x, size_t C, size_t H, size_t W, size_t c0, size_t c1,
                   size_t t0, size_t count, float *V, size_t ldv, size_t nr, size_t vplane);
void pk_wino_output(int m, const float *M, size_t O, size_t ldm, size_t mplane, size_t o0, size_t o1, size_t t0,
                    size_t count, const float *bias, float *y, size_t H, size_t W);

// out = a op b elementwise (op: 0 +, 1 −, 2 ×, 3 ÷); with one b value for all (scalar_first: out = b op a).
void pk_binary(const float *a, const float *b, float *out, size_t n, int op);
void pk_binary_scalar(const float *a, float b, float *out, size_t n, int op, int scalar_first);

// Exact GELU (erf from Abramowitz & Stegun 7.1.26, |erf error| ≤ 1.5e-7), and GEGLU's out = a · gelu(gate).
void pk_gelu(const float *x, float *out, size_t n);
void pk_geglu(const float *a, const float *gate, float *out, size_t n);

// bfloat16 GEMM on AMX tiles (gemm_bf16.c). pk_amx_bf16_available: 1 when the CPU has AMX-BF16 and AVX-512-BF16
// and the OS granted the tile state (asked once), else 0. The packing functions and the softmax need AVX-512-BF16
// (pk_avx512bf16_available), pk_amx_gemm needs AMX.
// Packed operands are 16×32 bf16 tiles (round to nearest even; pk_bf16_panel_elements(rows, K) uint16 values):
// pack_a takes row blocks b0..<b1 (16 rows each) of a row-major m×k matrix A; pack_b column blocks b0..<b1 of a k×n
// matrix B (trans: element (k, j) at b[j·ldb + k]) in the pair-interleaved order TDPBF16PS reads.
// pk_amx_gemm: C = alpha·A·B + beta·C for row blocks mb0..<mb1 and column blocks nb0..<nb1, fp32 accumulation
// (beta = 0 never reads C).
// pk_softmax_pack_bf16: for `rows` rows of scores s (n values, ld apart), e = exp(s − row max) packed like pack_a
// (rows up to the block's 16 zero-filled) and inv[row] = 1 / Σ e: softmax(s)·V = inv · (e·V).
// pk_bf16_pack_im2col: column blocks b0..<b1 of the im2col matrix [C·kh·kw] × [rows·wo] of one C×H×W image
// (output rows first_row..<first_row+rows, zero padding) packed like pack_b, without building the fp32 matrix.
// pk_bf16_pack_a_f16 / pk_bf16_pack_bt_f16: pack_a, and pack_b of a transposed B, from IEEE half values (fp16 weights
// packed without an fp32 copy).
int pk_amx_bf16_available(void);
// pk_avx512bf16_available: 1 when the CPU has AVX-512 (F, BW, VL) with BF16 and the OS saves the ZMM state.
// pk_avx512bf16_gemm: pk_amx_gemm's product with VDPBF16PS dot products on the same packed operands (no AMX needed).
int pk_avx512bf16_available(void);
void pk_avx512bf16_gemm(const uint16_t *ap, const uint16_t *bp, size_t m, size_t n, size_t k,
                        size_t mb0, size_t mb1, size_t nb0, size_t nb1, float alpha, float beta, float *c, size_t ldc);
void pk_bf16_pack_a_f16(const uint16_t *a, size_t lda, size_t m, size_t k, size_t b0, size_t b1, uint16_t *packed);
void pk_bf16_pack_bt_f16(const uint16_t *b, size_t ldb, size_t k, size_t n, size_t b0, size_t b1, uint16_t *packed);
void pk_bf16_pack_im2col(const float *x, size_t channels, size_t height, size_t width, size_t kh, size_t kw,
                         size_t sh, size_t sw, size_t ph, size_t pw, size_t wo, size_t first_row, size_t rows,
                         size_t b0, size_t b1, uint16_t *packed);
void pk_softmax_pack_bf16(const float *s, size_t rows, size_t n, size_t ld, uint16_t *packed, float *inv);
size_t pk_bf16_panel_elements(size_t rows, size_t k);
void pk_bf16_pack_a(const float *a, size_t lda, size_t m, size_t k, size_t b0, size_t b1, uint16_t *packed);
void pk_bf16_pack_b(const float *b, size_t ldb, int trans, size_t k, size_t n, size_t b0, size_t b1, uint16_t *packed);
void pk_amx_gemm(const uint16_t *ap, const uint16_t *bp, size_t m, size_t n, size_t k,
                 size_t mb0, size_t mb1, size_t nb0, size_t nb1, float alpha, float beta, float *c, size_t ldc);

// Direct convolution on AMX tiles (stride 1, output width a multiple of 16; no im2col matrix).
// pk_bf16_pack_conv_input: channel pairs p0..<p1 (of ⌈C/32⌉·16) of one C×H×W image, interleaved and zero-bordered by
// (ph, pw): element (c, y, x) at [((c/2)·(H+2ph) + y+ph)·(W+2pw) + x+pw]·2 + c%2.
// pk_bf16_pack_conv_weights: output-channel blocks b0..<b1 of O×C×taps weights (fp32, or IEEE half when `half`),
// tap-major 16×32 tiles [block][tap][channel tile].
// pk_amx_conv: output-channel blocks ob0..<ob1 and 16-pixel blocks jb0..<jb1 of one image's [O][Ho][Wo] output;
// `accumulate`: add to what `out` holds (the bias), else overwrite.
size_t pk_bf16_conv_input_elements(size_t c, size_t h, size_t w, size_t ph, size_t pw);
size_t pk_bf16_conv_weight_elements(size_t o, size_t c, size_t taps);
void pk_bf16_pack_conv_input(const float *x, size_t c, size_t h, size_t w, size_t ph, size_t pw,
                             size_t p0, size_t p1, uint16_t *packed);
void pk_bf16_pack_conv_weights(const void *weights, int half, size_t o, size_t c, size_t taps,
                               size_t b0, size_t b1, uint16_t *packed);
void pk_amx_conv(const uint16_t *wpk, const uint16_t *xpk, size_t c, size_t h, size_t w, size_t kh, size_t kw,
                 size_t ph, size_t pw, size_t o, size_t ob0, size_t ob1, size_t jb0, size_t jb1, float *out, int accumulate);

// Returns freed heap memory to the OS (glibc malloc_trim), so peak-RSS measurements see new allocations.
void pk_release_free_memory(void);

// fp32 attention (attention_f32.c) for one head: softmax(alpha·Q·Kᵀ)·V without masks. `level` picks the vector
// width: 2 AVX-512, 1 AVX2+FMA, 0 baseline (pk_attention_f32_best_level: the best this CPU runs). One call takes a
// block of up to pk_attention_f32_block_rows queries (q rows qs apart) against all nk keys (kp: the head's keys as
// pk_attention_f32_pack_keys wrote them; v rows vs apart) and writes their outputs (rows ldo apart); scratch:
// pk_attention_f32_scratch floats, 64-byte aligned. pk_attention_f32_pack_keys copies K (rows ks apart) into
// pk_attention_f32_packed_keys floats: tiles of the keys one score tile reads, in the order it reads them.
int pk_attention_f32_best_level(void);
size_t pk_attention_f32_block_rows(int level);
size_t pk_attention_f32_scratch(int level, size_t nk, size_t d, size_t dv);
size_t pk_attention_f32_packed_keys(int level, size_t nk, size_t d);
void pk_attention_f32_pack_keys(int level, const float *k, size_t ks, size_t nk, size_t d, float *dst);
void pk_attention_f32_block(int level, const float *q, size_t qs, size_t rows, size_t d, const float *kp,
                            const float *v, size_t vs, size_t nk, size_t dv, float alpha, float *scratch,
                            float *out, size_t ldo);

// fp32 GEMM with an IEEE-half operand (gemm_f16.c): C = A·B (accumulate 0) or C += A·B (1), over rows [m0, m1) and
// columns [n0, n1) of C (workers split one dimension), inner dimension k. With accumulate 0, bias (or NULL) holds one
// value per row of the fp16 operand (C's rows in PK_GEMM_HALF_A, its columns in PK_GEMM_HALF_BT), added to C.
//   PK_GEMM_HALF_A (convolutions): A fp16 [M × K] rows lda apart; B fp32 [K × N].
//   PK_GEMM_HALF_BT (linear layers): A fp32 [M × K] rows lda apart; B = Wᵀ for an fp16 W [N × K], rows ldb apart.
// Columns come in groups of `plane` (one per image; plane = N for one group): fp32 B's column j of group
// g = j / plane is at b + g·bgs + k·ldb + j % plane, and C's at c + g·cgs + row·ldc + j % plane.
// level: 2 AVX-512, 1 AVX2 + FMA + F16C (pk_gemm_f16_best_level: the best this CPU runs; 0 = none, the call does
// nothing). scratch: pk_gemm_f16_scratch(level) floats, 64-byte aligned, one per concurrent call.
//   PK_GEMM_F32_A, PK_GEMM_F32_BT (fp32 weights): as PK_GEMM_HALF_A and PK_GEMM_HALF_BT with the weight fp32.
#define PK_GEMM_HALF_A 0
#define PK_GEMM_HALF_BT 1
#define PK_GEMM_F32_A 2
#define PK_GEMM_F32_BT 3
// pk_gemm_f16_inner_block: PK_GEMM_KC, the row length of packed A panels (pk_wino_products' U).
// pk_wino_products: Winograd's products M_k (+)= U_k·V_k on operands already in the micro-kernel's layouts, for the
// points k0..<k1 and one block of kc ≤ PK_GEMM_KC input channels (layouts: gemm_f16_body.h, PK_G(wino)).
int pk_gemm_f16_best_level(void);
size_t pk_gemm_f16_inner_block(void);
void pk_wino_products(int level, size_t k0, size_t k1, size_t panels, size_t strips, size_t kc, const float *u,
                      size_t ukstride, const float *v, size_t vkstride, size_t vsstride, float *m, size_t mkstride,
                      size_t ldm, int accumulate);
size_t pk_gemm_f16_rows(int level);
size_t pk_gemm_f16_columns(int level);
size_t pk_gemm_f16_scratch(int level);
void pk_gemm_f16(int level, int mode, size_t m0, size_t m1, size_t n0, size_t n1, size_t k, const void *a, size_t lda,
                 const void *b, size_t ldb, size_t plane, size_t bgs, float *c, size_t ldc, size_t cgs, int accumulate,
                 const float *bias, float *scratch);

#endif
