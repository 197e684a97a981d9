# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, embedsignature=True
"""CPU backend: Cython + OpenMP drivers around the C kernels in _kernels.h.

A leaf: arguments arrive checked and normalised (fastconv/_params.py), arrays
C-contiguous and of one dtype (fastconv/_dispatch.py).  Every function here
takes ints and arrays and fills a preallocated output.

Legend: N, C, H, W input; K output channels; G groups; C_g = C/G; K_g = K/G;
kh, kw kernel; OH, OW output; sh, sw stride; dh, dw dilation; pt, pb, pl, pr
padding; P = pixels of an output grid.  See the notes in _kernels.h.
"""

from cython.parallel cimport prange, parallel
from libc.stdint cimport int8_t, int32_t, int64_t, uint32_t, uintptr_t, INT32_MAX
from libc.stdlib cimport malloc, free, calloc
from libc.string cimport memcpy, memset
from cpython.exc cimport PyErr_CheckSignals

import numpy as np

ctypedef fused floating:
    float
    double

cdef extern from *:
    """
    #ifndef FC_BUILD_FLAGS
    #define FC_BUILD_FLAGS "unknown"
    #endif
    """
    const char *FC_BUILD_FLAGS

cdef extern from "_omp_shim.h" nogil:
    int fc_omp_enabled()
    int fc_omp_max_threads()
    int fc_omp_thread_num()
    int fc_omp_num_procs()
    void fc_omp_set_num_threads(int n)

cdef extern from "_kernels.h" nogil:
    ctypedef int64_t fc_idx
    int FC_PAD_ZEROS, FC_PAD_REFLECT, FC_PAD_REPLICATE, FC_PAD_CIRCULAR
    int FC_ISA_GENERIC, FC_ISA_AVX2, FC_ISA_AVX512
    ctypedef struct fc_gemm_args:
        const void *x
        fc_idx x_nstride, x_cstride, x_rstride
        int C_g, ntap_h, ntap_w
        const int32_t *rowtab
        const int32_t *coltab
        const int32_t *col_lo
        const int32_t *col_hi
        int col_step
        fc_idx P_n, P_h, P_w
        void *y
        fc_idx y_nstride, y_kstride, y_rstride, y_cstride
        const void *a
        fc_idx lda
        const void *bias
        int M
        const int32_t *aoff
        int batch_inner
    ctypedef struct fc_direct_args:
        const void *x
        fc_idx H, W
        int C_g, K_g, kh, kw, sh, sw, dh, dw
        const int32_t *rowmap
        const int32_t *colmap
        fc_idx PH, PW
        fc_idx pl
        const void *w
        const void *bias
        void *y
        fc_idx OH, OW
        int zpad
    ctypedef struct fc_dwtcl_args:
        const void *x
        const void *w
        const void *bias
        void *y
        fc_idx C, H, W, OH, OW
        fc_idx ph, pw
        int kh, kw, sh, sw
    ctypedef struct fc_dwcl_args:
        const void *x
        const void *w
        const void *bias
        void *y
        fc_idx C, H, W, OH, OW
        fc_idx pt, pl
        fc_idx PWq
        int K
        int dh, dw
        int S
    ctypedef struct fc_implicit_args:
        const void *xp
        fc_idx xp_nstride
        const fc_idx *koff
        fc_idx kred
        fc_idx PW, OH, OW
        void *y
        fc_idx y_nstride, y_kstride, y_rstride, y_cstride
        const void *a
        fc_idx lda
        const void *bias
        int M
        int row_chunks
    ctypedef struct fc_winograd_args:
        const void *xp
        fc_idx xp_nstride
        const fc_idx *doff
        fc_idx plane, PWs, TH, TW, OH, OW
        int C
        void *y
        fc_idx y_nstride, y_kstride, y_rstep, y_cstep
        const void *u
        const void *bias
        int M
        fc_idx ty0
        int t_ro[2]
        int t_co[2]
        int dense
        const int32_t *lane_xo
        const fc_idx *lane_off
        const int8_t *lane_nrc
        fc_idx nlanes
    ctypedef struct fc_wino_chunk:
        fc_idx n, qc, voff
        int sub, ncol
    size_t fc_winograd_scratch_bytes(fc_blocking b, fc_idx C, size_t esize)
    size_t fc_winograd_panel_scratch_bytes(fc_blocking b, fc_idx C, size_t esize)
    void fc_winograd_input_task_f32(const fc_winograd_args *subs, const fc_wino_chunk *ch,
                                    fc_idx c0, fc_idx c1, void *V, int *bad)
    void fc_winograd_input_task_f64(const fc_winograd_args *subs, const fc_wino_chunk *ch,
                                    fc_idx c0, fc_idx c1, void *V, int *bad)
    void fc_winograd_panel_task_f32(const fc_winograd_args *subs, const fc_wino_chunk *chunks,
                                    int nchunk, const void *V, const void *w, int panel,
                                    void *scratch, int *bad)
    void fc_winograd_panel_task_f64(const fc_winograd_args *subs, const fc_wino_chunk *chunks,
                                    int nchunk, const void *V, const void *w, int panel,
                                    void *scratch, int *bad)
    void fc_winograd_task_f32(const fc_winograd_args *a, fc_idx n, fc_idx q0, fc_idx q1,
                              int m0, int m1, void *scratch, int *bad)
    void fc_winograd_task_f64(const fc_winograd_args *a, fc_idx n, fc_idx q0, fc_idx q1,
                              int m0, int m1, void *scratch, int *bad)
    size_t fc_winograd_t_scratch_bytes(fc_blocking b, fc_idx C, size_t esize)
    void fc_pad_plane3_f32(const float *src, fc_idx W, const int32_t *rowmap, fc_idx nrows,
                           fc_idx PWs, fc_idx pl, fc_idx phase_stride, float *dst)
    void fc_pad_plane3_f64(const double *src, fc_idx W, const int32_t *rowmap, fc_idx nrows,
                           fc_idx PWs, fc_idx pl, fc_idx phase_stride, double *dst)
    void fc_winograd_t_task_f32(const fc_winograd_args *a, fc_idx q0, fc_idx q1,
                                int m0, int m1, void *scratch, int *bad)
    void fc_winograd_t_task_f64(const fc_winograd_args *a, fc_idx q0, fc_idx q1,
                                int m0, int m1, void *scratch, int *bad)
    int fc_winograd_t_weights_f32(const float *w, fc_idx C, fc_idx K, fc_idx k0, fc_idx k1,
                                  const int *f, float *U)
    int fc_winograd_t_weights_f64(const double *w, fc_idx C, fc_idx K, fc_idx k0, fc_idx k1,
                                  const int *f, double *U)
    int fc_winograd_weights_f32(const float *w, fc_idx M, fc_idx C, fc_idx k0, fc_idx k1,
                                float *U)
    int fc_winograd_weights_f64(const double *w, fc_idx M, fc_idx C, fc_idx k0, fc_idx k1,
                                double *U)
    ctypedef struct fc_blocking:
        int mr, nr, kc, vlen
    fc_idx fc_map_index(fc_idx q, fc_idx n, int mode)
    int fc_set_isa(int isa)
    int fc_set_flush_denormal(int on)
    int fc_get_isa()
    int fc_isa_supported(int isa)
    int fc_narrow_fma()
    int fc_set_narrow_fma(int mode)
    fc_blocking fc_get_blocking(int isa, int is_double)
    size_t fc_gemm_scratch_bytes(fc_blocking b, fc_idx nb, fc_idx stage_rows, size_t esize)
    int fc_set_gather_pw(int n)
    int fc_set_gather_runs(int on)
    int fc_set_gather_windows(int n)
    int fc_set_dw_padded(int on)
    int fc_set_dw_const_cg(int on)
    int fc_set_dw_rolling(int on)
    int fc_set_gather_pf(int on)
    int fc_set_vector_tiles(int on)
    int fc_set_stage_store2(int on)
    int fc_set_dwcl_short(int on)
    int fc_gather_pw
    size_t fc_direct_scratch_bytes(fc_blocking b, const fc_direct_args *a, fc_idx rows,
                                   size_t esize)
    void fc_gemm_task_f32(const fc_gemm_args *a, fc_idx p0, fc_idx p1, int m0, int m1,
                          void *scratch)
    void fc_gemm_task_f64(const fc_gemm_args *a, fc_idx p0, fc_idx p1, int m0, int m1,
                          void *scratch)
    void fc_implicit_task_f32(const fc_implicit_args *a, fc_idx n, fc_idx q0, fc_idx q1,
                              int m0, int m1, void *scratch)
    void fc_implicit_cl_task_f32(const fc_implicit_args *a, fc_idx n0, fc_idx n1, int part,
                                 int nparts, int k0, void *scratch)
    void fc_implicit_cl_task_f64(const fc_implicit_args *a, fc_idx n0, fc_idx n1, int part,
                                 int nparts, int k0, void *scratch)
    size_t fc_cl_scratch_bytes(fc_blocking b, size_t esize)
    fc_idx fc_cl_computed(fc_idx OH, fc_idx OW, fc_idx PW)
    void fc_implicit_task_f64(const fc_implicit_args *a, fc_idx n, fc_idx q0, fc_idx q1,
                              int m0, int m1, void *scratch)
    void fc_pad_plane_f32(const float *src, fc_idx W, const int32_t *rowmap,
                          const int32_t *colmap, fc_idx PH, fc_idx PW, fc_idx pl, int sh, int sw,
                          fc_idx PWs, fc_idx phase_stride, fc_idx PHs, float *dst)
    void fc_pad_plane_f64(const double *src, fc_idx W, const int32_t *rowmap,
                          const int32_t *colmap, fc_idx PH, fc_idx PW, fc_idx pl, int sh, int sw,
                          fc_idx PWs, fc_idx phase_stride, fc_idx PHs, double *dst)
    void fc_pixel_task_f32(const float *x, fc_idx N, fc_idx xs, const float *w, fc_idx R,
                           int mrows, const float *bias, float *y, fc_idx ys, void *scratch)
    void fc_pixel_task_f64(const double *x, fc_idx N, fc_idx xs, const double *w, fc_idx R,
                           int mrows, const double *bias, double *y, fc_idx ys, void *scratch)
    fc_idx fc_pixel_block(fc_blocking b, int isa)
    size_t fc_pixel_scratch_bytes(fc_blocking b, int isa, fc_idx N, size_t esize)
    void fc_direct_task_f32(const fc_direct_args *a, fc_idx r0, fc_idx r1, void *scratch)
    void fc_direct_task_f64(const fc_direct_args *a, fc_idx r0, fc_idx r1, void *scratch)
    int fc_dwcl_supported()
    fc_idx fc_floordiv(fc_idx a, fc_idx b)
    void fc_dwtcl_task_f32(const fc_dwtcl_args *a, fc_idx n, fc_idx cb, fc_idx r0, fc_idx r1,
                           void *scratch)
    void fc_dwcl_task_f32(const fc_dwcl_args *a, fc_idx n, fc_idx cb, fc_idx r0, fc_idx r1,
                          void *scratch)
    void fc_pack_rows_f32(const float *base, int m0, int m1, int C_g, int ntaps,
                          fc_idx m_stride, fc_idx c_stride, const fc_idx *tapoff, float *dst,
                          int *nonfinite)
    void fc_pack_rows_f64(const double *base, int m0, int m1, int C_g, int ntaps,
                          fc_idx m_stride, fc_idx c_stride, const fc_idx *tapoff, double *dst,
                          int *nonfinite)
    int fc_any_nonfinite_f32(const float *p, fc_idx n)
    int fc_any_nonfinite_f64(const double *p, fc_idx n)
    void fc_pack_windows_f32(const float *base, int m0, int m1, int C_g, int ktaps, int nwin,
                             const int *ntaps, const int *tapoff, float **dst)
    void fc_pack_windows_f64(const double *base, int m0, int m1, int C_g, int ktaps, int nwin,
                             const int *ntaps, const int *tapoff, double **dst)
    void fc_pack_phases_f32(const float *base, int g, int M, int m0, int m1, int C_g,
                            int nphase, const int *ntaps, fc_idx m_stride,
                            const int32_t **tabs, float **dsts, int *nonfinite)
    void fc_pack_phases_f64(const double *base, int g, int M, int m0, int m1, int C_g,
                            int nphase, const int *ntaps, fc_idx m_stride,
                            const int32_t **tabs, double **dsts, int *nonfinite)

ISA_NAMES = {"generic": FC_ISA_GENERIC, "avx2": FC_ISA_AVX2, "avx512": FC_ISA_AVX512}
PADDING_MODE_CODES = {"zeros": FC_PAD_ZEROS, "reflect": FC_PAD_REFLECT,
                      "replicate": FC_PAD_REPLICATE, "circular": FC_PAD_CIRCULAR}

# Pixels per GEMM task block and the tasks-per-thread goal for load balance.
# Chosen on the development machine (AMD EPYC Zen 5, 2 cores): a 256-pixel
# block of packed B (KC=256 rows) is 256 KiB in float32, inside a 1 MiB L2.
DEF GEMM_BLOCK_PIXELS = 256
DEF TASKS_PER_THREAD = 4
# A gemm task packs its pixels' B before it runs any panel, so splitting few
# panels between tasks packs the same B again for a few rows each: strided
# 3x3 with few output channels spent most of its time packing.  Interleaved
# medians at 2 threads, AMD EPYC Zen 5, 29 Nov 2026, ms, any split -> blocks
# of at least 4 panels, 3x3 stride 2: 1024 -> 24 at 17x17 0.44 -> 0.25, 512
# -> 32 at 28x28 0.445 -> 0.317, 256 -> 48 at 28x28 0.267 -> 0.20, 2 x 512 ->
# 64 at 14x14 0.404 -> 0.32; 1x1 512 -> 24 at 7x7 0.0167 -> 0.0137; 3x3
# 1024 -> 32 at 14x14 0.456 -> 0.431; unchanged at 16-24 channels on 28x28
# to 112x112 (0.166-0.46).
DEF GEMM_SPLIT_MIN_PANELS = 4
DEF PHASE_INNER_MAX_WEIGHT_BYTES = 262144     # Note [phase-inner tasks]
# Note [task locality]: the tasks of a call are numbered so that neighbours share
# input (an implicit GEMM's grid blocks read overlapping padded rows; a direct
# task's channels sit next to the next task's).  Dealt out one at a time
# (schedule dynamic), the threads alternate along that order and each reads
# nearly all of the input; schedule guided hands each thread runs of neighbours
# (halves, then smaller pieces to even out the end).  Bitwise the same results.
# Interleaved medians, guided vs dynamic, Intel Xeon 5th gen, 2 threads:
# implicit resnet50 stem 1.17-1.26, dcgan-out 1.51-1.56, 3->32 3x3 s2 at 224
# 1.66, 3->24 at 100 1.49, 16->32 at 150 1.32, 32->64 at 112 1.11, 4 images
# 32->48 at 30 1.11, 5x5 64->64 at 56 1.05, but fcn-up (one image, four stride
# phases) 0.96-0.97; direct depthwise / grouped 1.03-1.12.  Where the implicit
# tasks split the output channels (panel blocks: resnet50 res4, res5) they
# share weights, not input, and guided lost (res5 0.78): those stay dynamic.
# The gemm tasks pack their own B and Winograd's transform their own tiles:
# there guided was mixed (0.90-1.09), so they stay dynamic.
#
# Note [phase-inner tasks]: the transposed implicit GEMM runs one sub-problem
# per stride phase, and phase-major numbering gave each thread its own phases:
# two threads then wrote alternate columns (and rows) of the same output cache
# lines and read the same input rows, each from the other's cache.  Numbered
# (image, grid block, phase, panel block) instead, a run of tasks covers whole
# output rows with every phase.  That pays while all phases' packed weights
# stay within PHASE_INNER_MAX_WEIGHT_BYTES: the phases' weights then share the
# cache with the rows.  Interleaved medians, phase-inner vs phase-major,
# 2 threads (1 thread), Intel Xeon 5th gen, 3x3 stride 2: fcn-up (64 -> 32 at
# 56x56, 72 KB of weights) 1.43 (1.03), 32 -> 16 at 112x112 1.46 (1.09),
# 64 -> 64 at 56x56 1.41, 128 -> 32 at 56x56 1.31, 96 -> 64 at 40x40 (221 KB)
# 1.26; 4x4: 32 -> 32 at 56x56 1.29, dcgan-out 1.05 (1.04); but 128 -> 64 at
# 28x28 (295 KB) 0.98, 4x4 128 -> 64 at 16x16 (512 KB) 0.70 and unet-up (2x2,
# 2 MB) 0.88, which stay phase-major.
# Implicit GEMM: the padded copy of the input is made in bands of at most this
# many bytes, so a call's extra memory stays bounded at any input size
# (settable for tests through _set_implicit_copy_bytes).
cdef size_t IMPLICIT_COPY_BYTES = 16777216
# Note [lean bands]: layers with fewer multiply-adds than this per copied value
# keep their bands to whole images within IMPLICIT_LEAN_COPY_BYTES (settable
# for tests through _set_implicit_lean_copy_bytes).
DEF IMPLICIT_LEAN_MAX_MACS = 64
cdef size_t IMPLICIT_LEAN_COPY_BYTES = 4194304
# Note [group copies]: a grouped implicit GEMM on one image copied the
# whole input (all groups' padded, phase-split planes: 1 MB for ResNeXt's
# 1024 channels at 14x14) in one parallel loop, then ran its GEMM tasks in a
# second: each group's planes were out of cache by the time its tasks read
# them, and the two loops' barriers were a good part of a call of 0.2-0.5 ms.
# Where a group's copy fits in GROUP_COPY_BYTES, each task is instead one
# (image, group) that copies its group's planes into its own scratch (the
# shared copy's layout for C_g channels) and runs the group's GEMM on them:
# one parallel loop, the copy in L2.  Each output takes the same operations
# in the same order (Note [summation order]): the same bits.  The rule: one
# image, at least GROUP_COPY_MIN_TASKS groups a thread, a whole number a
# thread (15 groups on 2 threads measured 1.05: one thread's eighth group
# waits).  Before / after, medians of 5 alternated runs, AMD EPYC Zen 4, 29
# Nov 2026, 1 thread: ResNeXt 512 in 32 groups at 28x28 s2 0.92, 1024 at
# 14x14 0.94, RegNet 896 in 56 groups 0.92, 1344 at 14x14 0.92, 640 in 20
# groups 0.95, 432 in 9 groups 0.97, 240 in 15 0.93; 2 threads, quiet host
# (interleaved in one process after a second's warm-up): 1024 at 14x14
# 0.80-0.88, 1344 at 14x14 0.86, 512 and 896 at 28x28 1.00-1.01, 640 in 20
# groups 1.03-1.04.  On a noisy host the shared copy's two loops lose most
# (its 2-thread calls ran up to 2.5x their quiet time, the group tasks' at
# most 1.1x): 512 0.44, 896 0.40, 640 0.53, 1344 0.38 there.  Batches keep
# the shared copy (4 x 240 in 15 groups 1.01-1.02, 8 x 96 in 6 1.00-1.03); so
# do dense layers (G = 1: every task reads every channel).  Settable for
# tests through _set_group_copies.
cdef size_t GROUP_COPY_BYTES = 262144
DEF GROUP_COPY_MIN_TASKS = 4          # groups a thread
cdef int _group_copies_mode = -1      # -1 the rule, 0 never, 1 wherever it can
cdef bint _group_copies_last = False  # the latest conv2d_implicit call's choice (tests)
# Note [row chunks]: from this many output columns the implicit GEMM's pixel
# chunks follow output rows (settable for tests through _set_implicit_row_chunks).
cdef int IMPLICIT_ROW_CHUNK_MIN_OW = 96
# Note [gemm task order]: stride phases with more weights than this go pixel block
# by pixel block (settable for tests through _set_gemm_resident_a_bytes).
cdef size_t GEMM_RESIDENT_A_BYTES = 1048576
# Winograd keeps the extra memory of a call bounded too: its transformed
# weights (16/9 of the weights) at most this many bytes at a time (Note
# [Winograd chunks]; settable for tests through _set_winograd_weight_bytes),
# and its per-thread transformed-input block (16*C_g*NR values) at most 3 MB in
# float64.
cdef size_t WINOGRAD_WEIGHT_BYTES = 8388608
DEF WINOGRAD_MAX_C_G = 1024
# Note [Winograd panels] (_kernels_impl.h): an ungrouped call runs panel tasks
# over one shared transformed input V (16 values per channel and tile lane) when
# it has at least as many output channels as tile lanes and V takes at most
# WINOGRAD_PANEL_V_BYTES, or at least 4x as many and V takes at most 4x that.
# Measured on an Intel Xeon 5th gen (Emerald Rapids, 2 MB L2 a core), 2
# threads, float32, panel tasks vs bands (time ratio, > 1: panels faster):
#   K >= lanes, V <= 1.25 MB: resnet50-res4 256 at 14x14 1.13, 128 at 18x18
#     1.20, 96 at 16x16 1.17, 192 at 17x17 1.12, 256 -> 64 at 14x14 1.16,
#     256 at 10x10 1.35, 512 at 10x10 1.44; 128 at 14x14 dilation 2 (K = lanes)
#     0.99;
#   K < lanes: 64 at 28x28 0.88, 48 at 36x36 0.83, 96 at 24x24 0.92, 32 at
#     48x48 0.77, 128 at 28x28 0.89, 64 at 56x56 0.63;
#   V over 1.25 MB: 384 at 13x13 (K = 6 lanes) 1.21, 512 at 14x14 (8) 1.14;
#     256 at 18x18 (2.7) 0.99, 2 x 256 at 14x14 (2) 0.80, 4 x 256 at 7x7 (2) 0.82.
cdef size_t WINOGRAD_PANEL_V_BYTES = 1310720
cdef int _winograd_panels_mode = -1
# Note [dense Winograd lanes] (_kernels_impl.h): a band's lanes run over its
# tiles where its grids would leave more than this share of their vectors'
# lanes junk (settable for tests through _set_winograd_dense: on, off, auto).
cdef double WINOGRAD_DENSE_WASTE = 0.2
cdef int _winograd_dense_mode = -1
cdef int _winograd_dense_last = -1     # the latest band's choice (tests)
# Note [channel lanes] (_kernels_impl.h): conv2d's implicit GEMM runs tiles with
# output channels in the lanes with 64-byte vectors (AVX-512; AVX2's 6-pixel
# tile is not measured), at strides up to 2, with kernels of at least
# CHANNEL_LANES_MIN_TAPS taps, at least two vectors of output channels per
# group, a reduction of at least CHANNEL_LANES_MIN_KRED, at least
# CHANNEL_LANES_MIN_PIXELS output pixels over the batch (each task transposes
# its weights once for all of them), CHANNEL_LANES_MIN_MACS multiply-adds a
# group, and outputs at least CHANNEL_LANES_MIN_TILE_USE of the pixels its
# tiles compute (fc_cl_computed: 14-pixel tiles fit widths of 7, 14, 28, 27,
# not 8 or 16).  Interleaved medians, channel lanes vs pixel lanes, Intel Xeon
# 5th gen, 2 threads, float32, 3x3 pad 1 unless said:
#   512 at 7x7: batch 1 1.13-1.17, 2 1.25, 4 1.27-1.31, 8 1.34-1.38; 1024 at
#     7x7 1.14-1.17; 512 at 14x14 1.12; 256 at 14x14 1.07-1.12 (batch 8 1.12);
#     128 at 28x28 1.24-1.26; 64 at 56x56 1.06-1.11; AlexNet's 5x5 conv2 (64 ->
#     192 at 27x27) 1.25; Inception's 7x1 (192 at 17x17, tiles along the
#     grid) 1.07; dilation 4: 128 at 32x32 1.19, 256 at 33x33 1.45 (GEMM, which
#     'auto' runs there, 1.03 and 1.10); float64 512 at 7x7 1.07, batch 8 1.25
#     (measured before reduction blocks);
#   stride 2: 512 at 14x14 -> 7x7 1.16, batch 2 1.30, 256 -> 512 1.13, 256 at
#     28x28 -> 14x14 1.19, batch 8 1.12, 64 -> 128 at 56x56 1.02, 128 0.97;
#   too few pixels for the transposes: 512 at 5x5 0.99, 2048 -> 512 at 4x4 0.90;
#   under the tile use: 128 at 16x16 (256 of 287 pixels) 0.93-0.98, 64 at
#     16x16 batch 4 0.91, 128 at 8x8 (64 of 84) 0.84-0.85, 384 at 6x6 0.89;
#     256 at 10x10 5x5 (100 of 140) 1.01-1.04; 13x13 (169 of 182) 1.10;
#   under the multiply-adds: 32 at 32x32 (9.4M) 0.92-0.93, 32 -> 64 at 16x16
#     5x5 (13M) 0.93, 96 at 15x15 -> 8x8 stride 2 0.91; 64 at 32x32 (38M) 1.02-1.04;
#   1x1 (a task's input values serve only its 2 vectors of channels, and it
#     streams them from L3 once per channel block): 1024 -> 256 at 14x14
#     batch 2 0.77, batch 8 0.78, even with a task's images capped at
#     CHANNEL_LANES_INPUT_BYTES of padded input; 'auto' runs GEMM there.
#     Except where the GEMM's pixel lanes fill poorly (under
#     CHANNEL_LANES_1X1_MAX_LANE_USE of the batch's outputs' vectors: 49 or
#     98 pixels of 7x7 maps in 64 or 112 lanes) on at least
#     CHANNEL_LANES_1X1_MIN_WEIGHTS weights: channel lanes vs GEMM, AMD EPYC
#     Zen 5, 2 threads, 29 Nov 2026 (torch / channel lanes): 2048 -> 512 at
#     7x7 1.08-1.15 (0.98-1.03), 512 -> 2048 1.04-1.05 (1.01-1.04), 2048 ->
#     1024 1.08, 1024 -> 2048 at 14x14 stride 2 1.08, batch 2 2048 -> 512
#     1.10, 512 -> 2048 1.06; under the weights: 768 -> 768 1.05, 512 ->
#     1024 1.00, 1024 -> 256 0.97; lanes filled: 1024 -> 512 at 8x8 0.87,
#     batch 4 (196 of 208) 0.98.
DEF CHANNEL_LANES_MIN_TAPS = 4
DEF CHANNEL_LANES_MIN_KRED = 256
DEF CHANNEL_LANES_MIN_PIXELS = 48
DEF CHANNEL_LANES_MIN_MACS = 16777216.0    # per group
DEF CHANNEL_LANES_MIN_TILE_USE = 0.9
DEF CHANNEL_LANES_INPUT_BYTES = 1048576
DEF CHANNEL_LANES_1X1_MIN_WEIGHTS = 1048576.0
DEF CHANNEL_LANES_1X1_MAX_LANE_USE = 0.9
# Note [channel lane remainders]: channel-lane tiles hold 2*VLEN output
# channels (32 in float32 on AVX-512), so a group of 40 filled its second block
# with 8 and took as long as 64 (5x5, 24 -> 40 channels at 64x64: 3.1 ms, the
# same as 24 -> 64; 24 -> 32 1.6).  Where K_g % (2*VLEN) is at most
# CHANNEL_LANES_SPLIT_MAX_REM, the whole blocks run channel lanes and the rest
# of each group runs implicit_task's pixel lanes from the same padded copy:
# every output still sums its terms in the same order (the same bits).
# Interleaved medians, split / whole blocks, AMD EPYC Zen 4, 29 Nov 2026, 1
# thread (2 threads), 3x3 pad 1 unless said (remainder in brackets): 24 -> 40
# at 64x64 5x5 [8] 0.65 (0.64), 48 [16] 0.75, 56 [24] 0.86; 64 -> 40 at 28x28
# [8] 0.66 (0.68), 80 [16] 0.85, 88 [24] 0.93 (0.87), 112 [16] 0.87; 128 -> 100
# at 14x14 [4] 0.79 (0.86); batch 4, 64 -> 48 at 14x14 [16] 0.80 (0.81); 64 ->
# 200 at 27x27 5x5 [8] 0.89 (0.90); batch 2, 192 -> 200 at 14x14 (0.89); past
# the limit: 64 -> 60 at 28x28 [28] 0.95 (0.93), 128 -> 124 at 14x14 [28] 0.98
# (1.05), 64 -> 94 [30] 0.98.  float64 (16-channel blocks, every remainder
# under the limit): 64 -> 40 at 28x28 [8] 0.85 (0.85), 24 -> 40 at 64x64 5x5
# [8] 0.83 (0.85), 128 -> 100 at 14x14 [4] 0.90 (0.94), 64 -> 60 [12] 0.97
# (0.96), batch 4, 64 -> 44 at 14x14 5x5 [12] 0.98 (0.99).
DEF CHANNEL_LANES_SPLIT_MAX_REM = 24
cdef int _channel_lanes_mode = -1
cdef int _channel_lanes_last = -1    # the latest conv2d_implicit call's choice (tests)
cdef int _cl_split_mode = -1
cdef int _cl_split_last = 0          # channels the latest call left to pixel lanes (tests)


