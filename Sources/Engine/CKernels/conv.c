// Direct convolution kernels: see include/ckernels.h.
#include "ckernels.h"
#include "vectors.h"
#include <stdlib.h>
#include <string.h>

// Rows r0..r0+7 against one 8-wide column block: 8 accumulators (enough to cover the FMA
// latency, and the 8 row pointers still fit the general registers).
#define ROWS1 8
INLINE void block1(const float *x, const int32_t *base, const int32_t *colOff, int32_t S,
                          const float *v, const int32_t *vOff, float *out, int64_t ldo, int32_t rows, int32_t accumulate) {
    const float *p[ROWS1];
    for (int i = 0; i < ROWS1; i++) p[i] = x + base[i < rows ? i : 0];
    v8 a[ROWS1];
    for (int i = 0; i < ROWS1; i++) a[i] = splat(0);
    for (int32_t s = 0; s < S; s++) {
        const int32_t o = colOff[s];
        const v8 w = load8(v + vOff[s]);
        for (int i = 0; i < ROWS1; i++) a[i] += splat(p[i][o]) * w;
    }
    for (int i = 0; i < rows; i++) {
        float *d = out + i * ldo;
        store8(d, accumulate ? load8(d) + a[i] : a[i]);
    }
}

// Rows r0..r0+5 against two 8-wide column blocks: 12 accumulators.
#define ROWS2 6
INLINE void block2(const float *x, const int32_t *base, const int32_t *colOff, int32_t S,
                          const float *v, const int32_t *vOff, float *out, int64_t ldo, int32_t rows, int32_t accumulate) {
    const float *p[ROWS2];
    for (int i = 0; i < ROWS2; i++) p[i] = x + base[i < rows ? i : 0];
    v8 a[ROWS2], b[ROWS2];
    for (int i = 0; i < ROWS2; i++) { a[i] = splat(0); b[i] = splat(0); }
    for (int32_t s = 0; s < S; s++) {
        const int32_t o = colOff[s];
        const float *vs = v + vOff[s];
        const v8 w0 = load8(vs), w1 = load8(vs + 8);
        for (int i = 0; i < ROWS2; i++) {
            const v8 xi = splat(p[i][o]);
            a[i] += xi * w0;
            b[i] += xi * w1;
        }
    }
    for (int i = 0; i < rows; i++) {
        float *d = out + i * ldo;
        store8(d, accumulate ? load8(d) + a[i] : a[i]);
        store8(d + 8, accumulate ? load8(d + 8) + b[i] : b[i]);
    }
}

MULTIVERSION
void mlpsh_gather_gemm(const float *x, const int32_t *rowBase, int32_t R, const int32_t *colOff, int32_t S,
                       const float *v, const int32_t *vOff, int32_t vectors, float *out, int64_t ldo, int32_t accumulate) {
    // Row blocks outermost, so a block's rows of x stay in L1 across the column blocks.
    if (vectors >= 2) {
        for (int32_t r = 0; r < R; r += ROWS2) {
            const int32_t rows = R - r < ROWS2 ? R - r : ROWS2;
            int32_t j = 0;
            for (; j + 2 <= vectors; j += 2) block2(x, rowBase + r, colOff, S, v + 8 * j, vOff, out + r * ldo + 8 * j, ldo, rows, accumulate);
            if (j < vectors) {
                // An odd last column block: as one of two rows of eight... done by block1 below.
                for (int32_t r1 = r; r1 < r + rows; r1 += ROWS1) {
                    const int32_t rows1 = r + rows - r1 < ROWS1 ? r + rows - r1 : ROWS1;
                    block1(x, rowBase + r1, colOff, S, v + 8 * j, vOff, out + r1 * ldo + 8 * j, ldo, rows1, accumulate);
                }
            }
        }
        return;
    }
    for (int32_t r = 0; r < R; r += ROWS1) {
        const int32_t rows = R - r < ROWS1 ? R - r : ROWS1;
        block1(x, rowBase + r, colOff, S, v, vOff, out + r * ldo, ldo, rows, accumulate);
    }
}

