// winograd: 3x3 stride-1 pad-1 convolution as Winograd F(4x4, 3x3) (Lavin & Gray, 2016):
// each 4x4 output tile comes from a 6x6 input patch with 36 multiplies per input/output
// channel pair instead of 144. Three passes over scratch laid out by the 36 transform
// elements e:
//   winograd_input:  V[e][ic][t]     = (B^T d B)[e]   for the patch d of tile t
//   winograd_gemm:   M[e][oc][t]     = sum_ic U[e][ic][oc] V[e][ic][t]
//   winograd_output: out[oc][tile t] = A^T M A + bias (4x4), bounds-checked, (+)=
// winograd_weights makes U = G g G^T, [36][cin][coutPad], from PyTorch-layout weights each
// time (it is cheap beside the GEMM, and keeps only one U in memory for all layers); with
// `flip` it transforms the rotated, transposed kernel of the backward pass instead.
// Tiles are numbered row-major over ceil(h/4) x ceil(w/4); a pass handles the `tcount`
// tiles from `tbase` (bounded scratch at any image size), padded to tpad, a multiple of the
// GEMM's vector width; padded tiles transform to zero.

#ifndef VW
#define VW 16  // tiles per GEMM work-item (the vector width)
#endif
#ifndef OCB
#define OCB 8  // output channels per GEMM work-item
#endif

#include "vectors.cl"

// The weight transform's vector: OCB output channels.
#if OCB == 8
#define floatO float8
#define vloadO vload8
#define vstoreO vstore8
#elif OCB == 16
#define floatO float16
#define vloadO vload16
#define vstoreO vstore16
#else
#error "OCB must be 8 or 16"
#endif

