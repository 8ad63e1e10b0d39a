// flow_pyramid: the image pyramid and flow resizing of coarse-to-fine optical flow
// (Flow/OpticalFlow.swift). Images are one float plane (grey levels 0..255), H x W; a flow
// field is two planes, u then v (pixels along x and y).
// gray_from_rgb: interleaved RGB in [0, 1] -> luma (BT.601 weights) in 0..255.
// pyr_down: a 5-tap binomial blur (1 4 6 4 1)/16 in x and y, sampled at even pixels, borders
//   clamped: an (h+1)/2 x (w+1)/2 level.
// flow_upsample: a coarse flow bilinearly resampled at the fine level's pixel centres, its
//   vectors scaled by the size ratios.
// FP_CONTRACT is off so that the CPU reference (Tests) sums the same way.
#pragma OPENCL FP_CONTRACT OFF

__kernel void gray_from_rgb(__global const float* rgb, __global float* gray, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    gray[i] = 255.0f * (0.299f * rgb[3 * i] + 0.587f * rgb[3 * i + 1] + 0.114f * rgb[3 * i + 2]);
}

__kernel void pyr_down(__global const float* in, const int w, const int h,
                       __global float* out, const int ow, const int oh) {
    const int i = get_global_id(0);
    if (i >= ow * oh) return;
    const int x = i % ow, y = i / ow;
    const float k[5] = {1.0f, 4.0f, 6.0f, 4.0f, 1.0f};
    float acc = 0.0f;
    for (int dy = -2; dy <= 2; ++dy) {
        const int yy = clamp(2 * y + dy, 0, h - 1);
        float row = 0.0f;
        for (int dx = -2; dx <= 2; ++dx) row += k[dx + 2] * in[yy * w + clamp(2 * x + dx, 0, w - 1)];
        acc += k[dy + 2] * row;
    }
    out[i] = acc / 256.0f;
}

#include "bilinear.cl"

__kernel void flow_upsample(__global const float* coarse, const int cw, const int ch,
                            __global float* fine, const int fw, const int fh) {
    const int i = get_global_id(0);
    if (i >= fw * fh) return;
    const int x = i % fw, y = i / fw;
    const float sx = (float)cw / (float)fw, sy = (float)ch / (float)fh;
    const float cx = ((float)x + 0.5f) * sx - 0.5f, cy = ((float)y + 0.5f) * sy - 0.5f;
    fine[i] = bilinear(coarse, cw, ch, cx, cy) / sx;
    fine[fw * fh + i] = bilinear(coarse + cw * ch, cw, ch, cx, cy) / sy;
}
