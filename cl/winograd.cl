// winograd: 3x3 stride-1 pad-1 convolution as Winograd F(4x4, 3x3) (Lavin & Gray, 2016):
// each 4x4 output tile comes from a 6x6 input patch with 36 multiplies per input/output
// channel pair instead of 144. Three passes over scratch laid out by the 36 transform
// elements e:
//   winograd_input:  V[e][ic][t]     = (B^T d B)[e]   for the patch d of tile t
//   winograd_gemm:   M[e][oc][t]     = sum_ic U[e][ic][oc] V[e][ic][t]
//   winograd_output: out[oc][tile t] = A^T M A + bias (4x4), bounds-checked, (+)=
// ReLU fuses into both ends: with `relu`, winograd_output stores max(out, 0) and the bits of
// out > 0 (the backward's mask); with `masked`, winograd_input reads its input times such a
// mask (the ReLU's backward, ahead of this conv's backward). Masks hold one bit per element,
// rows of ceil(w/32) words: word (c*h + y)*ceil(w/32) + x/32, bit x%32.
// winograd_weights makes U = G g G^T, [36][cin][coutPad], from PyTorch-layout weights each
// time (it is cheap beside the GEMM, and keeps only one U in memory for all layers); with
// `flip` it transforms the rotated, transposed kernel of the backward pass instead.
// Tiles are numbered ty * twp + tx, where twp (tiles per row as numbered) is at least
// ceil(w/4); with TV == 16 it is a multiple of 16, so any 16 consecutive tiles from a multiple
// of 16 lie in one tile row (the tiles past the row's end see only padding). A pass handles
// the `tcount` tiles from `tbase` (bounded scratch at any image size; tbase is a multiple of
// 16), padded to tpad, a multiple of 16; tiles past the row's end or past tcount are
// computed like any other (from zero padding, or rows the next pass covers) and never written.

#ifndef VW
#define VW 16  // tiles per GEMM work-item (the vector width)
#endif
#ifndef OCB
#define OCB 8  // output channels per GEMM work-item
#endif
#ifndef TV
#define TV 16  // tiles per transform work-item: 16 (one 16-wide vector per value, a CPU's
               // SIMD) or 1 (one tile per work-item, coalesced across work-items, a GPU)
#endif

#ifndef WOCB
#define WOCB OCB  // output channels per weight-transform work-item: 8 or 16 (coutPad a multiple)
#endif

#ifndef IN_HALF
#define IN_HALF 0  // winograd_input's `in` is fp16 storage (see storage.cl)
#endif
#ifndef OUT_HALF
#define OUT_HALF 0  // winograd_output's `out` is fp16 storage
#endif

#include "vectors.cl"
#include "storage.cl"
#define in_t STORAGE(IN_HALF)
#define out_t STORAGE(OUT_HALF)
#if IN_HALF
#define LOAD16_IN vload_half16
#else
#define LOAD16_IN vload16
#endif

// The weight transform's vector: WOCB output channels.
#if WOCB == 8
#define floatO float8
#define vloadO vload8
#define vstoreO vstore8
#elif WOCB == 16
#define floatO float16
#define vloadO vload16
#define vstoreO vstore16
#else
#error "WOCB must be 8 or 16"
#endif

