// storage: how a kernel reads and writes a buffer that may hold fp16 (`--storage fp16`).
// Buffer NAME is fp16 when the host builds with -DNAME_HALF=1 (each kernel defaults its own to
// 0). Values become float as they are loaded and are rounded to nearest even as they are
// stored (vload_half / vstore_half: core OpenCL C 1.2, no cl_khr_fp16 needed for storage), so
// all arithmetic stays fp32. Included by kernels (the host inlines `#include "storage.cl"`);
// never built on its own.

#define STORAGE_CAT_(a, b) a##b
#define STORAGE_CAT(a, b) STORAGE_CAT_(a, b)

// The element type of a buffer whose flag is h (0 or 1).
#define STORAGE_T_0 float
#define STORAGE_T_1 half
#define STORAGE(h) STORAGE_CAT(STORAGE_T_, h)

// p[i] as a float, and p[i] = v.
#define LOAD_0(p, i) ((p)[i])
#define LOAD_1(p, i) vload_half((i), (p))
#define LOAD(h, p, i) STORAGE_CAT(LOAD_, h)(p, i)
#define STORE_0(p, i, v) ((p)[i] = (v))
#define STORE_1(p, i, v) vstore_half((v), (i), (p))
#define STORE(h, p, i, v) STORAGE_CAT(STORE_, h)(p, i, v)

// VW-wide vectors at p + VW*i (needs vectors.cl).
#define LOADV_0(i, p) vloadV(i, p)
#define LOADV_1(i, p) vload_halfV(i, p)
#define LOADV(h, i, p) STORAGE_CAT(LOADV_, h)(i, p)
#define STOREV_0(v, i, p) vstoreV(v, i, p)
#define STOREV_1(v, i, p) vstore_halfV(v, i, p)
#define STOREV(h, v, i, p) STORAGE_CAT(STOREV_, h)(v, i, p)
