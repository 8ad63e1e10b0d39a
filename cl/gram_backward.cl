// gram_backward: gF (+)= S F, the gradient of a Gram-matrix loss with respect to the layer's
// activations F (C x N), where S (C x C, symmetric) already folds in dL/dG, its transpose and
// the 1/(C N) of the Gram matrix. Work-item (nb, rb) computes rows 4rb.. by columns 8nb.. with
// float8 loads along N; a ragged last column block is done element by element.

__kernel void gram_backward(__global const float* s, __global const float* f, __global float* gf,
                            const int c, const int n, const int accumulate) {
    const int n0 = get_global_id(0) * 8;
    const int i0 = get_global_id(1) * 4;
    if (n0 >= n || i0 >= c) return;
    const int rows = min(4, c - i0);
    if (n0 + 8 <= n) {
        float8 acc[4] = {(float8)(0.0f), (float8)(0.0f), (float8)(0.0f), (float8)(0.0f)};
        for (int j = 0; j < c; ++j) {
            const float8 fv = vload8(0, f + (size_t)j * n + n0);
            for (int r = 0; r < rows; ++r) acc[r] = mad((float8)(s[(i0 + r) * c + j]), fv, acc[r]);
        }
        for (int r = 0; r < rows; ++r) {
            __global float* dst = gf + (size_t)(i0 + r) * n + n0;
            vstore8(accumulate ? vload8(0, dst) + acc[r] : acc[r], 0, dst);
        }
    } else {
        for (int r = 0; r < rows; ++r) {
            for (int t = n0; t < n; ++t) {
                float a = 0.0f;
                for (int j = 0; j < c; ++j) a = mad(s[(i0 + r) * c + j], f[(size_t)j * n + t], a);
                __global float* dst = gf + (size_t)(i0 + r) * n + t;
                *dst = accumulate ? *dst + a : a;
            }
        }
    }
}
