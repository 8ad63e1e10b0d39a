// relu: y = max(x, 0), and its backward. In place is allowed (y may be x, gx may be gy).
// The forward also keeps which elements were positive as bits, 32 to a word (word j holds
// elements 32j … 32j+31, bit b element 32j+b), so the backward needs neither x nor y: the
// activation's buffer is free for reuse as soon as the next layer has read it (1/32 of the
// memory). One work-item per word. ACT_HALF: x, y, gy, gx are fp16 storage (see storage.cl).

#ifndef ACT_HALF
#define ACT_HALF 0
#endif
#include "storage.cl"
#define act_t STORAGE(ACT_HALF)

__kernel void relu_forward(__global const act_t* x, __global act_t* y, __global uint* mask, const int n) {
    const int j = get_global_id(0);
    const int start = 32 * j;
    if (start >= n) return;
    const int end = min(start + 32, n);
    uint bits = 0;
    for (int i = start; i < end; i++) {
        const float v = LOAD(ACT_HALF, x, i);
        if (v > 0.0f) bits |= 1u << (i - start);
        STORE(ACT_HALF, y, i, fmax(v, 0.0f));
    }
    mask[j] = bits;
}

__kernel void relu_backward(__global const uint* mask, __global const act_t* gy, __global act_t* gx,
                            const int n, const int accumulate) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float g = (mask[i / 32] >> (i % 32)) & 1u ? LOAD(ACT_HALF, gy, i) : 0.0f;
    STORE(ACT_HALF, gx, i, accumulate ? LOAD(ACT_HALF, gx, i) + g : g);
}
