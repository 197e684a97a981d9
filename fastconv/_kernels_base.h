/* fastconv CPU kernels: the types, constants and entry points shared by the
 * extension module (_cpu.pyx, through _kernels.h: run-time dispatch) and the
 * kernel translation units, one per ISA level (_kernels_generic.c,
 * _kernels_avx2.c, _kernels_avx512.c), which setup.py compiles in parallel.
 * The legend and the notes on the kernels as a whole are in _kernels.h.
 */
#ifndef FASTCONV_KERNELS_BASE_H
#define FASTCONV_KERNELS_BASE_H

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
    /* NULL: reduction index k is A's column k.  Else A's column aoff[k] (a
     * subset of a phase's taps, Note [transposed border classes]). */
    const int32_t *aoff;
    /* 0: pixels p = (n*P_h + py)*P_w + px; 1: p = (py*P_w + px)*P_n + n, the
     * images innermost (Note [batch lanes]), written out through the stage. */
    int batch_inner;
} fc_gemm_args;

/* A gemm sub-problem's pixel p as (n, py, px), and the next pixel's. */
static inline void fc_pix_at(const fc_gemm_args *g, fc_idx p, fc_idx *n, fc_idx *py, fc_idx *px)
{
    if (g->batch_inner) {
        const fc_idx q = p / g->P_n;
        *n = p % g->P_n;
        *py = q / g->P_w;
        *px = q % g->P_w;
    } else {
        const fc_idx r = p % (g->P_h * g->P_w);
        *n = p / (g->P_h * g->P_w);
        *py = r / g->P_w;
        *px = r % g->P_w;
    }
}
static inline void fc_pix_next(const fc_gemm_args *g, fc_idx *n, fc_idx *py, fc_idx *px)
{
    if (g->batch_inner) {
        if (++*n == g->P_n) { *n = 0; if (++*px == g->P_w) { *px = 0; ++*py; } }
    } else if (++*px == g->P_w) {
        *px = 0;
        if (++*py == g->P_h) { *py = 0; ++*n; }
    }
}

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

/* A depthwise conv2d for Note [depthwise channel lanes]: 16 channels a task. */
typedef struct {
    const void *x;          /* input [N][C][H][W] */
    const void *w;          /* [C][1][K][K] */
    const void *bias;       /* [C] or NULL */
    void *y;                /* output [N][C][OH][OW] */
    fc_idx C, H, W, OH, OW;
    fc_idx pt, pl;
    fc_idx PWq;             /* vectors of a column phase of T: S ceil(OW / dw) in 16s + K - 1 */
    int K;                  /* 3, 5 or 7 */
    int dh, dw;             /* dilation */
    int S;                  /* stride: 1, or 2 undilated */
} fc_dwcl_args;

/* A depthwise conv_transpose2d for Note [transposed depthwise channel lanes]. */
typedef struct {
    const void *x;          /* input [N][C][H][W] */
    const void *w;          /* [C][1][kh][kw] */
    const void *bias;       /* [C] or NULL */
    void *y;                /* output [N][C][OH][OW] */
    fc_idx C, H, W, OH, OW;
    fc_idx ph, pw;          /* padding (before) */
    int kh, kw, sh, sw;
} fc_dwtcl_args;

/* floor(a / b) for b > 0. */
static inline fc_idx fc_floordiv(fc_idx a, fc_idx b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

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
    int row_chunks;         /* chunks follow output rows (Note [row chunks]; needs y_cstride 1) */
} fc_implicit_args;

/* A channel-lane task's tiles of one image (Note [channel lanes] in _kernels_impl.h). */
enum { FC_CL_ROWS, FC_CL_TWO, FC_CL_GRID };
typedef struct {
    int mode;               /* along rows, two rows a tile, or along the grid */
    fc_idx ntile, per_row;  /* tiles an image; a row's tiles (along rows) */
    fc_idx computed;        /* pixels its tiles compute, half tiles as half */
} fc_cl_layout;
/* The stage a channel-lane task keeps its tiles' sums in between reduction blocks. */
#define FC_CL_STAGE_BYTES 131072

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
    /* Note [transposed Winograd]: the band's first tile row, and the output
     * row (column) of phase r's first output in tile row (column) 0 */
    fc_idx ty0;
    int t_ro[2], t_co[2];
    /* Note [dense Winograd lanes]: lanes run over the band's tiles, image by
     * image and output phase by phase (no junk lanes), each lane's patch
     * gathered: lane q's patch origin lane_xo[q], output offset lane_off[q],
     * rows and columns inside the output lane_nrc[q] & 3 and >> 2; nlanes */
    int dense;
    const int32_t *lane_xo;
    const fc_idx *lane_off;
    const int8_t *lane_nrc;
    fc_idx nlanes;
} fc_winograd_args;

