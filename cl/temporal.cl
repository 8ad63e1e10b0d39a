// temporal: Ruder et al.'s short- and long-term temporal loss on the image X (3 x H x W,
// normalised like X): loss = scale * sum_c sum_p c(p) (x[c,p] - t[c,p])^2, with per-pixel
// weights c (the warped earlier frames' reliability; several earlier frames are folded into
// one target t and weight c by the host) and scale = weight / (3 H W), Ruder's 1/D.
// temporal_partial: grid-stride partial sums for reduce.cl.
// temporal_backward: g += 2 scale c (x - t) (added to the other losses' gradient).

__kernel void temporal_partial(__global const float* x, __global const float* t, __global const float* c,
                               const int pixels, const float scale, __global float* partial) {
    const int id = get_global_id(0);
    const int stride = get_global_size(0);
    float s = 0.0f;
    for (int e = id; e < 3 * pixels; e += stride) {
        const float d = x[e] - t[e];
        s += c[e % pixels] * d * d;
    }
    partial[id] = scale * s;
}

__kernel void temporal_backward(__global const float* x, __global const float* t, __global const float* c,
                                const int pixels, const float scale, __global float* g) {
    const int e = get_global_id(0);
    if (e >= 3 * pixels) return;
    g[e] += 2.0f * scale * c[e % pixels] * (x[e] - t[e]);
}
