// warp: a picture moved along a flow field (video: the previous stylized frame brought to the
// current frame). out(p) = in(p + f(p)), bilinear, the position clamped into the picture;
// interleaved channels (C per pixel); the flow is two planes, u then v, of the output's size.
#pragma OPENCL FP_CONTRACT OFF

__kernel void warp_image(__global const float* in, const int channels, const int w, const int h,
                         __global const float* flow, __global float* out) {
    const int i = get_global_id(0);
    const int n = w * h;
    if (i >= n) return;
    const int x = i % w, y = i / w;
    const float px = clamp((float)x + flow[i], 0.0f, (float)(w - 1));
    const float py = clamp((float)y + flow[n + i], 0.0f, (float)(h - 1));
    const int x0 = (int)px, y0 = (int)py;
    const int x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1);
    const float fx = px - (float)x0, fy = py - (float)y0;
    for (int c = 0; c < channels; ++c) {
        const float top = in[(y0 * w + x0) * channels + c] * (1.0f - fx) + in[(y0 * w + x1) * channels + c] * fx;
        const float bottom = in[(y1 * w + x0) * channels + c] * (1.0f - fx) + in[(y1 * w + x1) * channels + c] * fx;
        out[i * channels + c] = top * (1.0f - fy) + bottom * fy;
    }
}
