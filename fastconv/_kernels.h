/* fastconv CPU kernels: shared declarations and run-time ISA dispatch.
 *
 * Legend: N, C, H, W input; K output channels; G groups; C_g = C/G; K_g = K/G;
 * kh, kw kernel; OH, OW output; sh, sw stride; dh, dw dilation;
 * pt, pb, pl, pr padding (top, bottom, left, right).
 *
 * Two task kernels, each instantiated for float/double and for three ISA
 * levels (AVX-512, AVX2+FMA, baseline x86-64 / portable) from one source,
 * _kernels_impl.h, compiled under `#pragma GCC target` so the default build
 * has no -march flag and the best level is chosen at run time:
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

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int64_t fc_idx;

enum { FC_PAD_ZEROS = 0, FC_PAD_REFLECT = 1, FC_PAD_REPLICATE = 2, FC_PAD_CIRCULAR = 3 };
enum { FC_ISA_GENERIC = 0, FC_ISA_AVX2 = 1, FC_ISA_AVX512 = 2 };

/* Padded coordinate q in [-(before), n + after) -> source index or -1. */
static inline fc_idx fc_map_index(fc_idx q, fc_idx n, int mode)
{
    if (q >= 0 && q < n) return q;
    switch (mode) {
    case FC_PAD_REFLECT:    /* edge not repeated; |pad| < n checked in _params */
        return q < 0 ? -q : 2 * (n - 1) - q;
    case FC_PAD_REPLICATE:
        return q < 0 ? 0 : n - 1;
    case FC_PAD_CIRCULAR:   /* |pad| <= n checked in _params */
        return q < 0 ? q + n : q - n;
    default:
        return -1;
    }
}

/* One implicit-GEMM sub-problem: a (group, phase) slice over the whole batch.
 * Its pixels p = (n*P_h + py)*P_w + px run over P_n images, so a small image
 * in a batch still fills the micro-kernel's vectors. */
typedef struct {
    const void *x;          /* input, image 0, channel 0 of the group */
    fc_idx x_nstride;       /* C*H*W */
    fc_idx x_cstride;       /* H*W */
    fc_idx x_rstride;       /* W */
    int C_g;                /* channels reduced over */
    int ntap_h, ntap_w;     /* taps per channel = ntap_h*ntap_w */
    const int32_t *rowtab;  /* [ntap_h][P_h] */
    const int32_t *coltab;  /* [ntap_w][P_w] */
    const int32_t *col_lo;  /* [ntap_w]: coltab[tj][q] = coltab[tj][lo] + (q - lo)*col_step */
    const int32_t *col_hi;  /*   and >= 0 for lo <= q < hi (the interior; fast copies) */
    int col_step;
    fc_idx P_n, P_h, P_w;   /* images, and the output grid of this sub-problem */
    void *y;                /* output, image 0, channel 0 of the group, grid origin */
    fc_idx y_nstride;       /* K*OH*OW */
    fc_idx y_kstride;       /* OH*OW */
    fc_idx y_rstride;       /* between grid rows */
    fc_idx y_cstride;       /* between grid columns (1 for conv2d) */
    const void *a;          /* weights as a row-major [M][Kred] matrix, row stride lda */
    fc_idx lda;
    const void *bias;       /* [M] or NULL */
    int M;                  /* output channels of the group (K_g) */
} fc_gemm_args;

/* One direct-convolution (n, group) slice; tasks split it by output rows. */
typedef struct {
    const void *x;          /* input, channel 0 of the group */
    fc_idx H, W;
    int C_g, K_g, kh, kw, sh, sw, dh, dw;
    const int32_t *rowmap;  /* [H + pt + pb] padded row -> source row or -1 */
    const int32_t *colmap;  /* [W + pl + pr] padded col -> source col or -1 */
    fc_idx PH, PW;          /* H + pt + pb, W + pl + pr */
    fc_idx pl;
    const void *w;          /* [K_g][C_g][kh][kw] */
    const void *bias;       /* [K_g] or NULL */
    void *y;                /* output, channel 0 of the group */
    fc_idx OH, OW;
    int zpad;               /* zero padding (Note [masked depthwise]) */
} fc_direct_args;

