/* fastconv CPU kernels: shared declarations and run-time ISA dispatch.
 *
 * Legend: N, C, H, W input; K output channels; G groups; C_g = C/G; K_g = K/G;
 * kh, kw kernel; OH, OW output; sh, sw stride; dh, dw dilation;
 * pt, pb, pl, pr padding (top, bottom, left, right).
 *
 * Two task kernels, each instantiated for float/double and for three ISA
 * levels (AVX-512, AVX2+FMA, baseline x86-64 / portable) from one source,
 * _kernels_impl.h, compiled under `#pragma GCC target` so the default build
 * has no -march flag and the best level is chosen at run time (one translation
 * unit per level, _kernels_<level>.c, so the build compiles them in parallel;
 * their entry points are declared in _kernels_base.h):
 *
 *   gemm   -- implicit GEMM: out[m, p] = bias[m] + sum_r A[m, r] * B[r, p]
 *             with m an output channel of the group, p an output pixel and
 *             r = (c, tap).  A is the weight packed into MR-row panels; B is
 *             gathered ("implicit im2col") tile by tile into per-thread scratch
 *             through row/column index tables, so padding modes, stride,
 *             dilation and the stride phases of the transposed conv are all
 *             just different tables (Note [index tables]).
 *   direct -- for few channels per group (depthwise, image filters): copy the
 *             padded input rows a block of output rows needs into scratch
 *             (split by column phase, so strided loads become contiguous),
 *             then accumulate vectors of output pixels over the taps.
 *
 * Note [summation order]: both kernels compute every output element as
 *   bias + w[0]*x[0] + w[1]*x[1] + ...   in (c, i, j) order, one term at a time,
 * each term a fused multiply-add where the ISA has FMA.  Work is split between
 * threads only along output elements, so results are bitwise identical for any
 * thread count and any tiling.
 *
 * Note [index tables]: rowtab[t*P_h + y] is the input row read by tap-row t
 * for output-grid row y, or -1 for a zero (padding / no contribution);
 * coltab likewise for columns.  For conv2d tap-row t = i and input row =
 * map(y*sh - pt + i*dh) where map applies the padding mode.  For the transposed
 * conv (a gather, the adjoint of conv2d) each stride phase (ry, rx) is one
 * sub-problem with its own taps and tables; see fastconv/_cpu.pyx.
 */
#ifndef FASTCONV_KERNELS_H
#define FASTCONV_KERNELS_H

#include "_kernels_base.h"
#if FC_HAVE_X86
#include <cpuid.h>
#endif

static int fc_set_gather_pw(int n) { int old = fc_gather_pw; fc_gather_pw = n; return old; }
static int fc_set_gather_runs(int on) { int old = fc_gather_runs; fc_gather_runs = on; return old; }
static int fc_set_gather_windows(int n)
{ int old = fc_gather_windows; fc_gather_windows = n; return old; }
static int fc_set_dw_padded(int on) { int old = fc_dw_padded; fc_dw_padded = on; return old; }
static int fc_set_dw_const_cg(int on) { int old = fc_dw_const_cg; fc_dw_const_cg = on; return old; }
static int fc_set_dw_rolling(int on) { int old = fc_dw_rolling; fc_dw_rolling = on; return old; }
static int fc_set_gather_pf(int on) { int old = fc_gather_pf; fc_gather_pf = on; return old; }
static int fc_set_stage_store2(int on)
{ int old = fc_stage_store2; fc_stage_store2 = on; return old; }
static int fc_set_vector_tiles(int on)
{ int old = fc_vector_tiles; fc_vector_tiles = on; return old; }
static int fc_set_dwcl_short(int on) { int old = fc_dwcl_short; fc_dwcl_short = on; return old; }

/* ---- run-time dispatch ------------------------------------------------- */

typedef void (*fc_gemm_fn)(const fc_gemm_args *, fc_idx, fc_idx, int, int, void *);
typedef void (*fc_direct_fn)(const fc_direct_args *, fc_idx, fc_idx, void *);

static int fc_isa = -1;