// One work-item per (block of OCB output channels, input channel): g is [cout][cin][3][3]
// (or, flipped, the forward weights of a conv whose cin/cout are this one's cout/cin). The
// OCB channels are one vector, so the 36 stores are whole vectors (coutPad is a multiple of
// OCB) and POCL need not vectorise across work-items (it ran this scalar, as slow as a GEMM).
__kernel void winograd_weights(__global const float* g, __global float* u, const int cin, const int cout,
                               const int coutPad, const int flip) {
    const int ob = get_global_id(0), ic = get_global_id(1);
    if (ob * OCB >= coutPad || ic >= cin) return;
    const float sixth = 1.0f / 6.0f, twelfth = 1.0f / 12.0f, twentyfourth = 1.0f / 24.0f;
    // Kernel element (i, j) of output channel oc: g[base(oc) + step * (3i + j)]; flipped, the
    // kernel is rotated by 180 degrees and transposed.
    floatO k[3][3];
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
            float lanes[OCB];
            for (int l = 0; l < OCB; ++l) {
                const int oc = ob * OCB + l;
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
    __global float* dst = u + (size_t)ic * coutPad + ob * OCB;
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

__kernel void winograd_input(__global const float* in, __global float* v, const int cin, const int h, const int w,
                             const int tbase, const int tcount, const int tpad) {
    const int t = get_global_id(0), ic = get_global_id(1);
    if (t >= tpad || ic >= cin) return;
    const int tw = (w + 3) / 4;
    float d[6][6];
    if (t < tcount) {
        const int tile = tbase + t;
        const int y0 = (tile / tw) * 4 - 1, x0 = (tile % tw) * 4 - 1;
        __global const float* plane = in + (size_t)ic * h * w;
        for (int i = 0; i < 6; ++i)
            for (int j = 0; j < 6; ++j) {
                const int y = y0 + i, x = x0 + j;
                d[i][j] = (y >= 0 && y < h && x >= 0 && x < w) ? plane[y * w + x] : 0.0f;
            }
    } else {
        for (int i = 0; i < 6; ++i)
            for (int j = 0; j < 6; ++j) d[i][j] = 0.0f;
    }
    // B^T d (rows), then (B^T d) B (columns).
    float r[6][6];
    for (int j = 0; j < 6; ++j) {
        r[0][j] = 4.0f * d[0][j] - 5.0f * d[2][j] + d[4][j];
        r[1][j] = -4.0f * d[1][j] - 4.0f * d[2][j] + d[3][j] + d[4][j];
        r[2][j] = 4.0f * d[1][j] - 4.0f * d[2][j] - d[3][j] + d[4][j];
        r[3][j] = -2.0f * d[1][j] - d[2][j] + 2.0f * d[3][j] + d[4][j];
        r[4][j] = 2.0f * d[1][j] - d[2][j] - 2.0f * d[3][j] + d[4][j];
        r[5][j] = 4.0f * d[1][j] - 5.0f * d[3][j] + d[5][j];
    }
    const size_t plane = (size_t)cin * tpad;
    __global float* dst = v + (size_t)ic * tpad + t;
    for (int i = 0; i < 6; ++i) {
        const float a0 = r[i][0], a1 = r[i][1], a2 = r[i][2], a3 = r[i][3], a4 = r[i][4], a5 = r[i][5];
        dst[(i * 6 + 0) * plane] = 4.0f * a0 - 5.0f * a2 + a4;
        dst[(i * 6 + 1) * plane] = -4.0f * a1 - 4.0f * a2 + a3 + a4;
        dst[(i * 6 + 2) * plane] = 4.0f * a1 - 4.0f * a2 - a3 + a4;
        dst[(i * 6 + 3) * plane] = -2.0f * a1 - a2 + 2.0f * a3 + a4;
        dst[(i * 6 + 4) * plane] = 2.0f * a1 - a2 - 2.0f * a3 + a4;
        dst[(i * 6 + 5) * plane] = 4.0f * a1 - 5.0f * a3 + a5;
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

__kernel void winograd_output(__global const float* m, __global const float* bias, __global float* out,
                              const int cout, const int coutPad, const int h, const int w,
                              const int tbase, const int tcount, const int tpad, const int accumulate) {
    const int t = get_global_id(0), oc = get_global_id(1);
    const int tw = (w + 3) / 4;
    if (t >= tcount || oc >= cout) return;
    const size_t plane = (size_t)coutPad * tpad;
    __global const float* src = m + (size_t)oc * tpad + t;
    float a[6][6];
    for (int e = 0; e < 36; ++e) a[e / 6][e % 6] = src[e * plane];
    // A^T a (rows), then (A^T a) A (columns).
    float r[4][6];
    for (int j = 0; j < 6; ++j) {
        r[0][j] = a[0][j] + a[1][j] + a[2][j] + a[3][j] + a[4][j];
        r[1][j] = a[1][j] - a[2][j] + 2.0f * (a[3][j] - a[4][j]);
        r[2][j] = a[1][j] + a[2][j] + 4.0f * (a[3][j] + a[4][j]);
        r[3][j] = a[1][j] - a[2][j] + 8.0f * (a[3][j] - a[4][j]) + a[5][j];
    }
    const float b = bias[oc];
    const int tile = tbase + t;
    const int y0 = (tile / tw) * 4, x0 = (tile % tw) * 4;
    __global float* dst = out + (size_t)oc * h * w;
    for (int i = 0; i < 4; ++i) {
        const int y = y0 + i;
        if (y >= h) break;
        const float q[4] = {
            r[i][0] + r[i][1] + r[i][2] + r[i][3] + r[i][4],
            r[i][1] - r[i][2] + 2.0f * (r[i][3] - r[i][4]),
            r[i][1] + r[i][2] + 4.0f * (r[i][3] + r[i][4]),
            r[i][1] - r[i][2] + 8.0f * (r[i][3] - r[i][4]) + r[i][5],
        };
        for (int j = 0; j < 4; ++j) {
            const int x = x0 + j;
            if (x >= w) break;
            const float val = q[j] + b;
            dst[y * w + x] = accumulate ? dst[y * w + x] + val : val;
        }
    }
}
