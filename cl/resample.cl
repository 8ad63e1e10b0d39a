// resample: one axis of a separable resize, on the device (the scale changes of a
// coarse-to-fine run move X and Adam's moments to the next size without a host round trip).
// The data is [outer][n][inner] (inner contiguous); the output is [outer][m][inner]. Output
// index o along the axis is sum_k weight[o][k] * in[index[o][k]] over its count[o] taps, in
// tap order, from 0: exactly the host's RGBImage.resized and AdamState.resized sums, which is
// why contraction into fma is off. One kernel serves planar 3xHxW (a row pass: outer = 3H,
// inner = 1; a column pass: outer = 3, inner = W) and interleaved HxWx3 (inner = 3, 3W).
// clamp_unit clamps the result to [0, 1] (pictures, after their last pass).
#pragma OPENCL FP_CONTRACT OFF

__kernel void resample_axis(__global const float* in, __global float* out,
                            __global const int* taps_index, __global const float* taps_weight,
                            __global const int* taps_count, const int max_taps,
                            const int outer, const int n, const int m, const int inner,
                            const int clamp_unit) {
    const int i = get_global_id(0);
    if (i >= outer * m * inner) return;
    const int r = i % inner, o = (i / inner) % m, a = i / (inner * m);
    __global const float* line = in + (size_t)a * n * inner + r;
    float acc = 0.0f;
    const int count = taps_count[o];
    for (int k = 0; k < count; ++k)
        acc += taps_weight[o * max_taps + k] * line[(size_t)taps_index[o * max_taps + k] * inner];
    out[i] = clamp_unit ? fmin(fmax(acc, 0.0f), 1.0f) : acc;
}
