// bilinear: the one bilinear sample of a float plane (H x W) that the flow kernels share, at
// (x, y) in pixels, the position clamped into the plane. Included, not built on its own.
#ifndef IMPASTO_BILINEAR
#define IMPASTO_BILINEAR
inline float bilinear(__global const float* p, const int w, const int h, float x, float y) {
    x = clamp(x, 0.0f, (float)(w - 1));
    y = clamp(y, 0.0f, (float)(h - 1));
    const int x0 = (int)x, y0 = (int)y;
    const int x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1);
    const float fx = x - (float)x0, fy = y - (float)y0;
    const float top = p[y0 * w + x0] * (1.0f - fx) + p[y0 * w + x1] * fx;
    const float bottom = p[y1 * w + x0] * (1.0f - fx) + p[y1 * w + x1] * fx;
    return top * (1.0f - fy) + bottom * fy;
}
#endif
