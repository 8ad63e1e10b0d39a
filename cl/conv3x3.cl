// conv3x3: 3x3 convolution, stride 1, zero padding 1, plus bias, on one CHW image.
//
// Also the backward pass with respect to the input: that is the same convolution of the
// output gradient with the weights rotated 180 degrees and in/out channels swapped, which
// the host prepares once (bias zero), so one kernel serves both directions.
//
// Each work-item computes VW consecutive pixels of YB output rows for OCB output channels.
// The VW pixels live in one vector per row and channel (YB*OCB accumulators), so every input
// load is a vector load used up to 3*OCB times and every weight is a scalar broadcast: on a
// CPU device the vectors are SIMD registers; on a GPU the same code is a register-blocked
// direct conv.
// Weights are laid out [cin][9][coutPad] (coutPad = cout rounded up to OCB, padding zero).
// A full block loads its VW pixels as one vector and builds the left and right neighbours
// by shifting in one scalar each (zero past an edge); only a ragged last block loads lane by
// lane with bounds checks.
//
// ReLU fuses into both ends, with masks laid out as cl/winograd.cl lays them (one bit per
// element, rows of ceil(w/32) words): mask_mode 1 stores max(out, 0) and ORs the bits of
// out > 0 into `mask` (the host zeroes it first: 32/VW work-items share a word); mask_mode 2
// reads the input times `mask`'s bits (the ReLU's backward, ahead of this conv's backward).
// VW divides 32 and x0 is a multiple of VW, so a work-item's pixels lie in one mask word.
//
// IN_HALF / OUT_HALF: the input / output is fp16 storage (see storage.cl).
//
// Grid: (ceil(w/VW), ceil(h/YB), coutPad/OCB). Any local size; bounds are checked here.

#ifndef VW
#define VW 16  // output pixels per work-item along x: 4, 8 or 16
#endif
#ifndef OCB
#define OCB 8  // output channels per work-item; the host pads weights to a multiple of this
#endif
#ifndef YB
#define YB 1   // output rows per work-item: each input row loaded serves up to 3 of them
#endif

#ifndef IN_HALF
#define IN_HALF 0
#endif
#ifndef OUT_HALF
#define OUT_HALF 0
#endif

#include "vectors.cl"
#include "storage.cl"
#define in_t STORAGE(IN_HALF)
#define out_t STORAGE(OUT_HALF)

// Bit x of a mask row.
#define ROW_BIT(mrow, x) ((mrow[(x) >> 5] >> ((x) & 31)) & 1u)

// A row's value at x, zero outside [0, w) and, when `masked`, where the mask bit is clear.
inline float load_one(__global const in_t* row, __global const uint* mrow, const int masked,
                      const int x, const int w) {
    return x >= 0 && x < w && (!masked || ROW_BIT(mrow, x)) ? LOAD(IN_HALF, row, x) : 0.0f;
}

// VW values of a row starting at `start`, as load_one reads each.
inline floatV load_checked(__global const in_t* row, __global const uint* mrow, const int masked,
                           const int start, const int w) {
    float t[VW];
    for (int j = 0; j < VW; ++j) t[j] = load_one(row, mrow, masked, start + j, w);
    return vloadV(0, t);
}

