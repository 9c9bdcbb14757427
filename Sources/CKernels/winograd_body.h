// One Winograd tile size F(WM×WM, 3×3) (winograd.c), included once per size. Before including: WM (outputs per tile
// side), PK_W(name) (name with the size's suffix), and the three 1-D transforms on lane vectors (PK_WL lanes each):
// PK_WG(z, zs, r, rs): G z, 3 vectors zs floats apart into WN vectors rs apart; PK_WBT(z, r, s): Bᵀ z, WN into WN
// (both s apart); PK_WAT(z, r, s): Aᵀ z, WN into WM. All undefined at the end.
#define WN (WM + 2)
#define WP (WN * WN)

PK_CLONES
static void PK_W(weights_packed)(const void *w, int half, size_t C, size_t o0, size_t o1, size_t c0, size_t c1,
                                 size_t mr, size_t kc, size_t rows, float *U, size_t kstride) {
    const size_t width = c1 - c0, wpad = (width + PK_WL - 1) / PK_WL * PK_WL;
    float t[3 * WN * PK_WL], u[WP * PK_WL], g16[9 * PK_WL];
    const int vector_gather = pk_wino_vector_transforms();
    // Without AVX-512: one output channel's weights as 9 rows of its input channels (zeros past width), filled whole
    // before the transforms read them as vectors — a vector load of values stored one by one just before waits for
    // those stores to leave the store buffer.
    float *gk = vector_gather ? NULL : malloc(9 * wpad * sizeof(float));
    float *wide = half ? malloc(width * 9 * sizeof(float)) : NULL;
    if (!vector_gather)
        for (int k = 0; k < 9; k++)
            for (size_t c = width; c < wpad; c++) gk[k * wpad + c] = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        float *base = U + r / mr * mr * kc + r % mr * kc;
        if (o0 + r >= o1) {
            for (int k = 0; k < WP; k++) memset(base + k * kstride, 0, width * sizeof(float));
            continue;
        }
        const size_t o = o0 + r;
        const float *src = (const float *)w + (o * C + c0) * 9;
        if (half) {
            const _Float16 *h = (const _Float16 *)w + (o * C + c0) * 9;
            for (size_t i = 0; i < width * 9; i++) wide[i] = (float)h[i];
            src = wide;
        }
        if (!vector_gather)
            for (size_t c = 0; c < width; c++)
                for (int k = 0; k < 9; k++) gk[k * wpad + c] = src[c * 9 + k];
        for (size_t cc = 0; cc < width; cc += PK_WL) {
            const size_t lanes = width - cc < PK_WL ? width - cc : PK_WL;
            // g: value k of the group's lanes at g + k·gs.
            const float *g = vector_gather ? g16 : gk + cc;
            const size_t gs = vector_gather ? PK_WL : wpad;
#ifdef PK_WINO_AVX512
            if (vector_gather) pk_wino_weights_gather_avx512(src + cc * 9, lanes, g16);
#endif
            // G along the kernel's rows (per column j: values j, 3 + j, 6 + j), then along its columns (per transformed
            // row i).
            for (int j = 0; j < 3; j++) { const float *z = g + j * gs; float *q = t + j * PK_WL; PK_WG(z, 3 * gs, q, 3 * PK_WL) }
            if (lanes == PK_WL) {  // whole groups: the second pass writes the destination rows itself
                for (int i = 0; i < WN; i++) {
                    const float *z = t + i * 3 * PK_WL;
                    float *q = base + i * WN * kstride + cc;
                    PK_WG(z, PK_WL, q, kstride)
                }
                continue;
            }
            for (int i = 0; i < WN; i++) { const float *z = t + i * 3 * PK_WL; float *q = u + i * WN * PK_WL; PK_WG(z, PK_WL, q, PK_WL) }
            for (int k = 0; k < WP; k++) {
                float *row = base + k * kstride + cc;
                const float *v = u + k * PK_WL;
                for (size_t l = 0; l < lanes; l++) row[l] = v[l];
            }
        }
    }
    free(wide);
    free(gk);
}