// One work-item per (block of WOCB output channels, input channel): g is [cout][cin][3][3]
// (or, flipped, the forward weights of a conv whose cin/cout are this one's cout/cin). The
// WOCB channels are one vector, so the 36 stores are whole vectors (coutPad is a multiple of
// WOCB) and POCL need not vectorise across work-items (it ran this scalar, as slow as a GEMM).
// 16 channels make each store a whole 64-byte line: the unflipped transform, whose reads are
// gathers, went from 8.5-9.5 to 5-7 ms for 512x512 on POCL (flipped: no gain).
__kernel void winograd_weights(__global const float* g, __global float* u, const int cin, const int cout,
                               const int coutPad, const int flip) {
    const int ob = get_global_id(0), ic = get_global_id(1);
    if (ob * WOCB >= coutPad || ic >= cin) return;
    const float sixth = 1.0f / 6.0f, twelfth = 1.0f / 12.0f, twentyfourth = 1.0f / 24.0f;
    // Kernel element (i, j) of output channel oc: g[base(oc) + step * (3i + j)]; flipped, the
    // kernel is rotated by 180 degrees and transposed.
    floatO k[3][3];
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
            float lanes[WOCB];
            for (int l = 0; l < WOCB; ++l) {
                const int oc = ob * WOCB + l;
                lanes[l] = oc >= cout ? 0.0f
                         : flip ? g[((size_t)ic * cout + oc) * 9 + 8 - (i * 3 + j)]
                                : g[((size_t)oc * cin + ic) * 9 + i * 3 + j];
            }
            k[i][j] = vloadO(0, lanes);
        }
    // G k (6x3), then (G k) G^T (6x6).
    floatO r[6][3];
    for (int j = 0; j < 3; ++j) {
        r[0][j] = 0.25f * k[0][j];
        r[1][j] = -(k[0][j] + k[1][j] + k[2][j]) * sixth;
        r[2][j] = -(k[0][j] - k[1][j] + k[2][j]) * sixth;
        r[3][j] = k[0][j] * twentyfourth + k[1][j] * twelfth + k[2][j] * sixth;
        r[4][j] = k[0][j] * twentyfourth - k[1][j] * twelfth + k[2][j] * sixth;
        r[5][j] = k[2][j];
    }
    const size_t plane = (size_t)cin * coutPad;
    __global float* dst = u + (size_t)ic * coutPad + ob * WOCB;
    for (int i = 0; i < 6; ++i) {
        const floatO a0 = r[i][0], a1 = r[i][1], a2 = r[i][2];
        vstoreO(0.25f * a0, 0, dst + (i * 6 + 0) * plane);
        vstoreO(-(a0 + a1 + a2) * sixth, 0, dst + (i * 6 + 1) * plane);
        vstoreO(-(a0 - a1 + a2) * sixth, 0, dst + (i * 6 + 2) * plane);
        vstoreO(a0 * twentyfourth + a1 * twelfth + a2 * sixth, 0, dst + (i * 6 + 3) * plane);
        vstoreO(a0 * twentyfourth - a1 * twelfth + a2 * sixth, 0, dst + (i * 6 + 4) * plane);
        vstoreO(a2, 0, dst + (i * 6 + 5) * plane);
    }
}

#if TV == 16
#define floatT float16
#define vloadT vload16
#define vstoreT vstore16
// d[j] lane l = p[4l + j], j = 0..5: the 6 patch columns of a row that starts at p (the 16
// tiles' patches overlap by 2 columns). Built from scalars: oclgrind's uninitialised-value
// checker crashes on vectors concatenated from float4 swizzles.
// `load` is vload16 or vload_half16.
#define STRIDE4_ROW(d, p, load)                                                                   \
    for (int j = 0; j < 6; ++j) {                                                                 \
        const float16 q0 = load(0, (p) + j), q1 = load(1, (p) + j);                               \
        const float16 q2 = load(2, (p) + j), q3 = load(3, (p) + j);                               \
        d[j] = (float16)(q0.s0, q0.s4, q0.s8, q0.sc, q1.s0, q1.s4, q1.s8, q1.sc,                  \
                         q2.s0, q2.s4, q2.s8, q2.sc, q3.s0, q3.s4, q3.s8, q3.sc);                 \
    }
#elif TV == 1
#define floatT float
#define vloadT(i, p) ((p)[i])
#define vstoreT(x, i, p) ((p)[i] = (x))
#else
#error "TV must be 16 or 1"
#endif

