// saxpy: y = a*x + y. The smallest useful kernel: a check that the runtime, the embedded
// sources and the device agree, used by the tests and as the copy-style bandwidth probe.
__kernel void saxpy(const int n, const float a, __global const float* x, __global float* y) {
    const int i = get_global_id(0);
    if (i < n) y[i] = a * x[i] + y[i];
}
