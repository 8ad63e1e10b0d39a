// gram_backward: gF (+)= S F (+ b 1^T with has_bias: W2's per-channel term, added before
// gF is rounded to its storage), the gradient of a Gram-matrix loss with respect to the layer's
// activations F (C x N), where S (C x C, symmetric) already folds in dL/dG, its transpose and
// the 1/(C N) of the Gram matrix. A small GEMM: work-item (rb, nb) computes RB rows by VW
// columns, one vector accumulator per row, each F vector loaded once and used RB times. S is
// symmetric, so the RB coefficients S[i0..i0+RB-1][j] are the contiguous S[j][i0..] and come
// as one vector load; a ragged last row or column block loads zeros past the edge and stores
// only what lies inside. Every work-item's loops run c trips (no driver's loop limit is near).

#ifndef VW
#define VW 16
#endif
#ifndef RB
#define RB 16
#endif

// F_HALF / GF_HALF: F / gF are fp16 storage (see storage.cl); S and the sums are fp32.
#ifndef F_HALF
#define F_HALF 0
#endif
#ifndef GF_HALF
#define GF_HALF 0
#endif

#include "vectors.cl"
#include "storage.cl"
#define f_t STORAGE(F_HALF)
#define gf_t STORAGE(GF_HALF)

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

__kernel void gram_backward(__global const float* s, __global const f_t* f, __global gf_t* gf,
                            const int c, const int n, const int accumulate, __global const float* bias, const int has_bias) {
    // Row blocks vary fastest, so the work-items that read one block of F run together and
    // find it in cache (F is read C/RB times in all).
    const int i0 = get_global_id(0) * RB;
    const int n0 = get_global_id(1) * VW;
    if (n0 >= n || i0 >= c) return;
    if (n0 + VW <= n && i0 + RB <= c) {
        floatV acc[RB];
#pragma unroll
        for (int r = 0; r < RB; ++r) acc[r] = (floatV)(has_bias ? bias[i0 + r] : 0.0f);
        for (int j = 0; j < c; ++j) {
            const floatV fv = LOADV(F_HALF, 0, f + (size_t)j * n + n0);
            const floatR sv = vloadR(0, s + (size_t)j * c + i0);
            float sr[RB];
            vstoreR(sv, 0, sr);
#pragma unroll
            for (int r = 0; r < RB; ++r) acc[r] = mad((floatV)(sr[r]), fv, acc[r]);
        }
#pragma unroll
        for (int r = 0; r < RB; ++r) {
            __global gf_t* dst = gf + (size_t)(i0 + r) * n + n0;
            STOREV(GF_HALF, accumulate ? LOADV(GF_HALF, 0, dst) + acc[r] : acc[r], 0, dst);
        }
    } else {
        // The same accumulation with zeros loaded past the ragged edges: one loop of c trips
        // per work-item, like the full blocks (a loop nest of RB x VW x c trips here once ran
        // past llvmpipe's 65535-iteration limit and silently stopped early).
        const int rows = min(RB, c - i0), cols = min(VW, n - n0);
        floatV acc[RB];
#pragma unroll
        for (int r = 0; r < RB; ++r) acc[r] = (floatV)(has_bias && r < rows ? bias[i0 + r] : 0.0f);
        for (int j = 0; j < c; ++j) {
            float fl[VW];
#pragma unroll
            for (int t = 0; t < VW; ++t) fl[t] = t < cols ? LOAD(F_HALF, f, (size_t)j * n + n0 + t) : 0.0f;
            const floatV fv = vloadV(0, fl);
#pragma unroll
            for (int r = 0; r < RB; ++r) acc[r] = mad((floatV)(r < rows ? s[(size_t)j * c + i0 + r] : 0.0f), fv, acc[r]);
        }
        for (int r = 0; r < rows; ++r) {
            float out[VW];
            vstoreV(acc[r], 0, out);
            __global gf_t* dst = gf + (size_t)(i0 + r) * n + n0;
            for (int t = 0; t < cols; ++t) STORE(GF_HALF, dst, t, accumulate ? LOAD(GF_HALF, dst, t) + out[t] : out[t]);
        }
    }
}