// Rows r0..r0+3 against V 8-wide column blocks, one function a V (literal bounds, which the
// target clones unroll into registers).
#define BLOCK4(NAME, V) \
INLINE void NAME(const float *x, const int32_t *base, const int32_t *colOff, int32_t S, const float *v, const int32_t *vOff, \
                 float *out, int64_t ldo, int32_t rows, int32_t accumulate) { \
    const float *p[4]; \
    for (int i = 0; i < 4; i++) p[i] = x + base[i < rows ? i : 0]; \
    v8 a[4][V]; \
    for (int i = 0; i < 4; i++) for (int k = 0; k < V; k++) a[i][k] = splat(0); \
    for (int32_t s = 0; s < S; s++) { \
        const int32_t o = colOff[s]; \
        const float *vs = v + vOff[s]; \
        v8 w[V]; \
        for (int k = 0; k < V; k++) w[k] = load8(vs + 8 * k); \
        for (int i = 0; i < 4; i++) { \
            const v8 xi = splat(p[i][o]); \
            for (int k = 0; k < V; k++) a[i][k] += xi * w[k]; \
        } \
    } \
    for (int i = 0; i < rows; i++) { \
        float *d = out + i * ldo; \
        for (int k = 0; k < V; k++) store8(d + 8 * k, accumulate ? load8(d + 8 * k) + a[i][k] : a[i][k]); \
    } \
}
BLOCK4(block4x3, 3)
BLOCK4(block4x2, 2)
BLOCK4(block4x1, 1)

MULTIVERSION_WIDE
void mlpsh_gather_gemm4(const float *x, const int32_t *rowBase, int32_t R, const int32_t *colOff, int32_t S,
                        const float *v, const int32_t *vOff, int32_t vectors, float *out, int64_t ldo, int32_t accumulate) {
    for (int32_t r = 0; r < R; r += 4) {
        const int32_t rows = R - r < 4 ? R - r : 4;
        const int32_t *base = rowBase + r;
        float *o = out + r * ldo;
        int32_t j = 0;
        for (; j + 3 <= vectors; j += 3) block4x3(x, base, colOff, S, v + 8 * j, vOff, o + 8 * j, ldo, rows, accumulate);
        if (vectors - j == 2) block4x2(x, base, colOff, S, v + 8 * j, vOff, o + 8 * j, ldo, rows, accumulate);
        if (vectors - j == 1) block4x1(x, base, colOff, S, v + 8 * j, vOff, o + 8 * j, ldo, rows, accumulate);
    }
}

// Rows r0..r0+5 of a against columns t0..t0+1 of b: 12 accumulators of 8 partial sums.
#define DOT_ROWS 6
#define DOT_COLS 2
INLINE void dot_block(const float *a, const int32_t *aOff, int32_t rows, const float *b, const int32_t *bOff, int32_t cols,
                      int32_t vectors, float *out, int64_t ldo, int32_t accumulate) {
    const float *pa[DOT_ROWS], *pb[DOT_COLS];
    for (int i = 0; i < DOT_ROWS; i++) pa[i] = a + aOff[i < rows ? i : 0];
    for (int k = 0; k < DOT_COLS; k++) pb[k] = b + bOff[k < cols ? k : 0];
    v8 acc[DOT_ROWS][DOT_COLS];
    for (int i = 0; i < DOT_ROWS; i++) for (int k = 0; k < DOT_COLS; k++) acc[i][k] = splat(0);
    for (int32_t j = 0; j < vectors; j++) {
        v8 va[DOT_ROWS], vb[DOT_COLS];
        for (int i = 0; i < DOT_ROWS; i++) va[i] = load8(pa[i] + 8 * j);
        for (int k = 0; k < DOT_COLS; k++) vb[k] = load8(pb[k] + 8 * j);
        for (int i = 0; i < DOT_ROWS; i++) for (int k = 0; k < DOT_COLS; k++) acc[i][k] += va[i] * vb[k];
    }
    for (int i = 0; i < rows; i++) {
        for (int k = 0; k < cols; k++) {
            const v8 v = acc[i][k];
            const float sum = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
            out[i * ldo + k] = accumulate ? out[i * ldo + k] + sum : sum;
        }
    }
}

MULTIVERSION
void mlpsh_dot_rows(const float *a, const int32_t *aOff, int32_t R, const float *b, const int32_t *bOff, int32_t T,
                    int32_t vectors, float *out, int64_t ldo, int32_t accumulate) {
    for (int32_t r = 0; r < R; r += DOT_ROWS) {
        const int32_t rows = R - r < DOT_ROWS ? R - r : DOT_ROWS;
        for (int32_t t = 0; t < T; t += DOT_COLS) {
            const int32_t cols = T - t < DOT_COLS ? T - t : DOT_COLS;
            dot_block(a, aOff + r, rows, b, bOff + t, cols, vectors, out + r * ldo + t, ldo, accumulate);
        }
    }
}