// One channel's (m + 2)² input values of PK_WL tiles into d[k·PK_WL + lane]: lane l reads the tile at x + off[l]
// (top-left corner y0[l], x0[l], −1 for the zero padding), lanes from `lanes` on are zeros (pk_wino_gather_avx512
// where the CPU has it).
static inline void PK_W(gather)(const float *x, size_t H, size_t W, size_t lanes, const size_t *off, const long *y0,
                                const long *x0, float *d) {
    for (size_t l = 0; l < PK_WL; l++) {
        if (l >= lanes) { for (int k = 0; k < WP; k++) d[k * PK_WL + l] = 0; continue; }
        const float *src = x + off[l];
        if (y0[l] >= 0 && x0[l] >= 0 && y0[l] + WN <= (long)H && x0[l] + WN <= (long)W) {
            const float *corner = src + y0[l] * (long)W + x0[l];
            for (int i = 0; i < WN; i++) {
                const float *line = corner + i * W;
                for (int j = 0; j < WN; j++) d[(i * WN + j) * PK_WL + l] = line[j];
            }
        } else {
            for (int i = 0; i < WN; i++) {
                const long y = y0[l] + i;
                for (int j = 0; j < WN; j++) {
                    const long xx = x0[l] + j;
                    d[(i * WN + j) * PK_WL + l] =
                        (y >= 0 && y < (long)H && xx >= 0 && xx < (long)W) ? src[y * W + xx] : 0.0f;
                }
            }
        }
    }
}

PK_CLONES
static void PK_W(input)(const float *x, size_t C, size_t H, size_t W, size_t c0, size_t c1,
                        size_t t0, size_t count, float *V, size_t ldv, size_t nr, size_t plane) {
    const size_t th = (H + WM - 1) / WM, tw = (W + WM - 1) / WM, per_image = th * tw;
    // In strips, every column of the last strip is written (zeros past count): the products multiply whole strips.
    const size_t end = nr < ldv ? (count + nr - 1) / nr * nr : count;
    float d[WP * PK_WL], e[WP * PK_WL];
    size_t off[PK_WL];
    long y0[PK_WL], x0[PK_WL];
    unsigned char xmask[PK_WL];
#ifdef PK_WINO_AVX512
    const int vector_gather = pk_wino_vector_transforms();
#endif
    // Channels innermost: in strips, consecutive channels' values are adjacent (WP sequential write streams; tiles
    // innermost would touch a new page per strip and point).
    for (size_t g = 0; g < end; g += PK_WL) {
        const size_t lanes = g >= count ? 0 : count - g < PK_WL ? count - g : PK_WL;
        for (size_t l = 0; l < PK_WL; l++) {
            off[l] = 0, y0[l] = 0, x0[l] = 0, xmask[l] = 0;
            if (l >= lanes) continue;
            const size_t t = t0 + g + l, img = t / per_image, r = t % per_image;
            y0[l] = (long)(r / tw) * WM - 1;
            x0[l] = (long)(r % tw) * WM - 1;
            off[l] = img * C * H * W;
            for (int j = 0; j < WN; j++)
                if (x0[l] + j >= 0 && x0[l] + j < (long)W) xmask[l] |= (unsigned char)(1u << j);
        }
        for (size_t c = c0; c < c1; c++) {
#ifdef PK_WINO_AVX512
            if (vector_gather) pk_wino_gather_avx512(x + c * H * W, off, y0, x0, xmask, H, W, WN, d);
            else
#endif
            PK_W(gather)(x + c * H * W, H, W, lanes, off, y0, x0, d);
            // Bᵀ d: along i (rows) for each column j; then · B: along j for each row.
            for (int j = 0; j < WN; j++) { const float *z = d + j * PK_WL; float *r = e + j * PK_WL; PK_WBT(z, r, WN * PK_WL) }
            for (int i = 0; i < WN; i++) { const float *z = e + i * WN * PK_WL; float *r = d + i * WN * PK_WL; PK_WBT(z, r, PK_WL) }
            float *dst = V + g / nr * C * nr + c * nr + g % nr;
            const size_t stored = nr < ldv ? PK_WL : lanes;
            for (int k = 0; k < WP; k++) {
                float *row = dst + k * plane;
                const float *src = d + k * PK_WL;
                if (stored == PK_WL) { for (int l = 0; l < PK_WL; l++) row[l] = src[l]; }
                else { for (size_t l = 0; l < stored; l++) row[l] = src[l]; }
            }
        }
    }
}

