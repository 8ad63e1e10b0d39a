// axpby: y = a*x + b*y over n floats (b = 0 overwrites y without reading it). Blends style
// targets and serves the optimisers' vector updates.

__kernel void axpby(const int n, const float a, __global const float* x, const float b, __global float* y) {
    const int i = get_global_id(0);
    if (i >= n) return;
    y[i] = b == 0.0f ? a * x[i] : a * x[i] + b * y[i];
}