// Whether mask bit (c, y, x) is set; rows of `words` words.
#define MASK_BIT(mask, words, c, h, y, x) \
    ((mask[((size_t)(c) * (h) + (y)) * (words) + ((x) >> 5)] >> ((x) & 31)) & 1u)

// Work-item (block of TV tiles, ic).
__kernel void winograd_input(__global const in_t* in, __global float* v, const int cin, const int h, const int w,
                             const int twp, const int tbase, const int tcount, const int tpad,
                             __global const uint* mask, const int masked) {
    const int t0 = get_global_id(0) * TV, ic = get_global_id(1);
    if (t0 >= tpad || ic >= cin) return;
    const int tile = tbase + t0;
    const int y0 = (tile / twp) * 4 - 1, x0 = (tile % twp) * 4 - 1;
    const int words = (w + 31) / 32;
    __global const in_t* plane = in + (size_t)ic * h * w;
    floatT d[6][6];
#if TV == 16
    if (!masked && y0 >= 0 && y0 + 6 <= h && x0 >= 0 && x0 + 66 <= w) {  // the usual case: no border
        for (int i = 0; i < 6; ++i) {
            __global const in_t* p = plane + (y0 + i) * w + x0;
            STRIDE4_ROW(d[i], p, LOAD16_IN);
        }
    } else {  // the patches' 6 rows of 66 (+2 unused) floats, zero beyond the image (and masked)
        float row[72];
        for (int i = 0; i < 6; ++i) {
            const int y = y0 + i;
            for (int k = 0; k < 72; ++k) {
                const int x = x0 + k;
                const bool in = y >= 0 && y < h && x >= 0 && x < w;
                row[k] = in && (!masked || MASK_BIT(mask, words, ic, h, y, x)) ? LOAD(IN_HALF, plane, y * w + x) : 0.0f;
            }
            STRIDE4_ROW(d[i], row, vload16);
        }
    }
#else
    for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j) {
            const int y = y0 + i, x = x0 + j;
            const bool in = y >= 0 && y < h && x >= 0 && x < w;
            d[i][j] = in && (!masked || MASK_BIT(mask, words, ic, h, y, x)) ? LOAD(IN_HALF, plane, y * w + x) : 0.0f;
        }
#endif
    // B^T d (rows), then (B^T d) B (columns).
    floatT r[6][6];
    for (int j = 0; j < 6; ++j) {
        r[0][j] = 4.0f * d[0][j] - 5.0f * d[2][j] + d[4][j];
        r[1][j] = -4.0f * d[1][j] - 4.0f * d[2][j] + d[3][j] + d[4][j];
        r[2][j] = 4.0f * d[1][j] - 4.0f * d[2][j] - d[3][j] + d[4][j];
        r[3][j] = -2.0f * d[1][j] - d[2][j] + 2.0f * d[3][j] + d[4][j];
        r[4][j] = 2.0f * d[1][j] - d[2][j] - 2.0f * d[3][j] + d[4][j];
        r[5][j] = 4.0f * d[1][j] - 5.0f * d[3][j] + d[5][j];
    }
    const size_t eplane = (size_t)cin * tpad;
    __global float* dst = v + (size_t)ic * tpad + t0;
    for (int i = 0; i < 6; ++i) {
        const floatT a0 = r[i][0], a1 = r[i][1], a2 = r[i][2], a3 = r[i][3], a4 = r[i][4], a5 = r[i][5];
        vstoreT(4.0f * a0 - 5.0f * a2 + a4, 0, dst + (i * 6 + 0) * eplane);
        vstoreT(-4.0f * a1 - 4.0f * a2 + a3 + a4, 0, dst + (i * 6 + 1) * eplane);
        vstoreT(4.0f * a1 - 4.0f * a2 - a3 + a4, 0, dst + (i * 6 + 2) * eplane);
        vstoreT(-2.0f * a1 - a2 + 2.0f * a3 + a4, 0, dst + (i * 6 + 3) * eplane);
        vstoreT(2.0f * a1 - a2 - 2.0f * a3 + a4, 0, dst + (i * 6 + 4) * eplane);
        vstoreT(4.0f * a1 - 5.0f * a3 + a5, 0, dst + (i * 6 + 5) * eplane);
    }
}

