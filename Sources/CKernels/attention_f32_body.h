// One instruction set's fp32 attention kernels, included by attention_f32.c once per vector width. Before including:
// W (floats per vector), QV (query vectors per block: a block is QB = QV·W queries), KR (keys per score tile),
// CC (output columns per E·V tile), PK_ATT(name) (name with the set's suffix), PK_ATT_TARGET (the attribute selecting
// the set), optionally PK_ATT_VEXP (a vector exp); all of them undefined again at the end. Queries run along the
// vector lanes throughout — scores are kept transposed, Sᵀ[key][query] — so the softmax's max and sum are lane-wise,
// K and V elements are broadcast (K from tiles packed once per head in the order a score tile reads them, V rows as
// they are) and only the last key tile is padded.
// Accumulators stay in registers: constant trip counts, fully unrolled.

typedef float PK_ATT(vec) __attribute__((vector_size(W * 4), aligned(4)));
#define VEC PK_ATT(vec)
#define QB (QV * W)
// Keys per pass of exp + E·V: the pass's Eᵀ rows (JC·QB floats) stay in L1 for every column tile.
#define JC 64

// Sᵀ[j][·] = alpha·k[j]·Qᵀ for the `valid` (≤ KR) keys from j0, read from their packed tile kt ([d][KR]: one
// sequential stream); qp: Qᵀ packed [d][QB]; mx (QV vectors) takes the running max. A partial last tile (zero keys
// past nk) is multiplied whole and stored only for its valid keys.
PK_ATT_TARGET __attribute__((noinline))
static void PK_ATT(scores)(const float *kt, size_t valid, size_t j0, const float *qp, size_t d, float alpha, float *st,
                           VEC *mx) {
    VEC acc[KR][QV];
#pragma clang loop unroll(full)
    for (int i = 0; i < KR; i++)
#pragma clang loop unroll(full)
        for (int u = 0; u < QV; u++) acc[i][u] = (VEC){0};
    for (size_t t = 0; t < d; t++) {
        VEC qv[QV];
#pragma clang loop unroll(full)
        for (int u = 0; u < QV; u++) qv[u] = *(const VEC *)(qp + t * QB + u * W);
#pragma clang loop unroll(full)
        for (int i = 0; i < KR; i++) {
            float b = kt[t * KR + i];
#pragma clang loop unroll(full)
            for (int u = 0; u < QV; u++) acc[i][u] += b * qv[u];
        }
    }
    VEC m[QV];
#pragma clang loop unroll(full)
    for (int u = 0; u < QV; u++) m[u] = mx[u];
#pragma clang loop unroll(full)
    for (int i = 0; i < KR; i++)
        if (i < (int)valid) {
#pragma clang loop unroll(full)
            for (int u = 0; u < QV; u++) {
                VEC x = acc[i][u] * alpha;
                *(VEC *)(st + (j0 + i) * QB + u * W) = x;
                m[u] = __builtin_elementwise_max(m[u], x);
            }
        }
#pragma clang loop unroll(full)
    for (int u = 0; u < QV; u++) mx[u] = m[u];
}

// K (nk rows ks apart, d wide) as tiles of KR keys, [tile][d][KR], the last tile zero-padded.
PK_ATT_TARGET __attribute__((noinline))
static void PK_ATT(pack_keys)(const float *k, size_t ks, size_t nk, size_t d, float *dst) {
    for (size_t j0 = 0; j0 < nk; j0 += KR) {
        float *tile = dst + j0 * d;
        for (int i = 0; i < KR; i++) {
            const float *row = k + (j0 + i) * ks;
            if (j0 + i < nk)
                for (size_t t = 0; t < d; t++) tile[t * KR + i] = row[t];
            else
                for (size_t t = 0; t < d; t++) tile[t * KR + i] = 0.0f;
        }
    }
}

// oᵀ[c0 + c][·] (+)= Σ_{j0 ≤ j < j1} v[j][c0 + c]·Eᵀ[j][·] for the C columns from c0; `first` starts from zero.
#define PK_PV_TILE(C)                                                                                              \
    PK_ATT_TARGET __attribute__((noinline))                                                                        \
    static void PK_ATT(pv_##C)(const float *et, size_t j0, size_t j1, const float *v, size_t vs, size_t c0,       \
                               float *ot, int first) {                                                             \
        VEC acc[C][QV];                                                                                            \
        _Pragma("clang loop unroll(full)") for (int c = 0; c < C; c++)                                             \
            _Pragma("clang loop unroll(full)") for (int u = 0; u < QV; u++)                                        \
                acc[c][u] = first ? (VEC){0} : *(const VEC *)(ot + (c0 + c) * QB + u * W);                         \
        for (size_t j = j0; j < j1; j++) {                                                                         \
            VEC ev[QV];                                                                                            \
            _Pragma("clang loop unroll(full)") for (int u = 0; u < QV; u++) ev[u] = *(const VEC *)(et + j * QB + u * W); \
            const float *vr = v + j * vs + c0;                                                                     \
            _Pragma("clang loop unroll(full)") for (int c = 0; c < C; c++) {                                       \
                float b = vr[c];                                                                                   \
                _Pragma("clang loop unroll(full)") for (int u = 0; u < QV; u++) acc[c][u] += b * ev[u];            \
            }                                                                                                      \
        }                                                                                                          \
        _Pragma("clang loop unroll(full)") for (int c = 0; c < C; c++)                                             \
            _Pragma("clang loop unroll(full)") for (int u = 0; u < QV; u++)                                        \
                *(VEC *)(ot + (c0 + c) * QB + u * W) = acc[c][u];                                                  \
    }
