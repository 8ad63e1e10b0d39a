// conv_small: 3x3 convolution, stride 1, zero padding 1, plus bias, on one CHW image: the
// variant for small maps with many channels (VGG19's 512-channel layers at 8x6 or 4x3).
//
// Vectorised along output channels instead of x: each work-item computes PX consecutive
// pixels of PY rows for 16 output channels, every pixel's accumulator one 16-wide vector.
// A weight vector (16 output channels of one input channel and tap, contiguous in
// cl/conv3x3.cl's [cin][9][coutPad] layout, the same buffers) is loaded once per work-item and
// used PX*PY/3 times or more; each input value is a scalar broadcast. cl/conv3x3.cl vectorises
// along x, which on a 4- or 8-wide map leaves most lanes idle and takes its ragged path;
// Winograd's transformed weights are 4x the direct ones, and on a handful of tiles reading the
// weights is the whole cost.
//
// The backward pass with respect to the input is the same convolution with the host's
// rotated, transposed weights (cl/conv3x3.cl's backward layout), bias zero.
//
// ReLU fusion and masks exactly as cl/conv3x3.cl: mask_mode 1 stores max(out, 0) and ORs the
// bits of out > 0 into `mask` (zeroed by the host first); mask_mode 2 reads the input times
// `mask`'s bits. PX divides 32 and x0 is a multiple of PX, so a work-item's pixels of a row
// lie in one mask word.
//
// IN_HALF / OUT_HALF: the input / output is fp16 storage (see storage.cl).
//
// Grid: (ceil(w/PX), ceil(h/PY), cout/16); cout must be a multiple of 16. Any local size.

#ifndef PX
#define PX 4   // output pixels per work-item along x: 1, 2, 4, 8 or 16
#endif
#ifndef PY
#define PY 2   // output rows per work-item
#endif
#ifndef IN_HALF
#define IN_HALF 0
#endif
#ifndef OUT_HALF
#define OUT_HALF 0
#endif

#include "storage.cl"
#define in_t STORAGE(IN_HALF)
#define out_t STORAGE(OUT_HALF)

#define ROW_BIT(mrow, x) ((mrow[(x) >> 5] >> ((x) & 31)) & 1u)

__kernel void conv3x3_small(__global const in_t* in,       // [cin][h][w]
                            __global const float* weights, // [cin][9][cout]
                            __global const float* bias,    // [cout]
                            __global out_t* out,           // [cout][h][w]
                            const int cin, const int cout, const int h, const int w,
                            const int accumulate,          // 1: out += result, 0: out = result
                            __global uint* mask,           // [c][h][ceil(w/32)] words, see mask_mode
                            const int mask_mode)           // 0: none, 1: ReLU on the output, 2: masked input
{
    const int x0 = get_global_id(0) * PX;
    const int y0 = get_global_id(1) * PY;
    const int oc0 = get_global_id(2) * 16;
    if (x0 >= w || y0 >= h || oc0 >= cout) return;
    const int words = (w + 31) / 32;
    const int masked = mask_mode == 2;

    const float16 b = vload16(0, bias + oc0);
    float16 acc[PY][PX];
#pragma unroll
    for (int r = 0; r < PY; ++r)
#pragma unroll
        for (int p = 0; p < PX; ++p) acc[r][p] = b;

    for (int ic = 0; ic < cin; ++ic) {
        __global const float* wic = weights + (size_t)ic * 9 * cout + oc0;
        // Input rows y0-1 .. y0+PY: row j feeds output row r through kernel row ky = j - r.
        for (int j = 0; j < PY + 2; ++j) {
            const int iy = y0 - 1 + j;
            if (iy < 0 || iy >= h) continue;
            __global const in_t* row = in + ((size_t)ic * h + iy) * w;
            __global const uint* mrow = mask + ((size_t)ic * h + iy) * words;
            float v[PX + 2];
#pragma unroll
            for (int q = 0; q < PX + 2; ++q) {
                const int x = x0 - 1 + q;
                v[q] = x >= 0 && x < w && (!masked || ROW_BIT(mrow, x)) ? LOAD(IN_HALF, row, x) : 0.0f;
            }
#pragma unroll
            for (int r = 0; r < PY; ++r) {
                const int ky = j - r;
                if (ky < 0 || ky > 2) continue;
                __global const float* wk = wic + ky * 3 * cout;
                const float16 w0 = vload16(0, wk), w1 = vload16(0, wk + cout), w2 = vload16(0, wk + 2 * cout);
#pragma unroll
                for (int p = 0; p < PX; ++p) {
                    acc[r][p] = mad((float16)(v[p]), w0, acc[r][p]);
                    acc[r][p] = mad((float16)(v[p + 1]), w1, acc[r][p]);
                    acc[r][p] = mad((float16)(v[p + 2]), w2, acc[r][p]);
                }
            }
        }
    }

    const int lanes = min(PX, w - x0);
#pragma unroll
    for (int r = 0; r < PY; ++r) {
        const int y = y0 + r;
        if (y >= h) break;
        float t[PX][16];
#pragma unroll
        for (int p = 0; p < PX; ++p) vstore16(acc[r][p], 0, t[p]);
        for (int o = 0; o < 16; ++o) {
            __global out_t* dst = out + ((size_t)(oc0 + o) * h + y) * w + x0;
            if (mask_mode == 1) {
                uint bits = 0;
                for (int p = 0; p < lanes; ++p) {
                    bits |= (t[p][o] > 0.0f ? 1u : 0u) << p;
                    t[p][o] = fmax(t[p][o], 0.0f);
                }
                atomic_or(mask + ((size_t)(oc0 + o) * h + y) * words + (x0 >> 5), bits << (x0 & 31));
            }
            for (int p = 0; p < lanes; ++p) STORE(OUT_HALF, dst, p, accumulate ? LOAD(OUT_HALF, dst, p) + t[p][o] : t[p][o]);
        }
    }
}
