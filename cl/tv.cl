// tv: total-variation loss (L1, as the seed defines it) on a C x H x W image:
//   tv = sv * sum |x[c,i+1,j] - x[c,i,j]| + sh * sum |x[c,i,j+1] - x[c,i,j]|
// where the host sets sv = 0.5 w / (C (H-1) W) and sh = 0.5 w / (C H (W-1)) (means, halved,
// times the loss weight w).
// tv_partial: grid-stride partial sums for reduce.cl.
// tv_backward: g (+)= dtv/dx, with sign(0) = 0 as PyTorch's |x|' has it. One work-item per
// pixel, gathering from its neighbours, so no two items write the same place.

__kernel void tv_partial(__global const float* x, const int c, const int h, const int w,
                         const float sv, const float sh, __global float* partial) {
    const int id = get_global_id(0);
    const int stride = get_global_size(0);
    const int n = c * h * w;
    float s = 0.0f;
    for (int e = id; e < n; e += stride) {
        const int j = e % w, i = (e / w) % h;
        if (i + 1 < h) s += sv * fabs(x[e + w] - x[e]);
        if (j + 1 < w) s += sh * fabs(x[e + 1] - x[e]);
    }
    partial[id] = s;
}

__kernel void tv_backward(__global const float* x, __global float* g, const int c, const int h, const int w,
                          const float sv, const float sh, const int accumulate) {
    const int e = get_global_id(0);
    if (e >= c * h * w) return;
    const int j = e % w, i = (e / w) % h;
    const float v = x[e];
    float d = 0.0f;
    if (i > 0) d += sv * sign(v - x[e - w]);
    if (i + 1 < h) d -= sv * sign(x[e + w] - v);
    if (j > 0) d += sh * sign(v - x[e - 1]);
    if (j + 1 < w) d -= sh * sign(x[e + 1] - v);
    g[e] = accumulate ? g[e] + d : d;
}