/* Implicit GEMM straight on a padded copy (stride-1 conv2d), one group. */
typedef struct {
    const void *xp;         /* padded input, image 0, channel 0 of the group */
    fc_idx xp_nstride;      /* C*PH*PW */
    const fc_idx *koff;     /* [kred], see Note [implicit GEMM on a padded copy] */
    fc_idx kred;            /* C_g*kh*kw */
    fc_idx PW, OH, OW;      /* grid pitch (the phase planes' PWs), output grid rows, width */
    void *y;                /* output, image 0, channel 0 of the group, grid origin */
    fc_idx y_nstride, y_kstride;
    fc_idx y_rstride, y_cstride;   /* grid row / column steps in the output (OW, 1 for conv2d) */
    const void *a;          /* weights, row-major [M][kred] */
    fc_idx lda;
    const void *bias;       /* [M] or NULL */
    int M;
} fc_implicit_args;

/* Winograd F(2x2, 3x3) on a padded copy split into 2x2 phases, one group
 * (Note [Winograd F(2x2, 3x3)] in _kernels_impl.h). */
typedef struct {
    const void *xp;         /* phase-split padded input, image 0, channel 0 of the group */
    fc_idx xp_nstride;      /* between images */
    const fc_idx *doff;     /* [16]: offset of patch value (i, j) from its tile's grid point */
    fc_idx plane;           /* PHs*PWs, between channels */
    fc_idx PWs;             /* tile grid pitch */
    fc_idx TH, TW;          /* tiles of this (output phase, band): ceil(OH/2) x ceil(OW/2) */
    fc_idx OH, OW;          /* its output rows and columns */
    int C;                  /* channels reduced over (C_g) */
    void *y;                /* output, image 0, channel 0 of the group, first output */
    fc_idx y_nstride, y_kstride;
    fc_idx y_rstep, y_cstep;   /* between its output rows / columns (dh*OW, dw) */
    const void *u;          /* transformed weights [M][16][C] */
    const void *bias;       /* [M] or NULL */
    int M;
} fc_winograd_args;

typedef struct {
    int mr, nr, kc;         /* GEMM micro-tile and reduction block */
    int vlen;               /* lanes of the direct kernel's vectors */
} fc_blocking;

#define FC_KC 256
#define FC_ALIGN 64

/* Note [gathered B]: pack_b copies B's rows as runs along output grid rows,
 * with a border test per run; on narrow grids (the transposed conv's 4x4 phase
 * planes, a 7x7 layer) the runs are a few values each, and for a strided conv
 * a run is a scalar strided copy.  There a gemm task builds, once per pixel
 * block, a table of source offsets per tap (-1: a zero) and packs every row
 * with vector gathers.  Both copy the same values: the results are bit-identical
 * either way.  Gathers are used on grids narrower than fc_gather_pw columns and
 * at any column stride but 1, while the table fits FC_GATHER_ENTRIES.  Measured
 * on an Intel Xeon 5th gen (Emerald Rapids, 2 vCPUs, AVX-512; float32, gathers
 * vs runs; not yet re-measured on the AMD Zen 5 machine of the other figures):
 * dcgan-up1 (4x4 planes) 8.7 vs 12.1 ms at 2 threads; 3x3 layers 7 to 56
 * columns wide 5-25% faster, 112 columns even, 224 columns 10% slower;
 * stride 2 on 112 columns 17% faster. */
#define FC_GATHER_ENTRIES 8192
#define FC_GATHER_PW_DEFAULT 64
static int fc_gather_pw = FC_GATHER_PW_DEFAULT;
static int fc_set_gather_pw(int n) { int old = fc_gather_pw; fc_gather_pw = n; return old; }

/* Instantiate the kernels: ISA x dtype. */
#define FC_ISA_NAME generic
#define FC_VBYTES 16
#define FC_MR 4
#define FC_NV 3
#include "_kernels_dtypes.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define FC_HAVE_X86 1
#include <immintrin.h>   /* the gathers of Note [gathered B], under each target */
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define FC_ISA_NAME avx2
#define FC_VBYTES 32
#define FC_MR 4
#define FC_NV 3
#include "_kernels_dtypes.h"
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx2,fma")
#define FC_ISA_NAME avx512
#define FC_VBYTES 64
#define FC_MR 8
#define FC_NV 3
#include "_kernels_dtypes.h"
#pragma GCC pop_options
#else
#define FC_HAVE_X86 0
#endif

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
                               const int32_t *const *tabs, float *const *dsts)
{ FC_DISPATCH(pack_phases, f32, base, g, M, m0, m1, C_g, nphase, ntaps, m_stride, tabs, dsts) }
static void fc_pack_phases_f64(const double *base, int g, int M, int m0, int m1, int C_g,
                               int nphase, const int *ntaps, fc_idx m_stride,
                               const int32_t *const *tabs, double *const *dsts)
{ FC_DISPATCH(pack_phases, f64, base, g, M, m0, m1, C_g, nphase, ntaps, m_stride, tabs, dsts) }
static void fc_direct_task_f32(const fc_direct_args *a, fc_idx r0, fc_idx r1, void *scratch)
{ FC_DISPATCH(direct_task, f32, a, r0, r1, scratch) }
static void fc_direct_task_f64(const fc_direct_args *a, fc_idx r0, fc_idx r1, void *scratch)
{ FC_DISPATCH(direct_task, f64, a, r0, r1, scratch) }

