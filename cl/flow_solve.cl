// flow_solve: one level of Horn-Schunck optical flow with warping (Flow/OpticalFlow.swift).
// The flow f maps a pixel p of image A to p + f(p) in image B. Each warp linearises B around
// the current flow f0; red-black successive over-relaxation then minimises
//   sum_p (Ix (u - u0) + Iy (v - v0) + It)^2 + alpha2 * sum_(p,q neighbours) |f(p) - f(q)|^2.
// flow_linearize: It = B(p + f0) - A(p) and the spatial derivatives (central differences,
//   the average of A's at p and B's at p + f0); zero where p + f0 leaves B (only smoothness
//   acts there). f0 is copied beside them: terms = [Ix, Iy, It, u0, v0] planes.
// flow_sor: one half-sweep over the pixels of one colour, (x + y) % 2 == parity, in place: a
//   pixel reads only its own terms and its neighbours of the other colour, so the half-sweep
//   has no races. Each pixel's Gauss-Seidel value over its 4-neighbourhood (mirrored at the
//   borders: fewer neighbours), over-relaxed by omega.
// flow_median: a 3x3 median of each flow plane (borders clamped), against outliers.
#pragma OPENCL FP_CONTRACT OFF

#include "bilinear.cl"

__kernel void flow_linearize(__global const float* a, __global const float* b, const int w, const int h,
                             __global const float* flow, __global float* terms) {
    const int i = get_global_id(0);
    const int n = w * h;
    if (i >= n) return;
    const int x = i % w, y = i / w;
    const float u = flow[i], v = flow[n + i];
    const float px = (float)x + u, py = (float)y + v;
    float ix = 0.0f, iy = 0.0f, it = 0.0f;
    if (px >= 0.0f && px <= (float)(w - 1) && py >= 0.0f && py <= (float)(h - 1)) {
        const float axd = 0.5f * (a[y * w + min(x + 1, w - 1)] - a[y * w + max(x - 1, 0)]);
        const float ayd = 0.5f * (a[min(y + 1, h - 1) * w + x] - a[max(y - 1, 0) * w + x]);
        const float bxd = 0.5f * (bilinear(b, w, h, px + 1.0f, py) - bilinear(b, w, h, px - 1.0f, py));
        const float byd = 0.5f * (bilinear(b, w, h, px, py + 1.0f) - bilinear(b, w, h, px, py - 1.0f));
        ix = 0.5f * (axd + bxd);
        iy = 0.5f * (ayd + byd);
        it = bilinear(b, w, h, px, py) - a[i];
    }
    terms[i] = ix;
    terms[n + i] = iy;
    terms[2 * n + i] = it;
    terms[3 * n + i] = u;
    terms[4 * n + i] = v;
}

__kernel void flow_sor(__global float* flow, __global const float* terms, const int w, const int h,
                       const float alpha2, const float omega, const int parity) {
    const int i = get_global_id(0);
    const int n = w * h;
    if (i >= n) return;
    const int x = i % w, y = i / w;
    if (((x + y) & 1) != parity) return;
    float su = 0.0f, sv = 0.0f, count = 0.0f;
    if (x > 0)     { su += flow[i - 1]; sv += flow[n + i - 1]; count += 1.0f; }
    if (x + 1 < w) { su += flow[i + 1]; sv += flow[n + i + 1]; count += 1.0f; }
    if (y > 0)     { su += flow[i - w]; sv += flow[n + i - w]; count += 1.0f; }
    if (y + 1 < h) { su += flow[i + w]; sv += flow[n + i + w]; count += 1.0f; }
    const float ix = terms[i], iy = terms[n + i], it = terms[2 * n + i];
    const float u0 = terms[3 * n + i], v0 = terms[4 * n + i];
    // Gauss-Seidel: (Ix^2 + alpha2 k) u + Ix Iy v = alpha2 su - Ix (It - Ix u0 - Iy v0), and
    // the same in v; solved for (u, v) jointly (2x2, determinant > 0 for k > 0).
    const float k = alpha2 * count;
    const float r = it - ix * u0 - iy * v0;
    const float bu = alpha2 * su - ix * r, bv = alpha2 * sv - iy * r;
    const float a11 = ix * ix + k, a22 = iy * iy + k, a12 = ix * iy;
    const float det = a11 * a22 - a12 * a12;
    const float gu = (a22 * bu - a12 * bv) / det, gv = (a11 * bv - a12 * bu) / det;
    flow[i] = (1.0f - omega) * flow[i] + omega * gu;
    flow[n + i] = (1.0f - omega) * flow[n + i] + omega * gv;
}

inline float median9(float* s) {
    // Insertion sort of 9 values; the middle one.
    for (int a = 1; a < 9; ++a) {
        const float t = s[a];
        int b = a - 1;
        while (b >= 0 && s[b] > t) { s[b + 1] = s[b]; --b; }
        s[b + 1] = t;
    }
    return s[4];
}

__kernel void flow_median(__global const float* in, __global float* out, const int w, const int h) {
    const int i = get_global_id(0);
    const int n = w * h;
    if (i >= 2 * n) return;
    const int plane = i / n, p = i % n, x = p % w, y = p / w;
    __global const float* f = in + plane * n;
    float s[9];
    int m = 0;
    for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx)
            s[m++] = f[clamp(y + dy, 0, h - 1) * w + clamp(x + dx, 0, w - 1)];
    out[i] = median9(s);
}
