// pool: 2x2 pooling, stride 2, floor for odd sizes (the last row/column is dropped), max or
// average (Gatys et al. found average pooling gives smoother results), and their backward.
// Max sends each output gradient to the first maximum of its window (row-major order, as
// PyTorch does): the forward keeps that position (0-3) per output as a byte, so the backward
// needs neither the input nor the output. Average gives each input of a window a quarter.
// Both backward passes run one work-item per input element and have no write conflicts;
// dropped rows/columns get zero.

__kernel void maxpool_forward(__global const float* in, __global float* out, __global uchar* argmax,
                              const int c, const int h, const int w) {
    const int ho = h / 2, wo = w / 2;
    const int i = get_global_id(0);
    if (i >= c * ho * wo) return;
    const int ox = i % wo, oy = (i / wo) % ho, ch = i / (wo * ho);
    __global const float* p = in + ((size_t)ch * h + 2 * oy) * w + 2 * ox;
    int best = 0;
    float m = p[0];
    if (p[1] > m) { m = p[1]; best = 1; }
    if (p[w] > m) { m = p[w]; best = 2; }
    if (p[w + 1] > m) { m = p[w + 1]; best = 3; }
    out[i] = m;
    argmax[i] = (uchar)best;
}

__kernel void maxpool_backward(__global const uchar* argmax, __global const float* gout, __global float* gin,
                               const int c, const int h, const int w, const int accumulate) {
    const int ho = h / 2, wo = w / 2;
    const int i = get_global_id(0);
    if (i >= c * h * w) return;
    const int x = i % w, y = (i / w) % h, ch = i / (w * h);
    const int ox = x / 2, oy = y / 2;
    float g = 0.0f;
    if (ox < wo && oy < ho) {
        const size_t o = ((size_t)ch * ho + oy) * wo + ox;
        const int mine = (y - 2 * oy) * 2 + (x - 2 * ox);
        if (mine == argmax[o]) g = gout[o];
    }
    gin[i] = accumulate ? gin[i] + g : g;
}

__kernel void avgpool_forward(__global const float* in, __global float* out,
                              const int c, const int h, const int w) {
    const int ho = h / 2, wo = w / 2;
    const int i = get_global_id(0);
    if (i >= c * ho * wo) return;
    const int ox = i % wo, oy = (i / wo) % ho, ch = i / (wo * ho);
    __global const float* p = in + ((size_t)ch * h + 2 * oy) * w + 2 * ox;
    out[i] = 0.25f * ((p[0] + p[1]) + (p[w] + p[w + 1]));
}

__kernel void avgpool_backward(__global const float* gout, __global float* gin,
                               const int c, const int h, const int w, const int accumulate) {
    const int ho = h / 2, wo = w / 2;
    const int i = get_global_id(0);
    if (i >= c * h * w) return;
    const int x = i % w, y = (i / w) % h, ch = i / (w * h);
    const int ox = x / 2, oy = y / 2;
    const float g = (ox < wo && oy < ho) ? 0.25f * gout[((size_t)ch * ho + oy) * wo + ox] : 0.0f;
    gin[i] = accumulate ? gin[i] + g : g;
}
