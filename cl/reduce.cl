// reduce: adds up the partial sums a loss kernel left (one per work-item) into one slot of
// the loss vector, times a scale. One work-item, compensated (Kahan) summation, so the result
// does not depend on how many partials there are and repeats bit for bit.

__kernel void sum_partials(__global const float* partial, const int count,
                           __global float* losses, const int slot, const float scale) {
    if (get_global_id(0) != 0) return;
    float s = 0.0f, comp = 0.0f;
    for (int i = 0; i < count; ++i) {
        const float y = partial[i] - comp;
        const float t = s + y;
        comp = (t - s) - y;
        s = t;
    }
    losses[slot] = s * scale;
}
