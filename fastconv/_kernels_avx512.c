/* The kernels at the AVX-512 (F, VL, DQ) level, chosen at run time
 * (_kernels.h); empty off x86. */
#include "_kernels_base.h"

#if FC_HAVE_X86
#include <immintrin.h>   /* the gathers of Note [gathered B], under the target */
#pragma GCC target("avx512f,avx512vl,avx512dq,avx2,fma")
#define FC_ISA_NAME avx512
#define FC_VBYTES 64
#define FC_MR 8
#define FC_NV 3
#include "_kernels_dtypes.h"
#else
typedef int fc_no_avx512;   /* ISO C: no empty translation unit */
#endif
