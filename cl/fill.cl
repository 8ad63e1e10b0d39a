// fill: sets n floats to one value. A kernel rather than clEnqueueFillBuffer because
// oclgrind does not count the latter as initialising memory.

__kernel void fill_float(__global float* x, const int n, const float value) {
    const int i = get_global_id(0);
    if (i < n) x[i] = value;
}