// Work-item (tile block, output-channel block, e): VW tiles x OCB channels, K = cin.
__kernel void winograd_gemm(__global const float* u, __global const float* v, __global float* m,
                            const int cin, const int coutPad, const int tpad) {
    const int t0 = get_global_id(0) * VW, oc0 = get_global_id(1) * OCB, e = get_global_id(2);
    if (t0 >= tpad || oc0 >= coutPad || e >= 36) return;
    floatV acc[OCB];
#pragma unroll
    for (int o = 0; o < OCB; ++o) acc[o] = (floatV)(0.0f);
    __global const float* ve = v + (size_t)e * cin * tpad + t0;
    __global const float* ue = u + (size_t)e * cin * coutPad + oc0;
    for (int ic = 0; ic < cin; ++ic) {
        const floatV x = vloadV(0, ve + (size_t)ic * tpad);
        __global const float* uk = ue + (size_t)ic * coutPad;
#pragma unroll
        for (int o = 0; o < OCB; ++o) acc[o] = mad((floatV)(uk[o]), x, acc[o]);
    }
    __global float* me = m + ((size_t)e * coutPad + oc0) * tpad + t0;
#pragma unroll
    for (int o = 0; o < OCB; ++o) vstoreV(acc[o], 0, me + (size_t)o * tpad);
}