/* One chunk of <= NR grid points of a Winograd sub-problem, whose transformed
 * input sits at V + voff (Note [Winograd panels] in _kernels_impl.h). */
typedef struct {
    fc_idx n, qc;           /* image, first grid point */
    fc_idx voff;            /* [16][C][nv*VLEN] from V (values) */
    int sub, ncol;          /* sub-problem, grid points */
} fc_wino_chunk;

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
 * vs runs): dcgan-up1 (4x4 planes) 8.7 vs 12.1 ms at 2 threads; 3x3 layers 7 to
 * 56 columns wide 5-25% faster; stride 2 on 112 columns 17% faster.  With
 * Note [gather runs] (AVX-512, AVX2) the table wins on wider grids too, so the
 * width there is 160: interleaved medians, table vs copies, 1 thread (2
 * threads), 1x1 layers 64 wide 1.11 (1.09), 80 wide 1.08 (1.04), 112 wide 1.02
 * (1.03), 150 wide 1.06 (1.06); 3x3 gemm 100 wide 1.06 (1.04), 112 wide 1.06
 * (1.06); but 224 wide 0.99 (0.98) and 300 wide 0.92 (0.95).  Levels without
 * runs keep 64. */
#define FC_GATHER_ENTRIES 8192
/* Note [gather runs]: on AVX-512 and AVX2 the table also records, per vector of
 * lanes, whether its valid lanes read consecutive values (offset = base + lane):
 * a 16-wide phase grid row of a transposed conv, 16 pixels of a 56-wide 1x1
 * layer, or several 4-wide grid rows of an input 4 columns wide.  Such a
 * vector is one masked load (invalid lanes masked off: zeros, no memory touched)
 * instead of a gather of 16 single loads.  Same values, same bits.  Interleaved
 * medians, runs vs gathers, Intel Xeon 5th gen, 1 thread (2 threads): dcgan-up3
 * 1.12 (1.11), unet-up 1.05-1.08 (1.06), dcgan-up1 1.03 (1.03), resnet50
 * res2-1x1red 1.21-1.24, inception-1x7 1.08; on AVX2, 1 thread: 1.07, 1.03,
 * 1.01, 1.12.  On grids at column stride 2 a vector whose valid lanes read
 * every other value (offset = base + 2 * lane: a strided conv's pixels along
 * a grid row) is the even values of two masked loads, one permute; only
 * those packs test for it.  Interleaved medians, vs gathers, 2 threads,
 * float32: 8 x 64 -> 128 at 56x56, 1x1 stride 2 1.08-1.09, 3x3 stride 2
 * 1.03-1.05; 128 at 56x56 3x3 stride 2 1.03; 8 x 256 -> 512 at 14x14 1.02;
 * stride-1 layers unchanged (0.99-1.00). */
#define FC_GATHER_PW_DEFAULT 160
#define FC_GATHER_PW_PLAIN 64      /* the default where gathers have no runs */
/* Room for Note [gather runs]: a base and a mask per vector of >= 4 lanes. */
#define FC_GATHER_RUN_ENTRIES (FC_GATHER_ENTRIES / 4)
/* Note [gather windows]: on AVX-512 with float lanes, a vector whose valid
 * lanes are no run but read values within at most fc_gather_windows stretches
 * of 16 (a transposed conv's border class, Note [transposed border classes],
 * reads 3 of each 4-wide input row) is that many masked loads, each permuted
 * into its lanes, instead of a gather of 16 single loads.  Same values, same
 * bits.  Interleaved medians, windows / gathers, AMD EPYC Zen 5, 29 Nov 2026,
 * 1 thread: conv2d 3x3 stride 2 128 at 28x28 (gemm forced) 0.95, conv_transpose2d
 * 8 x 256 -> 128 3x3 stride 2 at 7x7 (gemm) 0.93-0.97, 16 x 256 -> 128 4x4 at
 * 8x8 0.99; others (7x7 and 14x14 3x3, 1x1, 5x5 at 9x9) 0.99-1.00.  Room: a
 * count and up to 3 (base, load mask) pairs per vector. */
