// One Winograd tile size F(WM×WM, 3×3) (winograd.c), included once per size. Before including: WM (outputs per tile
// side), PK_W(name) (name with the size's suffix), and the three 1-D transforms on lane vectors (PK_WL lanes each):
// PK_WG(z, zs, r, rs): G z, 3 vectors zs floats apart into WN vectors rs apart; PK_WBT(z, r, s): Bᵀ z, WN into WN
// (both s apart); PK_WAT(z, r, s): Aᵀ z, WN into WM. All undefined at the end.
#define WN (WM + 2)
#define WP (WN * WN)

PK_CLONES
static void PK_W(weights_packed)(const void *w, int half, size_t C, size_t o0, size_t o1, size_t c0, size_t c1,
                                 size_t mr, size_t kc, size_t rows, float *U, size_t kstride) {
    const size_t width = c1 - c0;
    float g[9 * PK_WL], t[3 * WN * PK_WL], u[WP * PK_WL];
    float *wide = half ? malloc(width * 9 * sizeof(float)) : NULL;
    for (size_t r = 0; r < rows; r++) {
        float *base = U + r / mr * mr * kc + r % mr * kc;
        if (o0 + r >= o1) {
            for (int k = 0; k < WP; k++) memset(base + k * kstride, 0, width * sizeof(float));
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
            // G along the kernel's rows (per column j), then along its columns (per transformed row i).
            for (int j = 0; j < 3; j++) { const float *z = g + j * PK_WL; float *q = t + j * PK_WL; PK_WG(z, 3 * PK_WL, q, 3 * PK_WL) }
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
}

PK_CLONES
static void PK_W(input)(const float *x, size_t C, size_t H, size_t W, size_t c0, size_t c1,
                        size_t t0, size_t count, float *V, size_t ldv, size_t nr) {
    const size_t th = (H + WM - 1) / WM, tw = (W + WM - 1) / WM, per_image = th * tw;
    const size_t plane = C * ldv;
    // In strips, every column of the last strip is written (zeros past count): the products multiply whole strips.
    const size_t end = nr < ldv ? (count + nr - 1) / nr * nr : count;
    float d[WP * PK_WL], e[WP * PK_WL];
    // Channels innermost: in strips, consecutive channels' values are adjacent (WP sequential write streams; tiles
    // innermost would touch a new page per strip and point).
    for (size_t g = 0; g < end; g += PK_WL) {
        const size_t lanes = g >= count ? 0 : count - g < PK_WL ? count - g : PK_WL;
        for (size_t c = c0; c < c1; c++) {
            for (size_t l = 0; l < PK_WL; l++) {
                if (l >= lanes) { for (int k = 0; k < WP; k++) d[k * PK_WL + l] = 0; continue; }
                const size_t t = t0 + g + l, img = t / per_image, r = t % per_image;
                const long y0 = (long)(r / tw) * WM - 1, x0 = (long)(r % tw) * WM - 1;
                const float *src = x + (img * C + c) * H * W;
                if (y0 >= 0 && x0 >= 0 && y0 + WN <= (long)H && x0 + WN <= (long)W) {
                    for (int i = 0; i < WN; i++) {
                        const float *line = src + (y0 + i) * W + x0;
                        for (int j = 0; j < WN; j++) d[(i * WN + j) * PK_WL + l] = line[j];
                    }
                } else {
                    for (int i = 0; i < WN; i++) {
                        const long y = y0 + i;
                        for (int j = 0; j < WN; j++) {
                            const long xx = x0 + j;
                            d[(i * WN + j) * PK_WL + l] =
                                (y >= 0 && y < (long)H && xx >= 0 && xx < (long)W) ? src[y * W + xx] : 0.0f;
                        }
                    }
                }
            }
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
static void PK_W(output)(const float *M, size_t O, size_t mo, size_t ldm, size_t o0, size_t o1, size_t t0, size_t count,
                         const float *bias, float *y, size_t H, size_t W) {
    const size_t th = (H + WM - 1) / WM, tw = (W + WM - 1) / WM, per_image = th * tw;
    const size_t plane = mo * ldm;
    float m[WP * PK_WL], e[WP * PK_WL], q[WM * WM * PK_WL];
    for (size_t o = o0; o < o1; o++) {
        const float b = bias ? bias[o] : 0.0f;
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
            for (size_t l = 0; l < lanes; l++) {
                const size_t t = t0 + g + l, img = t / per_image, r = t % per_image;
                const size_t yy = (r / tw) * WM, xx = (r % tw) * WM;
                float *dst = y + (img * O + o) * H * W;
                const size_t rows = H - yy < WM ? H - yy : WM, cols = W - xx < WM ? W - xx : WM;
                for (size_t i = 0; i < rows; i++)
                    for (size_t j = 0; j < cols; j++) dst[(yy + i) * W + xx + j] = q[(i * WM + j) * PK_WL + l] + b;
            }
        }
    }
}

#undef WN
#undef WP
#undef WM
#undef PK_W
#undef PK_WG
#undef PK_WBT
#undef PK_WAT