PK_CLONES
static void PK_W(output)(const float *M, size_t O, size_t ldm, size_t plane, size_t o0, size_t o1, size_t t0,
                         size_t count, const float *bias, float *y, size_t H, size_t W) {
    const size_t th = (H + WM - 1) / WM, tw = (W + WM - 1) / WM, per_image = th * tw;
    float m[WP * PK_WL], e[WP * PK_WL], q[WM * WM * PK_WL];
    // Per tile: its top-left output in channel 0 of its image, its rows and columns inside the image (partial tiles
    // at the bottom and right edges clipped); padded to whole groups with tiles of no rows, which store nothing.
    const size_t padded = (count + PK_WL - 1) / PK_WL * PK_WL;
    size_t *corner = calloc(padded, sizeof(size_t));
    unsigned char *rows = calloc(padded, 1), *cols = calloc(padded, 1), *cmask = calloc(padded, 1);
    for (size_t l = 0; l < count; l++) {
        const size_t t = t0 + l, img = t / per_image, r = t % per_image;
        const size_t yy = (r / tw) * WM, xx = (r % tw) * WM;
        corner[l] = img * O * H * W + yy * W + xx;
        rows[l] = (unsigned char)(H - yy < WM ? H - yy : WM);
        cols[l] = (unsigned char)(W - xx < WM ? W - xx : WM);
        cmask[l] = (unsigned char)((1u << cols[l]) - 1);
    }
#ifdef PK_WINO_AVX512
    const int vector_scatter = pk_wino_vector_transforms();
#endif
    for (size_t o = o0; o < o1; o++) {
        const float b = bias ? bias[o] : 0.0f;
        float *out = y + o * H * W;
        for (size_t g = 0; g < count; g += PK_WL) {
            const size_t lanes = count - g < PK_WL ? count - g : PK_WL;
            const float *src = M + o * ldm + g;
            for (int k = 0; k < WP; k++) {
                const float *row = src + k * plane;
                if (lanes == PK_WL) { for (int l = 0; l < PK_WL; l++) m[k * PK_WL + l] = row[l]; }
                else { for (size_t l = 0; l < PK_WL; l++) m[k * PK_WL + l] = l < lanes ? row[l] : 0.0f; }
            }
            // Aᵀ m along rows (i) per column j → e[WM][WN]; then along columns per row → q[WM][WM].
            for (int j = 0; j < WN; j++) { const float *z = m + j * PK_WL; float *r = e + j * PK_WL; PK_WAT(z, r, WN * PK_WL) }
            for (int i = 0; i < WM; i++) { const float *z = e + i * WN * PK_WL; float *r = q + i * WM * PK_WL; PK_WAT(z, r, PK_WL) }
#ifdef PK_WINO_AVX512
            if (vector_scatter) {
                pk_wino_scatter_avx512(q, WM, b, out, corner + g, rows + g, cmask + g, W);
                continue;
            }
#endif
            for (size_t l = 0; l < lanes; l++) {
                float *dst = out + corner[g + l];
                if (rows[g + l] == WM && cols[g + l] == WM) {  // whole tiles: fixed loops
                    for (int i = 0; i < WM; i++)
                        for (int j = 0; j < WM; j++) dst[i * W + j] = q[(i * WM + j) * PK_WL + l] + b;
                    continue;
                }
                for (size_t i = 0; i < rows[g + l]; i++)
                    for (size_t j = 0; j < cols[g + l]; j++) dst[i * W + j] = q[(i * WM + j) * PK_WL + l] + b;
            }
        }
    }
    free(corner);
    free(rows);
    free(cols);
    free(cmask);
}

#undef WN
#undef WP
#undef WM
#undef PK_W
#undef PK_WG
#undef PK_WBT
#undef PK_WAT
