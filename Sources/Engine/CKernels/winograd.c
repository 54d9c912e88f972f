// Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2016): see include/ckernels.h. Each tile of 2x2 outputs reads a 4x4 patch
// of the bordered input; with V = Bᵀ d B and U = G g Gᵀ, Y = Aᵀ (U ⊙ V) A, where
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1],
//   Aᵀ = [1 1 1 0; 0 1 -1 -1].
// The input and output transforms take 8 neighbouring tiles of one row of tiles as the lanes of
// a vector; the output gradient's takes 8 channels of one tile.
#include "ckernels.h"
#include "vectors.h"

// Bᵀ d along one axis of a tile.
INLINE void input_1d(v8 d0, v8 d1, v8 d2, v8 d3, v8 r[4]) {
    r[0] = d0 - d2;
    r[1] = d1 + d2;
    r[2] = d2 - d1;
    r[3] = d1 - d3;
}

// Aᵀ m along one axis.
INLINE void output_1d(v8 m0, v8 m1, v8 m2, v8 m3, v8 r[2]) {
    r[0] = m0 + m1 + m2;
    r[1] = m1 - m2 - m3;
}

// A g along one axis (the transpose of Aᵀ: the output gradient's transform).
INLINE void gradient_1d(v8 g0, v8 g1, v8 r[4]) {
    r[0] = g0;
    r[1] = g0 + g1;
    r[2] = g0 - g1;
    r[3] = -g1;
}

INLINE void input_tiles(const float *xp, int32_t channels, int64_t plane, int32_t rowStride, int32_t tilesH, int32_t tilesW,
                        float *v, int64_t ldv, int64_t lde) {
    for (int32_t c = 0; c < channels; c++) {
        const float *xc = xp + c * plane;
        float *vc = v + (int64_t)c * ldv;
        for (int32_t ty = 0; ty < tilesH; ty++) {
            for (int32_t tx = 0; tx < tilesW; tx += 8) {
                // d[i][j]: row i, column j of the eight tiles' patches.
                v8 d[4][4], w[4][4];
                for (int i = 0; i < 4; i++) {
                    const float *row = xc + (int64_t)(2 * ty + i) * rowStride + 2 * tx;
                    const v8 a = load8(row), b = load8(row + 8), a2 = load8(row + 2), b2 = load8(row + 10);
                    d[i][0] = EVENS(a, b);
                    d[i][1] = ODDS(a, b);
                    d[i][2] = EVENS(a2, b2);
                    d[i][3] = ODDS(a2, b2);
                }
                for (int j = 0; j < 4; j++) {
                    v8 r[4];
                    input_1d(d[0][j], d[1][j], d[2][j], d[3][j], r);
                    for (int i = 0; i < 4; i++) w[i][j] = r[i];
                }
                float *out = vc + (int64_t)ty * tilesW + tx;
                for (int i = 0; i < 4; i++) {
                    v8 r[4];
                    input_1d(w[i][0], w[i][1], w[i][2], w[i][3], r);
                    for (int j = 0; j < 4; j++) store8(out + (i * 4 + j) * lde, r[j]);
                }
            }
        }
    }
}

MULTIVERSION
void mlpsh_winograd_input(const float *xp, int32_t channels, int64_t plane, int32_t rowStride, int32_t tilesH, int32_t tilesW,
                          float *v, int64_t ldv, int64_t lde) {
    input_tiles(xp, channels, plane, rowStride, tilesH, tilesW, v, ldv, lde);
}

// Up to 16 floats of a row from p (n of them; zero past n) as two vectors.
INLINE void load_row16(const float *p, int32_t n, v8 *a, v8 *b) {
    if (n >= 16) {
        *a = load8(p);
        *b = load8(p + 8);
        return;
    }
    float block[16] = {0};
    if (n > 0) memcpy(block, p, sizeof(float) * n);
    *a = load8(block);
    *b = load8(block + 8);
}

INLINE void output_tiles(const float *m, int64_t ldm, int64_t lde, int32_t channels, int32_t tilesH, int32_t tilesW,
                         int32_t outH, int32_t outW, const float *bias, float *y) {
    for (int32_t o = 0; o < channels; o++) {
        const float *mo = m + (int64_t)o * ldm;
        float *yo = y + (int64_t)o * outH * outW;
        const v8 b = splat(bias ? bias[o] : 0);
        for (int32_t ty = 0; ty < tilesH; ty++) {
            for (int32_t tx = 0; tx < tilesW; tx += 8) {
                const float *mt = mo + (int64_t)ty * tilesW + tx;
                v8 s[4][2];
                for (int i = 0; i < 4; i++) {
                    output_1d(load8(mt + (i * 4) * lde), load8(mt + (i * 4 + 1) * lde), load8(mt + (i * 4 + 2) * lde),
                              load8(mt + (i * 4 + 3) * lde), s[i]);
                }
                v8 rows[2][2];
                for (int k = 0; k < 2; k++) {
                    v8 r[2];
                    output_1d(s[0][k], s[1][k], s[2][k], s[3][k], r);
                    rows[0][k] = r[0] + b;
                    rows[1][k] = r[1] + b;
                }
                const int32_t cols = outW - 2 * tx;
                for (int a = 0; a < 2 && 2 * ty + a < outH; a++) {
                    float *dst = yo + (int64_t)(2 * ty + a) * outW + 2 * tx;
                    const v8 lo = INTERLEAVE_LO(rows[a][0], rows[a][1]), hi = INTERLEAVE_HI(rows[a][0], rows[a][1]);
                    if (cols >= 16) {
                        store8(dst, lo);
                        store8(dst + 8, hi);
                    } else {
                        float block[16];
                        store8(block, lo);
                        store8(block + 8, hi);
                        memcpy(dst, block, sizeof(float) * cols);
                    }
                }
            }
        }
    }
}