static int fc_isa_supported(int isa)
{
    if (isa == FC_ISA_GENERIC) return 1;
#if FC_HAVE_X86
    __builtin_cpu_init();
    if (isa == FC_ISA_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == FC_ISA_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx2")
            && __builtin_cpu_supports("fma");
#endif
    return 0;
}

static int fc_best_isa(void)
{
    if (fc_isa_supported(FC_ISA_AVX512)) return FC_ISA_AVX512;
    if (fc_isa_supported(FC_ISA_AVX2)) return FC_ISA_AVX2;
    return FC_ISA_GENERIC;
}

/* Note [narrow FMA]: on AMD Zen 4 (family 19h with AVX-512) a 512-bit FMA
 * occupies both 256-bit FMA pipes, so a core multiplies-adds half as many
 * values a cycle as an Intel core with two 512-bit units or Zen 5, while its
 * loads and stores keep their pace: there arithmetic-saving algorithms win
 * where elsewhere the memory traffic they add loses (_dispatch's NARROW_FMA_*
 * rules).  Decided once from CPUID (a VM's CPUID traps: ~1 us); the test hook
 * overrides it. */
static int fc_narrow_fma_mode = -1;   /* -1: not yet known; else 0 or 1 */
static int fc_narrow_fma_override = -1;

static int fc_narrow_fma(void)
{
    if (fc_narrow_fma_override >= 0) return fc_narrow_fma_override;
    if (fc_narrow_fma_mode < 0) {
        int narrow = 0;
#if FC_HAVE_X86
        unsigned a, b, c, d;
        /* "AuthenticAMD" in ebx, edx, ecx */
        if (__get_cpuid(0, &a, &b, &c, &d) && b == 0x68747541u && d == 0x69746e65u
            && c == 0x444d4163u && __get_cpuid(1, &a, &b, &c, &d)) {
            unsigned family = (a >> 8) & 0xfu;
            if (family == 0xfu) family += (a >> 20) & 0xffu;
            narrow = family == 0x19u && fc_isa_supported(FC_ISA_AVX512);
        }
#endif
        fc_narrow_fma_mode = narrow;
    }
    return fc_narrow_fma_mode;
}

static int fc_set_narrow_fma(int mode)
{ int old = fc_narrow_fma_override; fc_narrow_fma_override = mode; return old; }

/* Returns the ISA in force; `isa` < 0 picks the best one.  -1 if unsupported. */
static int fc_set_isa(int isa)
{
    if (isa < 0) isa = fc_best_isa();
    if (!fc_isa_supported(isa)) return -1;
    fc_isa = isa;
    return isa;
}

static inline int fc_get_isa(void)
{
    if (fc_isa < 0) fc_set_isa(-1);
    return fc_isa;
}

static fc_blocking fc_get_blocking(int isa, int is_double)
{
    fc_blocking b;
    int vbytes = isa == FC_ISA_AVX512 ? 64 : isa == FC_ISA_AVX2 ? 32 : 16;
    /* Micro-tiles (keep in step with the FC_MR / FC_NV instantiations above):
     * MR rows x NV vectors of accumulators, MR a power of two so common
     * channel counts fill whole tiles; AVX-512 8 x 3 (24 of 32 registers: two FMAs per load),
     * AVX2 and SSE 4 x 3 (12 of 16). */
    b.vlen = vbytes / (is_double ? 8 : 4);
    b.nr = 3 * b.vlen;
    b.mr = isa == FC_ISA_AVX512 ? 8 : 4;
    b.kc = FC_KC;
    return b;
}

/* Opt-in flush-to-zero (fastconv.set_flush_denormal, like torch's): with it,
 * each task runs with the x86 FTZ and DAZ bits set in its thread's MXCSR and
 * restores the register afterwards.  Subnormal inputs and results then count
 * as zero, which avoids the ~100x slowdown of microcode assists on them; off
 * by default, since torch computes subnormals exactly. */
static int fc_flush_denormal = 0;

#if FC_HAVE_X86
#include <xmmintrin.h>
#define FC_FTZ_BEGIN unsigned int fc_csr_ = 0;                                 \
    if (fc_flush_denormal) { fc_csr_ = _mm_getcsr(); _mm_setcsr(fc_csr_ | 0x8040u); }
#define FC_FTZ_END if (fc_flush_denormal) _mm_setcsr(fc_csr_);
#define FC_DISPATCH(kind, suf, ...)                                            \
    FC_FTZ_BEGIN                                                               \
    switch (fc_get_isa()) {                                                    \
    case FC_ISA_AVX512: fc_##kind##_##suf##_avx512(__VA_ARGS__); break;        \
    case FC_ISA_AVX2: fc_##kind##_##suf##_avx2(__VA_ARGS__); break;            \
    default: fc_##kind##_##suf##_generic(__VA_ARGS__); break;                  \
    }                                                                          \
    FC_FTZ_END
#else
#define FC_DISPATCH(kind, suf, ...) fc_##kind##_##suf##_generic(__VA_ARGS__);
#endif

static int fc_set_flush_denormal(int on)
{
    fc_flush_denormal = FC_HAVE_X86 && on;
    return fc_flush_denormal;
}

static void fc_gemm_task_f32(const fc_gemm_args *a, fc_idx p0, fc_idx p1, int m0, int m1,
                             void *scratch)
{ FC_DISPATCH(gemm_task, f32, a, p0, p1, m0, m1, scratch) }
static void fc_gemm_task_f64(const fc_gemm_args *a, fc_idx p0, fc_idx p1, int m0, int m1,
                             void *scratch)
{ FC_DISPATCH(gemm_task, f64, a, p0, p1, m0, m1, scratch) }
static void fc_implicit_task_f32(const fc_implicit_args *a, fc_idx n, fc_idx q0, fc_idx q1,
                                 int m0, int m1, void *scratch)
{ FC_DISPATCH(implicit_task, f32, a, n, q0, q1, m0, m1, scratch) }
/* Pixels channel-lane tiles compute on an OH x OW output (grid PW wide) at
 * the running SIMD level (the rule in _cpu.pyx asks on AVX-512 only). */
static fc_idx fc_cl_computed(fc_idx OH, fc_idx OW, fc_idx PW)
{
#if FC_HAVE_X86
    if (fc_get_isa() == FC_ISA_AVX512) return fc_cl_computed_f32_avx512(OH, OW, PW);
    if (fc_get_isa() == FC_ISA_AVX2) return fc_cl_computed_f32_avx2(OH, OW, PW);
#endif
    return fc_cl_computed_f32_generic(OH, OW, PW);
}
static void fc_implicit_cl_task_f32(const fc_implicit_args *a, fc_idx n0, fc_idx n1, int part,
                                    int nparts, int k0, void *scratch)
{ FC_DISPATCH(implicit_cl_task, f32, a, n0, n1, part, nparts, k0, scratch) }
static void fc_implicit_cl_task_f64(const fc_implicit_args *a, fc_idx n0, fc_idx n1, int part,
                                    int nparts, int k0, void *scratch)
{ FC_DISPATCH(implicit_cl_task, f64, a, n0, n1, part, nparts, k0, scratch) }
static void fc_implicit_task_f64(const fc_implicit_args *a, fc_idx n, fc_idx q0, fc_idx q1,
                                 int m0, int m1, void *scratch)
{ FC_DISPATCH(implicit_task, f64, a, n, q0, q1, m0, m1, scratch) }
static void fc_pad_plane_f32(const float *src, fc_idx W, const int32_t *rowmap,
                             const int32_t *colmap, fc_idx PH, fc_idx PW, fc_idx pl, int sh,
                             int sw, fc_idx PWs, fc_idx phase_stride, fc_idx PHs, float *dst)
{ FC_DISPATCH(pad_plane, f32, src, W, rowmap, colmap, PH, PW, pl, sh, sw, PWs, phase_stride,
              PHs, dst) }
static void fc_pad_plane_f64(const double *src, fc_idx W, const int32_t *rowmap,
                             const int32_t *colmap, fc_idx PH, fc_idx PW, fc_idx pl, int sh,
                             int sw, fc_idx PWs, fc_idx phase_stride, fc_idx PHs, double *dst)
{ FC_DISPATCH(pad_plane, f64, src, W, rowmap, colmap, PH, PW, pl, sh, sw, PWs, phase_stride,
              PHs, dst) }
static void fc_pack_phases_f32(const float *base, int g, int M, int m0, int m1, int C_g,
                               int nphase, const int *ntaps, fc_idx m_stride,
                               const int32_t *const *tabs, float *const *dsts, int *nonfinite)
{ FC_DISPATCH(pack_phases, f32, base, g, M, m0, m1, C_g, nphase, ntaps, m_stride, tabs, dsts,
              nonfinite) }
static void fc_pack_phases_f64(const double *base, int g, int M, int m0, int m1, int C_g,
                               int nphase, const int *ntaps, fc_idx m_stride,
                               const int32_t *const *tabs, double *const *dsts, int *nonfinite)
{ FC_DISPATCH(pack_phases, f64, base, g, M, m0, m1, C_g, nphase, ntaps, m_stride, tabs, dsts,
              nonfinite) }
static void fc_direct_task_f32(const fc_direct_args *a, fc_idx r0, fc_idx r1, void *scratch)
{ FC_DISPATCH(direct_task, f32, a, r0, r1, scratch) }
static void fc_direct_task_f64(const fc_direct_args *a, fc_idx r0, fc_idx r1, void *scratch)
{ FC_DISPATCH(direct_task, f64, a, r0, r1, scratch) }
/* Note [one-pixel conv2d] (_kernels_impl.h). */
static void fc_pixel_task_f32(const float *x, fc_idx N, fc_idx xs, const float *w, fc_idx R,
                              int mrows, const float *bias, float *y, fc_idx ys, void *scratch)
{ FC_DISPATCH(pixel_task, f32, x, N, xs, w, R, mrows, bias, y, ys, scratch) }
static void fc_pixel_task_f64(const double *x, fc_idx N, fc_idx xs, const double *w, fc_idx R,
                              int mrows, const double *bias, double *y, fc_idx ys,
                              void *scratch)
{ FC_DISPATCH(pixel_task, f64, x, N, xs, w, R, mrows, bias, y, ys, scratch) }
/* Output channels a pixel_task takes (its FC_PIX_NV vectors: four of 64
 * bytes, else two), and the scratch (bytes) it needs for N images:
 * wp [FC_PIX_KC][block], acc [N][block], FC_PIX_KC * block = 2 * FC_KC * vlen. */
static fc_idx fc_pixel_block(fc_blocking b, int isa)
{
    return (isa == FC_ISA_AVX512 ? 4 : 2) * (fc_idx)b.vlen;
}
static size_t fc_pixel_scratch_bytes(fc_blocking b, int isa, fc_idx N, size_t esize)
{
    return (size_t)(2 * FC_KC * b.vlen + N * fc_pixel_block(b, isa)) * esize + 2 * FC_ALIGN;
}
/* Note [depthwise channel lanes]: AVX-512 float32 only (elsewhere a stub). */
static int fc_dwcl_supported(void) { return fc_get_isa() == FC_ISA_AVX512; }
static void fc_dwcl_task_f32(const fc_dwcl_args *a, fc_idx n, fc_idx cb, fc_idx r0, fc_idx r1,
                             void *scratch)
{ FC_DISPATCH(dwcl_task, f32, a, n, cb, r0, r1, scratch) }
static void fc_dwtcl_task_f32(const fc_dwtcl_args *a, fc_idx n, fc_idx cb, fc_idx r0,
                              fc_idx r1, void *scratch)
{ FC_DISPATCH(dwtcl_task, f32, a, n, cb, r0, r1, scratch) }

static void fc_winograd_task_f32(const fc_winograd_args *a, fc_idx n, fc_idx q0, fc_idx q1,
                                 int m0, int m1, void *scratch, int *bad)
{ FC_DISPATCH(winograd_task, f32, a, n, q0, q1, m0, m1, scratch, bad) }
static void fc_winograd_task_f64(const fc_winograd_args *a, fc_idx n, fc_idx q0, fc_idx q1,
                                 int m0, int m1, void *scratch, int *bad)
{ FC_DISPATCH(winograd_task, f64, a, n, q0, q1, m0, m1, scratch, bad) }
static void fc_winograd_input_task_f32(const fc_winograd_args *subs, const fc_wino_chunk *ch,
                                       fc_idx c0, fc_idx c1, void *V, int *bad)
{ FC_DISPATCH(winograd_input_task, f32, subs, ch, c0, c1, V, bad) }
static void fc_winograd_input_task_f64(const fc_winograd_args *subs, const fc_wino_chunk *ch,
                                       fc_idx c0, fc_idx c1, void *V, int *bad)
{ FC_DISPATCH(winograd_input_task, f64, subs, ch, c0, c1, V, bad) }
static void fc_winograd_panel_task_f32(const fc_winograd_args *subs, const fc_wino_chunk *chunks,
                                       int nchunk, const void *V, const void *w, int panel,
                                       void *scratch, int *bad)
{ FC_DISPATCH(winograd_panel_task, f32, subs, chunks, nchunk, V, w, panel, scratch, bad) }
static void fc_winograd_panel_task_f64(const fc_winograd_args *subs, const fc_wino_chunk *chunks,
                                       int nchunk, const void *V, const void *w, int panel,
                                       void *scratch, int *bad)
{ FC_DISPATCH(winograd_panel_task, f64, subs, chunks, nchunk, V, w, panel, scratch, bad) }
static void fc_pad_plane3_f32(const float *src, fc_idx W, const int32_t *rowmap, fc_idx nrows,
                              fc_idx PWs, fc_idx pl, fc_idx phase_stride, float *dst)
{ FC_DISPATCH(pad_plane3, f32, src, W, rowmap, nrows, PWs, pl, phase_stride, dst) }
static void fc_pad_plane3_f64(const double *src, fc_idx W, const int32_t *rowmap, fc_idx nrows,
                              fc_idx PWs, fc_idx pl, fc_idx phase_stride, double *dst)
{ FC_DISPATCH(pad_plane3, f64, src, W, rowmap, nrows, PWs, pl, phase_stride, dst) }
static void fc_winograd_t_task_f32(const fc_winograd_args *a, fc_idx q0, fc_idx q1,
                                   int m0, int m1, void *scratch, int *bad)
{ FC_DISPATCH(winograd_t_task, f32, a, q0, q1, m0, m1, scratch, bad) }
static void fc_winograd_t_task_f64(const fc_winograd_args *a, fc_idx q0, fc_idx q1,
                                   int m0, int m1, void *scratch, int *bad)
{ FC_DISPATCH(winograd_t_task, f64, a, q0, q1, m0, m1, scratch, bad) }
/* The weight transform: adds and halvings only (no FMA to contract), so every
 * ISA level computes the same U. */
#if FC_HAVE_X86
#define FC_WINO_WEIGHTS(T, suf)                                                 \
static int fc_winograd_weights_##suf(const T *w, fc_idx M, fc_idx C, fc_idx k0, \
                                     fc_idx k1, T *U)                          \
{                                                                              \
    switch (fc_get_isa()) {                                                    \
    case FC_ISA_AVX512: return fc_winograd_weights_##suf##_avx512(w, M, C, k0, k1, U); \
    case FC_ISA_AVX2: return fc_winograd_weights_##suf##_avx2(w, M, C, k0, k1, U);     \
    default: return fc_winograd_weights_##suf##_generic(w, M, C, k0, k1, U);           \
    }                                                                          \
}
#else
#define FC_WINO_WEIGHTS(T, suf)                                                 \
static int fc_winograd_weights_##suf(const T *w, fc_idx M, fc_idx C, fc_idx k0, \
                                     fc_idx k1, T *U)                          \
{ return fc_winograd_weights_##suf##_generic(w, M, C, k0, k1, U); }
#endif
FC_WINO_WEIGHTS(float, f32)
FC_WINO_WEIGHTS(double, f64)

/* The same for Note [transposed Winograd]'s weights. */
#if FC_HAVE_X86
#define FC_WINO_T_WEIGHTS(T, suf)                                               \
static int fc_winograd_t_weights_##suf(const T *w, fc_idx C, fc_idx K, fc_idx k0, \
                                       fc_idx k1, const int *f, T *U)          \
{                                                                              \
    switch (fc_get_isa()) {                                                    \
    case FC_ISA_AVX512: return fc_winograd_t_weights_##suf##_avx512(w, C, K, k0, k1, f, U); \
    case FC_ISA_AVX2: return fc_winograd_t_weights_##suf##_avx2(w, C, K, k0, k1, f, U);     \
    default: return fc_winograd_t_weights_##suf##_generic(w, C, K, k0, k1, f, U);           \
    }                                                                          \
}
#else
#define FC_WINO_T_WEIGHTS(T, suf)                                               \
static int fc_winograd_t_weights_##suf(const T *w, fc_idx C, fc_idx K, fc_idx k0, \
                                       fc_idx k1, const int *f, T *U)          \
{ return fc_winograd_t_weights_##suf##_generic(w, C, K, k0, k1, f, U); }
#endif
FC_WINO_T_WEIGHTS(float, f32)
FC_WINO_T_WEIGHTS(double, f64)

/* Scratch (bytes) a Winograd task needs: V [16][C][NR], M [16][MR][NR], Y [4][NR]. */
static size_t fc_winograd_scratch_bytes(fc_blocking b, fc_idx C, size_t esize)
{
    return (size_t)(16 * C * b.nr + 16 * b.mr * b.nr + 4 * b.nr) * esize + 2 * FC_ALIGN;
}

/* Scratch (bytes) a transposed Winograd task needs: V [16][C][NR], M [16][MR][NR], Z [6][NR]. */
static size_t fc_winograd_t_scratch_bytes(fc_blocking b, fc_idx C, size_t esize)
{
    return (size_t)(16 * C * b.nr + 16 * b.mr * b.nr + 6 * b.nr) * esize + 2 * FC_ALIGN;
}

/* Scratch (bytes) a Winograd panel task needs: U [MR][16][C], M [16][MR][NR], Y [4][NR]. */
static size_t fc_winograd_panel_scratch_bytes(fc_blocking b, fc_idx C, size_t esize)
{
    return (size_t)(16 * C * b.mr + 16 * b.mr * b.nr + 4 * b.nr) * esize + 2 * FC_ALIGN;
}

/* Scratch (bytes) a gemm task needs for pixel blocks of `nb` pixels. */
static size_t fc_gemm_scratch_bytes(fc_blocking b, fc_idx nb, fc_idx stage_rows, size_t esize)
{
    fc_idx nbr = (nb + b.nr - 1) / b.nr * b.nr;
    return (size_t)(b.kc * nbr + b.mr * b.nr + stage_rows * nbr) * esize + nbr * sizeof(fc_idx)
           + (FC_GATHER_ENTRIES + 2 * FC_GATHER_RUN_ENTRIES + FC_GATHER_WIN_ENTRIES)
             * sizeof(int32_t) + 2 * FC_ALIGN;
}

/* Scratch (bytes) an implicit_cl_task needs (Note [channel lanes]): a block's
 * weights [FC_KC][2*vlen], the bias and the stage. */
static size_t fc_cl_scratch_bytes(fc_blocking b, size_t esize)
{
    return (size_t)((FC_KC + 1) * 2 * b.vlen) * esize + FC_CL_STAGE_BYTES + 2 * FC_ALIGN;
}

/* Scratch (bytes) a direct task needs for `rows` output rows. */
static size_t fc_direct_scratch_bytes(fc_blocking b, const fc_direct_args *a, fc_idx rows,
                                      size_t esize)
{
    rows = (rows + 3) / 4 * 4;           /* whole register blocks (FC_RB) */
    fc_idx in_rows = (rows - 1) * a->sh + (fc_idx)(a->kh - 1) * a->dh + 1;
    fc_idx qw = (a->PW + a->sw - 1) / a->sw + 2 * b.vlen;   /* vector slack per phase */
    size_t tile = (size_t)(a->C_g * in_rows * a->sw * qw + 4 * b.vlen) * esize + 2 * FC_ALIGN
                  + (size_t)a->C_g * a->kh * a->kw * sizeof(fc_idx) + 64;   /* + tap offsets */
    /* Note [padded depthwise]'s plane (any layer: a few KB) */
    size_t padded = (size_t)FC_DW_PADDED_ROWS(rows, a->kh) * FC_DW_PADDED_PITCH(a->OW, a->kh, b.vlen)
                    * esize + 2 * FC_ALIGN;
    return tile > padded ? tile : padded;
}

/* Gather the transposed conv's weights of one stride phase into a row-major
 * [M][C_g*ntaps] matrix, rows [m0, m1), where fc_pack_phases's int32 tables
 * cannot address them:
 *   dst[m][c*ntaps + t] = base[m*m_stride + c*c_stride + tapoff[t]].
 * Blocked over 16 channels so the rows read (w[c][m..]) stay in cache.  Sets
 * *nonfinite if a value is Inf or NaN (Note [transposed non-finite weights]). */
#define FC_PACK_ROWS(T, suf)                                                   \
static void fc_pack_rows_##suf(const T *base, int m0, int m1, int C_g,         \
                               int ntaps, fc_idx m_stride, fc_idx c_stride,    \
                               const fc_idx *tapoff, T *dst, int *nonfinite)   \
{                                                                              \
    const fc_idx kred = (fc_idx)C_g * ntaps;                                   \
    T acc = 0;      /* stays 0 unless some v - v is NaN */                     \
    for (int cb = 0; cb < C_g; cb += 16) {                                     \
        const int ce = cb + 16 < C_g ? cb + 16 : C_g;                          \
        for (int m = m0; m < m1; m++) {                                        \
            T *d = dst + m * kred + (fc_idx)cb * ntaps;                        \
            for (int c = cb; c < ce; c++) {                                    \
                const T *src = base + m * m_stride + c * c_stride;             \
                for (int t = 0; t < ntaps; t++) {                              \
                    const T v = src[tapoff[t]];                                \
                    acc += v - v;                                              \
                    *d++ = v;                                                  \
                }                                                              \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    if (acc != 0) *nonfinite = 1;                                              \
}
FC_PACK_ROWS(float, f32)
FC_PACK_ROWS(double, f64)

/* The weights of Note [padding-only taps]'s windows, rows [m0, m1) of a
 * [K][C_g][ktaps] tensor, each row read once for all windows:
 *   dst[v][m][c*ntaps[v] + t] = base[(m*C_g + c)*ktaps + tapoff[v*ktaps + t]]. */
#define FC_PACK_WINDOWS(T, suf)                                                \
static void fc_pack_windows_##suf(const T *base, int m0, int m1, int C_g,      \
                                  int ktaps, int nwin, const int *ntaps,       \
                                  const int *tapoff, T **dst)                  \
{                                                                              \
    for (int m = m0; m < m1; m++) {                                            \
        const T *row = base + (fc_idx)m * C_g * ktaps;                         \
        for (int v = 0; v < nwin; v++) {                                       \
            const int nt = ntaps[v], *to = tapoff + (fc_idx)v * ktaps;         \
            T *d = dst[v] + (fc_idx)m * C_g * nt;                              \
            for (int c = 0; c < C_g; c++) {                                    \
                const T *src = row + (fc_idx)c * ktaps;                        \
                for (int t = 0; t < nt; t++) *d++ = src[to[t]];                \
            }                                                                  \
        }                                                                      \
    }                                                                          \
}
FC_PACK_WINDOWS(float, f32)
FC_PACK_WINDOWS(double, f64)

#endif /* FASTCONV_KERNELS_H */
