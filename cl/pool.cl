// pool: 2x2 pooling, stride 2, floor for odd sizes (the last row/column is dropped), max or
// average (Gatys et al. found average pooling gives smoother results), and their backward.
// Max sends each output gradient to the first maximum of its window (row-major order, as
// PyTorch does); average gives each input of a window a quarter. Both backward passes run one
// work-item per input element (max recomputes its window's argmax, so it needs no saved
// indices) and have no write conflicts; dropped rows/columns get zero.

__kernel void maxpool_forward(__global const float* in, __global float* out,
                              const int c, const int h, const int w) {
    const int ho = h / 2, wo = w / 2;
    const int i = get_global_id(0);
    if (i >= c * ho * wo) return;
    const int ox = i % wo, oy = (i / wo) % ho, ch = i / (wo * ho);
    __global const float* p = in + ((size_t)ch * h + 2 * oy) * w + 2 * ox;
    out[i] = fmax(fmax(p[0], p[1]), fmax(p[w], p[w + 1]));
}

__kernel void maxpool_backward(__global const float* in, __global const float* gout, __global float* gin,
                               const int c, const int h, const int w, const int accumulate) {
    const int ho = h / 2, wo = w / 2;
    const int i = get_global_id(0);
    if (i >= c * h * w) return;
    const int x = i % w, y = (i / w) % h, ch = i / (w * h);
    const int ox = x / 2, oy = y / 2;
    float g = 0.0f;
    if (ox < wo && oy < ho) {
        __global const float* p = in + ((size_t)ch * h + 2 * oy) * w + 2 * ox;
        int best = 0;
        float m = p[0];
        if (p[1] > m) { m = p[1]; best = 1; }
        if (p[w] > m) { m = p[w]; best = 2; }
        if (p[w + 1] > m) { best = 3; }
        const int mine = (y - 2 * oy) * 2 + (x - 2 * ox);
        if (mine == best) g = gout[((size_t)ch * ho + oy) * wo + ox];
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