// Work-item (block of TV tiles, oc). Writes only inside the image and the pass's tiles.
__kernel void winograd_output(__global const float* m, __global const float* bias, __global out_t* out,
                              const int cout, const int coutPad, const int h, const int w,
                              const int twp, const int tbase, const int tcount, const int tpad, const int accumulate,
                              __global uint* mask, const int relu) {
    const int t0 = get_global_id(0) * TV, oc = get_global_id(1);
    if (t0 >= tcount || oc >= cout) return;
    const size_t eplane = (size_t)coutPad * tpad;
    __global const float* src = m + (size_t)oc * tpad + t0;
    floatT a[6][6];
    for (int e = 0; e < 36; ++e) a[e / 6][e % 6] = vloadT(0, src + e * eplane);
    // A^T a (rows), then (A^T a) A (columns).
    floatT r[4][6];
    for (int j = 0; j < 6; ++j) {
        r[0][j] = a[0][j] + a[1][j] + a[2][j] + a[3][j] + a[4][j];
        r[1][j] = a[1][j] - a[2][j] + 2.0f * (a[3][j] - a[4][j]);
        r[2][j] = a[1][j] + a[2][j] + 4.0f * (a[3][j] + a[4][j]);
        r[3][j] = a[1][j] - a[2][j] + 8.0f * (a[3][j] - a[4][j]) + a[5][j];
    }
    const float b = bias[oc];
    const int tile = tbase + t0;
    const int y0 = (tile / twp) * 4, x0 = (tile % twp) * 4;
    // Output columns x0 ... x0 + 4 TV - 1 of this row; tiles past tcount lie past the image.
    const int n = min(4 * TV, w - x0);
    if (n <= 0) return;  // tiles past the row's end (TV == 1)
    for (int i = 0; i < 4; ++i) {
        const int y = y0 + i;
        if (y >= h) break;
        const floatT q[4] = {
            r[i][0] + r[i][1] + r[i][2] + r[i][3] + r[i][4] + b,
            r[i][1] - r[i][2] + 2.0f * (r[i][3] - r[i][4]) + b,
            r[i][1] + r[i][2] + 4.0f * (r[i][3] + r[i][4]) + b,
            r[i][1] - r[i][2] + 8.0f * (r[i][3] - r[i][4]) + r[i][5] + b,
        };
        __global out_t* row = out + ((size_t)oc * h + y) * w + x0;
        __global uint* mrow = mask + ((size_t)oc * h + y) * ((w + 31) / 32) + x0 / 32;
#if TV == 16
        // Interleave the four columns of each tile: row[4l + j] = q[j] lane l.
        float16 o[4];
        o[0] = (float16)(q[0].s0, q[1].s0, q[2].s0, q[3].s0, q[0].s1, q[1].s1, q[2].s1, q[3].s1,
                         q[0].s2, q[1].s2, q[2].s2, q[3].s2, q[0].s3, q[1].s3, q[2].s3, q[3].s3);
        o[1] = (float16)(q[0].s4, q[1].s4, q[2].s4, q[3].s4, q[0].s5, q[1].s5, q[2].s5, q[3].s5,
                         q[0].s6, q[1].s6, q[2].s6, q[3].s6, q[0].s7, q[1].s7, q[2].s7, q[3].s7);
        o[2] = (float16)(q[0].s8, q[1].s8, q[2].s8, q[3].s8, q[0].s9, q[1].s9, q[2].s9, q[3].s9,
                         q[0].sa, q[1].sa, q[2].sa, q[3].sa, q[0].sb, q[1].sb, q[2].sb, q[3].sb);
        o[3] = (float16)(q[0].sc, q[1].sc, q[2].sc, q[3].sc, q[0].sd, q[1].sd, q[2].sd, q[3].sd,
                         q[0].se, q[1].se, q[2].se, q[3].se, q[0].sf, q[1].sf, q[2].sf, q[3].sf);
        if (relu) {
            // x0 is a multiple of 64: this row's two mask words are this work-item's alone.
            const uint16 lane_bit = (uint16)(1u << 0, 1u << 1, 1u << 2, 1u << 3, 1u << 4, 1u << 5, 1u << 6, 1u << 7, 1u << 8,
                                             1u << 9, 1u << 10, 1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15);
            uint bits16[4];
            for (int k = 0; k < 4; ++k) {
                uint lanes[16];
                vstore16(as_uint16(o[k] > 0.0f) & lane_bit, 0, lanes);
                bits16[k] = 0;
                for (int l = 0; l < 16; ++l) bits16[k] |= lanes[l];
                o[k] = fmax(o[k], 0.0f);
            }
            const uint valid0 = n >= 32 ? 0xffffffffu : (1u << n) - 1u;
            const uint valid1 = n >= 64 ? 0xffffffffu : n <= 32 ? 0u : (1u << (n - 32)) - 1u;
            mrow[0] = (bits16[0] | bits16[1] << 16) & valid0;
            if (n > 32) mrow[1] = (bits16[2] | bits16[3] << 16) & valid1;
        }
        if (n == 64) {
            for (int k = 0; k < 4; ++k) STOREV(OUT_HALF, accumulate ? LOADV(OUT_HALF, k, row) + o[k] : o[k], k, row);
        } else {
            float flat[64];
            for (int k = 0; k < 4; ++k) vstore16(o[k], k, flat);
            for (int x = 0; x < n; ++x) STORE(OUT_HALF, row, x, accumulate ? LOAD(OUT_HALF, row, x) + flat[x] : flat[x]);
        }
#else
        if (relu) {
            // Eight work-items share a mask word (the host zeroes the mask first).
            uint bits = 0;
            for (int x = 0; x < n; ++x) bits |= (q[x] > 0.0f ? 1u : 0u) << ((x0 + x) & 31);
            atomic_or(mrow, bits);
            for (int x = 0; x < n; ++x) STORE(OUT_HALF, row, x, fmax(q[x], 0.0f));
        } else {
            for (int x = 0; x < n; ++x) STORE(OUT_HALF, row, x, accumulate ? LOAD(OUT_HALF, row, x) + q[x] : q[x]);
        }
#endif
    }
}
