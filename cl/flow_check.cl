// flow_check: which pixels of the current frame the warped previous frame can be trusted at
// (Ruder et al. 2016, after Sundaram et al. 2010). With the backward flow b (current ->
// previous) and the forward flow f (previous -> current), a pixel p is reliable (weight 1)
// unless
//   - p + b(p) leaves the picture, or
//   - the flows disagree (a disocclusion): |b(p) + f(p + b(p))|^2 > 0.01 (|b(p)|^2 + |f(p + b(p))|^2) + 0.5, or
//   - it is on a motion boundary: |grad b_u|^2 + |grad b_v|^2 > 0.01 |b(p)|^2 + 0.002
//     (central differences, one-sided at the borders).
#pragma OPENCL FP_CONTRACT OFF

#include "bilinear.cl"

// The derivative along one axis at index i of a line with steps of `step`, at position t of n.
inline float derivative(__global const float* p, const int i, const int t, const int n, const int step) {
    if (n < 2) return 0.0f;
    if (t == 0) return p[i + step] - p[i];
    if (t == n - 1) return p[i] - p[i - step];
    return 0.5f * (p[i + step] - p[i - step]);
}

__kernel void flow_consistency(__global const float* backward, __global const float* forward,
                               const int w, const int h, __global float* weights) {
    const int i = get_global_id(0);
    const int n = w * h;
    if (i >= n) return;
    const int x = i % w, y = i / w;
    const float bu = backward[i], bv = backward[n + i];
    const float px = (float)x + bu, py = (float)y + bv;
    float reliable = 1.0f;
    if (px < 0.0f || px > (float)(w - 1) || py < 0.0f || py > (float)(h - 1)) {
        reliable = 0.0f;
    } else {
        const float fu = bilinear(forward, w, h, px, py), fv = bilinear(forward + n, w, h, px, py);
        const float du = bu + fu, dv = bv + fv;
        if (du * du + dv * dv > 0.01f * (bu * bu + bv * bv + fu * fu + fv * fv) + 0.5f) reliable = 0.0f;
        const float ux = derivative(backward, i, x, w, 1), uy = derivative(backward, i, y, h, w);
        const float vx = derivative(backward + n, i, x, w, 1), vy = derivative(backward + n, i, y, h, w);
        if (ux * ux + uy * uy + vx * vx + vy * vy > 0.01f * (bu * bu + bv * bv) + 0.002f) reliable = 0.0f;
    }
    weights[i] = reliable;
}