__kernel void conv3x3(__global const in_t* in,       // [cin][h][w]
                      __global const float* weights, // [cin][9][coutPad]
                      __global const float* bias,    // [coutPad]
                      __global out_t* out,           // [cout][h][w]
                      const int cin, const int cout, const int h, const int w,
                      const int accumulate,          // 1: out += result, 0: out = result
                      __global uint* mask,           // [c][h][ceil(w/32)] words, see mask_mode
                      const int mask_mode)           // 0: none, 1: ReLU on the output, 2: masked input
{
    const int x0 = get_global_id(0) * VW;
    const int y0 = get_global_id(1) * YB;
    const int oc0 = get_global_id(2) * OCB;
    if (x0 >= w || y0 >= h || oc0 >= cout) return;
    const int coutPad = (cout + OCB - 1) / OCB * OCB;
    const bool full = x0 + VW <= w;
    const int words = (w + 31) / 32;
    const int masked = mask_mode == 2;
    // shuffle2 masks: lanes of (v, edge) shifted by one, taking the new lane from `edge`.
    const uintV fromLeft = LANES + (uintV)(VW - 1);   // (edge.sN-1 , v.s0 .. v.sN-2)
    const uintV fromRight = LANES + (uintV)(1);       // (v.s1 .. v.sN-1, edge.s0)

    // The accumulators must stay in registers: every loop over them is fully unrolled.
    floatV acc[YB][OCB];
#pragma unroll
    for (int r = 0; r < YB; ++r)
#pragma unroll
        for (int o = 0; o < OCB; ++o) acc[r][o] = (floatV)(bias[oc0 + o]);

    for (int ic = 0; ic < cin; ++ic) {
        __global const float* wic = weights + (size_t)ic * 9 * coutPad + oc0;
        // Input rows y0-1 .. y0+YB: row iy feeds output row r through kernel row ky = iy - r + 1.
        for (int j = 0; j < YB + 2; ++j) {
            const int iy = y0 - 1 + j;
            if (iy < 0 || iy >= h) continue;
            __global const in_t* row = in + ((size_t)ic * h + iy) * w;
            __global const uint* mrow = mask + ((size_t)ic * h + iy) * words;
            floatV v0, v1, v2;
            if (full) {
                v1 = LOADV(IN_HALF, 0, row + x0);
                if (masked) {  // all-ones where the bit is set, so cleared lanes are +0 exactly
                    const uintV bits = ((uintV)(mrow[x0 >> 5] >> (x0 & 31)) >> LANES) & (uintV)(1u);
                    v1 = as_floatV(as_uintV(v1) & ((uintV)(0u) - bits));
                }
                const float left = load_one(row, mrow, masked, x0 - 1, w);
                const float right = load_one(row, mrow, masked, x0 + VW, w);
                v0 = shuffle2((floatV)(left), v1, fromLeft);
                v2 = shuffle2(v1, (floatV)(right), fromRight);
            } else {
                v0 = load_checked(row, mrow, masked, x0 - 1, w);
                v1 = load_checked(row, mrow, masked, x0, w);
                v2 = load_checked(row, mrow, masked, x0 + 1, w);
            }
#pragma unroll
            for (int r = 0; r < YB; ++r) {
                const int ky = j - r;
                if (ky < 0 || ky > 2) continue;
                __global const float* wk = wic + ky * 3 * coutPad;
#pragma unroll
                for (int o = 0; o < OCB; ++o) {
                    acc[r][o] = mad(v0, (floatV)(wk[o]), acc[r][o]);
                    acc[r][o] = mad(v1, (floatV)(wk[coutPad + o]), acc[r][o]);
                    acc[r][o] = mad(v2, (floatV)(wk[2 * coutPad + o]), acc[r][o]);
                }
            }
        }
    }

    const int lanes = min(VW, w - x0);
#pragma unroll
    for (int r = 0; r < YB; ++r) {
        const int y = y0 + r;
        if (y >= h) break;
#pragma unroll
        for (int o = 0; o < OCB; ++o) {
            if (oc0 + o >= cout) break;
            __global out_t* dst = out + ((size_t)(oc0 + o) * h + y) * w + x0;
            if (mask_mode == 1) {
                float t[VW];
                vstoreV(acc[r][o], 0, t);
                uint bits = 0;
                for (int i = 0; i < lanes; ++i) bits |= (t[i] > 0.0f ? 1u : 0u) << i;
                atomic_or(mask + ((size_t)(oc0 + o) * h + y) * words + (x0 >> 5), bits << (x0 & 31));
                acc[r][o] = fmax(acc[r][o], 0.0f);
            }
            if (lanes == VW) {
                STOREV(OUT_HALF, accumulate ? LOADV(OUT_HALF, 0, dst) + acc[r][o] : acc[r][o], 0, dst);
            } else {
                float t[VW];
                vstoreV(acc[r][o], 0, t);
                for (int i = 0; i < lanes; ++i) STORE(OUT_HALF, dst, i, accumulate ? LOAD(OUT_HALF, dst, i) + t[i] : t[i]);
            }
        }
    }
}
