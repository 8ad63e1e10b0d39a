// gram: G = scale * F F^T for F of shape C x N (a layer's activations), as two passes.
//
// gram_partial: work-item (bi, bj, k) computes the 4x4 block of rows 4bi.., columns 4bj.. over
// the k-th chunk of N, only for blocks on or above the diagonal (G is symmetric), into
// partial[k][C][C]. Loads along N are float16 vectors.
// gram_reduce: sums the chunks, scales, and mirrors the upper triangle, so G is exactly
// symmetric. Grid (C, C).
// F_HALF: F is fp16 storage (see storage.cl); the products and sums are fp32.

#ifndef F_HALF
#define F_HALF 0
#endif
#include "storage.cl"
#if F_HALF
#define load16_f vload_half16
#else
#define load16_f vload16
#endif

__kernel void gram_partial(__global const STORAGE(F_HALF)* f, __global float* partial,
                           const int c, const int n, const int chunk) {
    const int bi = get_global_id(0), bj = get_global_id(1), k = get_global_id(2);
    const int i0 = bi * 4, j0 = bj * 4;
    if (i0 >= c || j0 >= c || bi > bj) return;
    const int start = k * chunk;
    const int end = min(n, start + chunk);
    if (start >= n) return;

    // Rows past C read row 0 instead (finite values); their results are never written.
    // (Offsets rather than an array of pointers: oclgrind's uninitialised-value checker
    // crashes on private arrays of global pointers.)
    int a[4], b[4];
    for (int r = 0; r < 4; ++r) {
        a[r] = (i0 + r < c ? i0 + r : 0) * n;
        b[r] = (j0 + r < c ? j0 + r : 0) * n;
    }
    float16 acc[16];
#pragma unroll
    for (int q = 0; q < 16; ++q) acc[q] = (float16)(0.0f);
    int t = start;
    for (; t + 16 <= end; t += 16) {
        float16 va[4], vb[4];
#pragma unroll
        for (int r = 0; r < 4; ++r) { va[r] = load16_f(0, f + a[r] + t); vb[r] = load16_f(0, f + b[r] + t); }
#pragma unroll
        for (int r = 0; r < 4; ++r)
#pragma unroll
            for (int s = 0; s < 4; ++s) acc[r * 4 + s] = mad(va[r], vb[s], acc[r * 4 + s]);
    }
    float sum[16];
    for (int q = 0; q < 16; ++q) {
        float lanes[16];
        vstore16(acc[q], 0, lanes);
        float s = 0.0f;
        for (int l = 0; l < 16; ++l) s += lanes[l];
        sum[q] = s;
    }
    for (; t < end; ++t)
        for (int r = 0; r < 4; ++r)
            for (int s = 0; s < 4; ++s) sum[r * 4 + s] = mad(LOAD(F_HALF, f, a[r] + t), LOAD(F_HALF, f, b[s] + t), sum[r * 4 + s]);

    for (int r = 0; r < 4; ++r) {
        if (i0 + r >= c) break;
        for (int s = 0; s < 4; ++s) {
            if (j0 + s >= c) break;
            partial[((size_t)k * c + i0 + r) * c + j0 + s] = sum[r * 4 + s];
        }
    }
}

// The host picks chunks so that none is empty: every partial it sums was written.
__kernel void gram_reduce(__global const float* partial, __global float* g,
                          const int c, const int chunks, const float scale) {
    const int i = get_global_id(0), j = get_global_id(1);
    if (i >= c || j >= c) return;
    const int lo = min(i, j), hi = max(i, j);
    float s = 0.0f;
    for (int k = 0; k < chunks; ++k) s += partial[((size_t)k * c + lo) * c + hi];
    g[i * c + j] = s * scale;
}
