// adam: one Adam step on the image, exactly as torch.optim.Adam (no weight decay, no amsgrad)
// computes it. The host passes, each computed in double and rounded once as PyTorch does:
// one_minus_beta1 = 1 - beta1, one_minus_beta2 = 1 - beta2, step_size = lr / (1 - beta1^t),
// bc2_sqrt = sqrt(1 - beta2^t). (1 - 0.999f in float is 1.3e-5 off 0.001, enough to drift.)

__kernel void adam_step(__global float* x, __global const float* g, __global float* m, __global float* v,
                        const int n, const float one_minus_beta1, const float beta2, const float one_minus_beta2,
                        const float eps,
                        const float step_size, const float bc2_sqrt) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float gi = g[i];
    const float mi = m[i] + (gi - m[i]) * one_minus_beta1;
    const float vi = v[i] * beta2 + one_minus_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float denom = sqrt(vi) / bc2_sqrt + eps;
    x[i] = x[i] - step_size * (mi / denom);
}
