// gram_backward: gF (+)= S F, the gradient of a Gram-matrix loss with respect to the layer's
// activations F (C x N), where S (C x C, symmetric) already folds in dL/dG, its transpose and
// the 1/(C N) of the Gram matrix. A small GEMM: work-item (rb, nb) computes RB rows by VW
// columns, one vector accumulator per row, each F vector loaded once and used RB times; a
// ragged last column block is done element by element.

#ifndef VW
#define VW 16
#endif
#ifndef RB
#define RB 8
#endif

#include "vectors.cl"

__kernel void gram_backward(__global const float* s, __global const float* f, __global float* gf,
                            const int c, const int n, const int accumulate) {
    // Row blocks vary fastest, so the work-items that read one block of F run together and
    // find it in cache (F is read C/RB times in all).
    const int i0 = get_global_id(0) * RB;
    const int n0 = get_global_id(1) * VW;
    if (n0 >= n || i0 >= c) return;
    const int rows = min(RB, c - i0);
    if (n0 + VW <= n) {
        floatV acc[RB];
#pragma unroll
        for (int r = 0; r < RB; ++r) acc[r] = (floatV)(0.0f);
        for (int j = 0; j < c; ++j) {
            const floatV fv = vloadV(0, f + (size_t)j * n + n0);
#pragma unroll
            for (int r = 0; r < RB; ++r) {
                // Rows past C reuse row i0 (finite values); they are never stored.
                const int i = i0 + r < c ? i0 + r : i0;
                acc[r] = mad((floatV)(s[i * c + j]), fv, acc[r]);
            }
        }
        for (int r = 0; r < rows; ++r) {
            __global float* dst = gf + (size_t)(i0 + r) * n + n0;
            vstoreV(accumulate ? vloadV(0, dst) + acc[r] : acc[r], 0, dst);
        }
    } else {
        for (int r = 0; r < rows; ++r) {
            for (int t = n0; t < n; ++t) {
                float a = 0.0f;
                for (int j = 0; j < c; ++j) a = mad(s[(i0 + r) * c + j], f[(size_t)j * n + t], a);
                __global float* dst = gf + (size_t)(i0 + r) * n + t;
                *dst = accumulate ? *dst + a : a;
            }
        }
    }
}