// 8 positions by 8 channels at a time, transposed in registers; the positions past the last
// whole 8 one at a time. (src has lds ≥ channels rounded up to 8 floats a position.)
INLINE void transpose_out(const float *src, int64_t lds, int32_t positions, int32_t channels, const float *bias, float *dst) {
    for (int32_t o0 = 0; o0 < channels; o0 += 8) {
        const int32_t n = channels - o0 < 8 ? channels - o0 : 8;
        int32_t q = 0;
        for (; q + 8 <= positions; q += 8) {
            v8 r[8];
            for (int i = 0; i < 8; i++) r[i] = load8(src + (q + i) * lds + o0);
            transpose8(r);
            for (int i = 0; i < n; i++) store8(dst + (int64_t)(o0 + i) * positions + q, r[i] + splat(bias ? bias[o0 + i] : 0));
        }
        for (int32_t o = o0; o < o0 + n; o++) {
            const float b = bias ? bias[o] : 0;
            for (int32_t p = q; p < positions; p++) dst[(int64_t)o * positions + p] = src[p * lds + o] + b;
        }
    }
}

MULTIVERSION
void mlpsh_transpose_out(const float *src, int64_t lds, int32_t positions, int32_t channels, const float *bias, float *dst) {
    transpose_out(src, lds, positions, channels, bias, dst);
}

MULTIVERSION
void mlpsh_transpose_in(const float *src, int32_t positions, int32_t channels, float *dst, int64_t ldd, float *sums) {
    transpose_in(src, positions, channels, dst, ldd, sums);
}

MULTIVERSION
void mlpsh_compact_rows(const float *src, int64_t lds, int32_t channels, int32_t height, int32_t rowStride, int32_t width,
                        const float *bias, float *dst) {
    for (int32_t o = 0; o < channels; o++) {
        const float b = bias ? bias[o] : 0;
        for (int32_t y = 0; y < height; y++) {
            const float *s = src + o * lds + (int64_t)y * rowStride;
            float *d = dst + ((int64_t)o * height + y) * width;
            for (int32_t x = 0; x < width; x++) d[x] = s[x] + b;
        }
    }
}

INLINE void widen_rows(const float *src, int32_t channels, int32_t height, int32_t width, int32_t rowStride, int64_t lds,
                       float *dst, float *sums) {
    for (int32_t o = 0; o < channels; o++) {
        float *d = dst + o * lds;
        const float *plane = src + (int64_t)o * height * width;
        memset(d, 0, sizeof(float) * lds);
        for (int32_t y = 0; y < height; y++) memcpy(d + (int64_t)y * rowStride, plane + (int64_t)y * width, sizeof(float) * width);
        if (sums) sums[o] += sum_floats(plane, (int64_t)height * width);
    }
}

MULTIVERSION
void mlpsh_widen_rows(const float *src, int32_t channels, int32_t height, int32_t width, int32_t rowStride, int64_t lds,
                      float *dst, float *sums) {
    widen_rows(src, channels, height, width, rowStride, lds, dst, sums);
}

// Stride 1: each image row is built in registers, 16 columns at a time, from the K x K column
// rows that reach it, each loaded at its shift and masked to the columns it covers.
INLINE void col2im_stride1(const float *cols, int64_t ldc, int32_t channels, int32_t height, int32_t width, int32_t kernel,
                           int32_t pad, int32_t outHeight, int32_t outWidth, float *dx) {
    const i8v lane = {0, 1, 2, 3, 4, 5, 6, 7};
    for (int32_t c = 0; c < channels; c++) {
        for (int32_t iy = 0; iy < height; iy++) {
            float *row = dx + ((int64_t)c * height + iy) * width;
            for (int32_t x0 = 0; x0 < width; x0 += 16) {
                const int32_t n = width - x0 < 16 ? width - x0 : 16;
                float block[16];
                memcpy(block, row + x0, sizeof(float) * n);
                v8 a = load8(block), b = load8(block + 8);
                for (int32_t ky = 0; ky < kernel; ky++) {
                    const int32_t oy = iy + pad - ky;
                    if (oy < 0 || oy >= outHeight) continue;
                    for (int32_t kx = 0; kx < kernel; kx++) {
                        // Column ox = ix + pad - kx of output row oy, where 0 <= ox < outWidth.
                        const int32_t shift = x0 + pad - kx;
                        if (shift + 16 <= 0 || shift >= outWidth) continue;
                        const float *src = cols + ((int64_t)(c * kernel + ky) * kernel + kx) * ldc + (int64_t)oy * outWidth + shift;
                        const i8v ox0 = lane + shift, ox1 = ox0 + 8;
                        const i8v m0 = (ox0 >= 0) & (ox0 < outWidth), m1 = (ox1 >= 0) & (ox1 < outWidth);
                        a += (v8)((i8v)load8(src) & m0);
                        b += (v8)((i8v)load8(src + 8) & m1);
                    }
                }
                store8(block, a);
                store8(block + 8, b);
                memcpy(row + x0, block, sizeof(float) * n);
            }
        }
    }
}

