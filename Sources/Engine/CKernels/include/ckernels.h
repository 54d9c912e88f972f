// Convolution kernels for few channels, in C with 8-float vectors, compiled for AVX2 with FMA
// and for the baseline x86-64 (chosen at load time by the CPU's features).
#ifndef MLPSH_CKERNELS_H
#define MLPSH_CKERNELS_H
#include <stdint.h>

// The product of a gathered matrix and a matrix of rows, the core of a direct convolution:
//   out[r * ldo + j] (+)= sum over s < S of x[rowBase[r] + colOff[s]] * v[vOff[s] + j]
// for r < R and j < 8 * vectors. Every v[vOff[s] + j] read must lie in v's buffer.
// Forward with channels as lanes: r an output position, s a tap (channel, kernel row, kernel
// column), v the weights transposed. With positions as lanes: r an output channel, x the
// weights, v the bordered input (vOff the taps). Adds into out when accumulate != 0.
void mlpsh_gather_gemm(const float *x, const int32_t *rowBase, int32_t R, const int32_t *colOff, int32_t S,
                       const float *v, const int32_t *vOff, int32_t vectors, float *out, int64_t ldo, int32_t accumulate);

// The same product in blocks of 4 rows and 3 column vectors (where R is a multiple of 4,
// as 16, 32 or 64 channels, none of the rows computed in vain).
void mlpsh_gather_gemm4(const float *x, const int32_t *rowBase, int32_t R, const int32_t *colOff, int32_t S,
                        const float *v, const int32_t *vOff, int32_t vectors, float *out, int64_t ldo, int32_t accumulate);

// Dot products of rows: out[r * ldo + t] (+)= sum over j < 8 * vectors of
// a[aOff[r] + j] * b[bOff[t] + j]. The weight gradient with positions as lanes: r an output
// channel (a its gradient, in rows as wide as the bordered input), t a tap (b the bordered input).
void mlpsh_dot_rows(const float *a, const int32_t *aOff, int32_t R, const float *b, const int32_t *bOff, int32_t T,
                    int32_t vectors, float *out, int64_t ldo, int32_t accumulate);

// dst[o * positions + q] = src[q * lds + o] + (bias ? bias[o] : 0), for o < channels, q < positions.
void mlpsh_transpose_out(const float *src, int64_t lds, int32_t positions, int32_t channels, const float *bias, float *dst);

// dst[q * ldd + o] = src[o * positions + q] for o < channels and zero for channels <= o < ldd
// (ldd a multiple of 8), q < positions; adds each channel's sum into sums[o] when sums != 0.
void mlpsh_transpose_in(const float *src, int32_t positions, int32_t channels, float *dst, int64_t ldd, float *sums);

// dst[o][y][x] = src[o * lds + y * rowStride + x] + (bias ? bias[o] : 0) for x < width, y < height.
void mlpsh_compact_rows(const float *src, int64_t lds, int32_t channels, int32_t height, int32_t rowStride, int32_t width,
                        const float *bias, float *dst);

// dst[o * lds + y * rowStride + x] = src[o][y][x] (x < width, y < height), zero elsewhere in
// dst's first lds floats of each channel; adds each channel's sum into sums[o] when sums != 0.
void mlpsh_widen_rows(const float *src, int32_t channels, int32_t height, int32_t width, int32_t rowStride, int64_t lds,
                      float *dst, float *sums);

// Adds columns (one row of ldc floats a (channel, kernel row, kernel column), outHeight x
// outWidth positions) back into the image dx [channels, height, width]: Caffe's col2im. With
// stride 1 it reads up to 16 floats before and after each column row: cols needs that margin.
void mlpsh_col2im(const float *cols, int64_t ldc, int32_t channels, int32_t height, int32_t width, int32_t kernel,
                  int32_t stride, int32_t pad, int32_t outHeight, int32_t outWidth, float *dx);

