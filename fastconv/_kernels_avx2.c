/* The kernels at the AVX2 + FMA level, chosen at run time (_kernels.h); empty
 * off x86. */
#include "_kernels_base.h"

#if FC_HAVE_X86
#include <immintrin.h>   /* the gathers of Note [gathered B], under the target */
#pragma GCC target("avx2,fma")
#define FC_ISA_NAME avx2
#define FC_VBYTES 32
#define FC_MR 4
#define FC_NV 3
#include "_kernels_dtypes.h"
#else
typedef int fc_no_avx2;   /* ISO C: no empty translation unit */
#endif
