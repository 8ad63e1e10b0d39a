// mse: the pieces of a mean-squared-error loss between a and b (content loss, and the style
// loss on Gram matrices).
// mse_partial: partial sums of (a - b)^2, one per work-item, for reduce.cl: grid-stride over
// blocks of 16 floats (a work-item reads whole cache lines; with single floats a CPU work-item
// touched one line per float), then the ragged tail grid-stride by element.
// scaled_diff: out (+)= scale * (a - b), the gradient 2(a - b)/count times the loss weight.

// A_HALF / OUT_HALF: a / out are fp16 storage (see storage.cl); b is always fp32.

#include "sum16.cl"
#ifndef A_HALF
#define A_HALF 0
#endif
#ifndef OUT_HALF
#define OUT_HALF 0
#endif
#include "storage.cl"
#if A_HALF
#define load16_a vload_half16
#else
#define load16_a vload16
#endif

__kernel void mse_partial(__global const STORAGE(A_HALF)* a, __global const float* b, const int n,
                          __global float* partial) {
    const int id = get_global_id(0);
    const int stride = get_global_size(0);
    float16 acc = (float16)(0.0f);
    for (int k = id; k < n / 16; k += stride) {
        const float16 d = load16_a(k, a) - vload16(k, b);
        acc = mad(d, d, acc);
    }
    float s = sum16(acc);
    for (int i = n / 16 * 16 + id; i < n; i += stride) {
        const float d = LOAD(A_HALF, a, i) - b[i];
        s = mad(d, d, s);
    }
    partial[id] = s;
}

__kernel void scaled_diff(__global const STORAGE(A_HALF)* a, __global const float* b, __global STORAGE(OUT_HALF)* out,
                          const int n, const float scale, const int accumulate) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float g = scale * (LOAD(A_HALF, a, i) - b[i]);
    STORE(OUT_HALF, out, i, accumulate ? LOAD(OUT_HALF, out, i) + g : g);
}
