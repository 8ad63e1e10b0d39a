// gram_backward: gF (+)= S F, the gradient of a Gram-matrix loss with respect to the layer's
// activations F (C x N), where S (C x C, symmetric) already folds in dL/dG, its transpose and
// the 1/(C N) of the Gram matrix. A small GEMM: work-item (rb, nb) computes RB rows by VW
// columns, one vector accumulator per row, each F vector loaded once and used RB times. S is
// symmetric, so the RB coefficients S[i0..i0+RB-1][j] are the contiguous S[j][i0..] and come
// as one vector load; a ragged last row or column block is done element by element.

#ifndef VW
#define VW 16
#endif
#ifndef RB
#define RB 16
#endif

#include "vectors.cl"

#if RB == 16
#define floatR float16
#define vloadR vload16
#define vstoreR vstore16
#elif RB == 8
#define floatR float8
#define vloadR vload8
#define vstoreR vstore8
#else
#error "RB must be 8 or 16"
#endif

__kernel void gram_backward(__global const float* s, __global const float* f, __global float* gf,
                            const int c, const int n, const int accumulate) {
    // Row blocks vary fastest, so the work-items that read one block of F run together and
    // find it in cache (F is read C/RB times in all).
    const int i0 = get_global_id(0) * RB;
    const int n0 = get_global_id(1) * VW;
    if (n0 >= n || i0 >= c) return;
    if (n0 + VW <= n && i0 + RB <= c) {
        floatV acc[RB];
#pragma unroll
        for (int r = 0; r < RB; ++r) acc[r] = (floatV)(0.0f);
        for (int j = 0; j < c; ++j) {
            const floatV fv = vloadV(0, f + (size_t)j * n + n0);
            const floatR sv = vloadR(0, s + (size_t)j * c + i0);
            float sr[RB];
            vstoreR(sv, 0, sr);
#pragma unroll
            for (int r = 0; r < RB; ++r) acc[r] = mad((floatV)(sr[r]), fv, acc[r]);
        }
#pragma unroll
        for (int r = 0; r < RB; ++r) {
            __global float* dst = gf + (size_t)(i0 + r) * n + n0;
            vstoreV(accumulate ? vloadV(0, dst) + acc[r] : acc[r], 0, dst);
        }
    } else {
        const int rows = min(RB, c - i0), end = min(n, n0 + VW);
        for (int r = 0; r < rows; ++r) {
            for (int t = n0; t < end; ++t) {
                float a = 0.0f;
                for (int j = 0; j < c; ++j) a = mad(s[(i0 + r) * c + j], f[(size_t)j * n + t], a);
                __global float* dst = gf + (size_t)(i0 + r) * n + t;
                *dst = accumulate ? *dst + a : a;
            }
        }
    }
}