MULTIVERSION
void mlpsh_winograd_output(const float *m, int64_t ldm, int64_t lde, int32_t channels, int32_t tilesH, int32_t tilesW,
                           int32_t outH, int32_t outW, const float *bias, float *y) {
    output_tiles(m, ldm, lde, channels, tilesH, tilesW, outH, outW, bias, y);
}

// The output gradient transposed to channels last first (8 channels a vector), then each tile's
// four values of eight channels transformed into its 16 rows.
INLINE void gradient_tiles(const float *dy, int32_t channels, int32_t outH, int32_t outW, int32_t tilesH, int32_t tilesW,
                           float *work, float *g, int64_t ldt, int64_t lde, float *sums) {
    const int32_t positions = outH * outW;
    transpose_in(dy, positions, channels, work, ldt, sums);
    const v8 zero = splat(0);
    for (int32_t ty = 0; ty < tilesH; ty++) {
        const int32_t y = 2 * ty, below = y + 1 < outH;
        for (int32_t tx = 0; tx < tilesW; tx++) {
            const int32_t x = 2 * tx, right = x + 1 < outW;
            const float *p00 = work + ((int64_t)y * outW + x) * ldt;
            float *out = g + ((int64_t)ty * tilesW + tx) * ldt;
            for (int32_t o = 0; o < ldt; o += 8) {
                const v8 g00 = load8(p00 + o), g01 = right ? load8(p00 + ldt + o) : zero;
                const v8 g10 = below ? load8(p00 + outW * ldt + o) : zero, g11 = below && right ? load8(p00 + (outW + 1) * ldt + o) : zero;
                v8 c0[4], c1[4];
                gradient_1d(g00, g10, c0);
                gradient_1d(g01, g11, c1);
                for (int i = 0; i < 4; i++) {
                    v8 r[4];
                    gradient_1d(c0[i], c1[i], r);
                    for (int j = 0; j < 4; j++) store8(out + (i * 4 + j) * lde + o, r[j]);
                }
            }
        }
    }
}

MULTIVERSION
void mlpsh_winograd_gradient(const float *dy, int32_t channels, int32_t outH, int32_t outW, int32_t tilesH, int32_t tilesW,
                             float *work, float *g, int64_t ldt, int64_t lde, float *sums) {
    gradient_tiles(dy, channels, outH, outW, tilesH, tilesW, work, g, ldt, lde, sums);
}

void mlpsh_winograd_weights(const float *w, int32_t outChannels, int32_t inChannels, int32_t flip, float *u) {
    const int64_t lde = (int64_t)outChannels * inChannels;
    for (int32_t o = 0; o < outChannels; o++) {
        for (int32_t c = 0; c < inChannels; c++) {
            const float *k = w + ((int64_t)o * inChannels + c) * 9;
            float g[3][3], t[4][3];
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) g[i][j] = flip ? k[(2 - i) * 3 + (2 - j)] : k[i * 3 + j];
            }
            for (int j = 0; j < 3; j++) {
                t[0][j] = g[0][j];
                t[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);
                t[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);
                t[3][j] = g[2][j];
            }
            const int64_t at = flip ? (int64_t)c * outChannels + o : (int64_t)o * inChannels + c;
            for (int i = 0; i < 4; i++) {
                u[(i * 4 + 0) * lde + at] = t[i][0];
                u[(i * 4 + 1) * lde + at] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
                u[(i * 4 + 2) * lde + at] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
                u[(i * 4 + 3) * lde + at] = t[i][2];
            }
        }
    }
}

void mlpsh_winograd_weight_gradient(const float *z, int32_t outChannels, int32_t inChannels, int64_t ldz, float *dw,
                                    int32_t accumulate) {
    const int64_t lde = inChannels * ldz;
    for (int32_t o = 0; o < outChannels; o++) {
        for (int32_t c = 0; c < inChannels; c++) {
            float s[4][4], t[3][4];
            for (int e = 0; e < 16; e++) s[e / 4][e % 4] = z[e * lde + c * ldz + o];
            // Gᵀ s G, Gᵀ's rows (1 ½ ½ 0), (0 ½ -½ 0), (0 ½ ½ 1).
            for (int j = 0; j < 4; j++) {
                t[0][j] = s[0][j] + 0.5f * (s[1][j] + s[2][j]);
                t[1][j] = 0.5f * (s[1][j] - s[2][j]);
                t[2][j] = 0.5f * (s[1][j] + s[2][j]) + s[3][j];
            }
            float *d = dw + ((int64_t)o * inChannels + c) * 9;
            for (int i = 0; i < 3; i++) {
                const float r[3] = {t[i][0] + 0.5f * (t[i][1] + t[i][2]), 0.5f * (t[i][1] - t[i][2]), 0.5f * (t[i][1] + t[i][2]) + t[i][3]};
                for (int j = 0; j < 3; j++) d[i * 3 + j] = accumulate ? d[i * 3 + j] + r[j] : r[j];
            }
        }
    }
}
