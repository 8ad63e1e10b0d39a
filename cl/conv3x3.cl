// conv3x3: 3x3 convolution, stride 1, zero padding 1, plus bias, on one CHW image.
//
// Also the backward pass with respect to the input: that is the same convolution of the
// output gradient with the weights rotated 180 degrees and in/out channels swapped, which
// the host prepares once (bias zero), so one kernel serves both directions.
//
// Each work-item computes an 8-channel by PX-pixel block of one output row: eight output
// channels live in one float8 so every weight load is a vector, and each input value loaded
// is used 8*3 times. Weights are laid out [cin][9][coutPad] (coutPad = cout rounded up to 8,
// padding zero) so the 8 weights of a tap are contiguous.
//
// Grid: (ceil(w/PX), h, coutPad/8). Any local size; bounds are checked here.

#ifndef PX
#define PX 8  // output pixels per work-item along x
#endif

__kernel void conv3x3(__global const float* in,      // [cin][h][w]
                      __global const float* weights, // [cin][9][coutPad]
                      __global const float* bias,    // [coutPad]
                      __global float* out,           // [cout][h][w]
                      const int cin, const int cout, const int h, const int w,
                      const int accumulate)          // 1: out += result, 0: out = result
{
    const int x0 = get_global_id(0) * PX;
    const int y = get_global_id(1);
    const int ob = get_global_id(2);
    const int coutPad = (cout + 7) & ~7;
    if (x0 >= w || y >= h || ob * 8 >= cout) return;

    float8 acc[PX];
    const float8 b = vload8(ob, bias);
    for (int p = 0; p < PX; ++p) acc[p] = b;

    for (int ic = 0; ic < cin; ++ic) {
        for (int ky = 0; ky < 3; ++ky) {
            const int iy = y + ky - 1;
            if (iy < 0 || iy >= h) continue;
            __global const float* row = in + ((size_t)ic * h + iy) * w;
            float v[PX + 2];
            for (int j = 0; j < PX + 2; ++j) {
                const int xx = x0 - 1 + j;
                v[j] = (xx >= 0 && xx < w) ? row[xx] : 0.0f;
            }
            __global const float* wk = weights + ((size_t)ic * 9 + ky * 3) * coutPad + ob * 8;
            for (int kx = 0; kx < 3; ++kx) {
                const float8 wv = vload8(0, wk + kx * coutPad);
                for (int p = 0; p < PX; ++p) acc[p] = mad(wv, (float8)(v[p + kx]), acc[p]);
            }
        }
    }

    const int oc0 = ob * 8;
    for (int p = 0; p < PX; ++p) {
        const int x = x0 + p;
        if (x >= w) break;
        float r[8];
        vstore8(acc[p], 0, r);
        for (int o = 0; o < 8; ++o) {
            if (oc0 + o >= cout) break;
            __global float* dst = out + ((size_t)(oc0 + o) * h + y) * w + x;
            *dst = accumulate ? *dst + r[o] : r[o];
        }
    }
}