MULTIVERSION
void mlpsh_col2im(const float *cols, int64_t ldc, int32_t channels, int32_t height, int32_t width, int32_t kernel,
                  int32_t stride, int32_t pad, int32_t outHeight, int32_t outWidth, float *dx) {
    if (stride == 1) {
        col2im_stride1(cols, ldc, channels, height, width, kernel, pad, outHeight, outWidth, dx);
        return;
    }
    for (int32_t c = 0; c < channels; c++) {
        float *plane = dx + (int64_t)c * height * width;
        for (int32_t ky = 0; ky < kernel; ky++) {
            for (int32_t kx = 0; kx < kernel; kx++) {
                const float *src = cols + ((int64_t)(c * kernel + ky) * kernel + kx) * ldc;
                // The output columns whose input column is inside the image: x0 ..< x1.
                int32_t x0 = 0, x1 = outWidth;
                while (x0 < outWidth && x0 * stride - pad + kx < 0) x0++;
                while (x1 > x0 && (x1 - 1) * stride - pad + kx >= width) x1--;
                for (int32_t y = 0; y < outHeight; y++, src += outWidth) {
                    const int32_t iy = y * stride - pad + ky;
                    if (iy < 0 || iy >= height) continue;
                    float *row = plane + (int64_t)iy * width + (kx - pad);
                    for (int32_t x = x0; x < x1; x++) row[x * stride] += src[x];
                }
            }
        }
    }
}

// 2x2 max pooling with stride 2, eight windows at a time. A plane whose output is at least 8
// wide goes a row at a time, the last block of a row overlapping the one before (its windows
// computed twice, to the same values). A narrower one goes through its windows in order,
// eight at a time from a table of where each window starts (the same for every plane).

typedef double v4d __attribute__((vector_size(32)));
INLINE double load_pair(const float *p) { double d; memcpy(&d, p, sizeof d); return d; }
INLINE void store_pair(float *p, double d) { memcpy(p, &d, sizeof d); }
// Eight pairs of floats, at p + at[0] ... p + at[7], as two vectors of eight.
INLINE void load_pairs(const float *p, const int32_t *at, v8 *lo, v8 *hi) {
    *lo = (v8)(v4d){load_pair(p + at[0]), load_pair(p + at[1]), load_pair(p + at[2]), load_pair(p + at[3])};
    *hi = (v8)(v4d){load_pair(p + at[4]), load_pair(p + at[5]), load_pair(p + at[6]), load_pair(p + at[7])};
}
INLINE void store_pairs(float *p, const int32_t *at, v8 lo, v8 hi) {
    const v4d a = (v4d)lo, b = (v4d)hi;
    for (int j = 0; j < 4; j++) store_pair(p + at[j], a[j]);
    for (int j = 0; j < 4; j++) store_pair(p + at[4 + j], b[j]);
}

// One window's step: v replaces best where it is larger or NaN (PyTorch's rule: the first
// largest, and the last NaN).
#define MAX_STEP(v, index) do { \
        const i8v m = ((v) > best) | ((v) != (v)); \
        best = (v8)(((i8v)(v) & m) | ((i8v)best & ~m)); \
        at = ((index) & m) | (at & ~m); \
    } while (0)

