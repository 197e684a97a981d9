/* The kernels at the portable level (SSE2 on x86-64): _kernels_impl.h for
 * float and double.  See _kernels.h. */
#include "_kernels_base.h"

int fc_gather_pw = FC_GATHER_PW_DEFAULT;   /* Note [gathered B] */
int fc_gather_runs = 1;                   /* Note [gather runs] */
int fc_gather_windows = 3;                /* Note [gather windows] */
int fc_dw_padded = 1;                     /* Note [padded depthwise] */
int fc_dw_const_cg = 1;                   /* Note [grouped channel counts] */
int fc_dw_rolling = 1;                    /* Note [rolling depthwise rows] */
int fc_gather_pf = 1;                     /* Note [gather prefetch] */
int fc_vector_tiles = 1;                  /* Note [vector-wise tiles] */
int fc_stage_store2 = 1;                  /* gemm_task's stride-2 write-out */
int fc_dwcl_short = 1;                    /* Note [short depthwise blocks] */

#define FC_ISA_NAME generic
#define FC_VBYTES 16
#define FC_MR 4
#define FC_NV 3
#include "_kernels_dtypes.h"
