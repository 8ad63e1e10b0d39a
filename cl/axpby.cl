// axpby: y = a*x + b*y over n floats (b = 0 overwrites y without reading it: blending style
// targets, the optimisers' vector updates), and its relatives: a coefficient from the device,
// normalised gradients, masks.
// X_HALF / Y_HALF / OUT_HALF: that buffer is fp16 storage (see storage.cl).

#ifndef X_HALF
#define X_HALF 0
#endif
#ifndef Y_HALF
#define Y_HALF 0
#endif
#ifndef OUT_HALF
#define OUT_HALF 0
#endif
#include "storage.cl"

__kernel void axpby(const int n, const float a, __global const STORAGE(X_HALF)* x, const float b,
                    __global STORAGE(Y_HALF)* y) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float ax = a * LOAD(X_HALF, x, i);
    STORE(Y_HALF, y, i, b == 0.0f ? ax : ax + b * LOAD(Y_HALF, y, i));
}

// axpby_scalars: axpby in fp32 whose coefficient a = c[plus] - c[minus] the device computed
// (L-BFGS's two-loop recursion: no round trip for its inner products).
__kernel void axpby_scalars(const int n, __global const float* c, const int plus, const int minus,
                            __global const float* x, const float b, __global float* y) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float a = c[plus] - c[minus];
    const float ax = a * x[i];
    y[i] = b == 0.0f ? ax : ax + b * y[i];
}

// add_normalized: y (+)= weight * x / (norms[slot] + 1e-8), the L1-normalised gradient of
// neural-style's -normalize_gradients, with the norm read on the device (no round trip).
__kernel void add_normalized(const int n, const float weight, __global const float* x,
                             __global const float* norms, const int slot, __global STORAGE(Y_HALF)* y,
                             const int accumulate) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float g = weight * x[i] / (norms[slot] + 1e-8f);
    STORE(Y_HALF, y, i, accumulate ? LOAD(Y_HALF, y, i) + g : g);
}

// mask_multiply: out (+)= x * mask[p] for x of shape C x N and a per-pixel mask of N values
// (spatial control: the style loss sees only the masked part of a layer).
__kernel void mask_multiply(const int c, const int n, __global const STORAGE(X_HALF)* x, __global const float* mask,
                            __global STORAGE(OUT_HALF)* out, const int accumulate) {
    const int i = get_global_id(0);
    if (i >= c * n) return;
    const float v = LOAD(X_HALF, x, i) * mask[i % n];
    STORE(OUT_HALF, out, i, accumulate ? LOAD(OUT_HALF, out, i) + v : v);
}
