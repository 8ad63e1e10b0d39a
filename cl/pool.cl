// pool: 2x2 pooling, stride 2, floor for odd sizes (the last row/column is dropped), max or
// average (Gatys et al. found average pooling gives smoother results), and their backward.
// Max sends each output gradient to the first maximum of its window (row-major order, as
// PyTorch does): the forward keeps that position (0-3) per output as a byte, so the backward
// needs neither the input nor the output. Average gives each input of a window a quarter.
// All run on a 3-D range (x, y, channel), so no work-item divides to find its place. The
// backward passes run one work-item per window of the input rounded up (ceil(h/2) x ceil(w/2)),
// writing its up-to-four inputs: every input once, no conflicts, and zero for the dropped
// row/column. ACT_HALF: activations and their gradients are fp16 storage (see storage.cl).

#ifndef ACT_HALF
#define ACT_HALF 0
#endif
#include "storage.cl"
#define act_t STORAGE(ACT_HALF)

__kernel void maxpool_forward(__global const act_t* in, __global act_t* out, __global uchar* argmax,
                              const int c, const int h, const int w) {
    const int ho = h / 2, wo = w / 2;
    const int ox = get_global_id(0), oy = get_global_id(1), ch = get_global_id(2);
    if (ox >= wo || oy >= ho || ch >= c) return;
    __global const act_t* p = in + ((size_t)ch * h + 2 * oy) * w + 2 * ox;
    const float p0 = LOAD(ACT_HALF, p, 0), p1 = LOAD(ACT_HALF, p, 1);
    const float p2 = LOAD(ACT_HALF, p, w), p3 = LOAD(ACT_HALF, p, w + 1);
    int best = 0;
    float m = p0;
    if (p1 > m) { m = p1; best = 1; }
    if (p2 > m) { m = p2; best = 2; }
    if (p3 > m) { m = p3; best = 3; }
    const size_t o = ((size_t)ch * ho + oy) * wo + ox;
    STORE(ACT_HALF, out, o, m);
    argmax[o] = (uchar)best;
}

// gin[y][x] (+)= g for the input (y, x) of a window.
#define PUT(y, x, g) do { const size_t at_ = ((size_t)ch * h + (y)) * w + (x); \
                          STORE(ACT_HALF, gin, at_, accumulate ? LOAD(ACT_HALF, gin, at_) + (g) : (g)); } while (0)

// Writes a window's (up to) four inputs: g[k] for position k = dy*2 + dx.
#define PUT_WINDOW(g0, g1, g2, g3) do { \
        const int y0 = 2 * oy, x0 = 2 * ox; \
        PUT(y0, x0, g0); \
        if (x0 + 1 < w) PUT(y0, x0 + 1, g1); \
        if (y0 + 1 < h) { PUT(y0 + 1, x0, g2); if (x0 + 1 < w) PUT(y0 + 1, x0 + 1, g3); } \
    } while (0)

__kernel void maxpool_backward(__global const uchar* argmax, __global const act_t* gout, __global act_t* gin,
                               const int c, const int h, const int w, const int accumulate) {
    const int ho = h / 2, wo = w / 2;
    const int ox = get_global_id(0), oy = get_global_id(1), ch = get_global_id(2);
    if (2 * ox >= w || 2 * oy >= h || ch >= c) return;
    float g0 = 0.0f, g1 = 0.0f, g2 = 0.0f, g3 = 0.0f;
    if (ox < wo && oy < ho) {
        const size_t o = ((size_t)ch * ho + oy) * wo + ox;
        const int best = argmax[o];
        const float g = LOAD(ACT_HALF, gout, o);
        g0 = best == 0 ? g : 0.0f; g1 = best == 1 ? g : 0.0f;
        g2 = best == 2 ? g : 0.0f; g3 = best == 3 ? g : 0.0f;
    }
    PUT_WINDOW(g0, g1, g2, g3);
}

__kernel void avgpool_forward(__global const act_t* in, __global act_t* out,
                              const int c, const int h, const int w) {
    const int ho = h / 2, wo = w / 2;
    const int ox = get_global_id(0), oy = get_global_id(1), ch = get_global_id(2);
    if (ox >= wo || oy >= ho || ch >= c) return;
    __global const act_t* p = in + ((size_t)ch * h + 2 * oy) * w + 2 * ox;
    STORE(ACT_HALF, out, ((size_t)ch * ho + oy) * wo + ox,
          0.25f * ((LOAD(ACT_HALF, p, 0) + LOAD(ACT_HALF, p, 1)) + (LOAD(ACT_HALF, p, w) + LOAD(ACT_HALF, p, w + 1))));
}

__kernel void avgpool_backward(__global const act_t* gout, __global act_t* gin,
                               const int c, const int h, const int w, const int accumulate) {
    const int ho = h / 2, wo = w / 2;
    const int ox = get_global_id(0), oy = get_global_id(1), ch = get_global_id(2);
    if (2 * ox >= w || 2 * oy >= h || ch >= c) return;
    const float g = (ox < wo && oy < ho) ? 0.25f * LOAD(ACT_HALF, gout, ((size_t)ch * ho + oy) * wo + ox) : 0.0f;
    PUT_WINDOW(g, g, g, g);
}