static void fc_winograd_task_f32(const fc_winograd_args *a, fc_idx n, fc_idx q0, fc_idx q1,
                                 int m0, int m1, void *scratch, int *bad)
{ FC_DISPATCH(winograd_task, f32, a, n, q0, q1, m0, m1, scratch, bad) }
static void fc_winograd_task_f64(const fc_winograd_args *a, fc_idx n, fc_idx q0, fc_idx q1,
                                 int m0, int m1, void *scratch, int *bad)
{ FC_DISPATCH(winograd_task, f64, a, n, q0, q1, m0, m1, scratch, bad) }
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

/* Scratch (bytes) a Winograd task needs: V [16][C][NR], M [16][MR][NR], Y [4][NR]. */
static size_t fc_winograd_scratch_bytes(fc_blocking b, fc_idx C, size_t esize)
{
    return (size_t)(16 * C * b.nr + 16 * b.mr * b.nr + 4 * b.nr) * esize + 2 * FC_ALIGN;
}

/* Scratch (bytes) a gemm task needs for pixel blocks of `nb` pixels. */
static size_t fc_gemm_scratch_bytes(fc_blocking b, fc_idx nb, fc_idx stage_rows, size_t esize)
{
    fc_idx nbr = (nb + b.nr - 1) / b.nr * b.nr;
    return (size_t)(b.kc * nbr + b.mr * b.nr + stage_rows * nbr) * esize
           + FC_GATHER_ENTRIES * sizeof(int32_t) + 2 * FC_ALIGN;
}

/* Scratch (bytes) a direct task needs for `rows` output rows. */
static size_t fc_direct_scratch_bytes(fc_blocking b, const fc_direct_args *a, fc_idx rows,
                                      size_t esize)
{
    rows = (rows + 3) / 4 * 4;           /* whole register blocks (FC_RB) */
    fc_idx in_rows = (rows - 1) * a->sh + (fc_idx)(a->kh - 1) * a->dh + 1;
    fc_idx qw = (a->PW + a->sw - 1) / a->sw + 2 * b.vlen;   /* vector slack per phase */
    return (size_t)(a->C_g * in_rows * a->sw * qw + 4 * b.vlen) * esize + 2 * FC_ALIGN
           + (size_t)a->C_g * a->kh * a->kw * sizeof(fc_idx) + 64;   /* + tap offsets */
}

/* Gather the transposed conv's weights of one stride phase into a row-major
 * [M][C_g*ntaps] matrix, rows [m0, m1), where fc_pack_phases's int32 tables
 * cannot address them:
 *   dst[m][c*ntaps + t] = base[m*m_stride + c*c_stride + tapoff[t]].
 * Blocked over 16 channels so the rows read (w[c][m..]) stay in cache. */
#define FC_PACK_ROWS(T, suf)                                                   \
static void fc_pack_rows_##suf(const T *base, int m0, int m1, int C_g,         \
                               int ntaps, fc_idx m_stride, fc_idx c_stride,    \
                               const fc_idx *tapoff, T *dst)                   \
{                                                                              \
    const fc_idx kred = (fc_idx)C_g * ntaps;                                   \
    for (int cb = 0; cb < C_g; cb += 16) {                                     \
        const int ce = cb + 16 < C_g ? cb + 16 : C_g;                          \
        for (int m = m0; m < m1; m++) {                                        \
            T *d = dst + m * kred + (fc_idx)cb * ntaps;                        \
            for (int c = cb; c < ce; c++) {                                    \
                const T *src = base + m * m_stride + c * c_stride;             \
                for (int t = 0; t < ntaps; t++) *d++ = src[tapoff[t]];         \
            }                                                                  \
        }                                                                      \
    }                                                                          \
}
FC_PACK_ROWS(float, f32)
FC_PACK_ROWS(double, f64)

#endif /* FASTCONV_KERNELS_H */
