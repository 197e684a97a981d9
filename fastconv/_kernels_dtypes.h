/* Instantiate _kernels_impl.h for float and double at the ISA level defined
 * by FC_ISA_NAME, FC_VBYTES, FC_MR and FC_NV (which this undefines after). */
#define FC_T float
#define FC_SUF f32
#define FC_VLEN (FC_VBYTES / 4)
#include "_kernels_impl.h"
#define FC_T double
#define FC_SUF f64
#define FC_VLEN (FC_VBYTES / 8)
#include "_kernels_impl.h"
#undef FC_ISA_NAME
#undef FC_VBYTES
#undef FC_MR
#undef FC_NV