// Eight windows: a0, a1 their top rows' pairs, b0, b1 their bottom rows', i0 the index of each
// one's top left value within its image.
INLINE void max_windows(v8 a0, v8 a1, v8 b0, v8 b1, i8v i0, int32_t width, v8 *outBest, i8v *outAt) {
    const v8 e0 = __builtin_shufflevector(a0, a1, 0, 2, 4, 6, 8, 10, 12, 14);
    const v8 o0 = __builtin_shufflevector(a0, a1, 1, 3, 5, 7, 9, 11, 13, 15);
    const v8 e1 = __builtin_shufflevector(b0, b1, 0, 2, 4, 6, 8, 10, 12, 14);
    const v8 o1 = __builtin_shufflevector(b0, b1, 1, 3, 5, 7, 9, 11, 13, 15);
    v8 best = e0;
    i8v at = i0;
    MAX_STEP(o0, i0 + 1);
    MAX_STEP(e1, i0 + width);
    MAX_STEP(o1, i0 + width + 1);
    *outBest = best;
    *outAt = at;
}

// The gradient g of eight windows placed at their argmax `at` (zero at the other three values):
// the pairs of their top rows (t0, t1) and bottom rows (u0, u1), in the layout max_windows reads.
INLINE void route_windows(v8 g, i8v at, i8v i0, int32_t width, v8 *t0, v8 *t1, v8 *u0, v8 *u1) {
    const v8 e0 = (v8)((i8v)g & (at == i0)), o0 = (v8)((i8v)g & (at == i0 + 1));
    const v8 e1 = (v8)((i8v)g & (at == i0 + width)), o1 = (v8)((i8v)g & (at == i0 + width + 1));
    *t0 = __builtin_shufflevector(e0, o0, 0, 8, 1, 9, 2, 10, 3, 11);
    *t1 = __builtin_shufflevector(e0, o0, 4, 12, 5, 13, 6, 14, 7, 15);
    *u0 = __builtin_shufflevector(e1, o1, 0, 8, 1, 9, 2, 10, 3, 11);
    *u1 = __builtin_shufflevector(e1, o1, 4, 12, 5, 13, 6, 14, 7, 15);
}

// Where each window of a plane starts (2y * width + 2x), for a plane narrower than 8 windows:
// at least 8 entries, a plane of fewer windows repeating its last. The caller frees it when it
// is not `small`.
INLINE int32_t *window_starts(int32_t oh, int32_t ow, int32_t width, int32_t *small, int32_t smallCount) {
    const int32_t total = oh * ow, count = total < 8 ? 8 : total;
    int32_t *start = count <= smallCount ? small : malloc(sizeof(int32_t) * count);
    if (!start) return 0;
    for (int32_t k = 0; k < count; k++) {
        const int32_t w = k < total ? k : total - 1;
        start[k] = 2 * (w / ow) * width + 2 * (w % ow);
    }
    return start;
}

// The blocks of eight windows of a narrow plane: 0, 8, ... and a last one ending at its end.
INLINE int32_t next_block(int32_t k, int32_t total) {
    return k + 8 >= total ? total : (k + 16 > total ? total - 8 : k + 8);
}

INLINE void maxpool2x2(const float *src, int32_t first, int32_t planes, int32_t channels, int32_t height, int32_t width,
                       float *dst, int32_t *argmax) {
    const int32_t oh = height / 2, ow = width / 2, total = oh * ow;
    const i8v lane2 = {0, 2, 4, 6, 8, 10, 12, 14};
    int32_t small[256], *start = 0;
    if (ow < 8 && !(start = window_starts(oh, ow, width, small, 256))) return;
    for (int32_t p = 0; p < planes; p++) {
        const float *in = src + (int64_t)p * height * width;
        const int32_t base = ((first + p) % channels) * height * width;
        float *out = dst + (int64_t)p * total;
        int32_t *arg = argmax + (int64_t)p * total;
        v8 best;
        i8v at;
        if (ow >= 8) {
            for (int32_t y = 0; y < oh; y++) {
                const int32_t top = 2 * y * width;
                for (int32_t x = 0; x < ow; x = x + 16 > ow && x + 8 < ow ? ow - 8 : x + 8) {
                    const float *p0 = in + top + 2 * x, *p1 = p0 + width;
                    max_windows(load8(p0), load8(p0 + 8), load8(p1), load8(p1 + 8), lane2 + (base + top + 2 * x), width, &best, &at);
                    store8(out + y * ow + x, best);
                    memcpy(arg + y * ow + x, &at, sizeof at);
                }
            }
            continue;
        }
        for (int32_t k = 0; k < total; k = next_block(k, total)) {
            const int32_t *s = start + (total < 8 ? 0 : k);
            v8 a0, a1, b0, b1;
            i8v i0;
            load_pairs(in, s, &a0, &a1);
            load_pairs(in + width, s, &b0, &b1);
            memcpy(&i0, s, sizeof i0);
            max_windows(a0, a1, b0, b1, i0 + base, width, &best, &at);
            const int32_t n = total < 8 ? total : 8;
            memcpy(out + k, &best, sizeof(float) * n);
            memcpy(arg + k, &at, sizeof(int32_t) * n);
        }
    }
    if (start != small) free(start);
}