#define FC_GATHER_WIN_SLOTS 8
#define FC_GATHER_WIN_ENTRIES (FC_GATHER_ENTRIES / 16 * FC_GATHER_WIN_SLOTS)

/* Shared between the extension's translation units, not exported from it. */
#define FC_HIDDEN __attribute__((visibility("hidden")))

extern FC_HIDDEN int fc_gather_pw;   /* defined in _kernels_generic.c */
extern FC_HIDDEN int fc_gather_runs;
extern FC_HIDDEN int fc_gather_windows;
extern FC_HIDDEN int fc_dw_padded;   /* Note [padded depthwise] (_kernels_impl.h) */
extern FC_HIDDEN int fc_dw_const_cg; /* Note [grouped channel counts] (_kernels_impl.h) */
extern FC_HIDDEN int fc_dw_rolling;  /* Note [rolling depthwise rows] (_kernels_impl.h) */
extern FC_HIDDEN int fc_gather_pf;   /* Note [gather prefetch] (_kernels_impl.h) */
extern FC_HIDDEN int fc_vector_tiles;   /* Note [vector-wise tiles] (_kernels_impl.h) */
extern FC_HIDDEN int fc_stage_store2;   /* gemm_task's stride-2 write-out (_kernels_impl.h) */
extern FC_HIDDEN int fc_dwcl_short;     /* Note [short depthwise blocks] (_kernels_impl.h) */
/* Whether any of p[0 .. n) is Inf or NaN: v - v is 0 for a finite v and NaN
 * otherwise, and a sum that meets a NaN stays NaN (Note [padding-only taps];
 * Note [large depthwise kernels] in _kernels_impl.h). */
#define FC_ANY_NONFINITE(T, suf)                                               \
static inline int fc_any_nonfinite_##suf(const T *p, fc_idx n)                 \
{                                                                              \
    T acc[16] = {0};                                                           \
    fc_idx i = 0;                                                              \
    for (; i + 16 <= n; i += 16)                                               \
        for (int l = 0; l < 16; l++) acc[l] += p[i + l] - p[i + l];            \
    for (; i < n; i++) acc[0] += p[i] - p[i];                                  \
    T s = 0;                                                                   \
    for (int l = 0; l < 16; l++) s += acc[l];                                  \
    return s != 0;                                                             \
}
FC_ANY_NONFINITE(float, f32)
FC_ANY_NONFINITE(double, f64)

/* Its plane: rows of whole 8-row blocks plus the taps' K - 1, and a pitch of
 * whole 2-vector strips plus K - 1 columns, rounded up to a vector. */
#define FC_DW_PADDED_ROWS(rows, K) (((rows) + 7) / 8 * 8 + (K) - 1)
#define FC_DW_PADDED_PITCH(OW, K, vlen) \
    ((((OW) + 2 * (vlen) - 1) / (2 * (vlen)) * 2 * (vlen) + (K) - 1 + (vlen) - 1) / (vlen) * (vlen))

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define FC_HAVE_X86 1
#else
#define FC_HAVE_X86 0
#endif

/* The masked depthwise tile's loops over taps and rows have constant bounds and
 * unroll fully, so its accumulators stay in registers.  Sanitizer builds
 * (FASTCONV_SANITIZE in setup.py defines FC_SANITIZE) keep them rolled: GCC's
 * register allocator took minutes over the instrumented, unrolled AVX2 code.
 * The same loads, stores and arithmetic either way. */
#define FC_PRAGMA(x) _Pragma(#x)
#ifdef FC_SANITIZE
#define FC_DW_UNROLL(n) FC_PRAGMA(GCC unroll 1)
#else
#define FC_DW_UNROLL(n) FC_PRAGMA(GCC unroll n)
#endif

/* The entry points of one (ISA, dtype) instance of _kernels_impl.h; the
 * definitions there are checked against these. */