def _set_channel_lanes_split(int mode):
    """Test hook: Note [channel lane remainders] by the rule (-1), never (0) or
    whenever a group's channels are not whole channel blocks (1); returns the
    old setting."""
    global _cl_split_mode
    old = _cl_split_mode
    _cl_split_mode = mode
    return old


def _channel_lanes_split():
    """Test hook: how many of each group's output channels the latest
    channel-lane conv2d_implicit call ran with pixel lanes (0: none)."""
    return _cl_split_last


def _channel_lanes_used():
    """Test hook: whether the latest conv2d_implicit call ran channel lanes
    (1) or not (0); -1 before any."""
    return _channel_lanes_last


def _set_channel_lanes(int mode):
    """Test hook: conv2d's implicit GEMM with channel-lane tiles (Note [channel
    lanes]) by the rule (-1), never (0) or always (1); returns the old setting."""
    global _channel_lanes_mode
    old = _channel_lanes_mode
    _channel_lanes_mode = mode
    return old


def _set_winograd_panels(int mode):
    """Test hook: Winograd's panel tasks by the rule above (-1), never (0) or
    always where possible (1: ungrouped); returns the old setting."""
    global _winograd_panels_mode
    old = _winograd_panels_mode
    _winograd_panels_mode = mode
    return old


def _set_winograd_dense(int mode):
    """Test hook: Note [dense Winograd lanes] by the rule (-1), never (0) or
    always (1); returns the old setting."""
    global _winograd_dense_mode
    old = _winograd_dense_mode
    _winograd_dense_mode = mode
    return old


def _winograd_dense_used():
    """Test hook: whether the latest conv2d Winograd band ran dense lanes."""
    return _winograd_dense_last == 1


def _set_winograd_weight_bytes(size_t n):
    """Test hook: Winograd's budget for transformed weights; returns the old one."""
    global WINOGRAD_WEIGHT_BYTES
    old = WINOGRAD_WEIGHT_BYTES
    WINOGRAD_WEIGHT_BYTES = n
    return old


def _set_implicit_copy_bytes(size_t n):
    """Test hook: the band budget of the implicit GEMM's padded copy; returns the old one."""
    global IMPLICIT_COPY_BYTES
    old = IMPLICIT_COPY_BYTES
    IMPLICIT_COPY_BYTES = n
    return old


def _set_implicit_lean_copy_bytes(size_t n):
    """Test hook: the band budget of Note [lean bands]; returns the old one."""
    global IMPLICIT_LEAN_COPY_BYTES
    old = IMPLICIT_LEAN_COPY_BYTES
    IMPLICIT_LEAN_COPY_BYTES = n
    return old


def _set_group_copies(int mode):
    """Test hook: Note [group copies] by the rule (-1), never (0) or wherever a
    grouped call can (1); returns the old mode."""
    global _group_copies_mode
    old = _group_copies_mode
    _group_copies_mode = mode
    return old


def _group_copies_used():
    """Test hook: whether the latest conv2d_implicit call copied group by group."""
    return _group_copies_last


def _set_gemm_resident_a_bytes(size_t n):
    """Test hook: the weight size from which gemm tasks go pixel block by pixel
    block (Note [gemm task order]); returns the old one."""
    global GEMM_RESIDENT_A_BYTES
    old = GEMM_RESIDENT_A_BYTES
    GEMM_RESIDENT_A_BYTES = n
    return old


def _set_implicit_row_chunks(int min_ow):
    """Test hook: the output width from which implicit GEMM chunks follow output
    rows (Note [row chunks] in _kernels_impl.h); returns the old one."""
    global IMPLICIT_ROW_CHUNK_MIN_OW
    old = IMPLICIT_ROW_CHUNK_MIN_OW
    IMPLICIT_ROW_CHUNK_MIN_OW = min_ow
    return old


def _set_gather_pw(int n):
    """Test hook: gemm tasks pack B by gathers on grids narrower than n columns
    (Note [gathered B] in _kernels_base.h); 0 turns gathers off, the transposed
    conv's weight packing included.  Returns the old width."""
    return fc_set_gather_pw(n)


def _set_gather_runs(int on):
    """Test hook: gathered B vectors whose lanes read consecutive values are
    masked loads (Note [gather runs] in _kernels_base.h) when on (the default),
    gathers when off.  Returns the old setting."""
    return fc_set_gather_runs(on)


def _set_gather_windows(int n):
    """Test hook: gathered B vectors whose lanes read within at most n (<= 3)
    stretches of 16 values are that many permuted loads (Note [gather windows]
    in _kernels_base.h; AVX-512, float32); 0: gathers.  Returns the old n."""
    if not 0 <= n <= 3:
        raise ValueError("n must be 0 to 3")
    return fc_set_gather_windows(n)


def _set_dw_padded(int on):
    """Test hook: depthwise 5x5 / 7x7 layers at stride 1 go through a padded
    plane (Note [padded depthwise] in _kernels_impl.h) when on (the default),
    through the masked tiles when off.  Returns the old setting."""
    return fc_set_dw_padded(on)


def _set_dw_const_cg(int on):
    """Test hook: grouped 3x3 layers with 4, 8 or 16 channels per group take
    the direct tiles compiled for that count (Note [grouped channel counts] in
    _kernels_impl.h) when on (the default), the run-time ones when off.
    Returns the old setting."""
    return fc_set_dw_const_cg(on)


def _set_dw_rolling(int on):
    """Test hook: depthwise 3x3 layers at stride 1 or 2 wider than a vector
    roll down the rows on AVX-512 (Note [rolling depthwise rows] in _kernels_impl.h)
    when on (the default), take the masked tiles when off.  Returns the old
    setting."""
    return fc_set_dw_rolling(on)


def _set_gather_pf(int on):
    """Test hook (and A/B switch): gathered B packs at column stride 2 prefetch
    the next pixel block's input (Note [gather prefetch] in _kernels_impl.h)
    when on (the default).  Returns the old setting."""
    return fc_set_gather_pf(on)


def _set_vector_tiles(int on):
    """Test hook (and A/B switch): a gemm task writes a full tile whose vectors
    each land on consecutive outputs straight to them (Note [vector-wise tiles]
    in _kernels_impl.h) when on (the default); off, through its staging tile.
    Returns the old setting."""
    return fc_set_vector_tiles(on)


def _set_dwcl_short(int on):
    """Test hook (and A/B switch): a row's last block of at most 8 outputs in
    Note [depthwise channel lanes] makes 8 accumulators (Note [short depthwise
    blocks] in _kernels_impl.h) when on (the default), 16 when off.  Returns
    the old setting."""
    return fc_set_dwcl_short(on)


def _set_stage_store2(int on):
    """Test hook (and A/B switch): a gemm task writes a transposed conv's
    stride-2 phase out of its stage with masked stores (on, the default) or a
    value at a time.  Returns the old setting."""
    return fc_set_stage_store2(on)


# Direct kernel: scratch of padded rows per task kept near L2-resident size.
DEF DIRECT_SCRATCH_BYTES = 196608
# Channel-lane depthwise (Note [depthwise channel lanes]): the most scratch a
# thread may take for a band of one output row, else the pixel-lane path runs.
DEF LANES_MAX_SCRATCH_BYTES = 4194304

cdef bint _dw_masked = True


def _set_dw_masked(bint on):
    """Test hook: the direct kernel reads zero-padded stride-1 depthwise tiles
    straight from the input with masked loads (Note [masked depthwise] in
    _kernels_impl.h); False makes it copy them padded first, as at other
    strides.  Returns the old setting."""
    global _dw_masked
    old = _dw_masked
    _dw_masked = on
    return old


def build_flags():
    """The compiler flags the extension was built with."""
    return FC_BUILD_FLAGS.decode()


def openmp_enabled():
    return bool(fc_omp_enabled())


def max_threads():
    """OpenMP's default team size (honours OMP_NUM_THREADS); 1 without OpenMP."""
    return fc_omp_max_threads()


def set_flush_denormal(bint on):
    """Flush subnormal inputs and results to zero in the kernels (x86 FTZ/DAZ).

    Returns whether the mode is now on (False where the CPU cannot)."""
    return bool(fc_set_flush_denormal(on))


def isa_supported(name):
    return bool(fc_isa_supported(ISA_NAMES[name]))


def set_isa(name=None):
    """Select the SIMD level ('avx512', 'avx2', 'generic'; None = best available).

    For tests and benchmarks; returns the level now in force.
    """
    code = -1 if name is None else ISA_NAMES[name]
    got = fc_set_isa(code)
    if got < 0:
        raise ValueError(f"SIMD level {name!r} is not supported by this CPU")
    return get_isa()


def narrow_fma():
    """Whether this CPU's 512-bit FMAs run at half width (Note [narrow FMA] in
    _kernels.h: AMD Zen 4); 'auto' favours Winograd there."""
    return bool(fc_narrow_fma())


def _set_narrow_fma(int mode):
    """Test hook: narrow_fma() forced to mode (0 or 1), or -1 for the CPU's
    own answer; returns the old setting."""
    return fc_set_narrow_fma(mode)


def winograd_max_c_g():
    """The most input channels a group Winograd runs (past it: the implicit GEMM)."""
    return WINOGRAD_MAX_C_G


def group_copies_fit(fc_idx C_g, int sh, int sw, fc_idx PH, fc_idx PW):
    """Whether one group's float32 copy (C_g channels of a PH x PW padded
    input at stride sh x sw) fits Note [group copies]' budget at the running
    SIMD level."""
    return _group_copy_bytes(C_g, sh, sw, _cdiv(PH, sh), _cdiv(PW, sw),
                             fc_get_blocking(fc_get_isa(), 0),
                             sizeof(float)) <= GROUP_COPY_BYTES


def get_isa():
    code = fc_get_isa()
    for k, v in ISA_NAMES.items():
        if v == code:
            return k


def blocking(dtype_is_double=False):
    cdef fc_blocking b = fc_get_blocking(fc_get_isa(), 1 if dtype_is_double else 0)
    return {"mr": b.mr, "nr": b.nr, "kc": b.kc, "vlen": b.vlen}


# Note [interruptible]: tasks run in batches of about BATCH_MACS multiply-adds,
# with the GIL taken back between batches to check for signals, so Ctrl-C stops
# a long call within a fraction of a second (a batch is ~10-100 ms at the speeds
# measured here) instead of at its end.  Nothing global is left half-done: the
# output array of an interrupted call is simply incomplete.
DEF BATCH_MACS = 2000000000.0


cdef fc_idx _batch_size(fc_idx ntask, double macs, int nthreads):
    """Tasks per batch for Note [interruptible], a multiple of the thread count."""
    if ntask <= 0:
        return 1
    cdef double per_task = macs / ntask if macs > 0 else 1.0
    cdef fc_idx n = <fc_idx>(BATCH_MACS / per_task) if per_task > 0 else ntask
    n = max(n, <fc_idx>nthreads)
    n = (n + nthreads - 1) // nthreads * nthreads
    return min(n, ntask)


ctypedef void (*_task_fn)(void *ctx, fc_idx t, char *scratch) noexcept nogil


cdef void _run_tasks(_task_fn fn, void *ctx, fc_idx ntask, double macs, int nthreads,
                     char *scratch, size_t sbytes, bint guided) except *:
    """Tasks [0, ntask) of fn, each with its thread's sbytes of scratch, in the
    batches of Note [interruptible]: a batch of one thread's work without a
    thread team, else taken by the threads in runs of neighbours (guided, Note
    [task locality]) or one at a time (dynamic)."""
    cdef fc_idx batch = _batch_size(ntask, macs, nthreads), tb = 0, te, t
    while tb < ntask:
        te = min(tb + batch, ntask)
        if nthreads == 1 or te - tb == 1:
            with nogil:
                for t in range(tb, te):
                    fn(ctx, t, scratch)
        elif guided:
            with nogil, parallel(num_threads=nthreads):
                for t in prange(tb, te, schedule="guided"):
                    fn(ctx, t, scratch + sbytes * fc_omp_thread_num())
        else:
            with nogil, parallel(num_threads=nthreads):
                for t in prange(tb, te, schedule="dynamic"):
                    fn(ctx, t, scratch + sbytes * fc_omp_thread_num())
        tb = te
        PyErr_CheckSignals()


cdef inline void *_align_up(void *p, size_t a) nogil:
    return <void *>((<uintptr_t>p + a - 1) & ~(<uintptr_t>(a - 1)))


cdef inline fc_idx _cdiv(fc_idx a, fc_idx b) nogil:
    return (a + b - 1) // b