// 2x2 max pooling with stride 2 of planes first ..< first + planes (src and dst point at the
// first; `channels` planes an image): the largest of each window, the first on ties and any
// NaN, as PyTorch, and its index within its image (channel * height * width + y * width + x).
void mlpsh_maxpool2x2(const float *src, int32_t first, int32_t planes, int32_t channels, int32_t height, int32_t width,
                      float *dst, int32_t *argmax);

// The input gradient of mlpsh_maxpool2x2 for the same planes: dy at each window's argmax, zero
// everywhere else (dx is written whole, planes [height, width] from the first).
void mlpsh_maxpool2x2_backward(const float *dy, const int32_t *argmax, int32_t first, int32_t planes, int32_t channels,
                               int32_t height, int32_t width, float *dx);

// Copies planes [channels, height, width] into the interior of zero-bordered planes
// [channels, height + 2 * pad, width + 2 * pad] (whose border the caller keeps at zero).
void mlpsh_pad_copy(const float *src, int32_t channels, int32_t height, int32_t width, int32_t pad, float *dst);

// Copies planes [channels, height, width] into bordered planes of `plane` floats, rows of
// `rowStride`, at row `top` and column `left` (the caller keeps the rest at zero).
void mlpsh_border_copy(const float *src, int32_t channels, int32_t height, int32_t width, int32_t top, int32_t left,
                       int32_t rowStride, int64_t plane, float *dst);

// Winograd's F(2x2, 3x3) for 3x3 kernels with stride 1 (winograd.c). Tiles of 2x2 outputs,
// tilesH x tilesW of them an image, are the lanes: a transformed tile is 16 values, value e
// of tile t of channel c at [e * lde + c * ldv + t]. The input transform writes 8 tiles at a
// time, so up to 7 lanes past an image's last tile are overwritten (the next image's, or spare).

// V = Bᵀ d B for every tile of every channel: d the 4x4 patch at row 2·ty, column 2·tx of the
// bordered planes xp (`plane` floats each, rows of rowStride ≥ 2·tilesW + 2, and 16 floats to
// spare after the last).
void mlpsh_winograd_input(const float *xp, int32_t channels, int64_t plane, int32_t rowStride, int32_t tilesH, int32_t tilesW,
                          float *v, int64_t ldv, int64_t lde);

// y = Aᵀ m A + bias for every tile: the 2x2 outputs at row 2·ty, column 2·tx of planes
// [channels, outH, outW] (outputs past outH, outW are dropped).
void mlpsh_winograd_output(const float *m, int64_t ldm, int64_t lde, int32_t channels, int32_t tilesH, int32_t tilesW,
                           int32_t outH, int32_t outW, const float *bias, float *y);

// g = A dy Aᵀ for every tile of the output gradient dy [channels, outH, outW] (zero past its
// edges), laid out by tile: value e of tile t at [e * lde + t * ldt + o], ldt ≥ channels a
// multiple of 8 (zero past channels); `work` holds outH * outW * ldt floats. The weight
// gradient is then Gᵀ (Σ over tiles of g ⊙ V) G. Adds each channel's sum into sums[o] when
// sums != 0.
void mlpsh_winograd_gradient(const float *dy, int32_t channels, int32_t outH, int32_t outW, int32_t tilesH, int32_t tilesW,
                             float *work, float *g, int64_t ldt, int64_t lde, float *sums);

// U = G w Gᵀ for weights w [outChannels, inChannels, 3, 3], as u[e][o][c]; with flip, of the
// kernels turned 180° with the channels swapped, as u[e][c][o] (the input gradient's weights).
void mlpsh_winograd_weights(const float *w, int32_t outChannels, int32_t inChannels, int32_t flip, float *u);

// dw[o][c] (+)= Gᵀ z[·][c][o] G: the weight gradient [outChannels, inChannels, 3, 3] from the
// sums z[e * inChannels * ldz + c * ldz + o] (e < 16) of the transformed tiles' products.
void mlpsh_winograd_weight_gradient(const float *z, int32_t outChannels, int32_t inChannels, int64_t ldz, float *dw,
                                    int32_t accumulate);
#endif
