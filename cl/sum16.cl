// sum16: the sum of a float16's lanes in a fixed order, so a partial sum does not depend on
// how the compiler vectorises. Included by the reduction kernels (the host inlines
// `#include "sum16.cl"`); never built on its own.

float sum16(const float16 v) {
    float lanes[16];
    vstore16(v, 0, lanes);
    float s = 0.0f;
    for (int l = 0; l < 16; ++l) s += lanes[l];
    return s;
}
