// avgpool: 2x2 average pool, stride 2, floor for odd sizes, and its backward (each input of a
// window gets a quarter of the window's gradient; dropped rows/columns get zero). The
// alternative to max-pooling that Gatys et al. found gives smoother results.

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
