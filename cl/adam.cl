// adam: one Adam step on the image, exactly as torch.optim.Adam (no weight decay, no amsgrad)
// computes it. The host passes step_size = lr / (1 - beta1^t) and bc2_sqrt = sqrt(1 - beta2^t).

__kernel void adam_step(__global float* x, __global const float* g, __global float* m, __global float* v,
                        const int n, const float beta1, const float beta2, const float eps,
                        const float step_size, const float bc2_sqrt) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float gi = g[i];
    const float mi = m[i] + (gi - m[i]) * (1.0f - beta1);
    const float vi = v[i] * beta2 + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float denom = sqrt(vi) / bc2_sqrt + eps;
    x[i] = x[i] - step_size * (mi / denom);
}
