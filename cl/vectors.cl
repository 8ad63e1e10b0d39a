// vectors: the vector type of width VW (4, 8 or 16) that the register-blocked kernels
// accumulate in, and its load/store. Included by those kernels (the host inlines
// `#include "vectors.cl"`); never built on its own.

#if VW == 16
#define floatV float16
#define uintV uint16
#define vloadV vload16
#define vstoreV vstore16
#define vload_halfV vload_half16
#define vstore_halfV vstore_half16
#define as_floatV as_float16
#define as_uintV as_uint16
#define LANES (uint16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
#elif VW == 8
#define floatV float8
#define uintV uint8
#define vloadV vload8
#define vstoreV vstore8
#define vload_halfV vload_half8
#define vstore_halfV vstore_half8
#define as_floatV as_float8
#define as_uintV as_uint8
#define LANES (uint8)(0, 1, 2, 3, 4, 5, 6, 7)
#elif VW == 4
#define floatV float4
#define uintV uint4
#define vloadV vload4
#define vstoreV vstore4
#define vload_halfV vload_half4
#define vstore_halfV vstore_half4
#define as_floatV as_float4
#define as_uintV as_uint4
#define LANES (uint4)(0, 1, 2, 3)
#else
#error "VW must be 4, 8 or 16"
#endif
