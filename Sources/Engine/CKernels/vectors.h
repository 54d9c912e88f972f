// The 8-float vectors and helpers the kernels share (private to CKernels).
#ifndef MLPSH_VECTORS_H
#define MLPSH_VECTORS_H
#include <stdint.h>
#include <string.h>

typedef float v8 __attribute__((vector_size(32)));
// Inlined everywhere, so each clone of a kernel compiles them for its own CPU.
#define INLINE static inline __attribute__((always_inline))

INLINE v8 load8(const float *p) { v8 v; memcpy(&v, p, sizeof v); return v; }
INLINE void store8(float *p, v8 v) { memcpy(p, &v, sizeof v); }
INLINE v8 splat(float x) { return (v8){x, x, x, x, x, x, x, x}; }

#if defined(__x86_64__) && defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
// Also for AVX-512 CPUs: the same 8-float vectors, with 32 registers to hold them.
#define MULTIVERSION_WIDE __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#define MULTIVERSION_WIDE
#endif

typedef int32_t i8v __attribute__((vector_size(32)));

// Lanes 0, 2, 4, ... and 1, 3, 5, ... of the 16 floats a, b.
#define EVENS(a, b) __builtin_shufflevector((a), (b), 0, 2, 4, 6, 8, 10, 12, 14)
#define ODDS(a, b) __builtin_shufflevector((a), (b), 1, 3, 5, 7, 9, 11, 13, 15)
// The 16 floats a0, b0, a1, b1, ... as two vectors.
#define INTERLEAVE_LO(a, b) __builtin_shufflevector((a), (b), 0, 8, 1, 9, 2, 10, 3, 11)
#define INTERLEAVE_HI(a, b) __builtin_shufflevector((a), (b), 4, 12, 5, 13, 6, 14, 7, 15)

// The sum of n floats, 8 lanes at a time.
INLINE float sum_floats(const float *p, int64_t n) {
    v8 acc = splat(0);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) acc += load8(p + i);
    float t = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; i++) t += p[i];
    return t;
}

// An 8x8 block transposed: rows r[0..7] in, columns out.
INLINE void transpose8(v8 r[8]) {
    v8 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = __builtin_shufflevector(t[i], t[i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
        u[i + 1] = __builtin_shufflevector(t[i], t[i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        u[i + 2] = __builtin_shufflevector(t[i + 1], t[i + 3], 0, 1, 8, 9, 4, 5, 12, 13);
        u[i + 3] = __builtin_shufflevector(t[i + 1], t[i + 3], 2, 3, 10, 11, 6, 7, 14, 15);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = __builtin_shufflevector(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        r[i + 4] = __builtin_shufflevector(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

// (Vector values pass only between functions built for the same CPU: the clones below call
// helpers like this one, which take and return pointers.)
INLINE void transpose_in(const float *src, int32_t positions, int32_t channels, float *dst, int64_t ldd, float *sums) {
    for (int32_t o0 = 0; o0 < ldd; o0 += 8) {
        int32_t q = 0;
        for (; q + 8 <= positions; q += 8) {
            v8 r[8];
            for (int i = 0; i < 8; i++) r[i] = o0 + i < channels ? load8(src + (int64_t)(o0 + i) * positions + q) : splat(0);
            transpose8(r);
            for (int i = 0; i < 8; i++) store8(dst + (q + i) * ldd + o0, r[i]);
        }
        for (; q < positions; q++) {
            for (int32_t o = o0; o < o0 + 8; o++) dst[q * ldd + o] = o < channels ? src[(int64_t)o * positions + q] : 0;
        }
    }
    if (sums) {
        for (int32_t o = 0; o < channels; o++) sums[o] += sum_floats(src + (int64_t)o * positions, positions);
    }
}
#endif
