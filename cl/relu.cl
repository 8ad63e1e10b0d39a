// relu: y = max(x, 0), and its backward. In place is allowed (y may be x, gx may be gy).
// The backward needs only the forward's output: y > 0 exactly where x > 0.

__kernel void relu_forward(__global const float* x, __global float* y, const int n) {
    const int i = get_global_id(0);
    if (i < n) y[i] = fmax(x[i], 0.0f);
}

__kernel void relu_backward(__global const float* y, __global const float* gy, __global float* gx,
                            const int n, const int accumulate) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float g = y[i] > 0.0f ? gy[i] : 0.0f;
    gx[i] = accumulate ? gx[i] + g : g;
}
