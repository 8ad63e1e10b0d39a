// w2: the pieces of the Wasserstein-2 style loss (see StyleLossOp): channel means, the
// covariance, Newton–Schulz steps for matrix square roots, the loss and its gradient. The
// C x C products themselves are gram_backward's (S^T B); these kernels are the elementwise
// and scalar steps between them. `scalars` is a small device buffer the host never reads:
// [0] = |X|_F^2 of the matrix whose square root Newton–Schulz took, [1] = the first-order
// correction of tr Y (Kernels.squareRoot).

#ifndef X_HALF
#define X_HALF 0
#endif
#include "storage.cl"

// channel_mean_partial: partial[k][i] = sum of row i of X (C x N) over the k-th chunk of N.
// Grid (C, chunks); the host picks chunks so that none is empty.
__kernel void channel_mean_partial(__global const STORAGE(X_HALF)* x, __global float* partial,
                                   const int c, const int n, const int chunk) {
    const int i = get_global_id(0), k = get_global_id(1);
    if (i >= c) return;
    const int start = k * chunk, end = min(n, start + chunk);
    float s = 0.0f;
    for (int p = start; p < end; ++p) s += LOAD(X_HALF, x, (size_t)i * n + p);
    partial[(size_t)k * c + i] = s;
}

// channel_mean_reduce: mean[i] (+)= scale * sum_k partial[k][i]. Grid (C).
__kernel void channel_mean_reduce(__global const float* partial, __global float* mean, const int c,
                                  const int chunks, const float scale, const int accumulate) {
    const int i = get_global_id(0);
    if (i >= c) return;
    float s = 0.0f;
    for (int k = 0; k < chunks; ++k) s += partial[(size_t)k * c + i];
    mean[i] = accumulate ? mean[i] + s * scale : s * scale;
}

// w2_covariance: cov = scale * G - mu mu^T (G the masked Gram matrix F F^T / (C area), scale
// C: the second moment about zero). Exactly symmetric, as G is. Grid (C, C).
__kernel void w2_covariance(__global const float* g, __global const float* mean, __global float* cov,
                            const int c, const float scale) {
    const int i = get_global_id(0), j = get_global_id(1);
    if (i >= c || j >= c) return;
    cov[i * c + j] = scale * g[i * c + j] - mean[i] * mean[j];
}

// w2_target_shift: one work-item; shift[0] = kappa tr(cov) / C, the variance both Gaussians
// of a region get added on every channel (a fixed fraction of the style's mean variance):
// it bounds their condition numbers by about C / kappa, so that fp32 Newton–Schulz converges.
__kernel void w2_target_shift(__global const float* cov, __global float* shift, const int c, const float kappa) {
    if (get_global_id(0) != 0) return;
    float tr = 0.0f;
    for (int i = 0; i < c; ++i) tr += cov[i * c + i];
    shift[0] = kappa * max(tr, 0.0f) / c;
}

// w2_shift: out = x + shift[0] I (in place allowed). Grid (C, C).
__kernel void w2_shift(__global const float* x, __global const float* shift, __global float* out, const int c) {
    const int i = get_global_id(0), j = get_global_id(1);
    if (i >= c || j >= c) return;
    out[i * c + j] = x[i * c + j] + (i == j ? shift[0] : 0.0f);
}

// w2_scale: out = x * scalars[slot]^power (power -1/2: divide by the norm whose square the
// slot holds; 1/4: multiply by its square root). Symmetrised when `symmetrize`: out is then
// (x + x^T)/2 times the factor, for a square root that must be exactly symmetric. Grid (C, C).
__kernel void w2_scale(__global const float* x, __global const float* scalars, const int slot, const float power,
                       __global float* out, const int c, const int symmetrize) {
    const int i = get_global_id(0), j = get_global_id(1);
    if (i >= c || j >= c) return;
    const float f = pow(max(scalars[slot], 1e-30f), power);
    const float v = symmetrize ? 0.5f * (x[i * c + j] + x[j * c + i]) : x[i * c + j];
    out[i * c + j] = v * f;
}

