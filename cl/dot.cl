// dot: partial sums for reduce.cl of a·b (dot_partial) and of |a| (abs_partial): the inner
// products of L-BFGS and the L1 norms of --normalize-gradients. Grid-stride over blocks of 16
// floats (whole cache lines per work-item), then the ragged tail by element.

#include "sum16.cl"

__kernel void dot_partial(__global const float* a, __global const float* b, const int n, __global float* partial) {
    const int id = get_global_id(0);
    const int stride = get_global_size(0);
    float16 acc = (float16)(0.0f);
    for (int k = id; k < n / 16; k += stride) acc = mad(vload16(k, a), vload16(k, b), acc);
    float s = sum16(acc);
    for (int i = n / 16 * 16 + id; i < n; i += stride) s = mad(a[i], b[i], s);
    partial[id] = s;
}

__kernel void abs_partial(__global const float* a, const int n, __global float* partial) {
    const int id = get_global_id(0);
    const int stride = get_global_size(0);
    float16 acc = (float16)(0.0f);
    for (int k = id; k < n / 16; k += stride) acc += fabs(vload16(k, a));
    float s = sum16(acc);
    for (int i = n / 16 * 16 + id; i < n; i += stride) s += fabs(a[i]);
    partial[id] = s;
}
