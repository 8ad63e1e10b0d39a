// peak: the device's attainable arithmetic and memory rates, for `impasto bench` to report
// each kernel's share of them.
// fma_peak: independent float16 multiply-add chains, no memory traffic in the loop; each
// work-item does 8 chains × 16 lanes × ITER multiply-adds (2 flops each).
// copy: one read and one write per float.

#ifndef ITER
#define ITER 1024
#endif

__kernel void fma_peak(__global float* out, const float a, const float b) {
    const float s = (float)get_global_id(0) * 1e-7f;
    float16 x0 = (float16)(s), x1 = x0 + 1.0f, x2 = x0 + 2.0f, x3 = x0 + 3.0f;
    float16 x4 = x0 + 4.0f, x5 = x0 + 5.0f, x6 = x0 + 6.0f, x7 = x0 + 7.0f;
    for (int i = 0; i < ITER; ++i) {
        x0 = mad(x0, a, b); x1 = mad(x1, a, b); x2 = mad(x2, a, b); x3 = mad(x3, a, b);
        x4 = mad(x4, a, b); x5 = mad(x5, a, b); x6 = mad(x6, a, b); x7 = mad(x7, a, b);
    }
    const float16 t = (x0 + x1) + (x2 + x3) + (x4 + x5) + (x6 + x7);
    out[get_global_id(0)] = t.s0 + t.s5 + t.sa + t.sf;
}

__kernel void copy(__global const float4* src, __global float4* dst, const int n4) {
    const int i = get_global_id(0);
    if (i < n4) dst[i] = src[i];
}