// w2_ns_t: t = (3 I - p) / 2, Newton–Schulz's factor from the product p = Z Y, and its
// transpose tt (the products are S^T B: a left factor goes in transposed). Grid (C, C).
__kernel void w2_ns_t(__global const float* p, __global float* t, __global float* tt, const int c) {
    const int i = get_global_id(0), j = get_global_id(1);
    if (i >= c || j >= c) return;
    const float v = (i == j ? 1.5f : 0.0f) - 0.5f * p[i * c + j];
    t[i * c + j] = v;
    tt[j * c + i] = v;
}

// w2_transpose: out = x^T. Grid (C, C).
__kernel void w2_transpose(__global const float* x, __global float* out, const int c) {
    const int i = get_global_id(0), j = get_global_id(1);
    if (i >= c || j >= c) return;
    out[j * c + i] = x[i * c + j];
}

// w2_loss: one work-item. With Y -> sqrt(M / s) from Newton–Schulz on M = A cov A (s^2 =
// scalars[0], A = sqrt(cov_t), both covariances already shifted) and tr Y's correction in
// scalars[1]:
//   losses[slot] = weight / C * (|mu - mu_t|^2 + tr cov_t + tr cov - 2 sqrt(s) (tr Y + scalars[1]))
// with tr cov_t = gscale tr G_t - |mu_t|^2 + C shift.
__kernel void w2_loss(__global const float* mean, __global const float* targetMean, __global const float* cov,
                      __global const float* targetGram, __global const float* shift, __global const float* y,
                      __global const float* scalars, __global float* losses, const int slot, const int c,
                      const float gscale, const float weight) {
    if (get_global_id(0) != 0) return;
    float meanTerm = 0.0f, trCov = 0.0f, trTarget = 0.0f, trY = 0.0f;
    for (int i = 0; i < c; ++i) {
        const float d = mean[i] - targetMean[i];
        meanTerm += d * d;
        trCov += cov[i * c + i];
        trTarget += gscale * targetGram[i * c + i] - targetMean[i] * targetMean[i] + shift[0];
        trY += y[i * c + i];
    }
    const float rootS = sqrt(sqrt(max(scalars[0], 1e-30f)));  // sqrt(s)
    losses[slot] = weight / c * (meanTerm + trTarget + trCov - 2.0f * rootS * (trY + scalars[1]));
}

// w2_gradient: S = scale * (I - sym(Q) / sqrt(s)), the C x C factor of dL/dF (scale =
// 2 weight / (C area)), from Q = A Z A, Z -> (M / s)^(-1/2). Grid (C, C).
__kernel void w2_gradient(__global const float* q, __global const float* scalars, __global float* s, const int c,
                          const float scale) {
    const int i = get_global_id(0), j = get_global_id(1);
    if (i >= c || j >= c) return;
    const float rootS = sqrt(sqrt(max(scalars[0], 1e-30f)));
    const float qs = 0.5f * (q[i * c + j] + q[j * c + i]);
    s[i * c + j] = scale * ((i == j ? 1.0f : 0.0f) - qs / rootS);
}

// w2_mean_gradient: b = meanScale * (mu - mu_t) - S mu, the per-channel part of dL/dF
// (meanScale = 2 weight / (C area)). Grid (C).
__kernel void w2_mean_gradient(__global const float* mean, __global const float* targetMean, __global const float* s,
                               __global float* b, const int c, const float meanScale) {
    const int i = get_global_id(0);
    if (i >= c) return;
    float sm = 0.0f;
    for (int j = 0; j < c; ++j) sm += s[i * c + j] * mean[j];
    b[i] = meanScale * (mean[i] - targetMean[i]) - sm;
}

// add_channel_outer: out[i][p] += b[i] * mask[p] for out of C x N (a masked region's part of
// dL/dF; unmasked, gram_backward adds b itself). Grid (C N).
__kernel void add_channel_outer(__global float* out, __global const float* b, __global const float* mask,
                                const int c, const int n) {
    const int k = get_global_id(0);
    if (k >= c * n) return;
    out[k] += b[k / n] * mask[k % n];
}
