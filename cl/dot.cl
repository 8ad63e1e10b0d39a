// dot: grid-stride partial sums for reduce.cl of a·b (dot_partial) and of |a| (abs_partial):
// the inner products of L-BFGS and the L1 norms of --normalize-gradients.

__kernel void dot_partial(__global const float* a, __global const float* b, const int n, __global float* partial) {
    const int id = get_global_id(0);
    const int stride = get_global_size(0);
    float s = 0.0f;
    for (int i = id; i < n; i += stride) s = mad(a[i], b[i], s);
    partial[id] = s;
}

__kernel void abs_partial(__global const float* a, const int n, __global float* partial) {
    const int id = get_global_id(0);
    const int stride = get_global_size(0);
    float s = 0.0f;
    for (int i = id; i < n; i += stride) s += fabs(a[i]);
    partial[id] = s;
}
