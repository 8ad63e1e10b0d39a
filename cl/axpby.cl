// axpby: y = a*x + b*y over n floats (b = 0 overwrites y without reading it), and two
// relatives: blending style targets, the optimisers' vector updates, normalised gradients, masks.

__kernel void axpby(const int n, const float a, __global const float* x, const float b, __global float* y) {
    const int i = get_global_id(0);
    if (i >= n) return;
    y[i] = b == 0.0f ? a * x[i] : a * x[i] + b * y[i];
}

// add_normalized: y (+)= weight * x / (norms[slot] + 1e-8), the L1-normalised gradient of
// neural-style's -normalize_gradients, with the norm read on the device (no round trip).
__kernel void add_normalized(const int n, const float weight, __global const float* x,
                             __global const float* norms, const int slot, __global float* y,
                             const int accumulate) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float g = weight * x[i] / (norms[slot] + 1e-8f);
    y[i] = accumulate ? y[i] + g : g;
}

// mask_multiply: out (+)= x * mask[p] for x of shape C x N and a per-pixel mask of N values
// (spatial control: the style loss sees only the masked part of a layer).
__kernel void mask_multiply(const int c, const int n, __global const float* x, __global const float* mask,
                            __global float* out, const int accumulate) {
    const int i = get_global_id(0);
    if (i >= c * n) return;
    const float v = x[i] * mask[i % n];
    out[i] = accumulate ? out[i] + v : v;
}