#define FC_DECLARE(T, S)                                                                   \
FC_HIDDEN void fc_gemm_task_##S(const fc_gemm_args *a, fc_idx p0, fc_idx p1, int m0,     \
                                int m1, void *scratch);                                  \
FC_HIDDEN void fc_implicit_task_##S(const fc_implicit_args *a, fc_idx n, fc_idx q0,      \
                                    fc_idx q1, int m0, int m1, void *scratch);           \
FC_HIDDEN void fc_implicit_cl_task_##S(const fc_implicit_args *a, fc_idx n0, fc_idx n1,  \
                                       int part, int nparts, int k0, void *scratch);     \
FC_HIDDEN fc_idx fc_cl_computed_##S(fc_idx OH, fc_idx OW, fc_idx PW);                     \
FC_HIDDEN void fc_pad_plane_##S(const T *src, fc_idx W, const int32_t *rowmap,           \
                                const int32_t *colmap, fc_idx PH, fc_idx PW, fc_idx pl,  \
                                int sh, int sw, fc_idx PWs, fc_idx phase_stride,         \
                                fc_idx PHs, T *dst);                                     \
FC_HIDDEN void fc_pack_phases_##S(const T *base, int g, int M, int m0, int m1, int C_g,  \
                                  int nphase, const int *ntaps, fc_idx m_stride,         \
                                  const int32_t *const *tabs, T *const *dsts,            \
                                  int *nonfinite);                                       \
FC_HIDDEN void fc_direct_task_##S(const fc_direct_args *a, fc_idx r0, fc_idx r1,         \
                                  void *scratch);                                        \
FC_HIDDEN void fc_dwcl_task_##S(const fc_dwcl_args *a, fc_idx n, fc_idx cb, fc_idx r0,  \
                                fc_idx r1, void *scratch);                               \
FC_HIDDEN void fc_dwtcl_task_##S(const fc_dwtcl_args *a, fc_idx n, fc_idx cb, fc_idx r0, \
                                 fc_idx r1, void *scratch);                              \
FC_HIDDEN void fc_winograd_task_##S(const fc_winograd_args *a, fc_idx n, fc_idx q0,      \
                                    fc_idx q1, int m0, int m1, void *scratch, int *bad); \
FC_HIDDEN int fc_winograd_weights_##S(const T *w, fc_idx M, fc_idx C, fc_idx k0,         \
                                      fc_idx k1, T *U);                                   \
FC_HIDDEN void fc_winograd_input_task_##S(const fc_winograd_args *subs,                   \
                                          const fc_wino_chunk *ch, fc_idx c0, fc_idx c1,  \
                                          void *V, int *bad);                             \
FC_HIDDEN void fc_winograd_panel_task_##S(const fc_winograd_args *subs,                   \
                                          const fc_wino_chunk *chunks, int nchunk,        \
                                          const void *V, const void *w, int panel,        \
                                          void *scratch, int *bad);                       \
FC_HIDDEN void fc_pad_plane3_##S(const T *src, fc_idx W, const int32_t *rowmap,          \
                                 fc_idx nrows, fc_idx PWs, fc_idx pl, fc_idx phase_stride, \
                                 T *dst);                                                  \
FC_HIDDEN int fc_winograd_t_weights_##S(const T *w, fc_idx C, fc_idx K, fc_idx k0,       \
                                        fc_idx k1, const int *f, T *U);                  \
FC_HIDDEN void fc_winograd_t_task_##S(const fc_winograd_args *a, fc_idx q0, fc_idx q1,   \
                                      int m0, int m1, void *scratch, int *bad);  \
FC_HIDDEN void fc_pixel_task_##S(const T *x, fc_idx N, fc_idx xs, const T *w, fc_idx R,   \
                                 int mrows, const T *bias, T *y, fc_idx ys, void *scratch);
FC_DECLARE(float, f32_generic)
FC_DECLARE(double, f64_generic)
#if FC_HAVE_X86
FC_DECLARE(float, f32_avx2)
FC_DECLARE(double, f64_avx2)
FC_DECLARE(float, f32_avx512)
FC_DECLARE(double, f64_avx512)
#endif
#undef FC_DECLARE

#endif /* FASTCONV_KERNELS_BASE_H */