PK_PV_TILE(CC)
PK_PV_TILE(4)
PK_PV_TILE(2)
PK_PV_TILE(1)
#undef PK_PV_TILE

// Eᵀ = exp(Sᵀ − max) in place for keys j0 ..< j1, lane sums added to sum. With PK_ATT_VEXP (a vector exp of the
// same accuracy as pk_expf) whole vectors at a time, else pk_expf in a loop the compiler vectorises.
PK_ATT_TARGET __attribute__((noinline))
static void PK_ATT(exp_keys)(float *st, size_t j0, size_t j1, const float *mx, float *sum) {
#ifdef PK_ATT_VEXP
    VEC m[QV], s[QV];
    for (int u = 0; u < QV; u++) { m[u] = *(const VEC *)(mx + u * W); s[u] = *(const VEC *)(sum + u * W); }
    for (size_t j = j0; j < j1; j++)
#pragma clang loop unroll(full)
        for (int u = 0; u < QV; u++) {
            VEC *p = (VEC *)(st + j * QB + u * W);
            VEC e = (VEC)PK_ATT_VEXP(*p - m[u]);
            *p = e;
            s[u] += e;
        }
    for (int u = 0; u < QV; u++) *(VEC *)(sum + u * W) = s[u];
#else
    float s[QB];
    for (int l = 0; l < QB; l++) s[l] = sum[l];
    for (size_t j = j0; j < j1; j++) {
        float *p = st + j * QB;
        for (int l = 0; l < QB; l++) {
            float e = pk_expf(p[l] - mx[l]);
            p[l] = e;
            s[l] += e;
        }
    }
    for (int l = 0; l < QB; l++) sum[l] = s[l];
#endif
}

// One block of up to QB queries (q rows qs apart) against all nk keys of one head (kp: packed by pack_keys; v rows
// vs apart); scratch: pk_attention_f32_scratch floats, 64-byte aligned.
PK_ATT_TARGET __attribute__((noinline))
static void PK_ATT(block)(const float *q, size_t qs, size_t rows, size_t d, const float *kp, const float *v, size_t vs,
                          size_t nk, size_t dv, float alpha, float *scratch, float *out, size_t ldo) {
    float *qp = scratch, *ot = qp + d * QB, *mx = ot + dv * QB, *sum = mx + QB, *st = sum + QB;
    for (size_t t = 0; t < d; t++)
        for (size_t r = 0; r < QB; r++) qp[t * QB + r] = r < rows ? q[r * qs + t] : 0.0f;
    VEC m[QV];
    for (int u = 0; u < QV; u++) m[u] = (VEC){0} - INFINITY;
    for (size_t j = 0; j < nk; j += KR) PK_ATT(scores)(kp + j * d, nk - j < KR ? nk - j : KR, j, qp, d, alpha, st, m);
    memcpy(mx, m, sizeof m);
    for (int l = 0; l < QB; l++) sum[l] = 0.0f;
    for (size_t j0 = 0; j0 < nk; j0 += JC) {
        size_t j1 = j0 + JC < nk ? j0 + JC : nk;
        int first = j0 == 0;
        PK_ATT(exp_keys)(st, j0, j1, mx, sum);
        size_t c = 0;
        for (; c + CC <= dv; c += CC) PK_ATT(pv_CC)(st, j0, j1, v, vs, c, ot, first);
        for (; c + 4 <= dv; c += 4) PK_ATT(pv_4)(st, j0, j1, v, vs, c, ot, first);
        if (c + 2 <= dv) { PK_ATT(pv_2)(st, j0, j1, v, vs, c, ot, first); c += 2; }
        if (c < dv) PK_ATT(pv_1)(st, j0, j1, v, vs, c, ot, first);
    }
    for (size_t r = 0; r < rows; r++) {
        float inv = 1.0f / sum[r];
        for (size_t c = 0; c < dv; c++) out[r * ldo + c] = ot[c * QB + r] * inv;
    }
}

#undef VEC
#undef QB
#undef JC
#undef W
#undef QV
#undef KR
#undef CC
#undef PK_ATT
#undef PK_ATT_TARGET
#undef PK_ATT_VEXP
