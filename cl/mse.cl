// mse: the pieces of a mean-squared-error loss between a and b (content loss, and the style
// loss on Gram matrices).
// mse_partial: partial sums of (a - b)^2, one per work-item, for reduce.cl: grid-stride over
// blocks of 16 floats (a work-item reads whole cache lines; with single floats a CPU work-item
// touched one line per float), then the ragged tail grid-stride by element.
// scaled_diff: out (+)= scale * (a - b), the gradient 2(a - b)/count times the loss weight.

#include "sum16.cl"

__kernel void mse_partial(__global const float* a, __global const float* b, const int n,
                          __global float* partial) {
    const int id = get_global_id(0);
    const int stride = get_global_size(0);
    float16 acc = (float16)(0.0f);
    for (int k = id; k < n / 16; k += stride) {
        const float16 d = vload16(k, a) - vload16(k, b);
        acc = mad(d, d, acc);
    }
    float s = sum16(acc);
    for (int i = n / 16 * 16 + id; i < n; i += stride) {
        const float d = a[i] - b[i];
        s = mad(d, d, s);
    }
    partial[id] = s;
}

__kernel void scaled_diff(__global const float* a, __global const float* b, __global float* out,
                          const int n, const float scale, const int accumulate) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float g = scale * (a[i] - b[i]);
    out[i] = accumulate ? out[i] + g : g;
}