cdef inline fc_idx _spread_stride(fc_idx n, size_t esize) nogil:
    """n values rounded up to an odd number of cache lines: the stride between
    phase planes.  At a multiple of 4 KB (512 channels of 4x4 planes: dilation
    6 at 33x33) every plane's line fell in one L1 set and few L2 sets, and the
    phase copy's writes thrashed both."""
    cdef fc_idx per_line = <fc_idx>(64 // esize)
    cdef fc_idx lines = _cdiv(n, per_line)
    return (lines + 1 - lines % 2) * per_line


cdef inline void _zero_slack(floating *xpad, fc_idx nplanes, fc_idx used, fc_idx stride,
                             size_t npad) noexcept nogil:
    """Zero what a padded copy of nplanes planes `stride` apart (_spread_stride),
    each with `used` values written, leaves unwritten: each plane's gap and the
    slack from the last plane's end to npad.  Junk lanes read them."""
    cdef fc_idx t, q
    for t in range(nplanes):
        for q in range(t * stride + used, (t + 1) * stride):
            xpad[q] = 0
    for q in range(nplanes * stride, <fc_idx>npad):
        xpad[q] = 0


cdef inline fc_idx _pmod(fc_idx a, fc_idx b) nogil:
    cdef fc_idx r = a % b
    return r + b if r < 0 else r


# Note [thread setting]: a call without num_threads= uses the process-wide
# setting of fastconv.set_num_threads() capped by OpenMP's nthreads-var *of the
# calling thread*, read at call time (never cached).  That ICV is what
# OMP_NUM_THREADS sets and what threadpoolctl's threadpool_limits(user_api=
# 'openmp') lowers and restores, so such a limit always wins over the setting;
# set_num_threads() also raises the ICV of the thread that calls it, so there
# the setting is exact.  With no setting, OpenMP's value is used as is.
cdef int _setting = 0          # 0: no fastconv.set_num_threads() yet
cdef int _last_threads = 0     # team size of the latest call (tests)


def set_default_threads(int n, bint set_openmp=True):
    """Back end of fastconv.set_num_threads (n > 0; 0 removes the setting)."""
    global _setting
    _setting = max(n, 0)
    if n > 0 and set_openmp:
        fc_omp_set_num_threads(n)


def default_threads():
    """Threads a call without num_threads= would use now, from this thread."""
    cdef int omp = fc_omp_max_threads()
    return omp if _setting <= 0 else min(_setting, omp)


def setting():
    return _setting if _setting > 0 else None


def omp_set_num_threads(int n):
    """OpenMP's omp_set_num_threads on the calling thread (tests)."""
    fc_omp_set_num_threads(n)


def last_num_threads():
    """The team size the latest kernel call asked OpenMP for (tests; racy across
    Python threads)."""
    return _last_threads


cdef int _omp_initial = fc_omp_max_threads()   # OpenMP's default (OMP_NUM_THREADS) at import


cdef int _threads(object num_threads) except -1:
    """Threads for one call.  A request past 4x the processors (or OpenMP's own
    default, if larger) is capped there, whether a call's num_threads= or the
    set_num_threads() setting: more cannot help, and a team of a million
    threads would exhaust the process or its workspace (results do not depend
    on it)."""
    global _last_threads
    cdef int n
    if num_threads is None:
        n = default_threads()
    else:
        n = <int>max(1, min(int(num_threads), 1 << 30))
    # OpenMP's default is within the cap: the processor count (a system call,
    # ~10% of a tiny layer's call) is asked only past it.
    if n > _omp_initial:
        n = min(n, max(4 * fc_omp_num_procs(), _omp_initial))
    _last_threads = n
    return n


cdef void _linear_runs(const int32_t *coltab, int ntw, fc_idx Pw, int step, int32_t *lo,
                       int32_t *hi) noexcept:
    """Per tap column, the longest run where coltab is valid and advances by `step`."""
    cdef int tj
    cdef fc_idx q, start, best_lo, best_hi
    cdef const int32_t *ct
    for tj in range(ntw):
        ct = coltab + tj * Pw
        best_lo = 0
        best_hi = 0
        q = 0
        while q < Pw:
            if ct[q] < 0:
                q += 1
                continue
            start = q
            q += 1
            while q < Pw and ct[q] == ct[q - 1] + step:
                q += 1
            if q - start > best_hi - best_lo:
                best_lo = start
                best_hi = q
        lo[tj] = <int32_t>best_lo
        hi[tj] = <int32_t>best_hi


cdef extern from *:
    """
    #include <stdlib.h>
    #if defined(__linux__)
    #include <sys/mman.h>
    #endif
    /* Large workspaces on 2 MiB pages where the kernel allows it (THP 'madvise'):
     * the implicit GEMM walks one cache line per channel plane, and with 4 KiB
     * pages that is a TLB miss per load once planes pass the page size. */
    static void *fc_big_alloc(size_t n) {
        void *p = NULL;
        const size_t huge = (size_t)2 << 20;
        if (n < huge) return malloc(n ? n : 1);
        if (posix_memalign(&p, huge, (n + huge - 1) / huge * huge) != 0) return NULL;
    #if defined(__linux__) && defined(MADV_HUGEPAGE)
        madvise(p, (n + huge - 1) / huge * huge, MADV_HUGEPAGE);
    #endif
        return p;
    }
    /* The bytes fc_big_alloc(n) holds. */
    static size_t fc_big_alloc_size(size_t n) {
        const size_t huge = (size_t)2 << 20;
        return n < huge ? (n ? n : 1) : (n + huge - 1) / huge * huge;
    }
    """
    void *fc_big_alloc(size_t n) nogil
    size_t fc_big_alloc_size(size_t n) nogil


# Note [workspace cache]: a call's workspace blocks of WORKSPACE_CACHE_MIN
# bytes and more go back to a small cache when the call returns, and the next
# calls take them from there (the smallest block that fits, at most twice the
# size asked for).  Freed to the C library instead, blocks that size are
# unmapped and every call faulted its workspace in again, page by page: in a
# fresh process resnet50-res3 under Winograd took 1.42 ms at 1 thread and 1.02
# at 2 against 0.88 and 0.51 with its blocks kept (glibc's mmap threshold
# only rises after the first such free, and not for every size), and other
# layers varied the same way with the process's history.  The cache holds at
# most WORKSPACE_CACHE_BYTES (a call's own workspace is bounded by the same
# order, Note [interruptible] and the copy bands): the memory a call adds stays
# within test_memory's bound, and the process keeps at most that much between
# calls.  Blocks are taken and returned with the GIL held.  Nothing may read
# workspace it has not written: _set_workspace_poison fills every block
# handed out with a given byte, and tests want the same bits for 0x00 and 0xFF.
DEF WORKSPACE_CACHE_MIN = 65536
DEF WORKSPACE_CACHE_COUNT = 64      # blocks at most (a call looks through them all)
cdef size_t WORKSPACE_CACHE_BYTES = 33554432
cdef list _ws_blocks = []        # (capacity, address), least recently returned first
cdef size_t _ws_bytes = 0
cdef int _ws_poison = -1


cdef void _ws_trim(size_t limit):
    """Free cached blocks, oldest first, until at most `limit` bytes in at most
    WORKSPACE_CACHE_COUNT blocks are cached."""
    global _ws_bytes
    cdef size_t cap
    while _ws_blocks and (_ws_bytes > limit or len(_ws_blocks) > WORKSPACE_CACHE_COUNT):
        cap, p = _ws_blocks.pop(0)
        _ws_bytes -= cap
        free(<void *><uintptr_t>p)


cdef int _phase_inner = -1


def _set_phase_inner(int mode):
    """Test hook: number the transposed implicit GEMM's tasks phase-inner (1),
    phase-major (0) or as Note [phase-inner tasks] says (-1); returns the old mode."""
    global _phase_inner
    old = _phase_inner
    _phase_inner = mode
    return old


def _set_workspace_cache(size_t nbytes):
    """Test hook: the most bytes Note [workspace cache] keeps between calls (0:
    none; the cache is trimmed now).  Returns the old limit."""
    global WORKSPACE_CACHE_BYTES
    old = WORKSPACE_CACHE_BYTES
    WORKSPACE_CACHE_BYTES = nbytes
    _ws_trim(nbytes)
    return old


def _workspace_cached_bytes():
    """Test hook: the bytes Note [workspace cache] holds now."""
    return _ws_bytes


def _set_workspace_poison(int byte):
    """Test hook: fill every workspace block handed out with this byte (0xFF:
    a NaN in every float lane, -1 in every index), or -1 for no filling, so a
    kernel that reads workspace it did not write shows.  Returns the old one."""
    global _ws_poison
    old = _ws_poison
    _ws_poison = byte
    return old


cdef class _Buffers:
    """Owns the workspace blocks of one call; they go back to the cache of
    Note [workspace cache] (or are freed) when the call returns."""
    cdef list ptrs      # (capacity, address)

    def __cinit__(self):
        self.ptrs = []

    cdef void *get(self, size_t nbytes) except NULL:
        global _ws_bytes
        cdef void *p = NULL
        cdef size_t cap = nbytes, best_cap = 0
        cdef Py_ssize_t i, best = -1
        if nbytes >= WORKSPACE_CACHE_MIN:
            for i in range(len(_ws_blocks)):
                cap = _ws_blocks[i][0]
                if nbytes <= cap <= 2 * nbytes and (best < 0 or cap < best_cap):
                    best = i
                    best_cap = cap
            if best >= 0:
                cap, addr = _ws_blocks.pop(best)
                _ws_bytes -= cap
                p = <void *><uintptr_t>addr
        if p == NULL:
            cap = fc_big_alloc_size(nbytes)
            p = fc_big_alloc(nbytes)
            if p == NULL:
                raise MemoryError(f"fastconv: could not allocate {nbytes} bytes of workspace")
        self.ptrs.append((cap, <uintptr_t>p))
        if _ws_poison >= 0:
            memset(p, _ws_poison, nbytes)
        return p

    def __dealloc__(self):
        global _ws_bytes
        cdef size_t cap
        for cap, p in self.ptrs:
            if _ws_blocks is not None and WORKSPACE_CACHE_MIN <= cap <= WORKSPACE_CACHE_BYTES:
                _ws_blocks.append((cap, p))
                _ws_bytes += cap
            else:
                free(<void *><uintptr_t>p)
        if _ws_blocks is not None:
            _ws_trim(WORKSPACE_CACHE_BYTES)


cdef int32_t *_padded_map(_Buffers bufs, fc_idx n, fc_idx before, fc_idx size,
                         int mode) except NULL:
    """map[q] for padded coordinates q in [0, n): the source index of
    q - before in an axis of `size` under the padding mode, or -1 for a zero."""
    cdef int32_t *m = <int32_t *>bufs.get(<size_t>max(n, 1) * sizeof(int32_t))
    cdef fc_idx q
    for q in range(n):
        m[q] = <int32_t>fc_map_index(q - before, size, mode)
    return m


# ---------------------------------------------------------------------------
# Implicit GEMM driver shared by conv2d and conv_transpose2d.
# ---------------------------------------------------------------------------

cdef struct _GemmRun:
    fc_gemm_args *subs
    fc_idx *task_sub
    fc_idx *task_p0
    int *task_m0
    fc_idx nb, mb_size
    int npanel
    bint is_double


cdef void _gemm_one(void *ctx, fc_idx t, char *scratch) noexcept nogil:
    """Task t of _run_gemm: pixels [p0, p0 + nb) of its sub-problem, panels from m0."""
    cdef _GemmRun *r = <_GemmRun *>ctx
    cdef fc_idx s = r.task_sub[t], p0 = r.task_p0[t]
    cdef fc_idx p1 = min(p0 + r.nb, r.subs[s].P_n * r.subs[s].P_h * r.subs[s].P_w)
    cdef int m0 = r.task_m0[t], m1 = <int>min(<fc_idx>m0 + r.mb_size, <fc_idx>r.npanel)
    if r.is_double:
        fc_gemm_task_f64(&r.subs[s], p0, p1, m0, m1, scratch)
    else:
        fc_gemm_task_f32(&r.subs[s], p0, p1, m0, m1, scratch)


cdef void _run_gemm(fc_gemm_args *subs, fc_idx nsub, int npanel, bint is_double,
                    int nthreads, _Buffers bufs, size_t esize, bint shared_x=False) except *:
    """Split each sub-problem into (pixel block, panel block) tasks and run them.
    shared_x: the sub-problems read the same input (one group's stride phases)."""
    cdef fc_blocking b = fc_get_blocking(fc_get_isa(), is_double)
    cdef fc_idx s, ntask = 0, maxp = 0, nb, nmb, total_pb = 0
    for s in range(nsub):
        maxp = max(maxp, subs[s].P_n * subs[s].P_h * subs[s].P_w)
    if maxp == 0 or nsub == 0:
        return
    nb = min(_cdiv(maxp, b.nr) * b.nr, GEMM_BLOCK_PIXELS // b.nr * b.nr)
    # Few pixel blocks for the threads: shrink the blocks first (each task packs
    # only its own pixels), down to one micro-tile width ...
    while nb > b.nr:
        total_pb = 0
        for s in range(nsub):
            total_pb += _cdiv(subs[s].P_n * subs[s].P_h * subs[s].P_w, nb)
        if total_pb >= TASKS_PER_THREAD * nthreads or nthreads == 1:
            break
        nb = max(b.nr, (nb // 2) // b.nr * b.nr)
    # Even blocks: 256 pixels as 144 + 112, not 240 + 16 (a tiny last block is a
    # task of nearly no work, so the others carry the load).
    nb = _cdiv(_cdiv(maxp, _cdiv(maxp, nb)), b.nr) * b.nr
    total_pb = 0
    for s in range(nsub):
        total_pb += _cdiv(subs[s].P_n * subs[s].P_h * subs[s].P_w, nb)
    # ... then split the output channels too (every such task repacks its
    # pixels), into blocks of at least GEMM_SPLIT_MIN_PANELS panels: a task's
    # packed B then serves that many micro-tile rows or more.
    nmb = 1
    if total_pb < TASKS_PER_THREAD * nthreads and nthreads > 1:
        nmb = min(<fc_idx>npanel // GEMM_SPLIT_MIN_PANELS,
                  _cdiv(TASKS_PER_THREAD * nthreads, total_pb))
    nmb = max(nmb, 1)
    cdef fc_idx mb_size = _cdiv(npanel, nmb)
    nmb = _cdiv(npanel, mb_size)

    cdef fc_idx *task_sub = <fc_idx *>bufs.get(total_pb * nmb * sizeof(fc_idx))
    cdef fc_idx *task_p0 = <fc_idx *>bufs.get(total_pb * nmb * sizeof(fc_idx))
    cdef int *task_m0 = <int *>bufs.get(total_pb * nmb * sizeof(int))
    # Note [gemm task order]: tasks go sub-problem by sub-problem, so consecutive
    # tasks (and the two threads, which take them in turn) share the weights.
    # Where the sub-problems are stride phases reading the same input and a
    # phase's weights exceed GEMM_RESIDENT_A_BYTES (too big to stay in L2 with
    # the rest), they go pixel block by pixel block instead, every phase of a
    # block in turn, so the block's input is what stays.  Same tasks, same bits.
    # Interleaved medians, blocks vs phases first, Intel Xeon 5th gen, 2 threads:
    # dcgan-up1 (2 MB of weights a phase) 1.11 (1 thread 1.00); with all weights
    # counted as too big, dcgan-up3 (128 KB) 0.97 and unet-up (512 KB) 0.90-1.00.
    cdef fc_idx p0, mb
    cdef size_t abytes = 0
    for s in range(nsub):
        abytes = max(abytes, <size_t>subs[s].M * subs[s].C_g * subs[s].ntap_h * subs[s].ntap_w
                     * esize)
    cdef bint blocks_outer = shared_x and nsub > 1 and abytes > GEMM_RESIDENT_A_BYTES
    cdef fc_idx nblk = _cdiv(maxp, nb), i
    for i in range(nsub * nblk):
        if blocks_outer:
            s, p0 = i % nsub, (i // nsub) * nb
        else:
            s, p0 = i // nblk, (i % nblk) * nb
        if p0 < subs[s].P_n * subs[s].P_h * subs[s].P_w:
            for mb in range(nmb):
                task_sub[ntask] = s
                task_p0[ntask] = p0
                task_m0[ntask] = <int>(mb * mb_size)
                ntask += 1

    cdef bint staged = False
    for s in range(nsub):
        staged = (staged or subs[s].y_cstride != 1 or subs[s].y_rstride != subs[s].P_w
                  or subs[s].batch_inner)
    cdef size_t sbytes = fc_gemm_scratch_bytes(b, nb, mb_size * b.mr if staged else 0, esize)
    cdef char *scratch = <char *>bufs.get(sbytes * nthreads)
    cdef double macs = 0
    for s in range(nsub):
        macs += (<double>subs[s].M * subs[s].C_g * subs[s].ntap_h * subs[s].ntap_w
                 * subs[s].P_n * subs[s].P_h * subs[s].P_w)
    cdef _GemmRun run = _GemmRun(subs, task_sub, task_p0, task_m0, nb, mb_size, npanel,
                                 is_double)
    _run_tasks(_gemm_one, &run, ntask, macs, nthreads, scratch, sbytes, False)


cdef floating *_pack_rows(const floating *w, int G, int M, int C_g, int ntaps,
                          fc_idx g_stride, fc_idx m_stride, fc_idx c_stride, fc_idx *tapoff,
                          int nthreads, _Buffers bufs, int *nonfinite) except NULL:
    """Row-major [G][M][C_g*ntaps] weights of one transposed-conv stride phase;
    nonfinite[thread] set where a weight is Inf or NaN."""
    cdef fc_idx per_group = <fc_idx>M * C_g * ntaps
    cdef floating *dst = <floating *>bufs.get(max(G * per_group, 1) * sizeof(floating))
    cdef fc_idx nblk = _cdiv(M, 16), t, g
    cdef int m0
    with nogil:
        for t in prange(<fc_idx>G * nblk, num_threads=nthreads, schedule="static"):
            g = t // nblk
            m0 = <int>((t % nblk) * 16)
            if floating is float:
                fc_pack_rows_f32(w + g * g_stride, m0, min(m0 + 16, M), C_g, ntaps, m_stride,
                                 c_stride, tapoff, dst + g * per_group,
                                 &nonfinite[fc_omp_thread_num()])
            else:
                fc_pack_rows_f64(w + g * g_stride, m0, min(m0 + 16, M), C_g, ntaps, m_stride,
                                 c_stride, tapoff, dst + g * per_group,
                                 &nonfinite[fc_omp_thread_num()])
    return dst


cdef void **_pack_phases(const floating *w, int G, int M, int C_g, int nphase, int *ntaps,
                         fc_idx *tapoffs, int tap_pitch, fc_idx g_stride, fc_idx m_stride,
                         fc_idx c_stride, int nthreads, _Buffers bufs,
                         bint *nonfinite) except NULL:
    """The weights of every stride phase p as a row-major [G][M][C_g*ntaps[p]]
    matrix, A[m][(c, t)] = w[g*C_g + c, m, tap t], tap t of phase p at offset
    tapoffs[p*tap_pitch + t] within w[c, m].  One pass over the weights
    (fc_pack_phases) where int32 offsets reach them, else phase by phase
    (also with gathers turned off, the test hook _set_gather_pw(0)).
    *nonfinite: whether a packed weight is Inf or NaN (Note [transposed
    non-finite weights])."""
    cdef void **packs = <void **>bufs.get(<size_t>max(nphase, 1) * sizeof(void *))
    cdef int p
    cdef int *flags = <int *>bufs.get(<size_t>max(nthreads, 1) * sizeof(int))
    for p in range(nthreads):
        flags[p] = 0
    cdef fc_idx j, kred, maxoff = 0, nblk = _cdiv(M, 16), t, g
    cdef int m0
    for p in range(nphase):
        for j in range(ntaps[p]):
            maxoff = max(maxoff, tapoffs[p * tap_pitch + j])
    if <fc_idx>(C_g - 1) * c_stride + maxoff > INT32_MAX or fc_gather_pw == 0:
        for p in range(nphase):
            packs[p] = _pack_rows(w, G, M, C_g, ntaps[p], g_stride, m_stride, c_stride,
                                  tapoffs + p * tap_pitch, nthreads, bufs, flags)
        nonfinite[0] = _any_flagged(flags, nthreads)
        return packs
    # Offsets of row 0's values from its start, one table per phase.
    cdef int32_t **tabs = <int32_t **>bufs.get(<size_t>max(nphase, 1) * sizeof(int32_t *))
    for p in range(nphase):
        kred = <fc_idx>C_g * ntaps[p]
        packs[p] = bufs.get(<size_t>max(G * M * kred, 1) * sizeof(floating))
        tabs[p] = <int32_t *>bufs.get(<size_t>max(kred, 1) * sizeof(int32_t))
        for j in range(kred):
            tabs[p][j] = <int32_t>((j // ntaps[p]) * c_stride
                                   + tapoffs[p * tap_pitch + j % ntaps[p]])
    with nogil:
        for t in prange(<fc_idx>G * nblk, num_threads=nthreads, schedule="static"):
            g = t // nblk
            m0 = <int>((t % nblk) * 16)
            if floating is float:
                fc_pack_phases_f32(w + g * g_stride, <int>g, M, m0, min(m0 + 16, M), C_g,
                                   nphase, ntaps, m_stride, <const int32_t **>tabs,
                                   <float **>packs, &flags[fc_omp_thread_num()])
            else:
                fc_pack_phases_f64(w + g * g_stride, <int>g, M, m0, min(m0 + 16, M), C_g,
                                   nphase, ntaps, m_stride, <const int32_t **>tabs,
                                   <double **>packs, &flags[fc_omp_thread_num()])
    nonfinite[0] = _any_flagged(flags, nthreads)
    return packs


# Note [padding-only taps]: with zero padding, the output rows near the top
# and bottom edges (columns near the sides) have kernel rows (columns) that
# fall wholly in the padding: w * 0 adds nothing.  oneDNN skips them; a GEMM
# over the full kernel multiplies those zeros.  Large padding makes that most
# of the work: DeepLab's ASPP runs 3x3 at dilation 12, 24 and 36 with the same
# padding on maps of 28-65, where 49%, 82% or 89% of a 28x28 map's
# multiply-adds meet only padding.  So conv2d_gemm splits the output into
# regions (bands of rows x bands of columns) whose in-bounds taps are the same
# window (a sub-rectangle of the kernel: for one output they are a run of
# rows by a run of columns), copies each window's weights ([K][C_g * window
# taps]; windows in batches whose copies fit TAP_REGION_COPY_BYTES, a batch's
# copies made in one pass over w and freed before the next) and runs a batch's
# regions as the sub-problems of one GEMM; a region with no tap in bounds gets
# the bias.  Each sum is the full GEMM's without the terms w * 0,
# in the same order: the same values (a zero's sign aside).  Unless every
# weight is finite (an Inf or NaN weight times a padding zero is NaN, which
# torch returns), the full GEMM runs.  Which split (rows and columns, rows
# only, columns only) and whether at all: _tap_choice's cost model, in shares
# of the full GEMM's multiply-adds: those kept (TAP_REGION_NARROW_COST more
# where columns split: narrower regions, staged tiles, short pack runs),
# TAP_REGION_COPY_MACS
# per weight copied (_CACHED where the weights fit TAP_REGION_CACHED_BYTES),
# TAP_REGION_READ_MACS per weight read; taken where it saves
# TAP_REGION_MIN_GAIN of a call of TAP_REGION_MIN_MACS or more.  Interleaved
# medians, split vs full GEMM, Intel Xeon 5th gen, 2 threads, float32
# (torch/fastconv after):
#   2048 -> 256 at 28x28, dilation 36: 6.8-7.0 (6.9-7.2), dilation 24:
#     1.98-2.22 (0.62-0.71; 0.30 before), dilation 12: not taken (splits
#     1.07-1.10);
#   the same at 65x65: dilation 36 1.77-1.83 (1.75), 24 1.12-1.27 (1.13-1.24),
#     12 not taken (splits 0.96-1.02);
#   512 -> 256 at 33x33, dilation 18: 1.82-1.92 (1.87-2.05);
#   cached weights: 4 x 256 at 14x14, dilation 12: 2.43-2.51 (0.69-0.72; 0.29
#     before), dilation 6 1.16-1.25; 2 x 512 at 14x14, dilation 12 1.63-1.70;
#     8 x 256 at 7x7, dilation 6 1.67-1.71; 256 at 28x28, dilation 12 1.21;
#     1024 -> 256 at 33x33, dilation 12 1.17-1.18;
#   not taken, and slower split: 64 -> 32 at 14x14 dilation 12 0.77-0.98 and
#     128 at 8x8 dilation 6 0.41-0.64 (under the multiply-adds), 16 x 512 at
#     2x2 padding 1 0.74-1.02, 512 at 33x33 dilation 6 1.00-1.06.
cdef double TAP_REGION_COPY_MACS = 80           # weights past TAP_REGION_CACHED_BYTES
cdef double TAP_REGION_COPY_MACS_CACHED = 32
cdef size_t TAP_REGION_CACHED_BYTES = 12582912
cdef double TAP_REGION_READ_MACS = 16
cdef double TAP_REGION_NARROW_COST = 0.2
cdef double TAP_REGION_MIN_GAIN = 0.15
cdef double TAP_REGION_MIN_MACS = 16777216
cdef size_t TAP_REGION_COPY_BYTES = 16777216
cdef int _tap_regions_mode = -1     # -1: by the rule, 0: never, 1: any split that skips a tap
cdef int _tap_regions_last = 0      # whether the latest conv2d_gemm call split (tests)


def _set_tap_regions(int mode):
    """Test hook: Note [padding-only taps] by the rule (-1), never (0) or
    wherever a tap lies in the padding (1); returns the old mode."""
    global _tap_regions_mode
    old = _tap_regions_mode
    _tap_regions_mode = mode
    return old


cdef int _tap_region_split = -1


def _set_tap_region_split(int split):
    """Test hook: Note [padding-only taps] only with rows and columns split (0),
    rows only (1) or columns only (2), or the best (-1); returns the old one."""
    global _tap_region_split
    old = _tap_region_split
    _tap_region_split = split
    return old


def _tap_regions_used():
    """Test hook: whether the latest conv2d_gemm call ran Note [padding-only taps]."""
    return bool(_tap_regions_last)


def _set_tap_region_copy_bytes(size_t n):
    """Test hook: the copied windows' budget of Note [padding-only taps]; returns the old one."""
    global TAP_REGION_COPY_BYTES
    old = TAP_REGION_COPY_BYTES
    TAP_REGION_COPY_BYTES = n
    return old


cdef void _tap_table(int32_t *tab, int ntap, int tap0, int out0, int nout, int s, int p,
                     int d, int n, int mode) noexcept:
    """tab[i*nout + t]: the input index (or -1) that tap tap0 + i of output out0 + t reads."""
    cdef int i
    cdef fc_idx t
    for i in range(ntap):
        for t in range(nout):
            tab[i * nout + t] = <int32_t>fc_map_index((out0 + t) * <fc_idx>s - p
                                                      + <fc_idx>(tap0 + i) * d, n, mode)


cdef inline void _tap_range(int i, int out, int n, int s, int p, int d, fc_idx *lo,
                            fc_idx *hi) noexcept:
    """Outputs lo ... hi (none where hi < lo) of an axis whose tap i lands inside n."""
    cdef fc_idx q = <fc_idx>i * d - p          # input position of output 0
    lo[0] = 0 if q >= 0 else (-q + s - 1) // s
    hi[0] = min(<fc_idx>out - 1, (n - 1 - q) // s) if n - 1 - q >= 0 else -1


cdef list _tap_bands(int out, int n, int s, int p, int k, int d):
    """Note [padding-only taps] along one axis: runs (o0, o1, lo, hi) of output
    positions whose taps lo ... hi (none where hi < lo) land inside n."""
    cdef list bands = []
    cdef int o, i, lo, hi, start = 0, plo = 0, phi = -1
    cdef fc_idx a, z
    for o in range(out):
        lo, hi = k, -1
        for i in range(k):
            _tap_range(i, out, n, s, p, d, &a, &z)
            if a <= o <= z:
                if hi < 0:
                    lo = i
                hi = i
        if hi < 0:
            lo = 0
        if o == 0:
            plo, phi = lo, hi
        elif lo != plo or hi != phi:
            bands.append((start, o, plo, phi))
            start, plo, phi = o, lo, hi
    bands.append((start, out, plo, phi))
    return bands


cdef bint _weights_finite(const floating *p, fc_idx n, int nthreads, _Buffers bufs):
    cdef fc_idx blk = 65536, nblk = _cdiv(n, blk), t
    cdef int *flags = <int *>bufs.get(<size_t>max(nthreads, 1) * sizeof(int))
    cdef int i
    for i in range(max(nthreads, 1)):
        flags[i] = 0
    with nogil:
        for t in prange(nblk, num_threads=nthreads, schedule="static"):
            if floating is float:
                if fc_any_nonfinite_f32(p + t * blk, min(blk, n - t * blk)):
                    flags[fc_omp_thread_num()] = 1
            else:
                if fc_any_nonfinite_f64(p + t * blk, min(blk, n - t * blk)):
                    flags[fc_omp_thread_num()] = 1
    return not _any_flagged(flags, nthreads)


cdef tuple _tap_plan(list rbands, list cbands, int kh, int kw, double OH, double OW,
                     double row_bytes):
    """Note [padding-only taps] for one split: the share of the full kernel's
    multiply-adds its windows keep, the taps of the windows to copy, and the
    windows in batches (each batch's copies within TAP_REGION_COPY_BYTES, at
    row_bytes a tap; None where one window alone passes that)."""
    cdef double rows_used = 0, cols_used = 0
    for (o0, o1, lo, hi) in rbands:
        rows_used += (o1 - o0) * max(hi - lo + 1, 0)
    for (o0, o1, lo, hi) in cbands:
        cols_used += (o1 - o0) * max(hi - lo + 1, 0)
    cdef list windows = []
    for rb in rbands:
        for cb in cbands:
            key = (rb[2], rb[3], cb[2], cb[3])
            if (rb[3] >= rb[2] and cb[3] >= cb[2] and key != (0, kh - 1, 0, kw - 1)
                    and key not in windows):
                windows.append(key)
    cdef list batches = [[]]
    cdef int taps = 0, ntap, batch_taps = 0
    for key in windows:
        ntap = (key[1] - key[0] + 1) * (key[3] - key[2] + 1)
        if ntap * row_bytes > TAP_REGION_COPY_BYTES:
            return 1.0, 0, None
        if (batch_taps + ntap) * row_bytes > TAP_REGION_COPY_BYTES:
            batches.append([])
            batch_taps = 0
        batches[len(batches) - 1].append(key)
        batch_taps += ntap
        taps += ntap
    return rows_used * cols_used / (OH * kh * OW * kw), taps, batches


cdef void _conv2d_sub(fc_gemm_args *a, const void *x, fc_idx C, fc_idx H, fc_idx W,
                      int C_g, int ntap_h, int ntap_w, const int32_t *rowtab,
                      const int32_t *coltab, const int32_t *col_lo, const int32_t *col_hi,
                      int sw, int N, fc_idx P_h, fc_idx P_w, void *y, fc_idx K, fc_idx OH,
                      fc_idx OW, const void *A, fc_idx lda, const void *bias, int M) noexcept:
    """One conv2d GEMM sub-problem: output rows of P_w pixels from y, OW apart,
    OH*OW a channel, K channels an image; x one group's channels of C."""
    a.x = x
    a.x_nstride = C * H * W
    a.x_cstride = H * W
    a.x_rstride = W
    a.C_g = C_g
    a.ntap_h = ntap_h
    a.ntap_w = ntap_w
    a.rowtab = rowtab
    a.coltab = coltab
    a.col_lo = col_lo
    a.col_hi = col_hi
    a.col_step = sw
    a.P_n = N
    a.P_h = P_h
    a.P_w = P_w
    a.y = y
    a.y_nstride = K * OH * OW
    a.y_kstride = OH * OW
    a.y_rstride = OW
    a.y_cstride = 1
    a.a = A
    a.lda = lda
    a.bias = bias
    a.M = M
    a.aoff = NULL
    a.batch_inner = 0


cdef int _tap_count(int out, int n, int s, int p, int k, int d) noexcept:
    """Output positions x taps along one axis that land inside n (zero padding)."""
    cdef int i, total = 0
    cdef fc_idx lo, hi
    for i in range(k):
        _tap_range(i, out, n, s, p, d, &lo, &hi)
        if hi >= lo:
            total += <int>(hi - lo + 1)
    return total


cdef tuple _tap_choice(int N, int C_g, int K, int H, int W, int kh, int kw, int sh, int sw,
                       int dh, int dw, int pt, int pl, int OH, int OW, size_t esize,
                       bint any_gain):
    """Note [padding-only taps]: the split to run, as (its modelled saving, a
    share of the full GEMM's multiply-adds; row bands; column bands; batches of
    windows), or None: no split saves anything, or (unless any_gain) none can
    save TAP_REGION_MIN_GAIN, or the call has under TAP_REGION_MIN_MACS."""
    if OH <= 0 or OW <= 0 or C_g <= 0:
        return None
    # The most any split saves, first (cheap: most calls stop here).
    cdef double full = <double>OH * kh * OW * kw
    cdef double most = 1 - _tap_count(OH, H, sh, pt, kh, dh) * <double>_tap_count(
        OW, W, sw, pl, kw, dw) / full
    cdef double wsize = <double>K * C_g, macs = full * N * wsize
    if most <= 0 or not any_gain and (most < TAP_REGION_MIN_GAIN or macs < TAP_REGION_MIN_MACS):
        return None
    # The splits: rows and columns, rows only, columns only, each costed by the
    # multiply-adds it keeps (TAP_REGION_NARROW_COST more where the columns
    # split: staged tiles, short pack runs), its copies (dearer where
    # the weights pass TAP_REGION_CACHED_BYTES) and its reads of the weights
    # (the finiteness check, one pass a batch); the cheapest.
    cdef list rsplit = _tap_bands(OH, H, sh, pt, kh, dh)
    cdef list csplit = _tap_bands(OW, W, sw, pl, kw, dw)
    cdef list rfull = [(0, OH, 0, kh - 1)], cfull = [(0, OW, 0, kw - 1)]
    cdef double cost, best = 1e300, kept
    cdef double copy = (TAP_REGION_COPY_MACS if wsize * kh * kw * esize > TAP_REGION_CACHED_BYTES
                        else TAP_REGION_COPY_MACS_CACHED)
    cdef int taps, split = -1
    cdef tuple choice = None
    for (rb, cb) in ((rsplit, csplit), (rsplit, cfull), (rfull, csplit)):
        split += 1
        kept, taps, bat = _tap_plan(rb, cb, kh, kw, OH, OW, wsize * esize)
        if kept >= 1 or bat is None or _tap_region_split >= 0 and split != _tap_region_split:
            continue
        cost = (kept + (TAP_REGION_NARROW_COST * kept if cb is csplit and len(cb) > 1 else 0)
                + (copy * taps + TAP_REGION_READ_MACS * (len(bat) + 1) * kh * kw) * wsize / macs)
        if cost < best and (any_gain or cost < 1):
            best, choice = cost, (1 - cost, rb, cb, bat)
    return choice


def tap_region_gain(int N, int C_g, int K, int H, int W, int kh, int kw, int sh, int sw,
                    int dh, int dw, int pt, int pl, int OH, int OW, size_t esize):
    """The share of a zero-padded conv2d_gemm's multiply-adds Note [padding-only
    taps] is modelled to save (0 where it does not run).  Pure."""
    cdef tuple choice = _tap_choice(N, C_g, K, H, W, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW,
                                    esize, False)
    return 0.0 if choice is None or choice[0] < TAP_REGION_MIN_GAIN else choice[0]


cdef bint _gemm_tap_regions(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                            const floating[::1] bias, floating[:, :, :, ::1] y, int G,
                            int sh, int sw, int dh, int dw, int pt, int pl,
                            int nthreads) except -1:
    """Note [padding-only taps]: conv2d_gemm region by region; False where it does not pay."""
    global _tap_regions_last
    cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int K = w.shape[0], C_g = w.shape[1], kh = w.shape[2], kw = w.shape[3]
    cdef int OH = y.shape[2], OW = y.shape[3], K_g = K // G
    if _tap_regions_mode == 0:
        return False
    cdef size_t esize = sizeof(floating)
    cdef tuple choice = _tap_choice(N, C_g, K, H, W, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW,
                                    esize, _tap_regions_mode > 0)
    if choice is None or _tap_regions_mode < 0 and choice[0] < TAP_REGION_MIN_GAIN:
        return False
    cdef list rbands = choice[1], cbands = choice[2], batches = choice[3]
    cdef bint is_double = floating is double
    cdef fc_blocking b = fc_get_blocking(fc_get_isa(), is_double)
    cdef _Buffers bufs = _Buffers()
    if not _weights_finite(&w[0, 0, 0, 0], <fc_idx>K * C_g * kh * kw, nthreads, bufs):
        return False
    _tap_regions_last = 1
    cdef object ynp = np.asarray(y)
    cdef list regions = []
    for rb in rbands:
        for cb in cbands:
            if rb[3] < rb[2] or cb[3] < cb[2]:    # no tap in bounds: the bias
                ynp[:, :, rb[0]:rb[1], cb[0]:cb[1]] = (
                    np.asarray(bias)[:, None, None] if bias is not None else 0)
            else:
                regions.append((rb, cb))
    cdef int nreg = len(regions), r, g, i, j, ni, nj, rows, cols, wi, nt, nwin, nsub
    cdef int ro, co, ilo, jlo, kt = kh * kw
    cdef fc_idx t, kred, nblk = _cdiv(K, 16)
    cdef const floating *wp = &w[0, 0, 0, 0]
    cdef const floating *biasp = &bias[0] if bias is not None else NULL
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef floating *yp = &y[0, 0, 0, 0]
    cdef fc_gemm_args *subs = <fc_gemm_args *>bufs.get(<size_t>max(nreg, 1) * G
                                                       * sizeof(fc_gemm_args))
    cdef int *ntaps = <int *>bufs.get(<size_t>max(nreg, 1) * sizeof(int))
    cdef int *tapoff = <int *>bufs.get(<size_t>max(nreg, 1) * kt * sizeof(int))
    cdef void **packs = <void **>bufs.get(<size_t>max(nreg, 1) * sizeof(void *))
    cdef int32_t *rowtab
    cdef int32_t *coltab
    cdef int32_t *col_lo
    cdef int32_t *col_hi
    cdef _Buffers cbufs
    cdef list batch
    # A batch at a time: its windows' weights copied in one pass over w, then
    # its regions (the first batch also those of the whole kernel) as one GEMM.
    for bi in range(len(batches)):
        batch = batches[bi]
        cbufs = _Buffers()          # the batch's copies go back when it ends
        nwin = len(batch)
        for wi in range(nwin):
            key = batch[wi]
            nt = 0
            for i in range(key[0], key[1] + 1):
                for j in range(key[2], key[3] + 1):
                    tapoff[wi * kt + nt] = i * kw + j
                    nt += 1
            ntaps[wi] = nt
            packs[wi] = cbufs.get(<size_t>K * C_g * nt * esize)
        if nwin:
            with nogil:
                for t in prange(nblk, num_threads=nthreads, schedule="static"):
                    if floating is float:
                        fc_pack_windows_f32(wp, <int>(t * 16), <int>min(t * 16 + 16, K), C_g,
                                            kt, nwin, ntaps, tapoff, <float **>packs)
                    else:
                        fc_pack_windows_f64(wp, <int>(t * 16), <int>min(t * 16 + 16, K), C_g,
                                            kt, nwin, ntaps, tapoff, <double **>packs)
        nsub = 0
        for (rb, cb) in regions:
            key = (rb[2], rb[3], cb[2], cb[3])
            if key in batch:
                wi = batch.index(key)
            elif bi == 0 and key == (0, kh - 1, 0, kw - 1):
                wi = -1
            else:
                continue
            ro, co, ilo, jlo = rb[0], cb[0], rb[2], cb[2]
            rows, cols = rb[1] - ro, cb[1] - co
            ni, nj = rb[3] - ilo + 1, cb[3] - jlo + 1
            rowtab = <int32_t *>cbufs.get(<size_t>ni * rows * sizeof(int32_t))
            coltab = <int32_t *>cbufs.get(<size_t>nj * cols * sizeof(int32_t))
            col_lo = <int32_t *>cbufs.get(<size_t>nj * sizeof(int32_t))
            col_hi = <int32_t *>cbufs.get(<size_t>nj * sizeof(int32_t))
            _tap_table(rowtab, ni, ilo, ro, rows, sh, pt, dh, H, FC_PAD_ZEROS)
            _tap_table(coltab, nj, jlo, co, cols, sw, pl, dw, W, FC_PAD_ZEROS)
            _linear_runs(coltab, nj, cols, sw, col_lo, col_hi)
            kred = <fc_idx>C_g * ni * nj
            for g in range(G):
                _conv2d_sub(&subs[nsub], xp + <fc_idx>g * C_g * H * W, C, H, W, C_g, ni, nj,
                            rowtab, coltab, col_lo, col_hi, sw, N, rows, cols,
                            yp + <fc_idx>g * K_g * OH * OW + <fc_idx>ro * OW + co, K, OH, OW,
                            (wp if wi < 0 else <const floating *>packs[wi])
                            + <fc_idx>g * K_g * kred, kred,
                            (biasp + g * K_g) if biasp != NULL else NULL, K_g)
                nsub += 1
        if nsub:
            _run_gemm(subs, nsub, <int>_cdiv(K_g, b.mr), is_double, nthreads, cbufs, esize)
    return True


# Note [one-pixel conv2d] (_kernels_impl.h): conv2d_gemm runs it for fewer
# than PIXEL_MAX_N images (from there the GEMM's pixel lanes fill); tasks are
# (group, block of fc_pixel_block output channels).  One thread's work uses
# scratch on the stack.  Settable for tests: _set_pixel_path (0 never, -1 by
# that rule).
DEF PIXEL_MAX_N = 16
DEF PIXEL_STACK_BYTES = 40960
cdef int _pixel_mode = -1
cdef int _pixel_last = 0        # whether the latest conv2d_gemm call ran it (tests)


def _set_pixel_path(int mode):
    """Test hook: Note [one-pixel conv2d] never (0) or by the rule (-1);
    returns the old mode."""
    global _pixel_mode
    old = _pixel_mode
    _pixel_mode = mode
    return old


def _pixel_path_used():
    """Test hook: whether the latest conv2d_gemm call ran Note [one-pixel conv2d]."""
    return bool(_pixel_last)


cdef struct _PixRun:
    const char *x
    const char *w
    const char *bias
    char *y
    fc_idx N, xs, R, ys, nblk, blk
    int K_g
    size_t esize
    bint is_double


cdef void _pixel_one(void *ctx, fc_idx t, char *scratch) noexcept nogil:
    """Task t of Note [one-pixel conv2d]: group t // nblk, its output channels
    from (t % nblk) * blk."""
    cdef _PixRun *r = <_PixRun *>ctx
    cdef fc_idx g = t // r.nblk, k0 = (t % r.nblk) * r.blk
    cdef int mrows = <int>min(r.blk, r.K_g - k0)
    cdef fc_idx row = g * r.K_g + k0
    cdef const char *x = r.x + <size_t>(g * r.R) * r.esize
    cdef const char *w = r.w + <size_t>(row * r.R) * r.esize
    cdef const char *bias = (r.bias + <size_t>row * r.esize) if r.bias != NULL else NULL
    cdef char *y = r.y + <size_t>row * r.esize
    if r.is_double:
        fc_pixel_task_f64(<const double *>x, r.N, r.xs, <const double *>w, r.R, mrows,
                          <const double *>bias, <double *>y, r.ys, scratch)
    else:
        fc_pixel_task_f32(<const float *>x, r.N, r.xs, <const float *>w, r.R, mrows,
                          <const float *>bias, <float *>y, r.ys, scratch)


cdef void _gemm_pixel(const char *x, const char *w, const char *bias, char *y, int N, int G,
                      int K_g, fc_idx R, bint is_double, int nthreads) except *:
    """Note [one-pixel conv2d] for conv2d_gemm: x [N][G*R], w [G*K_g][R], y [N][G*K_g]."""
    cdef int isa = fc_get_isa()
    cdef fc_blocking b = fc_get_blocking(isa, is_double)
    cdef size_t esize = sizeof(double) if is_double else sizeof(float)
    cdef fc_idx blk = fc_pixel_block(b, isa), nblk = _cdiv(K_g, blk), ntask = G * nblk
    cdef _PixRun run = _PixRun(x, w, bias, y, N, <fc_idx>G * R, R, <fc_idx>G * K_g, nblk, blk,
                               K_g, esize, is_double)
    cdef size_t sbytes = fc_pixel_scratch_bytes(b, isa, N, esize)
    cdef char stack[PIXEL_STACK_BYTES]
    cdef _Buffers bufs
    cdef char *scratch = stack
    if ntask == 1:
        nthreads = 1
    if nthreads > 1 or sbytes > PIXEL_STACK_BYTES:
        bufs = _Buffers()
        scratch = <char *>bufs.get(sbytes * nthreads)
    _run_tasks(_pixel_one, &run, ntask, <double>N * G * K_g * R, nthreads, scratch, sbytes,
               False)


def conv2d_gemm(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                const floating[::1] bias,
                floating[:, :, :, ::1] y, int G, int sh, int sw, int dh, int dw,
                int pt, int pl, str padding_mode, num_threads=None):
    """conv2d as implicit GEMM: y[n, g*K_g + m, p] = bias + sum_(c,i,j) w * x."""
    cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int K = w.shape[0], C_g = w.shape[1], kh = w.shape[2], kw = w.shape[3]
    cdef int OH = y.shape[2], OW = y.shape[3]
    cdef int K_g = K // G, mode = PADDING_MODE_CODES[padding_mode]
    cdef int nthreads = _threads(num_threads)
    if N == 0 or K == 0:
        return
    cdef bint is_double = floating is double
    cdef fc_blocking b = fc_get_blocking(fc_get_isa(), is_double)
    cdef int npanel = <int>_cdiv(K_g, b.mr)
    global _tap_regions_last, _pixel_last
    _tap_regions_last = 0
    _pixel_last = 0
    if (OH == 1 and OW == 1 and H == kh and W == kw and pt == 0 and pl == 0
            and (kh == 1 or dh == 1) and (kw == 1 or dw == 1) and N < PIXEL_MAX_N
            and C_g > 0 and _pixel_mode != 0):
        _pixel_last = 1
        _gemm_pixel(<const char *>&x[0, 0, 0, 0], <const char *>&w[0, 0, 0, 0],
                    <const char *>&bias[0] if bias is not None else NULL,
                    <char *>&y[0, 0, 0, 0], N, G, K_g, <fc_idx>C_g * kh * kw, is_double,
                    nthreads)
        return
    if mode == FC_PAD_ZEROS and _gemm_tap_regions(x, w, bias, y, G, sh, sw, dh, dw, pt, pl,
                                                  nthreads):
        return
    cdef _Buffers bufs = _Buffers()
    cdef int i, j, n, g
    cdef fc_idx t
    cdef int32_t *rowtab = <int32_t *>bufs.get(<size_t>kh * OH * sizeof(int32_t))
    cdef int32_t *coltab = <int32_t *>bufs.get(<size_t>kw * OW * sizeof(int32_t))
    _tap_table(rowtab, kh, 0, 0, OH, sh, pt, dh, H, mode)
    _tap_table(coltab, kw, 0, 0, OW, sw, pl, dw, W, mode)
    cdef int32_t *col_lo = <int32_t *>bufs.get(<size_t>kw * sizeof(int32_t))
    cdef int32_t *col_hi = <int32_t *>bufs.get(<size_t>kw * sizeof(int32_t))
    _linear_runs(coltab, kw, OW, sw, col_lo, col_hi)
    cdef fc_idx kred = <fc_idx>C_g * kh * kw
    cdef const floating *wp = &w[0, 0, 0, 0]
    cdef const floating *biasp = &bias[0] if bias is not None else NULL
    cdef fc_gemm_args *subs = <fc_gemm_args *>bufs.get(<size_t>G * sizeof(fc_gemm_args))
    cdef const floating *xp = &x[0, 0, 0, 0] if C > 0 else NULL
    cdef floating *yp = &y[0, 0, 0, 0]
    for g in range(G):      # a: [K_g][C_g*kh*kw], row-major already
        _conv2d_sub(&subs[g], (xp + <fc_idx>g * C_g * H * W) if xp != NULL else NULL, C, H, W,
                    C_g, kh, kw, rowtab, coltab, col_lo, col_hi, sw, N, OH, OW,
                    yp + <fc_idx>g * K_g * OH * OW, K, OH, OW, wp + <fc_idx>g * K_g * kred, kred,
                    (biasp + g * K_g) if biasp != NULL else NULL, K_g)
    _run_gemm(subs, G, npanel, is_double, nthreads, bufs, sizeof(floating))


cdef void _axis_phases(int s, int p, int k, int d, int out, int *taps, int *ntaps,
                       fc_idx *offs) noexcept:
    """One axis of Note [transposed conv as gather]: for each output phase
    r in [0, s), the taps i with (r + p - i*d) mod s == 0 (taps[r*k ...],
    ntaps[r] of them) and their input offsets (r + p - i*d) / s: output
    r + t*s of the phase reads input t + offset."""
    cdef int r, i, n
    for r in range(s):
        n = 0
        for i in range(k):
            if _pmod(r + p - <fc_idx>i * d, s) == 0:
                taps[r * k + n] = i
                offs[r * k + n] = (r + p - <fc_idx>i * d) // s   # exact
                n += 1
        ntaps[r] = n


cdef void _phase_tables(_Buffers bufs, int s, int p, int k, int d, int out, int **taps,
                        int **ntaps, fc_idx **offs) except *:
    """_axis_phases' tables for one axis, allocated in bufs."""
    taps[0] = <int *>bufs.get(<size_t>s * k * sizeof(int))
    ntaps[0] = <int *>bufs.get(<size_t>s * sizeof(int))
    offs[0] = <fc_idx *>bufs.get(<size_t>s * k * sizeof(fc_idx))
    _axis_phases(s, p, k, d, out, taps[0], ntaps[0], offs[0])


cdef struct _PhaseTabs:
    # _axis_phases' tables for rows (_h) and columns (_w)
    int *taps_h
    int *ntaps_h
    fc_idx *off_h
    int *taps_w
    int *ntaps_w
    fc_idx *off_w


cdef _PhaseTabs _phase_tabs(_Buffers bufs, int sh, int sw, int ph, int pw, int kh, int kw,
                            int dh, int dw, int OH, int OW) except *:
    """Both axes' phase tables of a transposed conv, allocated in bufs."""
    cdef _PhaseTabs t
    _phase_tables(bufs, sh, ph, kh, dh, OH, &t.taps_h, &t.ntaps_h, &t.off_h)
    _phase_tables(bufs, sw, pw, kw, dw, OW, &t.taps_w, &t.ntaps_w, &t.off_w)
    return t


cdef inline fc_idx _phase_len(int out, int r, int s) noexcept nogil:
    """Outputs r, r + s, ... below `out`."""
    return _cdiv(out - r, s) if out > r else 0


# Note [one-pixel transposed conv]: with a 1x1 input (a generator's first
# layer: a latent vector to 4x4 maps) output (oh, ow) receives exactly one
# product per channel, x[n, c] * w[c, k, i, j] with oh = i*dh - ph and
# ow = j*dw - pw, or none.  The phase GEMM instead runs every tap over a
# padded input, kh*kw times the multiply-adds (16 for 4x4), and multiplies
# the padding's zeros by the weights, so an infinite weight made NaN where
# torch, which scatters, gives a number.  Here, per group g, Z[n][(k, i, j)]
# = sum_c x[n, c] w[c, (k, i, j)] is one GEMM: conv2d_gemm of the weights as a
# one-row image of C_g channels and O = K_g*kh*kw pixels, with the images' x
# as N 1x1 kernels; then each output is Z + bias or, where no tap lands,
# the bias.  Images go in chunks that keep Z within TRANSPOSED_PIXEL_Z_BYTES
# (where one image's Z would not fit, the phase GEMM runs: its workspace is
# bounded whatever the kernel, and its Inf/NaN weights take Note [transposed
# non-finite weights]).
# 64 x 100 -> 512 at 4x4 (DCGAN), 2 threads, Intel Xeon 5th gen: 6.6 ms
# through the phases, 0.80 ms here, 1.4 in torch (more in _dispatch's table).
# (The chunk budget is settable for tests: _set_transposed_pixel_z_bytes.)
cdef size_t TRANSPOSED_PIXEL_Z_BYTES = 16777216


def _set_transposed_pixel_z_bytes(size_t n):
    """Test hook: Note [one-pixel transposed conv]'s chunk budget; returns the old one."""
    global TRANSPOSED_PIXEL_Z_BYTES
    old = TRANSPOSED_PIXEL_Z_BYTES
    TRANSPOSED_PIXEL_Z_BYTES = n
    return old


cdef void _transposed_pixel(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                            const floating[::1] bias, floating[:, :, :, ::1] y, int G, int dh,
                            int dw, int ph, int pw, num_threads) except *:
    """Note [one-pixel transposed conv]."""
    cdef int N = x.shape[0], C = x.shape[1]
    cdef int K_g = w.shape[1], kh = w.shape[2], kw = w.shape[3]
    cdef int C_g = C // G, K = K_g * G, OH = y.shape[2], OW = y.shape[3]
    cdef fc_idx O = <fc_idx>K_g * kh * kw
    cdef int nthreads = _threads(num_threads)
    dtype = np.float64 if floating is double else np.float32
    cdef int nb = <int>max(1, min(<fc_idx>N, <fc_idx>(TRANSPOSED_PIXEL_Z_BYTES
                                                      // (<size_t>G * O * sizeof(floating)))))
    wimg = np.asarray(w).reshape(1, C, 1, O)
    xs = np.asarray(x).reshape(N, G, C_g)
    cdef floating[:, :, :, ::1] Z
    cdef const floating *zp
    cdef const floating *bp = &bias[0] if bias is not None else NULL
    cdef floating *yp = &y[0, 0, 0, 0]
    cdef int n0, n1, nn, i0, i1, j0, j1
    cdef fc_idx t, n, k, g, kl, i, j, q, plane = <fc_idx>OH * OW
    cdef floating bk
    # Taps i with 0 <= i*dh - ph < OH, j alike.
    i0 = _cdiv(ph, dh)
    i1 = min(kh, (OH - 1 + ph) // dh + 1)
    j0 = _cdiv(pw, dw)
    j1 = min(kw, (OW - 1 + pw) // dw + 1)
    zbuf = np.empty(<fc_idx>G * nb * O, dtype)     # Z of a chunk, reused
    for n0 in range(0, N, nb):
        n1 = min(n0 + nb, N)
        nn = n1 - n0
        # The kernels of group g, image n at row g*nn + n.
        kern = np.ascontiguousarray(xs[n0:n1].transpose(1, 0, 2)).reshape(G * nn, C_g, 1, 1)
        Z = zbuf[:<fc_idx>G * nn * O].reshape(1, G * nn, 1, O)
        conv2d_gemm(wimg, kern, None, Z, G, 1, 1, 1, 1, 0, 0, "zeros", num_threads)
        zp = &Z[0, 0, 0, 0]
        with nogil:
            for t in prange(<fc_idx>nn * K, num_threads=nthreads, schedule="static"):
                n = t // K
                k = t % K
                g = k // K_g
                kl = k % K_g
                bk = bp[k] if bp != NULL else 0
                for q in range(plane):
                    yp[(n0 + n) * K * plane + k * plane + q] = bk
                for i in range(i0, i1):
                    for j in range(j0, j1):
                        yp[(n0 + n) * K * plane + k * plane + (i * dh - ph) * OW + j * dw - pw] = (
                            zp[(g * nn + n) * O + (kl * kh + i) * kw + j] + bk)


# Note [transposed non-finite weights]: the stride-phase kernels read a
# zero-padded input, so a weight also multiplies the padding's zeros where its
# tap reaches past the input's edges.  With an Inf or NaN weight that product
# is NaN, where torch, which scatters only the input's own values, gives a
# number.  The weight packs flag such weights (an add of v - v per packed
# vector: 0 unless v is Inf or NaN), and the call is then computed here: each
# output sums the bias, then for each channel of its group the taps that land
# on the input, in (channel, i, j) order -- only products torch also forms.
# Scalar and slow, for weights holding Inf or NaN only; the same bits for any
# thread count.  (A 1x1 input never gets here: Note [one-pixel transposed
# conv] forms only those products already.)
cdef void _transposed_exact(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                            const floating[::1] bias, floating[:, :, :, ::1] y, int G, int sh,
                            int sw, int dh, int dw, int ph, int pw, int nthreads) except *:
    """Note [transposed non-finite weights]."""
    cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int K_g = w.shape[1], kh = w.shape[2], kw = w.shape[3]
    cdef int C_g = C // G, K = K_g * G, OH = y.shape[2], OW = y.shape[3]
    cdef _Buffers bufs = _Buffers()
    # Output row oh: rn[oh] taps, the a-th at kernel offset rtap and input offset rrow.
    cdef int32_t *rn = <int32_t *>bufs.get(<size_t>max(OH, 1) * sizeof(int32_t))
    cdef fc_idx *rtap = <fc_idx *>bufs.get(<size_t>max(<fc_idx>OH * kh, 1) * sizeof(fc_idx))
    cdef fc_idx *rrow = <fc_idx *>bufs.get(<size_t>max(<fc_idx>OH * kh, 1) * sizeof(fc_idx))
    cdef int32_t *cn = <int32_t *>bufs.get(<size_t>max(OW, 1) * sizeof(int32_t))
    cdef fc_idx *ctap = <fc_idx *>bufs.get(<size_t>max(<fc_idx>OW * kw, 1) * sizeof(fc_idx))
    cdef fc_idx *ccol = <fc_idx *>bufs.get(<size_t>max(<fc_idx>OW * kw, 1) * sizeof(fc_idx))
    cdef fc_idx o, v, t, n, k, g, kl, c, oh, ow, a, e
    cdef int i
    for o in range(OH):
        rn[o] = 0
        for i in range(kh):
            v = o + ph - <fc_idx>i * dh
            if v >= 0 and v % sh == 0 and v // sh < H:
                rtap[o * kh + rn[o]] = <fc_idx>i * kw
                rrow[o * kh + rn[o]] = (v // sh) * W
                rn[o] += 1
    for o in range(OW):
        cn[o] = 0
        for i in range(kw):
            v = o + pw - <fc_idx>i * dw
            if v >= 0 and v % sw == 0 and v // sw < W:
                ctap[o * kw + cn[o]] = i
                ccol[o * kw + cn[o]] = v // sw
                cn[o] += 1
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef const floating *wp = &w[0, 0, 0, 0]
    cdef const floating *bp = &bias[0] if bias is not None else NULL
    cdef floating *yp = &y[0, 0, 0, 0]
    cdef const floating *xc
    cdef const floating *wc
    cdef floating acc
    with nogil:
        for t in prange(<fc_idx>N * K, num_threads=nthreads, schedule="dynamic"):
            n = t // K
            k = t % K
            g = k // K_g
            kl = k % K_g
            for oh in range(OH):
                for ow in range(OW):
                    acc = bp[k] if bp != NULL else 0
                    for c in range(C_g):
                        xc = xp + (n * C + g * C_g + c) * H * W
                        wc = wp + ((g * C_g + c) * K_g + kl) * kh * kw
                        for a in range(rn[oh]):
                            for e in range(cn[ow]):
                                acc = acc + (xc[rrow[oh * kh + a] + ccol[ow * kw + e]]
                                             * wc[rtap[oh * kh + a] + ctap[ow * kw + e]])
                    yp[(t * OH + oh) * OW + ow] = acc


# Note [transposed border classes]: a stride phase's output row reads, per
# tap row, input row t + off; near the top and bottom some of those fall
# outside the input (columns alike), and the phase GEMM multiplies their
# zeros: a DCGAN 4x4 stride-2 layer on 4x4 maps takes one of each phase's two
# tap rows outside for one output row in four, so 1 - (7/8)^2 = 23% of its
# multiply-adds are w * 0.  So the phase's outputs split into classes: runs
# of rows with one set of in-bounds tap rows, by runs of columns alike, each
# class a GEMM sub-problem over only its taps (one with none gets the bias).
# Every class reads the phase's one weight pack: its reduction index k is the
# pack's column aoff[k] (fc_gemm_args.aoff; the ukernel_a micro-kernels), so
# each sum is the phase GEMM's in the same (channel, tap) order without the
# terms w * 0: the same bits (a zero's sign aside), as Note [summation order]
# needs.  With more than one image the classes run Note [batch lanes].
# Classes cost narrower tasks, scattered write-outs (four classes write a
# phase's output lines where one task did) and reads of the phase's weights
# by each class, so they are taken where they save TRANSPOSED_CLASS_MIN_SAVING
# of the phase GEMMs' vector multiply-adds (a class's pixels fill whole
# vectors: on small maps of one image they save none), a group reduces over
# TRANSPOSED_CLASS_MIN_CHANNELS channels or more (the multiply-adds that pay
# for each output's write-out) and the batch has at most
# TRANSPOSED_CLASS_MAX_IMAGES.  Interleaved medians, classes / phase GEMMs
# (gemm forced), AMD EPYC Zen 5, 29 Nov 2026, 1 thread (2 threads): dcgan-up1
# (16 x 512 -> 256 at 4x4, 23% of the vectors saved) 0.86-0.88 (0.86-0.90);
# 16 x 1024 -> 512 at 4x4 0.88-0.93 (0.89-0.93).  Not taken: 32 x 512 -> 256
# at 4x4 0.90-1.00 (1.02-1.04), 64 x 512 -> 256 1.07-1.09 (1.15), 32 x 256 ->
# 128 0.94-1.04 (1.24-1.28), 16 x 256 -> 128 at 8x8 (12% saved) 1.01-1.02,
# 4 x 256 at 8x8 1.14-1.17, 8 x 1024 -> 512 at 4x4 (9%) 1.06-1.10; one image
# at 4x4 (none saved, the classes' vectors mostly empty) 1.8.  With narrow
# FMAs (Note [narrow FMA] in _kernels.h: AMD Zen 4) the multiply-adds saved
# weigh more, and batches up to NARROW_FMA_TRANSPOSED_CLASS_MAX_IMAGES take
# them: same method, Zen 4, 2 threads (1 thread), 32 x 512 -> 256 at 4x4
# 0.91 (0.87), 32 x 1024 -> 512 0.89 (0.90), 64 x 512 -> 256 0.93-0.94
# (0.91-0.96); but 128 x 512 -> 256 1.12 (1.06), and 32 x 256 -> 128 at 8x8
# (12%) 1.07 (1.06), which the saving keeps out.
cdef double TRANSPOSED_CLASS_MIN_SAVING = 0.15
# Note [batch lanes]: a class's grid is a few pixels wide (a 4x4 map's classes
# 3x3, 3x1, 1x3, 1x1), so a vector of its pixels in (image, row, column)
# order reads no run of the input (Note [gather runs]): each B row would be
# gathers, and each output row of the stage a run of 1-3 values.  With more
# than one image the classes take their pixels as (row, column, image) and
# read a copy of x laid out [C][H][W][N], so the images of one pixel are
# consecutive values: a vector of 16 images is one load.  The stage goes out
# through a table of output offsets, image by image.  The same sums, so the
# same bits (tests/test_packing.py switches it off).  Interleaved medians,
# the classes with / without, AMD EPYC Zen 5, 29 Nov 2026, 1 thread (2
# threads): dcgan-up1 0.94-0.95 (0.93-0.97; the gathers and runs of 1-3 took
# 10% and 4% of the call), 32 images 0.97 (0.99-1.00), 16 x 1024 -> 512 at
# 4x4 1.00 (1.00-1.01).  The copy is workspace: taken where it is at most
# BATCH_LANES_COPY_BYTES or the output's size (the memory bound of issue 3).
cdef size_t BATCH_LANES_COPY_BYTES = 16777216
cdef int TRANSPOSED_CLASS_MIN_CHANNELS = 512
cdef int TRANSPOSED_CLASS_MAX_IMAGES = 16
cdef int NARROW_FMA_TRANSPOSED_CLASS_MAX_IMAGES = 64
cdef int _transposed_classes = -1   # test hook: 0 never, 1 wherever they apply, -1 where they pay
cdef int _batch_lanes = 1          # test hook: Note [batch lanes] on (1) or off (0)
cdef bint _classes_last = False    # whether the latest conv_transpose2d_gemm took classes


def _transposed_classes_used():
    """Whether the latest conv_transpose2d_gemm call ran Note [transposed border classes]."""
    return _classes_last


def _set_batch_lanes(int on):
    """Test hook: the classes of Note [transposed border classes] run with the
    images innermost (Note [batch lanes]; the default) or not.  Returns the
    old setting."""
    global _batch_lanes
    old = _batch_lanes
    _batch_lanes = on
    return old


def _set_transposed_classes(int mode):
    """Test hook for Note [transposed border classes]: never (0), wherever they
    apply (1), where they pay (-1, the default).  Returns the old mode."""
    global _transposed_classes
    old = _transposed_classes
    _transposed_classes = mode
    return old


cdef int _axis_classes(const int32_t *tab, int ntap, fc_idx P, fc_idx *start,
                       uint32_t *mask) noexcept:
    """A phase axis's P outputs as runs with one set of in-bounds taps (bit ti
    of mask[r]): run r is [start[r], start[r + 1]).  Returns the run count."""
    cdef int n = 0, ti
    cdef fc_idx q
    cdef uint32_t m
    for q in range(P):
        m = 0
        for ti in range(ntap):
            if tab[ti * P + q] >= 0:
                m |= (<uint32_t>1) << ti
        if n == 0 or mask[n - 1] != m:
            start[n] = q
            mask[n] = m
            n += 1
    start[n] = P
    return n


cdef inline int _popcount(uint32_t m) noexcept:
    cdef int n = 0
    while m:
        m &= m - 1
        n += 1
    return n


cdef int32_t *_class_table(_Buffers bufs, const int32_t *tab, int ntap, fc_idx P, uint32_t mask,
                           fc_idx q0, fc_idx q1) except NULL:
    """tab's rows of the taps in mask, columns [q0, q1): [popcount(mask)][q1 - q0]."""
    cdef int32_t *out = <int32_t *>bufs.get(<size_t>max(_popcount(mask) * (q1 - q0), 1)
                                            * sizeof(int32_t))
    cdef int ti, n = 0
    cdef fc_idx q
    for ti in range(ntap):
        if mask & ((<uint32_t>1) << ti):
            for q in range(q0, q1):
                out[n * (q1 - q0) + q - q0] = tab[ti * P + q]
            n += 1
    return out


def conv_transpose2d_gemm(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                          const floating[::1] bias, floating[:, :, :, ::1] y, int G, int sh, int sw,
                          int dh, int dw, int ph, int pw, num_threads=None):
    """conv_transpose2d as a gather, one implicit GEMM per stride phase.

    Note [transposed conv as gather]: output row oy receives x[ih] * w[i]
    exactly when oy + ph - i*dh == ih*sh.  Rows with one residue ry = oy mod sh
    are reached only by the taps i with (ry + ph - i*dh) mod sh == 0, and for
    those ih = t + (ry + ph - i*dh)/sh where oy = ry + t*sh: a stride-1
    correlation.  So each phase (ry, rx) is a small conv2d-like GEMM with its
    own taps and tables, and no multiply by an inserted zero is ever done.
    """
    cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int K_g = w.shape[1], kh = w.shape[2], kw = w.shape[3]
    cdef int C_g = C // G, K = K_g * G
    cdef int OH = y.shape[2], OW = y.shape[3]
    cdef int nthreads = _threads(num_threads)
    if N == 0:
        return
    if H == 1 and W == 1 and (<size_t>G * K_g * kh * kw * sizeof(floating)
                              <= TRANSPOSED_PIXEL_Z_BYTES):   # one image's Z fits
        _transposed_pixel(x, w, bias, y, G, dh, dw, ph, pw, num_threads)
        return
    cdef bint is_double = floating is double
    cdef fc_blocking b = fc_get_blocking(fc_get_isa(), is_double)
    cdef int npanel = <int>_cdiv(K_g, b.mr)
    cdef _Buffers bufs = _Buffers()
    cdef int nphase = sh * sw
    cdef int ry, rx, ti, tj, g, nth, ntw
    cdef fc_idx t, Ph, Pw, ih
    # Taps and input offsets per row phase and per column phase.
    cdef _PhaseTabs tabs = _phase_tabs(bufs, sh, sw, ph, pw, kh, kw, dh, dw, OH, OW)
    cdef int32_t **rowtabs = <int32_t **>bufs.get(<size_t>sh * sizeof(int32_t *))
    cdef int32_t **coltabs = <int32_t **>bufs.get(<size_t>sw * sizeof(int32_t *))
    cdef int32_t *col_lo = <int32_t *>bufs.get(<size_t>sw * kw * sizeof(int32_t))
    cdef int32_t *col_hi = <int32_t *>bufs.get(<size_t>sw * kw * sizeof(int32_t))
    for ry in range(sh):
        Ph = _phase_len(OH, ry, sh)
        rowtabs[ry] = <int32_t *>bufs.get(<size_t>max(tabs.ntaps_h[ry] * Ph, 1) * sizeof(int32_t))
        for ti in range(tabs.ntaps_h[ry]):
            for t in range(Ph):
                ih = t + tabs.off_h[ry * kh + ti]
                rowtabs[ry][ti * Ph + t] = <int32_t>(ih if 0 <= ih < H else -1)
    for rx in range(sw):
        Pw = _phase_len(OW, rx, sw)
        coltabs[rx] = <int32_t *>bufs.get(<size_t>max(tabs.ntaps_w[rx] * Pw, 1) * sizeof(int32_t))
        for tj in range(tabs.ntaps_w[rx]):
            for t in range(Pw):
                ih = t + tabs.off_w[rx * kw + tj]
                coltabs[rx][tj * Pw + t] = <int32_t>(ih if 0 <= ih < W else -1)
        _linear_runs(coltabs[rx], tabs.ntaps_w[rx], Pw, 1, col_lo + rx * kw, col_hi + rx * kw)

    cdef const floating *biasp = &bias[0] if bias is not None else NULL
    cdef int *ntaps_p = <int *>bufs.get(<size_t>nphase * sizeof(int))
    cdef fc_idx *tapoffs = <fc_idx *>bufs.get(<size_t>max(nphase * kh * kw, 1) * sizeof(fc_idx))
    cdef fc_idx kred
    for ry in range(sh):
        for rx in range(sw):
            nth = tabs.ntaps_h[ry]
            ntw = tabs.ntaps_w[rx]
            ntaps_p[ry * sw + rx] = nth * ntw
            for ti in range(nth):
                for tj in range(ntw):
                    tapoffs[(ry * sw + rx) * kh * kw + ti * ntw + tj] = (
                        tabs.taps_h[ry * kh + ti] * kw + tabs.taps_w[rx * kw + tj])
    # Note [transposed border classes]: each phase axis's runs of outputs with
    # one set of in-bounds taps, and the share of multiply-adds they keep.
    cdef fc_idx **rstart = NULL
    cdef fc_idx **cstart = NULL
    cdef uint32_t **rmask = NULL
    cdef uint32_t **cmask = NULL
    cdef int *nrun_h = NULL
    cdef int *nrun_w = NULL
    cdef double total = 0, kept = 0
    cdef int maxnt = 0, rr, cr
    cdef bint classes = False
    for ry in range(sh):
        maxnt = max(maxnt, tabs.ntaps_h[ry])
    for rx in range(sw):
        maxnt = max(maxnt, tabs.ntaps_w[rx])
    if maxnt <= 32 and (_transposed_classes == 1 or (
            _transposed_classes == -1 and C_g >= TRANSPOSED_CLASS_MIN_CHANNELS
            and N <= (NARROW_FMA_TRANSPOSED_CLASS_MAX_IMAGES if fc_narrow_fma()
                      else TRANSPOSED_CLASS_MAX_IMAGES))):
        rstart = <fc_idx **>bufs.get(<size_t>sh * sizeof(fc_idx *))
        cstart = <fc_idx **>bufs.get(<size_t>sw * sizeof(fc_idx *))
        rmask = <uint32_t **>bufs.get(<size_t>sh * sizeof(uint32_t *))
        cmask = <uint32_t **>bufs.get(<size_t>sw * sizeof(uint32_t *))
        nrun_h = <int *>bufs.get(<size_t>sh * sizeof(int))
        nrun_w = <int *>bufs.get(<size_t>sw * sizeof(int))
        for ry in range(sh):
            Ph = _phase_len(OH, ry, sh)
            rstart[ry] = <fc_idx *>bufs.get(<size_t>(Ph + 1) * sizeof(fc_idx))
            rmask[ry] = <uint32_t *>bufs.get(<size_t>max(Ph, 1) * sizeof(uint32_t))
            nrun_h[ry] = _axis_classes(rowtabs[ry], tabs.ntaps_h[ry], Ph, rstart[ry], rmask[ry])
        for rx in range(sw):
            Pw = _phase_len(OW, rx, sw)
            cstart[rx] = <fc_idx *>bufs.get(<size_t>(Pw + 1) * sizeof(fc_idx))
            cmask[rx] = <uint32_t *>bufs.get(<size_t>max(Pw, 1) * sizeof(uint32_t))
            nrun_w[rx] = _axis_classes(coltabs[rx], tabs.ntaps_w[rx], Pw, cstart[rx], cmask[rx])
        # In vectors of lanes times taps: a class's pixels fill whole vectors.
        for ry in range(sh):
            for rx in range(sw):
                total += (<double>_cdiv(<fc_idx>N * _phase_len(OH, ry, sh)
                                        * _phase_len(OW, rx, sw), b.vlen)
                          * tabs.ntaps_h[ry] * tabs.ntaps_w[rx])
                for rr in range(nrun_h[ry]):
                    for cr in range(nrun_w[rx]):
                        kept += (<double>_cdiv(<fc_idx>N * (rstart[ry][rr + 1] - rstart[ry][rr])
                                               * (cstart[rx][cr + 1] - cstart[rx][cr]), b.vlen)
                                 * _popcount(rmask[ry][rr]) * _popcount(cmask[rx][cr]))
        classes = total > 0 and (_transposed_classes == 1
                                 or total - kept >= TRANSPOSED_CLASS_MIN_SAVING * total)

    global _classes_last
    _classes_last = classes
    # A[m][(c, tap)] = w[g*C_g + c, m, i, j], per phase
    cdef bint nonfinite = False
    cdef void **apacks = _pack_phases(&w[0, 0, 0, 0], G, K_g, C_g, nphase, ntaps_p, tapoffs,
                                      kh * kw, <fc_idx>C_g * K_g * kh * kw, <fc_idx>kh * kw,
                                      <fc_idx>K_g * kh * kw, nthreads, bufs, &nonfinite)
    if nonfinite:       # Note [transposed non-finite weights]
        _transposed_exact(x, w, bias, y, G, sh, sw, dh, dw, ph, pw, nthreads)
        return

    cdef fc_idx nsub_max = 0
    for ry in range(sh):
        for rx in range(sw):
            nsub_max += <fc_idx>nrun_h[ry] * nrun_w[rx] if classes else 1
    cdef fc_gemm_args *subs = <fc_gemm_args *>bufs.get(<size_t>max(G * nsub_max, 1)
                                                       * sizeof(fc_gemm_args))
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef floating *yp = &y[0, 0, 0, 0]
    cdef floating *ap
    cdef floating *yph
    cdef const floating *bg
    cdef int32_t *rtab
    cdef int32_t *ctab
    cdef int32_t *aoff
    cdef int cnth, cntw, ci, cj, nct
    cdef fc_idx nsub = 0, q0, q1, u0, u1, q, kcls = 0
    # A class's tables (its rows', columns' and A's columns) serve every group:
    # made for group 0 as its kcls-th class, and reused by the others.
    cdef int32_t **cls_rtab = NULL
    cdef int32_t **cls_ctab = NULL
    cdef int32_t **cls_lo = NULL
    cdef int32_t **cls_hi = NULL
    cdef int32_t **cls_aoff = NULL
    if classes:
        cls_rtab = <int32_t **>bufs.get(<size_t>nsub_max * sizeof(int32_t *))
        cls_ctab = <int32_t **>bufs.get(<size_t>nsub_max * sizeof(int32_t *))
        cls_lo = <int32_t **>bufs.get(<size_t>nsub_max * sizeof(int32_t *))
        cls_hi = <int32_t **>bufs.get(<size_t>nsub_max * sizeof(int32_t *))
        cls_aoff = <int32_t **>bufs.get(<size_t>nsub_max * sizeof(int32_t *))
    # Note [batch lanes]: the classes read x as [C][H][W][N]
    cdef size_t xbytes = <size_t>N * C * H * W * sizeof(floating)
    cdef bint binner = (classes and N > 1 and _batch_lanes
                        and (xbytes <= BATCH_LANES_COPY_BYTES
                             or xbytes <= <size_t>N * K * OH * OW * sizeof(floating)))
    cdef const floating[:, :, :, ::1] xt
    cdef const floating *xcls = xp
    if binner:
        xt = np.ascontiguousarray(np.asarray(x).transpose(1, 2, 3, 0))
        xcls = &xt[0, 0, 0, 0]
    for g in range(G):
        bg = (biasp + g * K_g) if biasp != NULL else NULL
        kcls = 0
        for ry in range(sh):
            for rx in range(sw):
                Ph = _phase_len(OH, ry, sh)
                Pw = _phase_len(OW, rx, sw)
                if Ph == 0 or Pw == 0:
                    continue
                nth = tabs.ntaps_h[ry]
                ntw = tabs.ntaps_w[rx]
                kred = <fc_idx>C_g * nth * ntw
                ap = (<floating *>apacks[ry * sw + rx]) + <fc_idx>g * K_g * kred
                yph = yp + <fc_idx>g * K_g * OH * OW + ry * OW + rx
                if not classes:
                    _phase_sub(&subs[nsub], xp + <fc_idx>g * C_g * H * W, C, H, W, C_g, nth, ntw,
                               rowtabs[ry], coltabs[rx], col_lo + rx * kw, col_hi + rx * kw, N,
                               Ph, Pw, yph, K, OH, OW, sh, sw, ap, kred, bg, K_g, NULL)
                    nsub += 1
                    continue
                for rr in range(nrun_h[ry]):
                    q0 = rstart[ry][rr]
                    q1 = rstart[ry][rr + 1]
                    cnth = _popcount(rmask[ry][rr])
                    rtab = NULL
                    if g == 0:
                        rtab = _class_table(bufs, rowtabs[ry], nth, Ph, rmask[ry][rr], q0, q1)
                    for cr in range(nrun_w[rx]):
                        u0 = cstart[rx][cr]
                        u1 = cstart[rx][cr + 1]
                        cntw = _popcount(cmask[rx][cr])
                        if g == 0:
                            cls_rtab[kcls] = rtab
                            ctab = _class_table(bufs, coltabs[rx], ntw, Pw, cmask[rx][cr], u0, u1)
                            cls_lo[kcls] = <int32_t *>bufs.get(<size_t>max(cntw, 1)
                                                               * sizeof(int32_t))
                            cls_hi[kcls] = <int32_t *>bufs.get(<size_t>max(cntw, 1)
                                                               * sizeof(int32_t))
                            _linear_runs(ctab, cntw, u1 - u0, 1, cls_lo[kcls], cls_hi[kcls])
                            if binner:
                                for q in range(<fc_idx>cntw * (u1 - u0)):
                                    ctab[q] *= N
                            cls_ctab[kcls] = ctab
                            # A's column of each (channel, class tap (ti, tj)): the
                            # phase's (channel, tap ti*ntw + tj)
                            nct = cnth * cntw
                            aoff = <int32_t *>bufs.get(<size_t>max(C_g * nct, 1)
                                                       * sizeof(int32_t))
                            ci = 0
                            for ti in range(nth):
                                if rmask[ry][rr] & ((<uint32_t>1) << ti):
                                    cj = 0
                                    for tj in range(ntw):
                                        if cmask[rx][cr] & ((<uint32_t>1) << tj):
                                            for q in range(C_g):
                                                aoff[q * nct + ci * cntw + cj] = <int32_t>(
                                                    q * nth * ntw + ti * ntw + tj)
                                            cj += 1
                                    ci += 1
                            cls_aoff[kcls] = aoff
                        _phase_sub(&subs[nsub],
                                   xcls + <fc_idx>g * C_g * H * W * (N if binner else 1),
                                   C, H, W, C_g, cnth, cntw, cls_rtab[kcls], cls_ctab[kcls],
                                   cls_lo[kcls], cls_hi[kcls], N, q1 - q0, u1 - u0,
                                   yph + q0 * sh * OW + u0 * sw, K, OH, OW, sh, sw, ap, kred,
                                   bg, K_g, cls_aoff[kcls], binner)
                        nsub += 1
                        kcls += 1
    _run_gemm(subs, nsub, npanel, is_double, nthreads, bufs, sizeof(floating), G == 1)


cdef void _phase_sub(fc_gemm_args *a, const void *x, int C, int H, int W, int C_g,
                     int nth, int ntw, const int32_t *rowtab, const int32_t *coltab,
                     const int32_t *col_lo, const int32_t *col_hi, int N, fc_idx P_h,
                     fc_idx P_w, void *y, int K, int OH, int OW, int sh, int sw, const void *A,
                     fc_idx lda, const void *bias, int M, const int32_t *aoff,
                     bint batch_inner=False) noexcept:
    """One conv_transpose2d GEMM sub-problem: a stride phase of one group (or
    a class of it, Note [transposed border classes]) reading x (image 0, the
    group's channel 0), its grid at y, outputs sh rows and sw columns apart."""
    _conv2d_sub(a, x, C, H, W, C_g, nth, ntw, rowtab, coltab, col_lo, col_hi, 1, N, P_h, P_w,
                y, K, OH, OW, A, lda, bias, M)
    a.y_rstride = <fc_idx>sh * OW
    a.y_cstride = sw
    a.aoff = aoff
    a.batch_inner = batch_inner
    if batch_inner:     # Note [batch lanes]: x is [C][H][W][N], coltab scaled by N
        a.x_nstride = 1
        a.x_cstride = <fc_idx>H * W * N
        a.x_rstride = <fc_idx>W * N


cdef struct _DirectRun:
    fc_direct_args *subs
    fc_idx nrb, rows
    int OH
    bint is_double


cdef void _direct_one(void *ctx, fc_idx t, char *scratch) noexcept nogil:
    """Task t of conv2d_direct: output rows [r0, r0 + rows) of slice t // nrb."""
    cdef _DirectRun *r = <_DirectRun *>ctx
    cdef fc_idx s = t // r.nrb, r0 = (t % r.nrb) * r.rows
    cdef fc_idx r1 = min(r0 + r.rows, <fc_idx>r.OH)
    if r.is_double:
        fc_direct_task_f64(&r.subs[s], r0, r1, scratch)
    else:
        fc_direct_task_f32(&r.subs[s], r0, r1, scratch)


cdef int _dwcl_mode = -1        # Note [depthwise channel lanes]: 0 off, -1 where it pays, 1 always
cdef int _dwcl_last = 0         # whether the latest conv2d_direct call ran it (tests)


def _set_dw_channel_lanes(int mode):
    """Test hook: depthwise 3x3, 5x5 and 7x7 layers at stride 1 with zero padding run
    with channels in the vector lanes (Note [depthwise channel lanes] in
    _kernels_impl.h; AVX-512, float32) never (0), where they pay (-1, the
    default) or wherever they can (1).  Returns the old mode."""
    global _dwcl_mode
    old = _dwcl_mode
    _dwcl_mode = mode
    return old


def _dw_channel_lanes_used():
    """Whether the latest conv2d_direct call ran Note [depthwise channel lanes]."""
    return _dwcl_last


cdef struct _LanesRun:
    const fc_dwcl_args *a       # conv2d, or
    const fc_dwtcl_args *t      # conv_transpose2d
    fc_idx ncb, nband, rows, OH


cdef void _lanes_one(void *ctx, fc_idx t, char *scratch) noexcept nogil:
    """Task t of Note [depthwise channel lanes] or Note [transposed depthwise
    channel lanes]: (image, 16 channels, band of output rows)."""
    cdef _LanesRun *r = <_LanesRun *>ctx
    cdef fc_idx band = t % r.nband, cb = (t // r.nband) % r.ncb, n = t // (r.nband * r.ncb)
    cdef fc_idx r0 = band * r.rows, r1 = min(r0 + r.rows, r.OH)
    if r.a != NULL:
        fc_dwcl_task_f32(r.a, n, cb, r0, r1, scratch)
    else:
        fc_dwtcl_task_f32(r.t, n, cb, r0, r1, scratch)


cdef inline fc_idx _lanes_in_rows(fc_idx rows, int kh, int s, int up) noexcept nogil:
    """Input rows a band of `rows` output rows reads at most: conv2d at stride
    `up` (s 1, kh the dilated extent) or conv_transpose2d at stride s (up 1)."""
    return (up * (rows - 1) + kh - 1) // s + 2


cdef bint _run_lanes(_LanesRun *run, int N, int C, int kh, int s, int up,
                     fc_idx row_vectors, fc_idx extra_vectors, int nthreads) except -1:
    """Run a channel-lane depthwise call in bands of output rows: a band's input
    rows (_lanes_in_rows) of row_vectors 16-channel vectors each near
    DIRECT_SCRATCH_BYTES, and enough tasks for the threads; extra_vectors of
    scratch besides (weights, a row of outputs).  False, and nothing run, where
    one row's band would pass LANES_MAX_SCRATCH_BYTES a thread (rows of a
    million columns: the pixel-lane paths bound theirs)."""
    cdef fc_idx rows = run.OH
    cdef size_t vbytes = 16 * sizeof(float)
    cdef fc_idx most = LANES_MAX_SCRATCH_BYTES // vbytes, ncb = _cdiv(C, 16)
    if _lanes_in_rows(1, kh, s, up) * row_vectors + extra_vectors > most:
        return False
    while (rows > 1
           and _lanes_in_rows(rows, kh, s, up) * row_vectors * vbytes > DIRECT_SCRATCH_BYTES):
        rows = _cdiv(rows, 2)
    while rows > 1 and <fc_idx>N * ncb * _cdiv(run.OH, rows) < TASKS_PER_THREAD * nthreads:
        rows = _cdiv(rows, 2)
    cdef size_t sbytes = ((_lanes_in_rows(rows, kh, s, up) * row_vectors + extra_vectors)
                          * vbytes + 64)
    cdef _Buffers bufs = _Buffers()
    cdef char *scratch = <char *>bufs.get(sbytes * nthreads)
    run.ncb, run.rows, run.nband = _cdiv(C, 16), rows, _cdiv(run.OH, rows)
    _run_tasks(_lanes_one, run, N * run.ncb * run.nband,
               <double>N * C * kh * kh * run.OH * row_vectors, nthreads, scratch, sbytes, True)
    return True


cdef bint _dw_channel_lanes(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                            const floating[::1] bias, floating[:, :, :, ::1] y, int G,
                            int sh, int sw, int dh, int dw, int pt, int pl, int mode,
                            int nthreads):
    """Note [depthwise channel lanes], where it applies and pays; False if not run."""
    cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int K = w.shape[0], kh = w.shape[2], kw = w.shape[3]
    cdef int OH = y.shape[2], OW = y.shape[3]
    if (_dwcl_mode == 0 or floating is double or not fc_dwcl_supported()
            or not (G == C == K and w.shape[1] == 1
                    and (sh == sw == 1 or sh == sw == 2 and dh == dw == 1)
                    and kh == kw and (kh == 3 or kh == 5 or kh == 7) and mode == FC_PAD_ZEROS)
            or N * C * OH * OW == 0):
        return False
    if _dwcl_mode == -1 and not _dwcl_pays(N, C, OH, OW, kh, sh, dh > 1 or dw > 1):
        return False
    cdef fc_dwcl_args a
    a.x = &x[0, 0, 0, 0] if H > 0 and W > 0 else NULL
    a.w = &w[0, 0, 0, 0]
    a.bias = &bias[0] if bias is not None else NULL
    a.y = &y[0, 0, 0, 0]
    a.C, a.H, a.W, a.OH, a.OW = C, H, W, OH, OW
    a.pt, a.pl = pt, pl
    a.PWq = sw * _cdiv(_cdiv(OW, dw), 16) * 16 + kh - 1
    a.K, a.dh, a.dw, a.S = kh, dh, dw, sh
    cdef _LanesRun run = _LanesRun(&a, NULL, 0, 0, 0, OH)
    return _run_lanes(&run, N, C, (kh - 1) * dh + 1, 1, sh, dw * a.PWq, kh * kw + OW,
                      nthreads)


cdef bint _dwcl_pays(int N, int C, int OH, int OW, int k, int s, bint dilated):
    """Where Note [depthwise channel lanes] beats the pixel-lane tiles: where its
    vectors of 16 channels carry at least the share of real lanes that vectors
    of 16 pixels of a row would.  New / old time, _bench's interleaved medians
    at 2 threads, AMD EPYC Zen 5, 28 Nov 2026: all 16 channel lanes used, 0.54
    (8 x 672 at 7x7, 5x5) to 0.87 (240 at 28x28), ConvNeXt's 96 at 56x56 7x7
    0.85, 16 at 112x112 7x7 0.84; fewer used: 40 at 56x56 (5 of 6 vectors'
    lanes, against 7 of 8) 1.03, 24 at 56x56 1.04, 12 at 112x112 1.06, 20 at
    30x30 1.08, 8 at 112x112 1.51, 3 at 224x224 3.74.  A 3x3's nine taps
    leave less to gain than the transposes cost, except on rows of at most one
    vector: 8 x 960 at 7x7 0.54, 576 at 14x14 0.73-0.74, 1024 at 7x7 0.54; but
    256 at 28x28 1.08-1.09, 144 at 56x56 1.02-1.11.  Dilated layers leave the
    pixel tiles for DIRECT's general path, so lanes win there at any width:
    DeepLab's 320 at 33x33 at dilation 2 0.59, 960 at dilation 4 0.57, 576 at
    65x65 0.75, 32 at 129x129 0.87 (re-measured after Note [depthwise rows in
    registers]: 3x3 on rows of 7-16 outputs still 0.65-0.93, 28 1.43).  At
    stride 2 the pixel-lane tiles keep a row's even and odd columns in
    registers, so lanes win only on narrower rows: a 3x3's of at most 10
    outputs, a 5x5's or 7x7's of at most 16.  Lanes / pixel-lane time at
    stride 2 after Note [short depthwise blocks] (whose tails made the lanes
    10-20% faster), same machine, 29 Nov 2026, 2 threads (1), by output row
    width: 3x3 8 outputs 0.84-0.85 (0.58-0.63: 256 and 512 at 16x16), 9
    0.83-0.85 (0.66-0.69), 10 0.95 (0.73), 12 1.04 (0.87), 14 1.06-1.10
    (0.93), 16 1.11 (1.12), 20 1.51, 28 1.58 (96 at 56x56), 56 1.95; 5x5 8
    0.78 (0.61-0.64), 9-10 0.76-0.78 (0.57-0.59), 12 0.88 (0.68), 14 0.88
    (0.78), 20 1.01 (0.89), 56 1.04 (1.00); 7x7 28 0.97 (0.97: even, left to
    the pixel tiles)."""
    cdef bint fills = <fc_idx>C * _cdiv(OW, 16) >= <fc_idx>OW * _cdiv(C, 16)
    if s == 2:
        return fills and (OW <= 10 or k > 3 and OW <= 16)
    return fills and (k > 3 or OW <= 16 or dilated)


def conv2d_direct(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                const floating[::1] bias,
                  floating[:, :, :, ::1] y, int G, int sh, int sw, int dh, int dw,
                  int pt, int pb, int pl, int pr, str padding_mode, num_threads=None):
    """conv2d by direct accumulation over taps; for few channels per group."""
    cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int K = w.shape[0], C_g = w.shape[1], kh = w.shape[2], kw = w.shape[3]
    cdef int OH = y.shape[2], OW = y.shape[3]
    cdef int K_g = K // G, mode = PADDING_MODE_CODES[padding_mode]
    cdef int nthreads = _threads(num_threads)
    if N == 0 or K == 0:
        return
    global _dwcl_last
    _dwcl_last = _dw_channel_lanes(x, w, bias, y, G, sh, sw, dh, dw, pt, pl, mode, nthreads)
    if _dwcl_last:
        return
    cdef bint is_double = floating is double
    cdef fc_blocking b = fc_get_blocking(fc_get_isa(), is_double)
    cdef _Buffers bufs = _Buffers()
    cdef fc_idx PH = <fc_idx>H + pt + pb, PW = <fc_idx>W + pl + pr, q
    cdef int32_t *rowmap = _padded_map(bufs, PH, pt, H, mode)
    cdef int32_t *colmap = _padded_map(bufs, PW, pl, W, mode)
    cdef fc_direct_args *subs = <fc_direct_args *>bufs.get(<size_t>N * G * sizeof(fc_direct_args))
    cdef fc_direct_args *a
    cdef const floating *xp = &x[0, 0, 0, 0] if C > 0 else NULL
    cdef floating *yp = &y[0, 0, 0, 0]
    cdef const floating *bp = &bias[0] if bias is not None else NULL
    cdef int n, g
    for n in range(N):
        for g in range(G):
            a = &subs[n * G + g]
            a.x = (xp + (<fc_idx>n * C + <fc_idx>g * C_g) * H * W) if xp != NULL else NULL
            a.H = H
            a.W = W
            a.C_g = C_g
            a.K_g = K_g
            a.kh = kh
            a.kw = kw
            a.sh = sh
            a.sw = sw
            a.dh = dh
            a.dw = dw
            a.rowmap = rowmap
            a.colmap = colmap
            a.PH = PH
            a.PW = PW
            a.pl = pl
            a.w = &w[0, 0, 0, 0] + <fc_idx>g * K_g * C_g * kh * kw
            a.bias = (bp + g * K_g) if bp != NULL else NULL
            a.y = yp + (<fc_idx>n * K + <fc_idx>g * K_g) * OH * OW
            a.OH = OH
            a.OW = OW
            a.zpad = _dw_masked and mode == FC_PAD_ZEROS
    # Rows per task: scratch near DIRECT_SCRATCH_BYTES, and enough tasks for the threads.
    cdef fc_idx rows = OH
    cdef size_t esize = sizeof(floating)
    while rows > 4 and fc_direct_scratch_bytes(b, &subs[0], rows, esize) > DIRECT_SCRATCH_BYTES:
        rows = _cdiv(rows, 2)
    while rows > 4 and <fc_idx>N * G * _cdiv(OH, rows) < TASKS_PER_THREAD * nthreads:
        rows = _cdiv(rows, 2)
    cdef fc_idx nrb = _cdiv(OH, rows), ntask = <fc_idx>N * G * nrb
    cdef size_t sbytes = fc_direct_scratch_bytes(b, &subs[0], rows, esize)
    cdef char *scratch = <char *>bufs.get(sbytes * nthreads)
    cdef double macs = <double>N * K * C_g * kh * kw * OH * OW
    cdef _DirectRun run = _DirectRun(subs, nrb, rows, OH, is_double)
    _run_tasks(_direct_one, &run, ntask, macs, nthreads, scratch, sbytes,
               True)      # Note [task locality]


# Note [tall tap extents]: the implicit GEMMs copy the padded input in bands of
# output rows, each band with the rows its taps reach: R rows plus the kernel's
# dilated extent.  Where the extent dwarfs what a band's budget leaves for R
# (a dilation of 80000 rows: R = 1), every band copied the whole extent again,
# quadratic in the rows: minutes for what torch does in 30 ms.  There the GEMM
# runs instead; its gathers read the input in place (the same bits): where a
# band would copy more than TALL_EXTENT_COPIES rows for each output row.
cdef fc_idx TALL_EXTENT_COPIES = 64
cdef bint _tall_extent_last = False     # whether the latest implicit call gave way (tests)


def _tall_extent_used():
    """Test hook: whether the latest implicit GEMM call ran the GEMM instead
    (Note [tall tap extents])."""
    return _tall_extent_last


cdef fc_idx _implicit_nimg_last = 0     # images per band of the latest conv2d_implicit (tests)


def _implicit_images_per_band():
    """Test hook: the images a band of the latest conv2d_implicit call copied
    (Note [lean bands])."""
    return _implicit_nimg_last


cdef size_t _group_copy_bytes(fc_idx C_g, int sh, int sw, fc_idx PHs, fc_idx PWs,
                              fc_blocking b, size_t esize) noexcept:
    """Bytes of one group's copy for Note [group copies]: its C_g channels'
    sh x sw phase planes of PHs x PWs, _spread_stride apart, and the slack
    that a last chunk's junk lanes read."""
    return (<size_t>C_g * sh * sw * _spread_stride(PHs * PWs, esize) + 2 * b.nr + 64) * esize


cdef fc_idx *_implicit_koff(_Buffers bufs, int C_g, int kh, int kw, int sh, int sw, int dh,
                            int dw, fc_idx phase_stride, fc_idx plane, fc_idx PWs) except NULL:
    """Note [implicit GEMM on a padded copy]'s koff for channels C_g of a copy
    whose phase planes are phase_stride apart and channel planes plane apart."""
    cdef fc_idx *koff = <fc_idx *>bufs.get(<size_t>max(<fc_idx>C_g * kh * kw, 1) * sizeof(fc_idx))
    cdef int ci, i, j
    cdef fc_idx ri, rj
    for ci in range(C_g):
        for i in range(kh):
            ri = <fc_idx>i * dh
            for j in range(kw):
                rj = <fc_idx>j * dw
                koff[(ci * kh + i) * kw + j] = (((ri % sh) * sw + rj % sw) * phase_stride
                                                + ci * plane + (ri // sh) * PWs + rj // sw)
    return koff


cdef void _implicit_subs(fc_implicit_args *subs, int G, const fc_idx *koff, fc_idx kred,
                         fc_idx PWs, fc_idx rows, fc_idx r0, int K, int OH, int OW,
                         char *y, const char *w, const char *bias, size_t esize) noexcept:
    """conv2d_implicit's sub-problems, one a group, for output rows [r0, r0 +
    rows) of image 0 (y, w, bias: the arrays' first values); xp is the caller's."""
    cdef int g, K_g = K // G
    cdef fc_implicit_args *a
    for g in range(G):
        a = &subs[g]
        a.koff = koff
        a.kred = kred
        a.PW = PWs
        a.OH = rows
        a.OW = OW
        a.y = y + ((<fc_idx>g * K_g * OH + r0) * OW) * esize
        a.y_nstride = <fc_idx>K * OH * OW
        a.y_kstride = <fc_idx>OH * OW
        a.y_rstride = OW
        a.y_cstride = 1
        a.a = w + <fc_idx>g * K_g * kred * esize
        a.lda = kred
        a.bias = (bias + <fc_idx>g * K_g * esize) if bias != NULL else NULL
        a.M = K_g
        a.row_chunks = OW >= IMPLICIT_ROW_CHUNK_MIN_OW


def conv2d_implicit(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                    const floating[::1] bias, floating[:, :, :, ::1] y, int G, int sh, int sw,
                    int dh, int dw, int pt, int pb, int pl, int pr, str padding_mode,
                    num_threads=None):
    """conv2d as an implicit GEMM read straight from a padded, phase-split copy.

    See Note [implicit GEMM on a padded copy] in _kernels_impl.h.
    """
    cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int K = w.shape[0], C_g = w.shape[1], kh = w.shape[2], kw = w.shape[3]
    cdef int OH = y.shape[2], OW = y.shape[3]
    cdef int K_g = K // G, mode = PADDING_MODE_CODES[padding_mode]
    cdef int nthreads = _threads(num_threads)
    if N == 0 or K == 0 or OH <= 0 or OW <= 0:
        return
    cdef bint is_double = floating is double
    cdef fc_blocking b = fc_get_blocking(fc_get_isa(), is_double)
    cdef int npanel = <int>_cdiv(K_g, b.mr)
    cdef _Buffers bufs = _Buffers()
    cdef fc_idx PH = <fc_idx>H + pt + pb, PW = <fc_idx>W + pl + pr, q, t
    cdef fc_idx PHs = _cdiv(PH, sh), PWs = _cdiv(PW, sw)
    cdef fc_idx plane = PHs * PWs, kred = <fc_idx>C_g * kh * kw
    cdef fc_idx phase_stride = <fc_idx>C * plane, image = phase_stride * sh * sw
    cdef int32_t *rowmap = _padded_map(bufs, PH, pt, H, mode)
    cdef int32_t *colmap = _padded_map(bufs, PW, pl, W, mode)
    cdef bint cl = _channel_lanes(N, K_g, kred, kh * kw, OH, OW, PWs, sh, sw, b, sizeof(floating))
    global _channel_lanes_last, _tall_extent_last, _cl_split_last
    _channel_lanes_last = cl
    # Note [channel lane remainders]: a group's last K_g % (2*VLEN) channels
    # with pixel lanes instead of a partly filled channel block.
    cdef int cblock = 2 * <int>b.vlen, rem = K_g % cblock if cl and K_g > cblock else 0
    if _cl_split_mode == 0 or _cl_split_mode < 0 and rem > CHANNEL_LANES_SPLIT_MAX_REM:
        rem = 0
    _cl_split_last = rem
    cdef fc_implicit_args *tail = NULL
    _tall_extent_last = False
    # Bands: the padded copy covers images [n0, n1) and output rows [r0, r1) at a
    # time, so its size stays under IMPLICIT_COPY_BYTES however large the input.
    cdef size_t esize = sizeof(floating)
    cdef fc_idx rows_all = PHs            # phase-plane rows of a whole image
    cdef fc_idx R = OH, nimg = N
    if <size_t>N * image * esize > IMPLICIT_COPY_BYTES:
        nimg = max(1, <fc_idx>(IMPLICIT_COPY_BYTES // (image * esize)))
        if nimg == 1:
            # Rows per band: each output row needs sh padded rows of C*PW values.
            R = max(1, <fc_idx>(IMPLICIT_COPY_BYTES // (<size_t>C * PWs * sw * sh * esize))
                    - ((kh - 1) * dh) // sh - 1)
            R = min(R, OH)
            rows_all = R + ((kh - 1) * dh) // sh + 1
            if R < OH and rows_all > TALL_EXTENT_COPIES * R:     # Note [tall tap extents]
                _tall_extent_last = True
                conv2d_gemm(x, w, bias, y, G, sh, sw, dh, dw, pt, pl, padding_mode,
                            num_threads)
                return
    # Note [lean bands]: where each copied value feeds few multiply-adds (under
    # IMPLICIT_LEAN_MAX_MACS: a grouped layer with 16 outputs a group at stride
    # 2 has 36), the tasks that read a band's copy would find it evicted by the
    # rest of a many-image band: such bands hold whole images up to
    # IMPLICIT_LEAN_COPY_BYTES.  Interleaved medians, 16 MB / 4 MB bands, 2
    # threads (1 thread), AMD EPYC Zen 4, 29 Nov 2026: 4 x 240 in 15 groups at
    # 56x56 s2 (36) 0.73-0.78 in three runs (0.67-0.70), 4 x 512 in 32 groups
    # at 28x28 s2 (36) 0.84-0.92 (0.71-0.76), 8 x 96 in 6 groups at 56x56 s2
    # (36) 0.82 (0.77); few outputs: 8 x 64 -> 24 at 112x112 s2 (54) 0.81
    # (0.74), 4 x 32 -> 16 at 224x224 s2 (36) 0.78 (0.77).  Once (two runs of
    # nine) 4 x 512 in 32 groups went 1.53 at 2 threads on a loaded host.  Not
    # at 108 (8 x 432 in 9 groups: 1.01-1.05) nor for dense layers (4 x 128 at
    # 56x56 s2, 288: 0.98-1.03), which keep the budget above.
    if (nimg > 1 and <double>K_g * kh * kw < IMPLICIT_LEAN_MAX_MACS * sh * sw
            and <size_t>nimg * image * esize > IMPLICIT_LEAN_COPY_BYTES):
        nimg = max(1, <fc_idx>(IMPLICIT_LEAN_COPY_BYTES // (image * esize)))
    # Note [group copies]: each (image, group) task copies its own group's
    # channels into its scratch, where the GEMM then finds them in cache.
    global _group_copies_last
    _group_copies_last = (G > 1 and not cl and R == OH and _group_copies_mode != 0
                          and _group_copy_bytes(C_g, sh, sw, PHs, PWs, b, esize)
                          <= GROUP_COPY_BYTES
                          and (_group_copies_mode == 1
                               or N == 1 and G >= GROUP_COPY_MIN_TASKS * nthreads
                               and G % nthreads == 0))
    if _group_copies_last:
        _run_group_copies(x, w, bias, y, G, sh, sw, dh, dw, pl, PH, PW, PHs, PWs, rowmap,
                          colmap, npanel, nthreads, bufs)
        return
    global _implicit_nimg_last
    _implicit_nimg_last = nimg
    # Channel planes an odd number of cache lines apart (_spread_stride; as
    # conv_transpose2d_implicit's), the gaps zeroed (junk lanes read them).
    plane = _spread_stride(rows_all * PWs, esize)
    phase_stride = <fc_idx>C * plane
    image = phase_stride * sh * sw
    # Slack past the last image: the junk lanes of a last chunk read up to NR more.
    cdef size_t npad = <size_t>nimg * image + 2 * b.nr + 64
    cdef floating *xpad = <floating *>bufs.get(npad * esize)
    _zero_slack(xpad, nimg * sh * sw * C, rows_all * PWs, plane, npad)
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef fc_idx n, c, n0, n1, r0, r1, prow0, prows, nsplit, rchunk, ra, rcount, rlast
    cdef bint flat
    cdef fc_idx *koff = _implicit_koff(bufs, C_g, kh, kw, sh, sw, dh, dw, phase_stride, plane,
                                       PWs)
    cdef const char *biasp = <const char *>&bias[0] if bias is not None else NULL
    cdef fc_implicit_args *subs = <fc_implicit_args *>bufs.get(<size_t>G * sizeof(fc_implicit_args))
    cdef int g
    for n0 in range(0, N, nimg):
        n1 = min(n0 + nimg, N)
        for r0 in range(0, OH, R):
            r1 = min(r0 + R, OH)
            prow0 = r0 * sh                               # first padded row of the band
            prows = min(PH - prow0, (r1 - r0 - 1) * sh + (kh - 1) * dh + 1)
            # Fewer planes than 4 a thread (an RGB stem): each plane's rows in
            # nsplit chunks of whole phase rows, or the copy runs on 1-3 threads
            # while the others wait (AlexNet's 11x11 at stride 4: 10% of the call).
            nsplit = 1
            if nthreads > 1 and (n1 - n0) * C < 4 * nthreads:
                nsplit = max(1, min(_cdiv(4 * nthreads, (n1 - n0) * C), prows // (4 * sh)))
            rchunk = _cdiv(_cdiv(prows, nsplit), sh) * sh
            # No padding, stride 1, whole images: the copy is the input's own
            # layout, a plane a memcpy (pad_plane's row loop on ResNet's 7x7
            # planes was 19% of a 2048 -> 512 1x1 layer).
            flat = (sh == 1 and sw == 1 and pt == 0 and pb == 0 and pl == 0 and pr == 0
                    and prow0 == 0 and prows == H and rows_all == H and PWs == W)
            with nogil:
                for t in prange((n1 - n0) * C * nsplit, num_threads=nthreads,
                                schedule="static"):
                    n = t // nsplit // C
                    c = t // nsplit % C
                    ra = t % nsplit * rchunk
                    if ra >= prows:
                        continue
                    if flat:
                        memcpy(xpad + n * image + c * plane + ra * W,
                               xp + ((n0 + n) * C + c) * H * W + ra * W,
                               <size_t>min(rchunk, prows - ra) * W * esize)
                        continue
                    rcount = min(rchunk, prows - ra)
                    # the last chunk also zeroes the phase rows past the input
                    rlast = rows_all - ra // sh if ra + rcount == prows else rcount // sh
                    if floating is float:
                        fc_pad_plane_f32(xp + ((n0 + n) * C + c) * H * W, W,
                                         rowmap + prow0 + ra, colmap, rcount, PW, pl, sh, sw,
                                         PWs, phase_stride, rlast,
                                         xpad + n * image + c * plane + ra // sh * PWs)
                    else:
                        fc_pad_plane_f64(xp + ((n0 + n) * C + c) * H * W, W,
                                         rowmap + prow0 + ra, colmap, rcount, PW, pl, sh, sw,
                                         PWs, phase_stride, rlast,
                                         xpad + n * image + c * plane + ra // sh * PWs)
            _implicit_subs(subs, G, koff, kred, PWs, r1 - r0, r0, K, OH, OW,
                           <char *>&y[n0, 0, 0, 0], <const char *>&w[0, 0, 0, 0], biasp, esize)
            for g in range(G):
                subs[g].xp = xpad + <fc_idx>g * C_g * plane
                subs[g].xp_nstride = image
            if cl:
                _run_implicit_cl(subs, G, <int>(n1 - n0), K_g - rem, is_double, nthreads,
                                 bufs, esize)
                if rem:
                    if tail == NULL:
                        tail = <fc_implicit_args *>bufs.get(
                            <size_t>G * sizeof(fc_implicit_args))
                    for g in range(G):
                        tail[g] = subs[g]
                        tail[g].a = <const char *>subs[g].a + <fc_idx>(K_g - rem) * kred * esize
                        tail[g].y = <char *>subs[g].y + (K_g - rem) * subs[g].y_kstride * esize
                        if biasp != NULL:
                            tail[g].bias = <const char *>subs[g].bias + (K_g - rem) * esize
                        tail[g].M = rem
                    _run_implicit(tail, G, <int>(n1 - n0), <int>_cdiv(rem, b.mr), is_double,
                                  nthreads, bufs, esize)
            else:
                _run_implicit(subs, G, <int>(n1 - n0), npanel, is_double, nthreads, bufs,
                              esize)


cdef struct _GroupRun:
    fc_implicit_args *subs
    const void *x
    const int32_t *rowmap
    const int32_t *colmap
    fc_idx HW, W, C_g, PH, PW, pl, PWs, PHs, gplane, Q, gbytes
    int sh, sw, G, npanel
    bint is_double


cdef void _group_one(void *ctx, fc_idx t, char *scratch) noexcept nogil:
    """Task t of _run_group_copies: image t // G, group t % G (Note [group copies])."""
    cdef _GroupRun *r = <_GroupRun *>ctx
    cdef fc_idx n = t // r.G, ci
    cdef int g = <int>(t % r.G)
    cdef fc_implicit_args a = r.subs[g]
    cdef fc_idx first = (n * r.G + g) * r.C_g      # the group's first plane in x
    cdef fc_idx phase = r.C_g * r.gplane
    cdef char *tile = scratch + r.gbytes
    # The copy's gaps between planes and its slack (junk lanes read them):
    # zeroed by the task, as the scratch may be fresh.
    if r.is_double:
        _zero_slack(<double *>scratch, r.C_g * r.sh * r.sw, r.PHs * r.PWs, r.gplane,
                    r.gbytes // sizeof(double))
    else:
        _zero_slack(<float *>scratch, r.C_g * r.sh * r.sw, r.PHs * r.PWs, r.gplane,
                    r.gbytes // sizeof(float))
    for ci in range(r.C_g):
        if r.is_double:
            fc_pad_plane_f64(<const double *>r.x + (first + ci) * r.HW, r.W, r.rowmap,
                             r.colmap, r.PH, r.PW, r.pl, r.sh, r.sw, r.PWs, phase, r.PHs,
                             <double *>scratch + ci * r.gplane)
        else:
            fc_pad_plane_f32(<const float *>r.x + (first + ci) * r.HW, r.W, r.rowmap,
                             r.colmap, r.PH, r.PW, r.pl, r.sh, r.sw, r.PWs, phase, r.PHs,
                             <float *>scratch + ci * r.gplane)
    a.xp = scratch
    a.xp_nstride = 0
    if r.is_double:
        fc_implicit_task_f64(&a, n, 0, r.Q, 0, r.npanel, tile)
    else:
        fc_implicit_task_f32(&a, n, 0, r.Q, 0, r.npanel, tile)


cdef void _run_group_copies(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                            const floating[::1] bias, floating[:, :, :, ::1] y, int G,
                            int sh, int sw, int dh, int dw, int pl, fc_idx PH, fc_idx PW,
                            fc_idx PHs, fc_idx PWs, const int32_t *rowmap,
                            const int32_t *colmap, int npanel, int nthreads,
                            _Buffers bufs) except *:
    """Note [group copies]: conv2d_implicit's tasks (image, group), each
    copying its group's padded, phase-split planes into its scratch (the
    layout of the shared copy with the group's C_g channels for all C)."""
    cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int K = w.shape[0], C_g = w.shape[1], kh = w.shape[2], kw = w.shape[3]
    cdef int OH = y.shape[2], OW = y.shape[3], K_g = K // G
    cdef bint is_double = floating is double
    cdef fc_blocking b = fc_get_blocking(fc_get_isa(), is_double)
    cdef size_t esize = sizeof(floating)
    cdef fc_idx gplane = _spread_stride(PHs * PWs, esize)
    cdef size_t gbytes = _group_copy_bytes(C_g, sh, sw, PHs, PWs, b, esize)
    cdef fc_idx kred = <fc_idx>C_g * kh * kw
    cdef fc_idx *koff = _implicit_koff(bufs, C_g, kh, kw, sh, sw, dh, dw, C_g * gplane, gplane,
                                       PWs)
    cdef fc_implicit_args *subs = <fc_implicit_args *>bufs.get(<size_t>G * sizeof(fc_implicit_args))
    _implicit_subs(subs, G, koff, kred, PWs, OH, 0, K, OH, OW, <char *>&y[0, 0, 0, 0],
                   <const char *>&w[0, 0, 0, 0],
                   <const char *>&bias[0] if bias is not None else NULL, esize)
    # Scratch: the copy, then implicit_task's tile, 64-byte aligned.
    gbytes = _cdiv(gbytes, 64) * 64
    cdef size_t sbytes = gbytes + <size_t>(b.mr * b.nr) * esize + 2 * 64
    cdef char *scratch = <char *>_align_up(bufs.get(sbytes * nthreads + 64), 64)
    cdef _GroupRun run = _GroupRun(subs, &x[0, 0, 0, 0], rowmap, colmap, <fc_idx>H * W, W,
                                   C_g, PH, PW, pl, PWs, PHs, gplane,
                                   (OH - 1) * PWs + OW, gbytes, sh, sw, G, npanel, is_double)
    _run_tasks(_group_one, &run, <fc_idx>N * G, <double>N * K * kred * OH * OW, nthreads,
               scratch, sbytes, False)


def _cl_computed(fc_idx OH, fc_idx OW, fc_idx PW):
    """Test hook: the pixels channel-lane tiles compute for one OH x OW image
    on a grid PW wide, at the running SIMD level (_dispatch mirrors AVX-512's)."""
    return fc_cl_computed(OH, OW, PW)


cdef bint _channel_lanes(int N, int K_g, fc_idx kred, int ntaps, int OH, int OW, fc_idx PW,
                         int sh, int sw, fc_blocking b, size_t esize) noexcept:
    """Whether conv2d_implicit runs channel-lane tiles (Note [channel lanes]):
    the rule at CHANNEL_LANES_*, or the test hook's setting."""
    if _channel_lanes_mode >= 0:
        return _channel_lanes_mode == 1
    cdef fc_idx P = <fc_idx>N * OH * OW
    return (b.vlen * esize == 64 and sh <= 2 and sw <= 2 and K_g >= 2 * b.vlen
            and (ntaps >= CHANNEL_LANES_MIN_TAPS
                 or ntaps == 1 and <double>K_g * kred >= CHANNEL_LANES_1X1_MIN_WEIGHTS
                 and P < CHANNEL_LANES_1X1_MAX_LANE_USE * _cdiv(P, b.vlen) * b.vlen)
            and kred >= CHANNEL_LANES_MIN_KRED and P >= CHANNEL_LANES_MIN_PIXELS
            and <double>P * K_g * kred >= CHANNEL_LANES_MIN_MACS
            and <double>OH * OW >= CHANNEL_LANES_MIN_TILE_USE * fc_cl_computed(OH, OW, PW))


cdef struct _ClRun:
    fc_implicit_args *subs
    fc_idx ncb, nic, per
    int nparts, N, cb
    bint is_double


cdef void _implicit_cl_one(void *ctx, fc_idx t, char *scratch) noexcept nogil:
    """Task t of _run_implicit_cl: (group, image chunk, part of its tiles,
    channel block), channels fastest."""
    cdef _ClRun *r = <_ClRun *>ctx
    cdef fc_idx k = t % r.ncb, s = t // r.ncb
    cdef int part = <int>(s % r.nparts)
    s = s // r.nparts
    cdef fc_idx n0 = (s % r.nic) * r.per, n1 = min(n0 + r.per, <fc_idx>r.N)
    cdef int g = <int>(s // r.nic)
    if r.is_double:
        fc_implicit_cl_task_f64(&r.subs[g], n0, n1, part, r.nparts, <int>(k * r.cb), scratch)
    else:
        fc_implicit_cl_task_f32(&r.subs[g], n0, n1, part, r.nparts, <int>(k * r.cb), scratch)


cdef void _run_implicit_cl(fc_implicit_args *subs, int nsub, int N, int K_g, bint is_double,
                           int nthreads, _Buffers bufs, size_t esize) except *:
    """Note [channel lanes]: (group, image chunk, part, channel block) tasks;
    each transposes its block's weights, so images (and then an image's tiles,
    in parts) split only where the blocks alone are too few for the threads."""
    cdef fc_blocking b = fc_get_blocking(fc_get_isa(), is_double)
    cdef int cb = 2 * <int>b.vlen
    cdef fc_idx ncb = _cdiv(K_g, cb)
    cdef fc_idx nic = min(<fc_idx>N, _cdiv(TASKS_PER_THREAD * nthreads, nsub * ncb))
    if nthreads == 1:
        nic = 1
    cdef fc_idx per = _cdiv(N, nic)
    # A task sweeps its images' padded input once per pixel tile: at most
    # CHANNEL_LANES_INPUT_BYTES of it, so it stays in L2.
    cdef size_t image_bytes = <size_t>(subs[0].xp_nstride // nsub) * esize
    per = max(1, min(per, <fc_idx>(CHANNEL_LANES_INPUT_BYTES // max(image_bytes, <size_t>1))))
    nic = _cdiv(N, per)
    cdef int nparts = 1
    if nthreads > 1 and per == 1 and nsub * nic * ncb < TASKS_PER_THREAD * nthreads:
        nparts = <int>_cdiv(TASKS_PER_THREAD * nthreads, nsub * nic * ncb)
    cdef fc_idx ntask = nsub * nic * nparts * ncb
    cdef size_t sbytes = fc_cl_scratch_bytes(b, esize)
    cdef char *scratch = <char *>bufs.get(sbytes * nthreads)
    cdef double macs = <double>N * nsub * K_g * subs[0].kred * subs[0].OH * subs[0].OW
    cdef _ClRun run = _ClRun(subs, ncb, nic, per, nparts, N, cb, is_double)
    _run_tasks(_implicit_cl_one, &run, ntask, macs, nthreads, scratch, sbytes, False)



cdef struct _ImplicitRun:
    fc_implicit_args *subs
    int nsub, npanel
    fc_idx nqb, nmb, nb, mb_size
    bint is_double, sub_inner


cdef void _implicit_one(void *ctx, fc_idx t, char *scratch) noexcept nogil:
    """Task t of _run_implicit: (image, sub-problem, grid block, panel block), panel
    block fastest; with sub_inner (image, grid block, sub-problem, panel block)."""
    cdef _ImplicitRun *r = <_ImplicitRun *>ctx
    cdef fc_idx mb = t % r.nmb, s = t // r.nmb
    cdef fc_idx q0
    cdef int sub
    if r.sub_inner:
        sub = <int>(s % r.nsub)
        s = s // r.nsub
        q0 = (s % r.nqb) * r.nb
        s = s // r.nqb
    else:
        q0 = (s % r.nqb) * r.nb
        s = s // r.nqb
        sub = <int>(s % r.nsub)
        s = s // r.nsub
    cdef fc_idx n = s
    cdef fc_implicit_args *a = &r.subs[sub]
    cdef fc_idx q1 = min(q0 + r.nb, (a.OH - 1) * a.PW + a.OW)
    if q1 <= q0:
        return
    cdef int m0 = <int>(mb * r.mb_size), m1 = <int>min((mb + 1) * r.mb_size, <fc_idx>r.npanel)
    if r.is_double:
        fc_implicit_task_f64(a, n, q0, q1, m0, m1, scratch)
    else:
        fc_implicit_task_f32(a, n, q0, q1, m0, m1, scratch)


cdef void _run_implicit(fc_implicit_args *subs, int nsub, int N, int npanel, bint is_double,
                        int nthreads, _Buffers bufs, size_t esize,
                        bint sub_inner=False) except *:
    """Split (image, sub-problem, grid block, panel block) into tasks and run them."""
    cdef fc_blocking b = fc_get_blocking(fc_get_isa(), is_double)
    # One block size for all sub-problems (they differ by at most one row per phase).
    cdef fc_idx Q = 0, s
    for s in range(nsub):
        Q = max(Q, (subs[s].OH - 1) * subs[s].PW + subs[s].OW)
    if Q <= 0:
        return
    cdef fc_idx nb = min(_cdiv(Q, b.nr) * b.nr, GEMM_BLOCK_PIXELS // b.nr * b.nr), rows
    while nb > b.nr and <fc_idx>N * nsub * _cdiv(Q, nb) < TASKS_PER_THREAD * nthreads:
        nb = max(b.nr, (nb // 2) // b.nr * b.nr)
    if subs[0].row_chunks:      # whole grid rows per task (Note [row chunks])
        rows = max(1, nb // subs[0].PW)
        while rows > 1 and <fc_idx>N * nsub * _cdiv(Q, rows * subs[0].PW) < TASKS_PER_THREAD * nthreads:
            rows //= 2
        nb = rows * subs[0].PW
    cdef fc_idx nqb = _cdiv(Q, nb), nmb = 1
    if N * nsub * nqb < TASKS_PER_THREAD * nthreads and nthreads > 1:
        nmb = min(<fc_idx>npanel, _cdiv(TASKS_PER_THREAD * nthreads, N * nsub * nqb))
    cdef fc_idx mb_size = _cdiv(npanel, nmb)
    nmb = _cdiv(npanel, mb_size)
    cdef fc_idx ntask = <fc_idx>N * nsub * nqb * nmb
    cdef size_t sbytes = <size_t>(b.mr * b.nr) * esize + 2 * 64
    cdef char *scratch = <char *>bufs.get(sbytes * nthreads)
    cdef double macs = 0
    for s in range(nsub):
        macs += <double>N * subs[s].M * subs[s].kred * subs[s].OH * subs[s].OW
    cdef _ImplicitRun run = _ImplicitRun(subs, nsub, npanel, nqb, nmb, nb, mb_size, is_double,
                                         sub_inner)
    # Pixel tasks: runs of neighbours per thread (Note [task locality]).
    _run_tasks(_implicit_one, &run, ntask, macs, nthreads, scratch, sbytes, nmb == 1)


def conv2d_winograd(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                    const floating[::1] bias, floating[:, :, :, ::1] y, int G, int dh, int dw,
                    int pt, int pb, int pl, int pr, str padding_mode, num_threads=None):
    """conv2d with a 3x3 kernel at stride 1 (any dilation) by Winograd F(2x2, 3x3).

    See Note [Winograd F(2x2, 3x3)] in _kernels_impl.h.  Where the data would
    take the transforms outside the direct algorithms' error bound (values
    near the underflow threshold, overflow, infinities), the whole call is
    recomputed by conv2d_implicit; returns False then, True otherwise.
    """
    cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int K = w.shape[0], C_g = w.shape[1]
    cdef int OH = y.shape[2], OW = y.shape[3]
    cdef int K_g = K // G, mode = PADDING_MODE_CODES[padding_mode]
    cdef int nthreads = _threads(num_threads)
    if (w.shape[2] != 3 or w.shape[3] != 3 or dh < 1 or dw < 1
            or OH != H + pt + pb - 2 * dh or OW != W + pl + pr - 2 * dw):
        raise ValueError("conv2d_winograd needs a 3x3 kernel at stride 1")
    if N == 0 or K == 0 or OH <= 0 or OW <= 0:
        return True
    cdef size_t esize = sizeof(floating)
    # Note [Winograd chunks]: the transformed weights of all K output channels
    # would pass WINOGRAD_WEIGHT_BYTES (16 values per channel pair: 16 MB for
    # 512 -> 512 channels in float32).  One group's output channels then go in
    # chunks of Kc (a multiple of 16) whose weights fit, each chunk its own
    # weight transform and run over the input: every output channel is computed
    # exactly as unchunked (the same bits), at the cost of transforming the
    # input once per chunk.
    cdef fc_idx Kc = K_g
    cdef bint chunked = <size_t>16 * K * C_g * esize > WINOGRAD_WEIGHT_BYTES
    if chunked:
        Kc = min(<fc_idx>K_g,
                 <fc_idx>(WINOGRAD_WEIGHT_BYTES // (<size_t>16 * C_g * esize)) // 16 * 16)
    # Note [Winograd panels]: the rule at WINOGRAD_PANEL_V_BYTES, on the tile
    # lanes: each output phase's grid at phase 0's pitch, in whole vectors (as
    # _dispatch._winograd_lanes counts them).  Panel tasks transform the
    # weights themselves (no U).
    cdef fc_idx TH = _cdiv(_cdiv(OH, dh), 2), TW = _cdiv(_cdiv(OW, dw), 2), PWs = TW + 1
    cdef fc_idx vlen = fc_get_blocking(fc_get_isa(), floating is double).vlen
    cdef fc_idx lanes = 0, ph_, pw_
    for ph_ in range(min(dh, OH)):
        for pw_ in range(min(dw, OW)):
            lanes += _cdiv((_cdiv(_cdiv(OH - ph_, dh), 2) - 1) * PWs
                           + _cdiv(_cdiv(OW - pw_, dw), 2), vlen) * vlen
    lanes *= N
    cdef size_t vbytes = <size_t>lanes * 16 * C * esize
    cdef bint panels = G == 1 and _winograd_panels_mode != 0 and (
        _winograd_panels_mode == 1
        or K >= lanes and vbytes <= WINOGRAD_PANEL_V_BYTES
        or K >= 4 * lanes and vbytes <= 4 * WINOGRAD_PANEL_V_BYTES)
    if C_g > WINOGRAD_MAX_C_G or not panels and chunked and (G > 1 or Kc < 16):
        # Workspace bound: the implicit GEMM instead.
        conv2d_implicit(x, w, bias, y, G, 1, 1, dh, dw, pt, pb, pl, pr, padding_mode,
                        num_threads)
        return False
    cdef _Buffers bufs = _Buffers()
    # Output phase (p, p') has ceil((OH - p)/dh) x ceil((OW - p')/dw) outputs;
    # phase 0 has the most, so its tiles (TH x TW above) size the phase planes.
    cdef fc_idx PH = <fc_idx>H + pt + pb, PW = <fc_idx>W + pl + pr, q, t
    # Padded rows / columns the phase planes hold: 2*dh*(TH + 1) (more than PH
    # where the last tiles stick out; those rows only feed outputs never stored).
    cdef fc_idx PHw = 2 * dh * (TH + 1), PWw = 2 * dw * PWs
    cdef int32_t *rm = _padded_map(bufs, PH, pt, H, mode)
    cdef int32_t *cm = _padded_map(bufs, PW, pl, W, mode)
    cdef int32_t *rowmap = <int32_t *>bufs.get(<size_t>PHw * sizeof(int32_t))
    cdef int32_t *colmap = <int32_t *>bufs.get(<size_t>PWw * sizeof(int32_t))
    for q in range(PHw):
        rowmap[q] = rm[q] if q < PH else -1
    for q in range(PWw):
        colmap[q] = cm[q] if q < PW else -1
    cdef int *bad = <int *>bufs.get(<size_t>max(nthreads, 1) * sizeof(int))
    for t in range(nthreads):
        bad[t] = 0
    cdef const floating *wp = &w[0, 0, 0, 0]
    cdef fc_idx nkb, per_group = 16 * Kc * C_g, g_, kb, k0, k1
    cdef bint flagged = False
    cdef floating *U = NULL
    if panels:
        flagged = _winograd_bands(x, bias, y, 1, dh, dw, NULL, wp, rowmap, colmap, PWs, TH,
                                  pl, nthreads, bufs, bad, 0, K, K)
    else:
        # Transformed weights of a chunk, [G][Kc][16][C_g].
        U = <floating *>bufs.get(<size_t>max(G * 16 * Kc * C_g, 1) * esize)
        for k0 in range(0, K_g, Kc):
            k1 = min(k0 + Kc, <fc_idx>K_g)
            nkb = _cdiv(k1 - k0, 16)
            with nogil:
                for t in prange(<fc_idx>G * nkb, num_threads=nthreads, schedule="static"):
                    g_ = t // nkb
                    kb = (t % nkb) * 16
                    if floating is float:
                        if fc_winograd_weights_f32(wp + (g_ * K_g + k0) * C_g * 9, k1 - k0, C_g,
                                                   kb, min(kb + 16, k1 - k0), U + g_ * per_group):
                            bad[fc_omp_thread_num()] = 1
                    else:
                        if fc_winograd_weights_f64(wp + (g_ * K_g + k0) * C_g * 9, k1 - k0, C_g,
                                                   kb, min(kb + 16, k1 - k0), U + g_ * per_group):
                            bad[fc_omp_thread_num()] = 1
            flagged = _any_flagged(bad, nthreads)
            if not flagged:
                # Each chunk's band buffers go back when it ends (a _Buffers of its
                # own), so chunks reuse them instead of adding up.
                flagged = _winograd_bands(x, bias, y, G, dh, dw, U, NULL, rowmap, colmap, PWs, TH,
                                          pl, nthreads, _Buffers(), bad, k0, k1 - k0, Kc)
            if flagged:
                break
    if flagged:
        conv2d_implicit(x, w, bias, y, G, 1, 1, dh, dw, pt, pb, pl, pr, padding_mode,
                        num_threads)
        return False
    if mode == FC_PAD_ZEROS:
        _bias_unreached(y, bias, _reached(OH, H, pt, dh, 1), _reached(OW, W, pl, dw, 1))
    return True


# Note [unreached outputs]: an output whose taps all fall in the zero padding
# (a 3x3 kernel padded by 3; a transposed layer's output_padding rows) is
# exactly the bias in torch and in the direct algorithms, which add only
# products.  The Winograd tiles compute it from transforms that mix in their
# neighbours' values, which cancel only to rounding: noise of ~eps times the
# data where the answer is exactly the bias.  So after a Winograd run those
# rows and columns are set to the bias.
cdef object _reached(fc_idx out, fc_idx n, fc_idx p, fc_idx d, int s, bint transposed=False,
                     int k=3):
    """Whether each of `out` outputs along an axis has a tap on the input's n
    values (conv2d at stride 1 reads o - p + i*d; conv_transpose2d at stride s
    reads (o + p - i*d) / s where that divides), as a bool array; None where
    all have (the common case: no array made)."""
    cdef fc_idx o, v
    cdef int i
    cdef bint all_ = True
    reached = None
    for o in range(out):
        for i in range(k):
            v = o + p - i * d if transposed else o - p + i * d
            if transposed and _pmod(v, s) != 0:
                continue
            if 0 <= (v // s if transposed else v) < n:
                break
        else:
            if reached is None:
                reached = np.ones(out, bool)
            reached[o] = False
    return reached


cdef void _bias_unreached(y, bias, rows, cols) except *:
    """Note [unreached outputs]: outputs in rows or columns no tap reaches = the bias
    (rows, cols: _reached's arrays, None where every one is reached)."""
    if rows is None and cols is None:
        return
    rows = np.ones(y.shape[2], bool) if rows is None else rows
    cols = np.ones(y.shape[3], bool) if cols is None else cols
    ya = np.asarray(y)
    value = 0 if bias is None else np.asarray(bias)[None, :, None, None]
    ya[:, :, ~rows, :] = value
    ya[:, :, :, ~cols] = value


cdef inline bint _any_flagged(const int *bad, int nthreads) noexcept:
    """Whether any thread's flag is set (a Winograd task's, a weight pack's)."""
    cdef int i
    for i in range(nthreads):
        if bad[i]:
            return True
    return False


cdef inline fc_idx _wino_lanes_of(const fc_winograd_args *a, fc_idx nimg) noexcept nogil:
    """The lanes of a Winograd sub-problem: one image's grid, or with dense
    lanes every tile of the band's nimg images."""
    if a.dense:
        return a.nlanes
    return (a.TH - 1) * a.PWs + a.TW


cdef bint _winograd_panels(fc_winograd_args *subs, fc_idx nsub, fc_idx nimg, fc_idx C,
                           int npanel, const floating *w, int nthreads, int *bad) except *:
    """Note [Winograd panels]: transform every chunk of the sub-problems' tile
    grids (nimg images of the band) once into a shared V, then run the panel
    tasks.  True if any task flagged."""
    cdef fc_blocking b = fc_get_blocking(fc_get_isa(), floating is double)
    cdef fc_idx vlen = b.vlen, n, q0, Qs, nch = 0, voff = 0, t, cb, ncb, ch
    cdef size_t esize = sizeof(floating)
    cdef int sub
    cdef _Buffers bufs = _Buffers()
    # Dense lanes (Note [dense Winograd lanes]): one run of chunks over all images
    # and phases.
    cdef fc_idx nunit = 1 if subs[0].dense else nimg
    for sub in range(nsub):
        nch += nunit * _cdiv(_wino_lanes_of(&subs[sub], nimg), b.nr)
    cdef fc_wino_chunk *chunks = <fc_wino_chunk *>bufs.get(<size_t>max(nch, 1)
                                                           * sizeof(fc_wino_chunk))
    cdef fc_wino_chunk *c
    nch = 0
    for n in range(nunit):
        for sub in range(nsub):
            Qs = _wino_lanes_of(&subs[sub], nimg)
            for q0 in range(0, Qs, b.nr):
                c = &chunks[nch]
                nch += 1
                c.n = n
                c.qc = q0
                c.sub = sub
                c.ncol = <int>min(<fc_idx>b.nr, Qs - q0)
                c.voff = voff
                voff += 16 * C * _cdiv(c.ncol, vlen) * vlen
    # V's chunks start on whole vectors (the micro-kernels load them aligned).
    cdef floating *V = <floating *>_align_up(bufs.get(<size_t>voff * esize + 64), 64)
    # Input tasks: (block of channels, chunk), about TASKS_PER_THREAD a thread.
    # Channel blocks outer: the static split then gives each thread the channels
    # whose planes it padded (_winograd_bands' static split over channels), not
    # planes the other core wrote.  res4 (256 at 14x14) at 2 threads 0.591 /
    # 0.596 -> 0.535 / 0.549 ms (interleaved, AMD EPYC Zen 5, 29 Nov 2026; pad
    # and input transform had taken ~3x their 1-thread CPU time); 1 thread and
    # other Winograd layers unchanged within +-3%.  Same tasks, same bits.
    ncb = min(C, max(1, _cdiv(TASKS_PER_THREAD * nthreads, nch)))
    cb = _cdiv(C, ncb)
    ncb = _cdiv(C, cb)
    with nogil:
        for t in prange(nch * ncb, num_threads=nthreads, schedule="static"):
            ch = t % nch
            if floating is float:
                fc_winograd_input_task_f32(subs, &chunks[ch], (t // nch) * cb,
                                           min((t // nch + 1) * cb, C), V,
                                           &bad[fc_omp_thread_num()])
            else:
                fc_winograd_input_task_f64(subs, &chunks[ch], (t // nch) * cb,
                                           min((t // nch + 1) * cb, C), V,
                                           &bad[fc_omp_thread_num()])
    if _any_flagged(bad, nthreads):
        return True
    cdef size_t sbytes = fc_winograd_panel_scratch_bytes(b, C, esize)
    cdef char *scratch = <char *>bufs.get(sbytes * nthreads)
    # Multiply-adds of a panel (its 16 products over every chunk's lanes), for
    # the batches of Note [interruptible].
    cdef fc_idx batch = _batch_size(npanel, <double>npanel * b.mr * 16 * C * (voff // (16 * C)),
                                    nthreads), tb = 0, te
    while tb < npanel:
        te = min(tb + batch, <fc_idx>npanel)
        with nogil:
            for t in prange(tb, te, num_threads=nthreads, schedule="dynamic"):
                if floating is float:
                    fc_winograd_panel_task_f32(subs, chunks, <int>nch, V, w, <int>t,
                                               scratch + sbytes * fc_omp_thread_num(),
                                               &bad[fc_omp_thread_num()])
                else:
                    fc_winograd_panel_task_f64(subs, chunks, <int>nch, V, w, <int>t,
                                               scratch + sbytes * fc_omp_thread_num(),
                                               &bad[fc_omp_thread_num()])
        tb = te
        PyErr_CheckSignals()
        if _any_flagged(bad, nthreads):
            return True
    return False


cdef void _tile_blocks(fc_idx units, fc_idx Q, int npanel, int nthreads, int nr,
                       fc_idx *nb, fc_idx *mb_size) noexcept:
    """Winograd tasks over `units` grids of Q tile lanes and npanel panels:
    blocks of nb lanes (whole chunks of nr, at most 4), split until there are
    TASKS_PER_THREAD a thread, then blocks of mb_size panels if still short."""
    cdef fc_idx b = min(_cdiv(Q, nr), 4) * nr, nmb = 1
    while b > nr and units * _cdiv(Q, b) < TASKS_PER_THREAD * nthreads:
        b -= nr
    if units * _cdiv(Q, b) < TASKS_PER_THREAD * nthreads and nthreads > 1:
        nmb = min(<fc_idx>npanel, _cdiv(TASKS_PER_THREAD * nthreads, units * _cdiv(Q, b)))
    nb[0] = b
    mb_size[0] = _cdiv(npanel, nmb)


cdef fc_idx _dense_lanes(fc_winograd_args *subs, fc_idx nsub, int G, fc_idx nimg,
                         fc_idx nlanes, fc_idx image, fc_idx phase_stride, int sw, int OW,
                         _Buffers bufs) except -1:
    """Note [dense Winograd lanes]: fold _winograd_bands' sub-problems (nsub / G
    output phases a group, group by group) into one a group whose nlanes lanes
    run over the band's nimg images and, in each, every phase's tiles (tables
    in bufs); returns G.
    Offsets are from phase (0, 0)'s patch origin and first output, which every
    group's first sub-problem holds."""
    cdef int32_t *xo = <int32_t *>bufs.get(<size_t>max(nlanes, 1) * sizeof(int32_t))
    cdef fc_idx *off = <fc_idx *>bufs.get(<size_t>max(nlanes, 1) * sizeof(fc_idx))
    cdef int8_t *nrc = <int8_t *>bufs.get(<size_t>max(nlanes, 1) * sizeof(int8_t))
    cdef fc_idx nph = nsub // G, n, sub, ty, tx, q = 0, pofs, yofs
    cdef fc_winograd_args *a
    cdef const fc_idx *doff0 = subs[0].doff
    for n in range(nimg):
        for sub in range(nph):
            a = &subs[sub]
            # phase (p, p') of this sub-problem: its patch values sit p*sw + p'
            # phase planes on, its outputs p rows and p' columns on
            pofs = (a.doff[0] - doff0[0]) // phase_stride
            yofs = (pofs // sw) * OW + (pofs % sw)
            for ty in range(a.TH):
                for tx in range(a.TW):
                    xo[q] = <int32_t>(n * image + pofs * phase_stride + ty * a.PWs + tx)
                    off[q] = (n * a.y_nstride + yofs + 2 * ty * a.y_rstep
                              + 2 * tx * a.y_cstep)
                    nrc[q] = <int8_t>((2 if 2 * ty + 1 < a.OH else 1)
                                      + 4 * (2 if 2 * tx + 1 < a.OW else 1))
                    q += 1
    for sub in range(G):
        subs[sub] = subs[sub * nph]
        a = &subs[sub]
        a.dense = 1
        a.lane_xo = xo
        a.lane_off = off
        a.lane_nrc = nrc
        a.nlanes = nlanes
    return G


cdef bint _winograd_bands(const floating[:, :, :, ::1] x, const floating[::1] bias,
                          floating[:, :, :, ::1] y, int G, int dh, int dw, floating *U,
                          const floating *wraw, int32_t *rowmap, int32_t *colmap, fc_idx PWs,
                          fc_idx TH, int pl, int nthreads, _Buffers bufs, int *bad, fc_idx k0, fc_idx Kn,
                          fc_idx Kc) except *:
    """The Winograd tasks over bands of images / tile rows, whose phase-split
    padded copy stays under IMPLICIT_COPY_BYTES, for output channels [k0, k0 + Kn)
    of each group (U: their transformed weights, Kc channels a group apart).
    With wraw (the weights; G == 1, all channels) instead of U, the panel tasks
    of Note [Winograd panels].  True if any task flagged."""
    cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int K = y.shape[1], OH = y.shape[2], OW = y.shape[3]
    cdef int C_g = C // G, K_g = K // G
    cdef bint is_double = floating is double
    cdef fc_blocking b = fc_get_blocking(fc_get_isa(), is_double)
    cdef int npanel = <int>_cdiv(Kn, b.mr)
    cdef size_t esize = sizeof(floating)
    cdef int sh = 2 * dh, sw = 2 * dw, nph = dh * dw
    # Phase-plane rows [t0, t1 + 1) serve tile rows [t0, t1) of every output phase.
    cdef fc_idx RT = TH, nimg = N, rows_all = TH + 1
    cdef fc_idx plane = rows_all * PWs, image = <fc_idx>sh * sw * C * plane
    if <size_t>N * image * esize > IMPLICIT_COPY_BYTES:
        nimg = max(1, <fc_idx>(IMPLICIT_COPY_BYTES // (image * esize)))
        if nimg == 1:   # tile rows per band: each needs sh padded rows of C*sw*PWs values
            RT = min(TH, max(1, <fc_idx>(IMPLICIT_COPY_BYTES
                                         // (<size_t>C * sh * sw * PWs * esize)) - 1))
            rows_all = RT + 1
    plane = rows_all * PWs
    cdef fc_idx phase_stride = _spread_stride(<fc_idx>C * plane, esize)
    image = <fc_idx>sh * sw * phase_stride
    # Slack past the last image: junk lanes of a last chunk read up to NR + PWs + 1 more.
    cdef size_t npad = <size_t>nimg * image + 2 * b.nr + 2 * PWs + 64
    cdef floating *xpad = <floating *>bufs.get(npad * esize)
    _zero_slack(xpad, nimg * sh * sw, C * plane, phase_stride, npad)
    # Patch offsets of each output phase (p, p'): value (i, j) of a tile sits in
    # phase plane (dh*(i&1) + p, dw*(j&1) + p') at row +i/2, column +j/2.
    cdef fc_idx *doff = <fc_idx *>bufs.get(<size_t>nph * 16 * sizeof(fc_idx))
    cdef int p, pp, i, j
    for p in range(dh):
        for pp in range(dw):
            for i in range(4):
                for j in range(4):
                    doff[(p * dw + pp) * 16 + i * 4 + j] = (
                        ((dh * (i & 1) + p) * sw + dw * (j & 1) + pp) * phase_stride
                        + (i >> 1) * PWs + (j >> 1))
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef const floating *biasp = &bias[0] if bias is not None else NULL
    cdef floating *yp = &y[0, 0, 0, 0]
    cdef fc_winograd_args *subs = <fc_winograd_args *>bufs.get(
        <size_t>G * nph * sizeof(fc_winograd_args))
    cdef fc_winograd_args *a
    cdef fc_idx n0, n1, t0, t1, n, c, t, prow0, s, OHp, OWp, THp, nsub
    cdef int g
    cdef size_t sbytes = fc_winograd_scratch_bytes(b, C_g, esize)
    cdef char *scratch = <char *>bufs.get(sbytes * nthreads)
    cdef fc_idx Q, nb, nqb, nmb, mb_size, ntask, batch, tb, te, q0, q1, mb, sub, nunit
    cdef fc_idx lanes, dense_lanes
    cdef bint dense
    cdef _Buffers lane_bufs = None
    cdef double macs
    for n0 in range(0, N, nimg):
        n1 = min(n0 + nimg, N)
        for t0 in range(0, TH, RT):
            t1 = min(t0 + RT, TH)
            prow0 = <fc_idx>sh * t0
            with nogil:
                for t in prange((n1 - n0) * C, num_threads=nthreads, schedule="static"):
                    n = t // C
                    c = t % C
                    if floating is float:
                        fc_pad_plane_f32(xp + ((n0 + n) * C + c) * H * W, W, rowmap + prow0,
                                         colmap, sh * (t1 - t0 + 1), sw * PWs, pl, sh, sw, PWs,
                                         phase_stride, rows_all, xpad + n * image + c * plane)
                    else:
                        fc_pad_plane_f64(xp + ((n0 + n) * C + c) * H * W, W, rowmap + prow0,
                                         colmap, sh * (t1 - t0 + 1), sw * PWs, pl, sh, sw, PWs,
                                         phase_stride, rows_all, xpad + n * image + c * plane)
            nsub = 0
            for g in range(G):
                for p in range(dh):
                    OHp = _cdiv(OH - p, dh)
                    THp = min(_cdiv(OHp, 2), t1) - t0
                    if THp <= 0:
                        continue
                    for pp in range(dw):
                        OWp = _cdiv(OW - pp, dw)
                        a = &subs[nsub]
                        nsub += 1
                        a.xp = xpad + <fc_idx>g * C_g * plane
                        a.xp_nstride = image
                        a.doff = doff + (p * dw + pp) * 16
                        a.plane = plane
                        a.PWs = PWs
                        a.TH = THp
                        a.TW = _cdiv(OWp, 2)
                        a.OH = min(OHp - 2 * t0, 2 * THp)
                        a.OW = OWp
                        a.C = C_g
                        a.y = (yp + (n0 * K + <fc_idx>g * K_g + k0) * OH * OW
                               + (2 * t0 * dh + p) * OW + pp)
                        a.y_nstride = <fc_idx>K * OH * OW
                        a.y_kstride = <fc_idx>OH * OW
                        a.y_rstep = <fc_idx>dh * OW
                        a.y_cstep = dw
                        a.u = U + <fc_idx>g * 16 * Kc * C_g
                        a.bias = (biasp + g * K_g + k0) if biasp != NULL else NULL
                        a.M = <int>Kn
                        a.dense = 0
            # Note [dense Winograd lanes]: where the grids leave WINOGRAD_DENSE_WASTE
            # of their vectors' lanes junk, the lanes run over the band's tiles of
            # every output phase, one sub-problem a group.
            lanes = 0
            dense_lanes = 0
            for sub in range(nsub):
                lanes += (n1 - n0) * _cdiv(_wino_lanes_of(&subs[sub], n1 - n0), b.vlen)
                dense_lanes += (n1 - n0) * subs[sub].TH * subs[sub].TW
            dense = ((_winograd_dense_mode == 1 or _winograd_dense_mode < 0
                      and G * _cdiv(dense_lanes // G, b.vlen)
                      < (1.0 - WINOGRAD_DENSE_WASTE) * lanes)
                     and (n1 - n0) * image < INT32_MAX)     # int32 patch origins
            if dense:   # the lane tables of this band (the last band's go back)
                lane_bufs = _Buffers()
                nsub = _dense_lanes(subs, nsub, G, n1 - n0, dense_lanes // G, image,
                                    phase_stride, sw, OW, lane_bufs)
            Q = 0
            for sub in range(nsub):
                Q = max(Q, _wino_lanes_of(&subs[sub], n1 - n0))
            global _winograd_dense_last
            _winograd_dense_last = dense
            if wraw != NULL:
                if _winograd_panels(subs, nsub, n1 - n0, C_g, npanel, wraw, nthreads, bad):
                    return True
                continue
            # Tasks: (image, sub-problem, tile block, panel block), as in _run_implicit;
            # dense lanes: (sub-problem, tile block, panel block), images in the tiles.
            nunit = 1 if dense else n1 - n0
            _tile_blocks(nunit * nsub, Q, npanel, nthreads, b.nr, &nb, &mb_size)
            nqb = _cdiv(Q, nb)
            nmb = _cdiv(npanel, mb_size)
            ntask = nunit * nsub * nqb * nmb
            macs = <double>(n1 - n0) * G * Kn * C_g * 9.0 * min(<fc_idx>OH, 2 * dh * (t1 - t0)) * OW
            batch = _batch_size(ntask, macs, nthreads)
            tb = 0
            while tb < ntask:       # Note [interruptible]
                te = min(tb + batch, ntask)
                with nogil, parallel(num_threads=nthreads):
                    for t in prange(tb, te, schedule="dynamic"):
                        mb = t % nmb
                        s = t // nmb
                        q0 = (s % nqb) * nb
                        s = s // nqb
                        sub = s % nsub
                        n = s // nsub
                        q1 = min(q0 + nb, _wino_lanes_of(&subs[sub], n1 - n0))
                        if q1 <= q0:
                            continue
                        if floating is float:
                            fc_winograd_task_f32(&subs[sub], n, q0, q1, <int>(mb * mb_size),
                                                 <int>min((mb + 1) * mb_size, <fc_idx>npanel),
                                                 scratch + sbytes * fc_omp_thread_num(),
                                                 &bad[fc_omp_thread_num()])
                        else:
                            fc_winograd_task_f64(&subs[sub], n, q0, q1, <int>(mb * mb_size),
                                                 <int>min((mb + 1) * mb_size, <fc_idx>npanel),
                                                 scratch + sbytes * fc_omp_thread_num(),
                                                 &bad[fc_omp_thread_num()])
                tb = te
                PyErr_CheckSignals()
                if _any_flagged(bad, nthreads):
                    return True
    return False


def _put_flipped(const floating[:, :, :, ::1] yf, floating[:, :, :, ::1] y, int ry, int rx,
                 int sh, int sw, int nthreads):
    """y[:, :, ry::sh, rx::sw] = yf reversed along rows and columns (with
    ry = rx = 0 and sh = sw = 1, a flipped copy; Note [transposed direct])."""
    cdef fc_idx N = yf.shape[0], K = yf.shape[1], Th = yf.shape[2], Tw = yf.shape[3]
    cdef fc_idx OW = y.shape[3], t, i, j
    cdef const floating *src
    cdef floating *dst
    with nogil:
        for t in prange(N * K, num_threads=nthreads, schedule="static"):
            for i in range(Th):
                # row i of the phase ends up reversed at output row ry + sh*(Th-1-i),
                # its first value in the last of the phase's columns
                src = &yf[t // K, t % K, i, 0]
                dst = &y[t // K, t % K, 0, 0] + (ry + sh * (Th - 1 - i)) * OW + rx + sw * (Tw - 1)
                for j in range(Tw):
                    dst[-sw * j] = src[j]


cdef _transposed_direct_block(x, wk, bias, y, int sh, int sw, int kh, int kw,
                              _PhaseTabs *tabs, int nthreads):
    """Note [transposed direct] for a block of images and channels: x a view
    of whole planes, wk [C*K_g, 1, kh, kw], y the block's output view."""
    cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int K = wk.shape[0], OH = y.shape[2], OW = y.shape[3]
    cdef int ry, rx, a, nth, ntw, Th, Tw, pt, pb, pl, pr, r0, r1, c0, c1
    xflip = None
    for ry in range(sh):
        Th = <int>_phase_len(OH, ry, sh)
        nth = tabs.ntaps_h[ry]
        for rx in range(sw):
            Tw = <int>_phase_len(OW, rx, sw)
            ntw = tabs.ntaps_w[rx]
            if Th == 0 or Tw == 0:
                continue
            # The phase's input rows: flipped row t'' + a + H - Th - off[0]
            # for output t'' and tap a; rows outside x are zero padding.
            pt = Th - H + <int>tabs.off_h[ry * kh] if nth else 0
            pl = Tw - W + <int>tabs.off_w[rx * kw] if ntw else 0
            pb = Th + nth - 1 - H - pt
            pr = Tw + ntw - 1 - W - pl
            r0, r1 = max(0, -pt), H - max(0, -pb)
            c0, c1 = max(0, -pl), W - max(0, -pr)
            if nth == 0 or ntw == 0 or r1 <= r0 or c1 <= c0:
                y[:, :, ry::sh, rx::sw] = 0 if bias is None else bias.reshape(1, -1, 1, 1)
                continue
            if xflip is None:
                xflip = np.empty(x.shape, x.dtype)
                _put_flipped(x, xflip, 0, 0, 1, 1, nthreads)
            xc = xflip if (r0, r1, c0, c1) == (0, H, 0, W) else \
                xflip[:, :, r0:r1, c0:c1].copy()
            sub = wk[:, :, [tabs.taps_h[ry * kh + a] for a in range(nth)], :][
                :, :, :, [tabs.taps_w[rx * kw + a] for a in range(ntw)]].copy()
            yf = np.empty((N, K, Th, Tw), dtype=y.dtype)
            conv2d_direct(xc, sub, bias, yf, C, 1, 1, 1, 1, max(pt, 0), max(pb, 0),
                          max(pl, 0), max(pr, 0), "zeros", nthreads)
            _put_flipped(yf, y, ry, rx, sh, sw, nthreads)


cdef bint _dwt_channel_lanes(const float[:, :, :, ::1] x, const float[:, :, :, ::1] w,
                             const float[::1] bias, float[:, :, :, ::1] y, int sh, int sw,
                             int ph, int pw, int nthreads):
    """Note [transposed depthwise channel lanes] for a depthwise (multiplier 1),
    undilated conv_transpose2d with finite weights; False where it does not run."""
    cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int kh = w.shape[2], kw = w.shape[3], OH = y.shape[2], OW = y.shape[3]
    if _dwcl_mode == 0 or not fc_dwcl_supported() or w.shape[1] != 1 or N * C * OH * OW == 0:
        return False
    cdef fc_dwtcl_args a
    a.x = &x[0, 0, 0, 0]
    a.w = &w[0, 0, 0, 0]
    a.bias = &bias[0] if bias is not None else NULL
    a.y = &y[0, 0, 0, 0]
    a.C, a.H, a.W, a.OH, a.OW = C, H, W, OH, OW
    a.ph, a.pw = ph, pw
    a.kh, a.kw, a.sh, a.sw = kh, kw, sh, sw
    # T's columns: the input columns the outputs' taps read.
    cdef fc_idx tw = (OW - 1 + pw) // sw - fc_floordiv(pw - (kw - 1), sw) + 1
    cdef _LanesRun run = _LanesRun(NULL, &a, 0, 0, 0, OH)
    return _run_lanes(&run, N, C, kh, sh, 1, tw, kh * kw + OW, nthreads)


def conv_transpose2d_direct(x, w, bias, y, int G, int sh, int sw, int dh, int dw, int ph,
                            int pw, num_threads=None):
    """conv_transpose2d with one input channel per group (depthwise, any channel
    multiplier) and no dilation, by conv2d_direct on each stride phase; other
    problems go to conv_transpose2d_implicit.

    Note [transposed direct]: phase (ry, rx) of Note [transposed conv as gather]
    is a stride-1 correlation of x with the phase's taps, i increasing, whose
    input offsets fall by one per tap.  The implicit and gemm kernels add the
    products in that tap order, which walks x backwards; on x flipped in both
    axes the phase is a plain correlation (taps i increasing, input rows
    increasing) whose output comes out flipped.  conv2d_direct adds the bias,
    then the taps in (i, j) order, each a fused multiply-add, as those kernels
    do (Note [summation order]): the same bits.  Each phase is one small
    depthwise conv2d where the implicit GEMM ran one micro-tile row of eight
    per group, one output channel at a time (a 64-channel 4x4 stride-2
    depthwise layer on 32x32: 0.49 ms against torch's 0.14 at 2 threads).
    """
    cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int K_g = w.shape[1], kh = w.shape[2], kw = w.shape[3]
    cdef int OH = y.shape[2], OW = y.shape[3]
    if (C != G or dh != 1 or dw != 1 or N == 0 or H == 0 or W == 0
            or not np.isfinite(w).all()):   # Note [transposed non-finite weights]
        conv_transpose2d_implicit(x, w, bias, y, G, sh, sw, dh, dw, ph, pw, num_threads)
        return
    nthreads = _threads(num_threads)
    global _dwcl_last
    _dwcl_last = (x.dtype == np.float32 and K_g == 1
                  and _dwt_channel_lanes(x, w, bias, y, sh, sw, ph, pw, nthreads))
    if _dwcl_last:
        return
    cdef _Buffers bufs = _Buffers()
    cdef int nb, cb, n0, g0, g1
    cdef size_t per
    cdef _PhaseTabs tabs = _phase_tabs(bufs, sh, sw, ph, pw, kh, kw, 1, 1, OH, OW)
    wk = w.reshape(C * K_g, 1, kh, kw)
    # Blocks of images and channels whose flipped copy and phase outputs stay
    # under IMPLICIT_COPY_BYTES (the extra memory of a call stays bounded).
    per = <size_t>x.itemsize * (2 * <size_t>H * W + <size_t>K_g * _cdiv(OH, sh) * _cdiv(OW, sw))
    nb, cb = N, C
    if <size_t>N * C * per > IMPLICIT_COPY_BYTES:
        nb = 1
        cb = max(1, min(C, <int>(IMPLICIT_COPY_BYTES // per)))
    for n0 in range(0, N, nb):
        for g0 in range(0, C, cb):
            g1 = min(g0 + cb, C)
            _transposed_direct_block(
                x[n0:n0 + nb, g0:g1], wk[g0 * K_g:g1 * K_g],
                None if bias is None else bias[g0 * K_g:g1 * K_g],
                y[n0:n0 + nb, g0 * K_g:g1 * K_g], sh, sw, kh, kw, &tabs, nthreads)


def conv_transpose2d_implicit(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                              const floating[::1] bias, floating[:, :, :, ::1] y, int G,
                              int sh, int sw, int dh, int dw, int ph, int pw,
                              num_threads=None):
    """conv_transpose2d as a gather: one implicit GEMM per stride phase, on a padded copy.

    Note [transposed conv as gather] (conv_transpose2d_gemm) gives each phase's
    taps; a tap's input is x[c, ty + a, tx + b] for output grid point (ty, tx),
    a shifted view of a zero-padded copy of x, as in
    Note [implicit GEMM on a padded copy].
    """
    cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int K_g = w.shape[1], kh = w.shape[2], kw = w.shape[3]
    cdef int C_g = C // G, K = K_g * G
    cdef int OH = y.shape[2], OW = y.shape[3]
    cdef int nthreads = _threads(num_threads)
    if N == 0:
        return
    cdef bint is_double = floating is double
    cdef fc_blocking b = fc_get_blocking(fc_get_isa(), is_double)
    cdef int npanel = <int>_cdiv(K_g, b.mr)
    cdef _Buffers bufs = _Buffers()
    cdef int ry, rx, ti, tj, g, ci
    cdef bint empty
    cdef fc_idx Ph, Pw, t, q
    # Taps and input offsets per phase; pad x so every phase's reads stay inside.
    cdef _PhaseTabs tabs = _phase_tabs(bufs, sh, sw, ph, pw, kh, kw, dh, dw, OH, OW)
    cdef fc_idx padT = 0, padB = 0, padL = 0, padR = 0, o
    for ry in range(sh):
        Ph = _phase_len(OH, ry, sh)
        for ti in range(tabs.ntaps_h[ry] if Ph > 0 else 0):
            o = tabs.off_h[ry * kh + ti]
            padT = max(padT, -o)
            padB = max(padB, Ph - 1 + o - (H - 1))
    for rx in range(sw):
        Pw = _phase_len(OW, rx, sw)
        for tj in range(tabs.ntaps_w[rx] if Pw > 0 else 0):
            o = tabs.off_w[rx * kw + tj]
            padL = max(padL, -o)
            padR = max(padR, Pw - 1 + o - (W - 1))
    # Zero-padded copy of x; its pitch PW is the grid pitch of every phase.  Made
    # in bands (images [n0, n1), phase-grid rows [t0, t1)) under IMPLICIT_COPY_BYTES:
    # grid rows [t0, t1) read padded rows [t0, t1 + maxo).
    cdef fc_idx PH = H + padT + padB, PW = W + padL + padR
    cdef fc_idx maxo = 0, Tmax = _phase_len(OH, 0, sh)
    for ry in range(sh):
        if _phase_len(OH, ry, sh) > 0:
            for ti in range(tabs.ntaps_h[ry]):
                maxo = max(maxo, tabs.off_h[ry * kh + ti] + padT)
    cdef size_t esize = sizeof(floating)
    cdef fc_idx nimg = N, R = Tmax, band_rows = PH
    global _tall_extent_last
    _tall_extent_last = False
    if <size_t>N * C * PH * PW * esize > IMPLICIT_COPY_BYTES:
        nimg = max(1, <fc_idx>(IMPLICIT_COPY_BYTES // (<size_t>C * PH * PW * esize)))
        if nimg == 1:
            R = min(Tmax, max(1, <fc_idx>(IMPLICIT_COPY_BYTES // (<size_t>C * PW * esize))
                              - maxo))
            band_rows = min(PH, R + maxo)
            if R < Tmax and band_rows > TALL_EXTENT_COPIES * R:  # Note [tall tap extents]
                _tall_extent_last = True
                conv_transpose2d_gemm(x, w, bias, y, G, sh, sw, dh, dw, ph, pw, num_threads)
                return
    # Channel planes an odd number of cache lines apart (_spread_stride): at a
    # multiple of 4 KB (UNet's 512 channels of 32x32) the gathers' lines of all
    # channels fell in few cache sets wherever the copy got 2 MB pages, and the
    # call ran 1.3-1.6x slower in such processes.
    cdef fc_idx plane = _spread_stride(band_rows * PW, esize)
    cdef int32_t *rowmap = _padded_map(bufs, PH, padT, H, FC_PAD_ZEROS)
    cdef int32_t *colmap = _padded_map(bufs, PW, padL, W, FC_PAD_ZEROS)
    cdef size_t npad = <size_t>nimg * C * plane + 2 * b.nr + 64
    cdef floating *xpad = <floating *>bufs.get(npad * esize)
    _zero_slack(xpad, nimg * C, band_rows * PW, plane, npad)
    cdef const floating *xp = &x[0, 0, 0, 0]

    cdef const floating *biasp = &bias[0] if bias is not None else NULL
    cdef floating *yp = &y[0, 0, 0, 0]
    cdef fc_implicit_args *subs = <fc_implicit_args *>bufs.get(
        <size_t>G * sh * sw * sizeof(fc_implicit_args))
    cdef fc_idx *sub_rows = <fc_idx *>bufs.get(<size_t>G * sh * sw * sizeof(fc_idx))
    cdef floating **sub_y = <floating **>bufs.get(<size_t>G * sh * sw * sizeof(floating *))
    cdef fc_implicit_args *a
    cdef fc_idx *koff
    cdef floating *apack
    cdef int nth, ntw, nsub = 0, si
    cdef fc_idx kred
    # A[m][(c, tap)] = w[g*C_g + c, m, i, j], per phase (none for an empty phase)
    cdef int *ntaps_p = <int *>bufs.get(<size_t>sh * sw * sizeof(int))
    cdef fc_idx *tapoffs = <fc_idx *>bufs.get(<size_t>max(sh * sw * kh * kw, 1) * sizeof(fc_idx))
    for ry in range(sh):
        for rx in range(sw):
            nth = tabs.ntaps_h[ry]
            ntw = tabs.ntaps_w[rx]
            empty = _phase_len(OH, ry, sh) == 0 or _phase_len(OW, rx, sw) == 0
            ntaps_p[ry * sw + rx] = 0 if empty else nth * ntw
            for ti in range(nth):
                for tj in range(ntw):
                    tapoffs[(ry * sw + rx) * kh * kw + ti * ntw + tj] = (
                        tabs.taps_h[ry * kh + ti] * kw + tabs.taps_w[rx * kw + tj])
    cdef bint nonfinite = False
    cdef void **apacks = _pack_phases(&w[0, 0, 0, 0], G, K_g, C_g, sh * sw, ntaps_p, tapoffs,
                                      kh * kw, <fc_idx>C_g * K_g * kh * kw, <fc_idx>kh * kw,
                                      <fc_idx>K_g * kh * kw, nthreads, bufs, &nonfinite)
    if nonfinite:       # Note [transposed non-finite weights]
        _transposed_exact(x, w, bias, y, G, sh, sw, dh, dw, ph, pw, nthreads)
        return
    cdef size_t wbytes = 0
    for ry in range(sh * sw):
        wbytes += <size_t>ntaps_p[ry] * C_g * K_g * G * esize
    cdef bint phase_inner = (wbytes <= PHASE_INNER_MAX_WEIGHT_BYTES if _phase_inner < 0
                             else _phase_inner > 0)
    for ry in range(sh):
        for rx in range(sw):
            Ph = _phase_len(OH, ry, sh)
            Pw = _phase_len(OW, rx, sw)
            if Ph == 0 or Pw == 0:
                continue
            nth = tabs.ntaps_h[ry]
            ntw = tabs.ntaps_w[rx]
            kred = <fc_idx>C_g * nth * ntw
            koff = <fc_idx *>bufs.get(<size_t>max(kred, 1) * sizeof(fc_idx))
            for ci in range(C_g):
                for ti in range(nth):
                    for tj in range(ntw):
                        koff[(ci * nth + ti) * ntw + tj] = (
                            ci * plane + (tabs.off_h[ry * kh + ti] + padT) * PW
                            + tabs.off_w[rx * kw + tj] + padL)
            apack = <floating *>apacks[ry * sw + rx]
            for g in range(G):
                a = &subs[nsub]
                sub_rows[nsub] = Ph
                sub_y[nsub] = yp + <fc_idx>g * K_g * OH * OW + ry * OW + rx
                nsub += 1
                a.xp = xpad + <fc_idx>g * C_g * plane
                a.xp_nstride = <fc_idx>C * plane
                a.koff = koff
                a.kred = kred
                a.PW = PW
                a.OW = Pw
                a.y_nstride = <fc_idx>K * OH * OW
                a.y_kstride = <fc_idx>OH * OW
                a.y_rstride = <fc_idx>sh * OW
                a.y_cstride = sw
                a.a = apack + <fc_idx>g * K_g * kred
                a.lda = kred
                a.bias = (biasp + g * K_g) if biasp != NULL else NULL
                a.M = K_g
                a.row_chunks = 0
    cdef fc_idx n0, n1, t0, t1, prows
    for n0 in range(0, N, nimg):
        n1 = min(n0 + nimg, N)
        for t0 in range(0, Tmax, R):
            t1 = min(t0 + R, Tmax)
            prows = min(PH - t0, t1 - t0 + maxo)
            with nogil:
                for t in prange((n1 - n0) * C, num_threads=nthreads, schedule="static"):
                    if floating is float:
                        fc_pad_plane_f32(xp + (n0 * C + t) * H * W, W, rowmap + t0, colmap,
                                         prows, PW, padL, 1, 1, PW, <fc_idx>C * plane,
                                         band_rows, xpad + t * plane)
                    else:
                        fc_pad_plane_f64(xp + (n0 * C + t) * H * W, W, rowmap + t0, colmap,
                                         prows, PW, padL, 1, 1, PW, <fc_idx>C * plane,
                                         band_rows, xpad + t * plane)
            for si in range(nsub):
                subs[si].OH = max(0, min(sub_rows[si], t1) - t0)
                subs[si].y = sub_y[si] + n0 * K * OH * OW + t0 * sh * OW
            _run_implicit(subs, nsub, <int>(n1 - n0), npanel, is_double, nthreads, bufs,
                          esize, phase_inner)


cdef fc_idx _wt_last_lanes = 0


cdef struct _WinoTRun:
    fc_winograd_args *a
    int *bad
    fc_idx Q, nb, nmb, mb_size
    int npanel
    bint is_double


cdef void _wino_t_one(void *ctx, fc_idx t, char *scratch) noexcept nogil:
    """Task t of conv_transpose2d_winograd: lanes [q0, q0 + nb), a block of panels."""
    cdef _WinoTRun *r = <_WinoTRun *>ctx
    cdef fc_idx q0 = (t // r.nmb) * r.nb, q1 = min(q0 + r.nb, r.Q)
    cdef int m0 = <int>((t % r.nmb) * r.mb_size)
    cdef int m1 = <int>min(<fc_idx>m0 + r.mb_size, <fc_idx>r.npanel)
    if r.is_double:
        fc_winograd_t_task_f64(r.a, q0, q1, m0, m1, scratch, &r.bad[fc_omp_thread_num()])
    else:
        fc_winograd_t_task_f32(r.a, q0, q1, m0, m1, scratch, &r.bad[fc_omp_thread_num()])


def _wt_lanes_used():
    """Test hook: the lanes (grid points) of the latest transposed Winograd band."""
    return _wt_last_lanes


def conv_transpose2d_winograd(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                              const floating[::1] bias, floating[:, :, :, ::1] y, int ph,
                              int pw, num_threads=None):
    """conv_transpose2d with a 4x4 kernel at stride 2, ungrouped and undilated,
    by Winograd F(3x3, 2x2) on its four output phases at once (Note [transposed
    Winograd] in _kernels_impl.h).  Where the data would take the transforms
    outside the direct algorithms' error bound (as conv2d_winograd), or the
    workspace would pass its bounds, the call runs conv_transpose2d_implicit;
    returns False then, True otherwise.
    """
    cdef int N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef int K = w.shape[1], OH = y.shape[2], OW = y.shape[3]
    cdef int nthreads = _threads(num_threads)
    if w.shape[0] != C or w.shape[2] != 4 or w.shape[3] != 4 or y.shape[1] != K or ph < 0 or pw < 0:
        raise ValueError("conv_transpose2d_winograd needs an ungrouped 4x4 kernel")
    if N == 0 or K == 0 or OH <= 0 or OW <= 0:
        return True
    if C == 0 or C > WINOGRAD_MAX_C_G:
        conv_transpose2d_implicit(x, w, bias, y, 1, 2, 2, 1, 1, ph, pw, num_threads)
        return False
    cdef size_t esize = sizeof(floating)
    cdef bint is_double = floating is double
    cdef fc_blocking b = fc_get_blocking(fc_get_isa(), is_double)
    # Output channels in chunks whose transformed weights (64 values per
    # channel pair) fit WINOGRAD_WEIGHT_BYTES, as Note [Winograd chunks].
    cdef fc_idx Kc = min(<fc_idx>K, max(1, <fc_idx>(WINOGRAD_WEIGHT_BYTES // (64 * <size_t>C * esize))))
    # Phase r along an axis with padding p: e_r = (r + p) / 2, f_r = (r + p) % 2;
    # tiles' patches start at input row 3*ty + e_0 - 1, phase r's outputs at
    # m = 3*ty + c_r with c_r = e_0 - e_r.
    cdef int f[4]
    f[0] = ph % 2
    f[1] = (ph + 1) % 2
    f[2] = pw % 2
    f[3] = (pw + 1) % 2
    cdef int ch1 = ph // 2 - (ph + 1) // 2, cw1 = pw // 2 - (pw + 1) // 2
    cdef fc_idx TH = max(_cdiv(_phase_len(OH, 0, 2), 3), _cdiv(_phase_len(OH, 1, 2) - ch1, 3))
    cdef fc_idx TW = max(_cdiv(_phase_len(OW, 0, 2), 3), _cdiv(_phase_len(OW, 1, 2) - cw1, 3))
    # The grid's pitch and rows per image: a junk column (row) past the last
    # tile's only where its third output column (row) of some phase falls
    # inside the output, whose patch column (row) 3 must then be the padded
    # input.  Elsewhere patch column 3 of the last tile reads the next row's
    # first value (and row 3 of the last tile row the next image's first row),
    # which only feeds outputs never stored.
    cdef bint junk_col = 6 * (TW - 1) + 4 + min(0, 2 * cw1 + 1) < OW
    cdef bint junk_row = 6 * (TH - 1) + 4 + min(0, 2 * ch1 + 1) < OH
    cdef fc_idx PWs = TW + junk_col, rows_img = TH + junk_row, q, t
    cdef _Buffers bufs = _Buffers()
    # Padded row q holds input row q + e_0 - 1 (column likewise): 3*(TH + 1) rows.
    cdef fc_idx PHw = 3 * (TH + 1)
    cdef int32_t *rowmap = <int32_t *>bufs.get(<size_t>PHw * sizeof(int32_t))
    for q in range(PHw):
        rowmap[q] = <int32_t>(q + ph // 2 - 1) if 0 <= q + ph // 2 - 1 < H else -1
    cdef int pl = 1 - pw // 2
    # Bands of images / tile rows whose phase-split copy stays under
    # IMPLICIT_COPY_BYTES.  A band's images lie one after another in each
    # channel's phase planes, so a chunk of lanes runs on across images (the
    # tiles fill the lanes); bands of tile rows of one image keep their next
    # padded row.
    cdef fc_idx RT = TH, nimg = N
    if <size_t>N * 9 * C * rows_img * PWs * esize > IMPLICIT_COPY_BYTES:
        nimg = max(1, <fc_idx>(IMPLICIT_COPY_BYTES // (<size_t>9 * C * rows_img * PWs * esize)))
        if nimg == 1:
            RT = min(TH, max(1, <fc_idx>(IMPLICIT_COPY_BYTES // (<size_t>C * 9 * PWs * esize)) - 1))
            if RT < TH:
                rows_img = RT + 1
    cdef fc_idx plane_img = rows_img * PWs
    # After each channel's images: PWs + vlen values, zeroed, for the reads of
    # the last tile row past its image and pad_plane3's last stores.
    cdef fc_idx slack = PWs + b.vlen
    cdef fc_idx plane = nimg * plane_img + slack, phase_stride = <fc_idx>C * plane
    cdef fc_idx image = 9 * phase_stride     # the band's copy
    cdef size_t npad = <size_t>image + 2 * b.nr + 2 * PWs + 64
    cdef floating *xpad = <floating *>bufs.get(npad * esize)
    for q in range(image, <fc_idx>npad):
        xpad[q] = 0
    cdef fc_idx doff[16]
    cdef int i, j
    for i in range(4):
        for j in range(4):
            doff[i * 4 + j] = ((i % 3) * 3 + j % 3) * phase_stride + (i // 3) * PWs + j // 3
    cdef int *bad = <int *>bufs.get(<size_t>max(nthreads, 1) * sizeof(int))
    for t in range(nthreads):
        bad[t] = 0
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef const floating *wp = &w[0, 0, 0, 0]
    cdef const floating *biasp = &bias[0] if bias is not None else NULL
    cdef floating *yp = &y[0, 0, 0, 0]
    cdef floating *U = <floating *>bufs.get(<size_t>64 * Kc * C * esize)
    cdef size_t sbytes = fc_winograd_t_scratch_bytes(b, C, esize)
    cdef char *scratch = <char *>bufs.get(sbytes * nthreads)
    cdef fc_winograd_args a
    a.xp = xpad
    a.xp_nstride = plane_img     # lanes between images
    a.doff = doff
    a.plane = plane
    a.PWs = PWs
    a.TW = TW
    a.OH = OH
    a.OW = OW
    a.C = C
    a.y_nstride = <fc_idx>K * OH * OW
    a.y_kstride = <fc_idx>OH * OW
    a.y_rstep = OW
    a.y_cstep = 1
    a.u = U
    a.t_ro[0] = 0
    a.t_ro[1] = 2 * ch1 + 1
    a.t_co[0] = 0
    a.t_co[1] = 2 * cw1 + 1
    a.dense = 0
    cdef fc_idx k0, k1, nkb, kb, n0, n1, t0, t1, Q, c, n, ph_
    cdef int npanel, nr_
    cdef bint flagged = False
    cdef _WinoTRun run
    run.a = &a
    run.bad = bad
    run.is_double = is_double
    global _wt_last_lanes
    for k0 in range(0, K, Kc):
        k1 = min(k0 + Kc, <fc_idx>K)
        nkb = _cdiv(k1 - k0, 16)
        with nogil:
            for t in prange(nkb, num_threads=nthreads, schedule="static"):
                kb = t * 16
                if floating is float:
                    if fc_winograd_t_weights_f32(wp + k0 * 16, C, K, kb, min(kb + 16, k1 - k0),
                                                 f, U + kb * 64 * C):
                        bad[fc_omp_thread_num()] = 1
                else:
                    if fc_winograd_t_weights_f64(wp + k0 * 16, C, K, kb, min(kb + 16, k1 - k0),
                                                 f, U + kb * 64 * C):
                        bad[fc_omp_thread_num()] = 1
        if _any_flagged(bad, nthreads):
            flagged = True
            break
        a.M = <int>(4 * (k1 - k0))
        a.bias = (biasp + k0) if biasp != NULL else NULL
        npanel = <int>_cdiv(a.M, b.mr)
        for n0 in range(0, N, nimg):
            n1 = min(n0 + nimg, N)
            a.y = yp + (n0 * K + k0) * OH * OW
            for t0 in range(0, TH, RT):
                t1 = min(t0 + RT, TH)
                nr_ = <int>(3 * min(rows_img, t1 - t0 + 1))   # padded rows of a band's image
                if k0 == 0 or Kc < K:
                    # One task a channel, its images in order: pad_plane3's
                    # stores past a row's end land in rows it writes later.
                    with nogil:
                        for c in prange(C, num_threads=nthreads, schedule="static"):
                            for n in range(n1 - n0):
                                if floating is float:
                                    fc_pad_plane3_f32(xp + ((n0 + n) * C + c) * H * W, W,
                                                      rowmap + 3 * t0, nr_, PWs, pl,
                                                      phase_stride,
                                                      xpad + c * plane + n * plane_img)
                                else:
                                    fc_pad_plane3_f64(xp + ((n0 + n) * C + c) * H * W, W,
                                                      rowmap + 3 * t0, nr_, PWs, pl,
                                                      phase_stride,
                                                      xpad + c * plane + n * plane_img)
                            for ph_ in range(9):
                                for q in range((n1 - n0) * plane_img, plane):
                                    xpad[ph_ * phase_stride + c * plane + q] = 0
                a.ty0 = t0
                a.TH = t1 - t0
                Q = (n1 - n0 - 1) * plane_img + (a.TH - 1) * PWs + TW
                _wt_last_lanes = Q
                # Tasks: (block of lanes, block of panels), as in _winograd_bands.
                _tile_blocks(1, Q, npanel, nthreads, b.nr, &run.nb, &run.mb_size)
                run.Q = Q
                run.npanel = npanel
                run.nmb = _cdiv(npanel, run.mb_size)
                _run_tasks(_wino_t_one, &run, _cdiv(Q, run.nb) * run.nmb,
                           <double>a.M * C * 16.0 * Q, nthreads, scratch, sbytes, False)
                if _any_flagged(bad, nthreads):
                    flagged = True
                    break
            if flagged:
                break
        if flagged:
            break
    if flagged:
        conv_transpose2d_implicit(x, w, bias, y, 1, 2, 2, 1, 1, ph, pw, num_threads)
        return False
    _bias_unreached(y, bias, _reached(OH, H, ph, 1, 2, True, 4),
                    _reached(OW, W, pw, 1, 2, True, 4))
    return True