MULTIVERSION
void mlpsh_maxpool2x2(const float *src, int32_t first, int32_t planes, int32_t channels, int32_t height, int32_t width,
                      float *dst, int32_t *argmax) {
    maxpool2x2(src, first, planes, channels, height, width, dst, argmax);
}

INLINE void maxpool2x2_backward(const float *dy, const int32_t *argmax, int32_t first, int32_t planes, int32_t channels,
                                int32_t height, int32_t width, float *dx) {
    const int32_t oh = height / 2, ow = width / 2, total = oh * ow;
    const i8v lane2 = {0, 2, 4, 6, 8, 10, 12, 14};
    int32_t small[256], *start = 0;
    if (ow < 8 && !(start = window_starts(oh, ow, width, small, 256))) return;
    for (int32_t p = 0; p < planes; p++) {
        const int32_t base = ((first + p) % channels) * height * width;
        const float *g = dy + (int64_t)p * total;
        const int32_t *arg = argmax + (int64_t)p * total;
        float *out = dx + (int64_t)p * height * width;
        v8 t0, t1, u0, u1;
        i8v at;
        if (ow >= 8) {
            for (int32_t y = 0; y < oh; y++) {
                const int32_t top = 2 * y * width;
                float *r0 = out + top, *r1 = r0 + width;
                for (int32_t x = 0; x < ow; x = x + 16 > ow && x + 8 < ow ? ow - 8 : x + 8) {
                    memcpy(&at, arg + y * ow + x, sizeof at);
                    route_windows(load8(g + y * ow + x), at, lane2 + (base + top + 2 * x), width, &t0, &t1, &u0, &u1);
                    store8(r0 + 2 * x, t0);
                    store8(r0 + 2 * x + 8, t1);
                    store8(r1 + 2 * x, u0);
                    store8(r1 + 2 * x + 8, u1);
                }
                if (width & 1) { r0[width - 1] = 0; r1[width - 1] = 0; }
            }
        } else {
            for (int32_t k = 0; k < total; k = next_block(k, total)) {
                const int32_t *s = start + (total < 8 ? 0 : k);
                // A plane of fewer than 8 windows reads its last one again in the spare lanes.
                float gBlock[8];
                int32_t argBlock[8];
                for (int j = 0; j < 8; j++) {
                    const int32_t w = total < 8 ? (j < total ? j : total - 1) : k + j;
                    gBlock[j] = g[w];
                    argBlock[j] = arg[w];
                }
                i8v i0;
                memcpy(&i0, s, sizeof i0);
                memcpy(&at, argBlock, sizeof at);
                route_windows(load8(gBlock), at, i0 + base, width, &t0, &t1, &u0, &u1);
                store_pairs(out, s, t0, t1);
                store_pairs(out + width, s, u0, u1);
            }
            if (width & 1) for (int32_t y = 0; y < 2 * oh; y++) out[y * width + width - 1] = 0;
        }
        if (height & 1) memset(out + (int64_t)(height - 1) * width, 0, sizeof(float) * width);
    }
    if (start != small) free(start);
}

MULTIVERSION
void mlpsh_maxpool2x2_backward(const float *dy, const int32_t *argmax, int32_t first, int32_t planes, int32_t channels,
                               int32_t height, int32_t width, float *dx) {
    maxpool2x2_backward(dy, argmax, first, planes, channels, height, width, dx);
}

void mlpsh_border_copy(const float *src, int32_t channels, int32_t height, int32_t width, int32_t top, int32_t left,
                       int32_t rowStride, int64_t plane, float *dst) {
    for (int32_t c = 0; c < channels; c++) {
        for (int32_t y = 0; y < height; y++) {
            memcpy(dst + c * plane + (int64_t)(y + top) * rowStride + left, src + ((int64_t)c * height + y) * width, sizeof(float) * width);
        }
    }
}

void mlpsh_pad_copy(const float *src, int32_t channels, int32_t height, int32_t width, int32_t pad, float *dst) {
    const int32_t pw = width + 2 * pad;
    mlpsh_border_copy(src, channels, height, width, pad, pad, pw, (int64_t)(height + 2 * pad) * pw, dst);
}
