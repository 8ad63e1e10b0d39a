// OpenCL 1.2 is the API level Impasto targets: every vendor's driver offers it.
#ifndef IMPASTO_COPENCL_SHIM_H
#define IMPASTO_COPENCL_SHIM_H
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#endif
