// image: conversion between pixels and the network's input space.
// normalize_image: interleaved RGB in [0,1] (H x W x 3) -> planar (3 x H x W), (x - mean) / std per
// channel with ImageNet's statistics.
// denormalize_image: the inverse, clamped to [0,1], back to interleaved RGB.

__constant float MEAN[3] = {0.485f, 0.456f, 0.406f};
__constant float STD[3] = {0.229f, 0.224f, 0.225f};

__kernel void normalize_image(__global const float* rgb, __global float* x, const int h, const int w) {
    const int p = get_global_id(0);
    if (p >= h * w) return;
    for (int c = 0; c < 3; ++c) x[(size_t)c * h * w + p] = (rgb[(size_t)p * 3 + c] - MEAN[c]) / STD[c];
}

__kernel void denormalize_image(__global const float* x, __global float* rgb, const int h, const int w) {
    const int p = get_global_id(0);
    if (p >= h * w) return;
    for (int c = 0; c < 3; ++c)
        rgb[(size_t)p * 3 + c] = clamp(x[(size_t)c * h * w + p] * STD[c] + MEAN[c], 0.0f, 1.0f);
}
