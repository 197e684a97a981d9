/* Kernel bodies, included once per (ISA, dtype) by _kernels_<isa>.c, through
 * _kernels_dtypes.h, with
 *   FC_ISA_NAME (generic | avx2 | avx512), FC_VBYTES (vector bytes),
 *   FC_MR (micro-tile rows), FC_T (float | double), FC_SUF (f32 | f64).
 * Written with GCC vector extensions, so one source serves every ISA; the
 * file's `#pragma GCC target` picks the instructions.  The entry points
 * (not static) are declared in _kernels_base.h; see the legend and the notes
 * in _kernels.h.  No include guard on purpose.
 */

#define FC_CAT_(a, b, c, d) a##_##b##_##c##_##d
#define FC_CAT(a, b, c, d) FC_CAT_(a, b, c, d)
#define FC_FN(kind) FC_CAT(fc, kind, FC_SUF, FC_ISA_NAME)

#define VT FC_CAT(fcv, t, FC_SUF, FC_ISA_NAME)
#define VTU FC_CAT(fcv, u, FC_SUF, FC_ISA_NAME)
typedef FC_T VT __attribute__((vector_size(FC_VBYTES), __may_alias__));
typedef FC_T VTU __attribute__((vector_size(FC_VBYTES), aligned(sizeof(FC_T)), __may_alias__));

#define VLEN FC_VLEN
/* Broadcast a scalar (a plain `(VT){0} + s` keeps an add: x + 0.0 is not x for -0.0). */
#if FC_VLEN == 2
#define SPLAT(s) ((VT){(s), (s)})
#elif FC_VLEN == 4
#define SPLAT(s) ((VT){(s), (s), (s), (s)})
#elif FC_VLEN == 8
#define SPLAT(s) ((VT){(s), (s), (s), (s), (s), (s), (s), (s)})
#elif FC_VLEN == 16
#define SPLAT(s) ((VT){(s), (s), (s), (s), (s), (s), (s), (s), \
                       (s), (s), (s), (s), (s), (s), (s), (s)})
#else
#error "unsupported vector length"
#endif
#define NR (FC_NV * VLEN)
/* Vectors of a packed-B row the micro-kernel reads for a chunk of ncol pixels
 * (FC_UK_PACKED below): the packs fill no more (the rest of the row is never read). */
#define FC_UK_NVEC(ncol) \
    ((ncol) <= VLEN && FC_NV > 1 ? 1 : (ncol) <= 2 * VLEN && FC_NV > 2 ? 2 : FC_NV)

/* C[MR x NR] (row stride ldc) = (init ? broadcast(init) : C) + A * B, with A read
 * in place: row m at a + m*lda (rows past `mrows` repeat the last one; their
 * results are never stored).  The variants differ only in where B's row k is:
 *   ukernel:     packed, b + k*NR (aligned);
 *   ukernel_off: in a padded input, b + koff[k] (Note [implicit GEMM on a padded copy]);
 * in their width (NV_ vectors), their height, in where C's vectors are (COFF),
 * and in A's column of reduction index k (ACOL: k, or aoff[k] for the
 * ukernel_a variants, Note [transposed border classes]).
 * noinline: one body for in-place and staged tiles, so both round alike. */
#define FC_UKERNEL(NAME, MR_, NV_, EXTRA_PARAM, BROW, VLOAD, COFF, ACOL)                       \
__attribute__((noinline)) static void NAME(fc_idx kc, const FC_T *restrict a,         \
                                           fc_idx lda, int mrows,                     \
                                           const FC_T *restrict b, EXTRA_PARAM,       \
                                           FC_T *restrict c, fc_idx ldc,              \
                                           const FC_T *restrict init)                 \
{                                                                                     \
    VT acc[MR_][NV_];                                                               \
    const FC_T *ar[MR_];                                                            \
    for (int m = 0; m < MR_; m++) ar[m] = a + (m < mrows ? m : mrows - 1) * lda;    \
    _Pragma("GCC unroll 16")                                                          \
    for (int m = 0; m < MR_; m++)                                                   \
        _Pragma("GCC unroll 4")                                                       \
        for (int v = 0; v < NV_; v++)                                               \
            acc[m][v] = init ? SPLAT(init[m]) : (VT)*(const VTU *)(c + m * ldc + COFF(v)); \
    for (fc_idx k = 0; k < kc; k++) {                                                 \
        const FC_T *brow = BROW;                                                      \
        VT bv[NV_];                                                                   \
        _Pragma("GCC unroll 4")                                                       \
        for (int v = 0; v < NV_; v++) bv[v] = VLOAD(brow + v * VLEN);               \
        _Pragma("GCC unroll 16")                                                      \
        for (int m = 0; m < MR_; m++) {                                             \
            const FC_T as = ar[m][ACOL];                                              \
            const VT av = SPLAT(as);                                                  \
            _Pragma("GCC unroll 4")                                                   \
            for (int v = 0; v < NV_; v++) acc[m][v] += av * bv[v];                  \
        }                                                                             \
    }                                                                                 \
    _Pragma("GCC unroll 16")                                                          \
    for (int m = 0; m < MR_; m++)                                                   \
        _Pragma("GCC unroll 4")                                                       \
        for (int v = 0; v < NV_; v++) *(VTU *)(c + m * ldc + COFF(v)) = acc[m][v]; \
}
#define FC_LOAD_ALIGNED(p) (*(const VT *)(p))
#define FC_LOAD_UNALIGNED(p) ((VT)*(const VTU *)(p))
/* Where a tile row's vectors go: side by side, or (ukernel_vo) each at its own
 * offset vo[v] from c, as a chunk of a batched GEMM whose images' output planes
 * split it between vectors (Note [vector-wise tiles]). */
#define FC_COFF_ADJACENT(v) ((v) * VLEN)
#define FC_COFF_VO(v) (vo[v])
FC_UKERNEL(FC_FN(ukernel), FC_MR, FC_NV, int unused_, b + k * NR, FC_LOAD_ALIGNED,
           FC_COFF_ADJACENT, k)
FC_UKERNEL(FC_FN(ukernel_vo), FC_MR, FC_NV, const fc_idx *restrict vo, b + k * NR, FC_LOAD_ALIGNED,
           FC_COFF_VO, k)
FC_UKERNEL(FC_FN(ukernel_off), FC_MR, FC_NV, const fc_idx *restrict koff, b + koff[k],
           FC_LOAD_UNALIGNED, FC_COFF_ADJACENT, k)
/* Half-height tile for a panel's last few rows (K_g = 3 in a GAN's output layer):
 * half the wasted multiply-adds of a clamped full tile. */
FC_UKERNEL(FC_FN(ukernel_off_half), (FC_MR / 2), FC_NV, const fc_idx *restrict koff, b + koff[k],
           FC_LOAD_UNALIGNED, FC_COFF_ADJACENT, k)
/* Narrow tiles for a grid's last chunk when it has at most one or two vectors
 * of pixels (7x7 and 14x14 layers): a third or two thirds of the lanes of a
 * full tile.  Each lane sums exactly as in the full tile. */
FC_UKERNEL(FC_FN(ukernel_v1), FC_MR, 1, int unused_, b + k * NR, FC_LOAD_ALIGNED,
           FC_COFF_ADJACENT, k)
FC_UKERNEL(FC_FN(ukernel_v2), FC_MR, 2, int unused_, b + k * NR, FC_LOAD_ALIGNED,
           FC_COFF_ADJACENT, k)
/* The same with B's rows packed one or two vectors apart (Note [Winograd panels]). */
FC_UKERNEL(FC_FN(ukernel_v1p), FC_MR, 1, int unused_, b + k * VLEN, FC_LOAD_ALIGNED,
           FC_COFF_ADJACENT, k)
FC_UKERNEL(FC_FN(ukernel_v2p), FC_MR, 2, int unused_, b + k * 2 * VLEN, FC_LOAD_ALIGNED,
           FC_COFF_ADJACENT, k)
FC_UKERNEL(FC_FN(ukernel_off_v1), FC_MR, 1, const fc_idx *restrict koff, b + koff[k],
           FC_LOAD_UNALIGNED, FC_COFF_ADJACENT, k)
FC_UKERNEL(FC_FN(ukernel_off_v2), FC_MR, 2, const fc_idx *restrict koff, b + koff[k],
           FC_LOAD_UNALIGNED, FC_COFF_ADJACENT, k)
/* Note [transposed border classes]: A's columns through aoff, B packed. */
FC_UKERNEL(FC_FN(ukernel_a), FC_MR, FC_NV, const int32_t *restrict aoff, b + k * NR,
           FC_LOAD_ALIGNED, FC_COFF_ADJACENT, aoff[k])
FC_UKERNEL(FC_FN(ukernel_a_v1), FC_MR, 1, const int32_t *restrict aoff, b + k * NR,
           FC_LOAD_ALIGNED, FC_COFF_ADJACENT, aoff[k])
FC_UKERNEL(FC_FN(ukernel_a_v2), FC_MR, 2, const int32_t *restrict aoff, b + k * NR,
           FC_LOAD_ALIGNED, FC_COFF_ADJACENT, aoff[k])
#undef FC_UKERNEL
#undef FC_LOAD_ALIGNED
#undef FC_LOAD_UNALIGNED
#undef FC_COFF_ADJACENT
#undef FC_COFF_VO

/* Copy a run of n values (no memmove call for these short runs). */
static inline void FC_FN(copy_run)(FC_T *restrict d, const FC_T *restrict s, fc_idx n)
{
    fc_idx l = 0;
    for (; l + VLEN <= n; l += VLEN) *(VTU *)(d + l) = *(const VTU *)(s + l);
    for (; l < n; l++) d[l] = s[l];
}

/* Gather B rows [r0, r0+kc) for pixels [p0, p0+np) into bp[chunk][k][NR]. */
/* no loop-to-memset/memmove: the runs are short and a libc call per run costs more. */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
static void FC_FN(pack_b)(const fc_gemm_args *g, fc_idx r0, fc_idx kc, fc_idx p0, fc_idx np,
                          FC_T *restrict bp)
{
    const FC_T *x = (const FC_T *)g->x;
    const fc_idx ntaps = (fc_idx)g->ntap_h * g->ntap_w;
    /* Divisions once per call: (c, ti, tj) of row r0 and (n, py, px) of pixel p0. */
    const fc_idx plane = g->P_h * g->P_w, rem0 = p0 % plane;
    const fc_idx n0 = p0 / plane, py0 = rem0 / g->P_w, px0 = rem0 % g->P_w;
    fc_idx c = r0 / ntaps, ti = (r0 % ntaps) / g->ntap_w, tj = (r0 % ntaps) % g->ntap_w;
    for (fc_idx r = 0; r < kc; r++) {
        const FC_T *xc = x + c * g->x_cstride + n0 * g->x_nstride;
        const int32_t *rt = g->rowtab + ti * g->P_h;
        const int32_t *ct = g->coltab + tj * g->P_w;
        const fc_idx lo = g->col_lo[tj], hi = g->col_hi[tj];
        FC_T *d = bp + r * NR;
        fc_idx py = py0, px = px0;
        fc_idx lane = 0, done = 0;
        while (done < np) {
            fc_idx run = g->P_w - px;          /* pixels left on this grid row */
            if (run > np - done) run = np - done;
            const int32_t srow = rt[py];
            if (srow < 0) {
                for (fc_idx q = 0; q < run; q++) {
                    d[lane] = (FC_T)0;
                    if (++lane == NR) { lane = 0; d += kc * NR; }
                }
            } else {
                const FC_T *src = xc + (fc_idx)srow * g->x_rstride;
                const fc_idx step = g->col_step;
                fc_idx q = 0;
                for (; q < run && px + q < lo; q++) {          /* left border */
                    const int32_t col = ct[px + q];
                    d[lane] = col >= 0 ? src[col] : (FC_T)0;
                    if (++lane == NR) { lane = 0; d += kc * NR; }
                }
                if (q < run && px + q < hi) {                 /* interior: strided copy */
                    fc_idx end = hi - px < run ? hi - px : run;
                    const FC_T *s0 = src + ct[px + q];
                    while (q < end) {
                        fc_idx m = NR - lane < end - q ? NR - lane : end - q;
                        if (step == 1)
                            FC_FN(copy_run)(d + lane, s0, m);
                        else
                            for (fc_idx l = 0; l < m; l++) d[lane + l] = s0[l * step];
                        s0 += m * step;
                        q += m;
                        lane += m;
                        if (lane == NR) { lane = 0; d += kc * NR; }
                    }
                }
                for (; q < run; q++) {                         /* right border */
                    const int32_t col = ct[px + q];
                    d[lane] = col >= 0 ? src[col] : (FC_T)0;
                    if (++lane == NR) { lane = 0; d += kc * NR; }
                }
            }
            done += run;
            px = 0;
            if (++py == g->P_h) { py = 0; xc += g->x_nstride; }   /* next image */
        }
        if (lane) for (const fc_idx end = FC_UK_NVEC(lane) * VLEN; lane < end; lane++)
            d[lane] = (FC_T)0;
        if (++tj == g->ntap_w) { tj = 0; if (++ti == g->ntap_h) { ti = 0; c++; } }
    }
}

/* pack_b a value at a time, for any pixel order (Note [batch lanes] where the
 * gather table does not fit): rows [r0, r0+kc) for pixels [p0, p0+np). */
static void FC_FN(pack_b_pixels)(const fc_gemm_args *g, fc_idx r0, fc_idx kc, fc_idx p0,
                                 fc_idx np, FC_T *restrict bp)
{
    const FC_T *x = (const FC_T *)g->x;
    const fc_idx ntaps = (fc_idx)g->ntap_h * g->ntap_w;
    for (fc_idx r = 0; r < kc; r++) {
        const fc_idx k = r0 + r;
        const fc_idx c = k / ntaps, t = k % ntaps;
        const int32_t *rt = g->rowtab + t / g->ntap_w * g->P_h;
        const int32_t *ct = g->coltab + t % g->ntap_w * g->P_w;
        fc_idx n, py, px;
        fc_pix_at(g, p0, &n, &py, &px);
        for (fc_idx l = 0; l < np; l++) {
            const int32_t row = rt[py], col = ct[px];
            bp[l / NR * kc * NR + r * NR + l % NR] =
                row < 0 || col < 0 ? (FC_T)0
                : x[c * g->x_cstride + n * g->x_nstride + row * g->x_rstride + col];
            fc_pix_next(g, &n, &py, &px);
        }
        for (fc_idx l = np; l < (np + NR - 1) / NR * NR; l++)
            bp[l / NR * kc * NR + r * NR + l % NR] = (FC_T)0;
    }
}

/* Masked vector loads and stores (AVX-512, AVX2): Note [masked depthwise], Note
 * [gather runs], Note [padded depthwise] and implicit_task's write-out.
 * Masked-off lanes touch no memory. */
#if defined(FC_HAVE_X86) && FC_HAVE_X86 && (FC_VBYTES == 64 || FC_VBYTES == 32)
#define FC_MASKED 1
#define MT FC_CAT(fcm, t, FC_SUF, FC_ISA_NAME)
#if FC_VBYTES == 64
typedef unsigned MT;
#else
typedef __m256i MT;
#endif
/* Lanes l with lo <= l < hi. */
static inline MT FC_FN(lanes)(fc_idx lo, fc_idx hi)
{
    lo = lo < 0 ? 0 : lo > VLEN ? VLEN : lo;
    hi = hi < 0 ? 0 : hi > VLEN ? VLEN : hi;
#if FC_VBYTES == 64
    return hi <= lo ? 0u : ((1u << hi) - 1u) & ~((1u << lo) - 1u);
#elif FC_VLEN == 8
    const __m256i l = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(l, _mm256_set1_epi32((int)lo - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), l));
#else
    const __m256i l = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_and_si256(_mm256_cmpgt_epi64(l, _mm256_set1_epi64x(lo - 1)),
                            _mm256_cmpgt_epi64(_mm256_set1_epi64x(hi), l));
#endif
}
/* Lanes l with bit l of b set. */
static inline MT FC_FN(bits)(unsigned b)
{
#if FC_VBYTES == 64
    return b;
#elif FC_VLEN == 8
    const __m256i l = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)b), l), l);
#else
    const __m256i l = _mm256_setr_epi64x(1, 2, 4, 8);
    return _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x(b), l), l);
#endif
}
static inline VT FC_FN(mload)(const FC_T *p, MT m)
{
#if FC_VBYTES == 64 && FC_VLEN == 16
    return (VT)_mm512_maskz_loadu_ps((__mmask16)m, p);
#elif FC_VBYTES == 64
    return (VT)_mm512_maskz_loadu_pd((__mmask8)m, p);
#elif FC_VLEN == 8
    return (VT)_mm256_maskload_ps(p, m);
#else
    return (VT)_mm256_maskload_pd(p, m);
#endif
}
static inline void FC_FN(mstore)(FC_T *p, MT m, VT v)
{
#if FC_VBYTES == 64 && FC_VLEN == 16
    _mm512_mask_storeu_ps(p, (__mmask16)m, (__m512)v);
#elif FC_VBYTES == 64
    _mm512_mask_storeu_pd(p, (__mmask8)m, (__m512d)v);
#elif FC_VLEN == 8
    _mm256_maskstore_ps(p, m, (__m256)v);
#else
    _mm256_maskstore_pd(p, m, (__m256d)v);
#endif
}

/* A gemm tile row of ncol lanes to and from its outputs, where the lanes fall
 * in runs: lanes [seg[s], seg[s+1]) go to y[off[seg[s]]] on.  Whole tile
 * vectors, stored and loaded by masks (a narrower access next to the
 * micro-kernel's vector ones stalls store forwarding, see implicit_task). */
static inline void FC_FN(runs_out)(FC_T *y, const FC_T *restrict t, int ncol,
                                   const int *seg, int nseg, const fc_idx *off)
{
    for (int l0 = 0; l0 < ncol; l0 += VLEN) {
        const VT v = *(const VT *)(t + l0);
        for (int s = 0; s < nseg; s++) {
            const int a = seg[s] - l0, b = seg[s + 1] - l0;
            if (b > 0 && a < VLEN) FC_FN(mstore)(y + off[seg[s]] - a, FC_FN(lanes)(a, b), v);
        }
    }
}
static inline void FC_FN(runs_in)(FC_T *restrict t, const FC_T *y, int ncol,
                                  const int *seg, int nseg, const fc_idx *off)
{
    for (int l0 = 0; l0 < ncol; l0 += VLEN) {
        VT v = (VT){0};
        for (int s = 0; s < nseg; s++) {
            const int a = seg[s] - l0, b = seg[s + 1] - l0;
            if (b <= 0 || a >= VLEN) continue;
            const MT m = FC_FN(lanes)(a, b);
#if FC_VBYTES == 64 && FC_VLEN == 16
            v = (VT)_mm512_mask_loadu_ps((__m512)v, (__mmask16)m, y + off[seg[s]] - a);
#elif FC_VBYTES == 64
            v = (VT)_mm512_mask_loadu_pd((__m512d)v, (__mmask8)m, y + off[seg[s]] - a);
#else       /* the masked-off lanes load as zeros, where v has them */
            v = (VT)_mm256_or_si256((__m256i)v,
                                    (__m256i)FC_FN(mload)(y + off[seg[s]] - a, m));
#endif
        }
        *(VT *)(t + l0) = v;
    }
}

/* The even lanes of the 2*VLEN values a then b: (a0, a2, ..., b0, b2, ...). */
static inline VT FC_FN(evens)(VT a, VT b)
{
#if FC_VBYTES == 64 && FC_VLEN == 16
    const __m512i e = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14,
                                        16, 18, 20, 22, 24, 26, 28, 30);
    return (VT)_mm512_permutex2var_ps((__m512)a, e, (__m512)b);
#elif FC_VBYTES == 64
    const __m512i e = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    return (VT)_mm512_permutex2var_pd((__m512d)a, e, (__m512d)b);
#elif FC_VLEN == 8
    const __m256 t = _mm256_shuffle_ps((__m256)a, (__m256)b, 0x88);   /* a0 a2 b0 b2 | a4 a6 b4 b6 */
    return (VT)_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), 0xD8));
#else
    return (VT)_mm256_permute4x64_pd(_mm256_unpacklo_pd((__m256d)a, (__m256d)b), 0xD8);
#endif
}
#if FC_VBYTES == 64
/* The odd lanes of the 2*VLEN values a then b: (a1, a3, ..., b1, b3, ...). */
static inline VT FC_FN(odds)(VT a, VT b)
{
#if FC_VLEN == 16
    const __m512i e = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15,
                                        17, 19, 21, 23, 25, 27, 29, 31);
    return (VT)_mm512_permutex2var_ps((__m512)a, e, (__m512)b);
#else
    const __m512i e = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    return (VT)_mm512_permutex2var_pd((__m512d)a, e, (__m512d)b);
#endif
}
/* Lanes sh .. VLEN - 1 of a, then lanes 0 .. sh - 1 of b (sh 1 to 6). */
static inline __attribute__((always_inline)) VT FC_FN(shiftcat)(VT a, VT b, int sh)
{
#if FC_VLEN == 16
#define FC_ALIGNR(n) (VT)_mm512_alignr_epi32((__m512i)b, (__m512i)a, n)
#else
#define FC_ALIGNR(n) (VT)_mm512_alignr_epi64((__m512i)b, (__m512i)a, n)
#endif
    return sh == 1 ? FC_ALIGNR(1) : sh == 2 ? FC_ALIGNR(2) : sh == 3 ? FC_ALIGNR(3)
           : sh == 4 ? FC_ALIGNR(4) : sh == 5 ? FC_ALIGNR(5) : FC_ALIGNR(6);
#undef FC_ALIGNR
}
#endif
#endif

#ifdef FC_MASKED
#define FC_GATHER_RUNS 1
#define FC_GATHER_NORUN INT32_MIN
#define FC_GATHER_RUN2 0x80000000u   /* rm: a run at stride 2 (Note [gather runs]) */
#if FC_VBYTES == 64 && FC_VLEN == 16
#define FC_GATHER_WINDOWS 1          /* Note [gather windows] */
#endif
#endif

/* d[l] = base[o[l]], or 0 where o[l] < 0, for one vector of lanes (Note [gathered B]). */
static inline void FC_FN(gather)(FC_T *restrict d, const FC_T *restrict base,
                                 const int32_t *restrict o)
{
#if defined(FC_HAVE_X86) && FC_HAVE_X86 && FC_VBYTES == 64 && FC_VLEN == 16
    const __m512i idx = _mm512_loadu_si512((const void *)o);
    const __mmask16 m = _mm512_cmpge_epi32_mask(idx, _mm512_setzero_si512());
    _mm512_storeu_ps(d, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, base, 4));
#elif defined(FC_HAVE_X86) && FC_HAVE_X86 && FC_VBYTES == 64 && FC_VLEN == 8
    const __m256i idx = _mm256_loadu_si256((const __m256i *)o);
    const __mmask8 m = _mm256_cmpge_epi32_mask(idx, _mm256_setzero_si256());
    _mm512_storeu_pd(d, _mm512_mask_i32gather_pd(_mm512_setzero_pd(), m, idx, base, 8));
#elif defined(FC_HAVE_X86) && FC_HAVE_X86 && FC_VBYTES == 32 && FC_VLEN == 8
    const __m256i idx = _mm256_loadu_si256((const __m256i *)o);
    const __m256i m = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(-1));
    _mm256_storeu_ps(d, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), base, idx,
                                                 _mm256_castsi256_ps(m), 4));
#elif defined(FC_HAVE_X86) && FC_HAVE_X86 && FC_VBYTES == 32 && FC_VLEN == 4
    const __m128i idx = _mm_loadu_si128((const __m128i *)o);
    const __m256i m = _mm256_cvtepi32_epi64(_mm_cmpgt_epi32(idx, _mm_set1_epi32(-1)));
    _mm256_storeu_pd(d, _mm256_mask_i32gather_pd(_mm256_setzero_pd(), base, idx,
                                                 _mm256_castsi256_pd(m), 8));
#else
    for (int l = 0; l < VLEN; l++) d[l] = o[l] >= 0 ? base[o[l]] : (FC_T)0;
#endif
}

#if defined(FC_HAVE_X86) && FC_HAVE_X86 && FC_VBYTES == 64 && FC_VLEN == 16
/* pack_phases where every phase has four taps among the first 16 values of
 * w[c, m] (a 4x4 kernel at stride 2): each of four channels' weights is one
 * vector load, and a phase's 16 values (four channels, four taps each) come
 * from two two-source permutes and a 128-bit shuffle, instead of a gather
 * over four cache lines (the gathers took ~10% of dcgan-up1).  The same
 * values land in the same places.  Returns -1 where it does not apply, else
 * 1 if a packed value is Inf or NaN, 0 if not. */
static int FC_FN(pack_phases4)(const FC_T *restrict base, int g, int M, int m0, int m1,
                               int C_g, int nphase, const int *restrict ntaps,
                               fc_idx m_stride, const int32_t *const *tabs,
                               FC_T *const *dsts)
{
    if (C_g < 4 || nphase < 1 || nphase > 16) return -1;
    for (int p = 0; p < nphase; p++)    /* (an empty phase's table may hold one entry) */
        if (ntaps[p] != 4) return -1;
    const fc_idx cs = (fc_idx)tabs[0][4] - tabs[0][0];      /* channel to channel */
    int maxtap = 0;
    __m512i idx[16];
    for (int p = 0; p < nphase; p++) {
        int32_t lane[16];       /* tap t of the first source, then of the second */
        for (int t = 0; t < 4; t++) {
            const int32_t o = tabs[p][t];
            if (o < 0 || o >= 16 || tabs[p][4 + t] != o + cs) return -1;
            maxtap = o > maxtap ? o : maxtap;
            lane[t] = lane[8 + t] = o;
            lane[4 + t] = lane[12 + t] = 16 + o;
        }
        idx[p] = _mm512_loadu_si512((const void *)lane);
    }
    /* Lanes up to the last tap: between two values the generic path reads. */
    const __mmask16 lm = (__mmask16)((1u << (maxtap + 1)) - 1);
    const int cq = C_g & ~3;
    const fc_idx kred = (fc_idx)4 * C_g;
    __m512 acc = _mm512_setzero_ps();   /* stays 0 unless some v - v is NaN */
    FC_T sacc = 0;
    for (int cb = 0; cb < cq; cb += 16) {
        const int ce = cb + 16 < cq ? cb + 16 : cq;
        for (int m = m0; m < m1; m++) {
            const FC_T *src = base + m * m_stride;
            for (int c = cb; c < ce; c += 4) {
                const __m512 r0 = _mm512_maskz_loadu_ps(lm, src + c * cs);
                const __m512 r1 = _mm512_maskz_loadu_ps(lm, src + (c + 1) * cs);
                const __m512 r2 = _mm512_maskz_loadu_ps(lm, src + (c + 2) * cs);
                const __m512 r3 = _mm512_maskz_loadu_ps(lm, src + (c + 3) * cs);
                for (int p = 0; p < nphase; p++) {
                    const __m512 a = _mm512_permutex2var_ps(r0, idx[p], r1);
                    const __m512 b = _mm512_permutex2var_ps(r2, idx[p], r3);
                    const __m512 v = _mm512_shuffle_f32x4(a, b, 0x44);
                    acc = _mm512_add_ps(acc, _mm512_sub_ps(v, v));
                    _mm512_storeu_ps(dsts[p] + ((fc_idx)g * M + m) * kred + 4 * c, v);
                }
            }
        }
    }
    for (int m = m0; m < m1; m++)       /* the last C_g % 4 channels */
        for (int p = 0; p < nphase; p++) {
            FC_T *d = dsts[p] + ((fc_idx)g * M + m) * kred;
            for (fc_idx j = 4 * (fc_idx)cq; j < kred; j++) {
                d[j] = base[m * m_stride + tabs[p][j]];
                sacc += d[j] - d[j];
            }
        }
    return sacc + _mm512_reduce_add_ps(acc) != 0;
}
#endif

#ifdef FC_MASKED
static __attribute__((noinline)) int
FC_FN(pack_phases1)(const FC_T *restrict base, int g, int M, int m0, int m1, int C_g,
                    int nphase, const int *restrict ntaps, fc_idx m_stride,
                    const int32_t *const *tabs, FC_T *const *dsts);
#endif

/* The transposed conv's weights of every stride phase at once, each phase p a
 * row-major [M][kred_p] matrix (kred_p = C_g*ntaps[p]) through its offset
 * table: dsts[p][(g*M + m)*kred_p + j] = base[m*m_stride + tabs[p][j]], rows
 * [m0, m1) of group g (base already at the group).  Blocked over 16 channels,
 * and every phase packed from a block before the next: the block's weights
 * (all taps) are read from memory once, not once per phase.  Vector gathers
 * as in Note [gathered B], or pack_phases4's permutes where they apply. */
void FC_FN(pack_phases)(const FC_T *restrict base, int g, int M, int m0, int m1,
                               int C_g, int nphase, const int *restrict ntaps,
                               fc_idx m_stride, const int32_t *const *tabs,
                               FC_T *const *dsts, int *nonfinite)
{
#ifdef FC_MASKED
    {
        const int done = FC_FN(pack_phases1)(base, g, M, m0, m1, C_g, nphase, ntaps, m_stride,
                                             tabs, dsts);
        if (done > 0) *nonfinite = 1;
        if (done >= 0) return;
    }
#endif
#if defined(FC_HAVE_X86) && FC_HAVE_X86 && FC_VBYTES == 64 && FC_VLEN == 16
    const int done = FC_FN(pack_phases4)(base, g, M, m0, m1, C_g, nphase, ntaps, m_stride,
                                         tabs, dsts);
    if (done > 0) *nonfinite = 1;
    if (done >= 0) return;
#endif
    VT acc = SPLAT((FC_T)0);    /* stays 0 unless some v - v is NaN (an Inf or a NaN) */
    FC_T sacc = 0;
    for (int cb = 0; cb < C_g; cb += 16) {
        const int ce = cb + 16 < C_g ? cb + 16 : C_g;
        for (int m = m0; m < m1; m++) {
            const FC_T *src = base + m * m_stride;
            for (int p = 0; p < nphase; p++) {
                const fc_idx kred = (fc_idx)C_g * ntaps[p], j1 = (fc_idx)ce * ntaps[p];
                const int32_t *restrict tab = tabs[p];
                FC_T *restrict d = dsts[p] + ((fc_idx)g * M + m) * kred;
                fc_idx j = (fc_idx)cb * ntaps[p];
                for (; j + VLEN <= j1; j += VLEN) {
                    FC_FN(gather)(d + j, src, tab + j);
                    const VT v = (VT)*(const VTU *)(d + j);
                    acc += v - v;
                }
                for (; j < j1; j++) {
                    d[j] = src[tab[j]];
                    sacc += d[j] - d[j];
                }
            }
        }
    }
    for (int l = 0; l < VLEN; l++) sacc += acc[l];
    if (sacc != 0) *nonfinite = 1;
}

/* The table of Note [gathered B] for pixels [p0, p0+np) padded to nbr lanes:
 * tab[t*nbr + l] = offset of tap t's value for lane l from image p0's channel
 * 0, or -1 for a zero.  Returns 0 (no table) where an offset needs 64 bits. */
static int FC_FN(gather_table)(const fc_gemm_args *g, fc_idx p0, fc_idx np, fc_idx nbr,
                               int32_t *restrict tab)
{
    /* Images from p0's (absolute with the images innermost, Note [batch lanes]) */
    fc_idx n0, py0, px0;
    fc_pix_at(g, p0, &n0, &py0, &px0);
    if (!g->batch_inner) n0 = 0;
    for (int ti = 0; ti < g->ntap_h; ti++)
        for (int tj = 0; tj < g->ntap_w; tj++) {
            int32_t *o = tab + ((fc_idx)ti * g->ntap_w + tj) * nbr;
            const int32_t *rt = g->rowtab + ti * g->P_h;
            const int32_t *ct = g->coltab + tj * g->P_w;
            fc_idx n = n0, py = py0, px = px0;
            for (fc_idx l = 0; l < np; l++) {
                const int32_t row = rt[py], col = ct[px];
                if (row < 0 || col < 0) {
                    o[l] = -1;
                } else {
                    const fc_idx v = n * g->x_nstride + row * g->x_rstride + col;
                    if (v > INT32_MAX) return 0;
                    o[l] = (int32_t)v;
                }
                fc_pix_next(g, &n, &py, &px);
            }
            for (fc_idx l = np; l < nbr; l++) o[l] = -1;
#ifdef FC_GATHER_RUNS
            /* Note [gather runs]: a vector whose valid lanes read consecutive values. */
            int32_t *rb = tab + FC_GATHER_ENTRIES + ((fc_idx)ti * g->ntap_w + tj) * (nbr / VLEN);
            int32_t *rm = rb + FC_GATHER_RUN_ENTRIES;
            for (fc_idx v = 0; v < nbr / VLEN; v++) {
                int32_t base = 0, base2 = 0, mask = 0, run = 1, run2 = 1;
                uint32_t m2 = 0;     /* stride 2: value bits of the two loads */
                for (int l = 0; l < VLEN; l++) {
                    const int32_t ol = o[v * VLEN + l];
                    if (ol < 0) continue;
                    if (!mask) base = ol - l, base2 = ol - 2 * l;
                    else run &= ol - l == base, run2 &= ol - 2 * l == base2;
                    mask |= 1 << l;
                    m2 |= 1u << 2 * l;   /* value 2l of the two loads' 2 * VLEN */
                }
                /* Else at stride 2 (a strided conv's pixels along a grid row):
                 * two masked loads from base2, bit 2l of m2 for lane l. */
                run2 &= g->col_step == 2 && mask;   /* only those packs look for it */
                rb[v] = run ? base : run2 ? base2 : FC_GATHER_NORUN;
                rm[v] = run || !run2 ? mask : (int32_t)(FC_GATHER_RUN2 | m2);
#ifdef FC_GATHER_WINDOWS
                /* Note [gather windows]: each valid lane in the first window
                 * [b, b + VLEN) that holds it, a new one from its value where
                 * none does.  The pack takes from a window every lane whose
                 * value it holds, so its load covers them all. */
                int32_t *wt = tab + FC_GATHER_ENTRIES + 2 * FC_GATHER_RUN_ENTRIES
                              + (((fc_idx)ti * g->ntap_w + tj) * (nbr / VLEN) + v)
                                * FC_GATHER_WIN_SLOTS;
                int nw = 0;
                int32_t wb[3], wm[3];
                for (int l = 0; l < VLEN && !run && !run2 && nw >= 0; l++) {
                    const int32_t ol = o[v * VLEN + l];
                    if (ol < 0) continue;
                    int w = 0;
                    while (w < nw && !(ol >= wb[w] && ol - wb[w] < VLEN)) w++;
                    if (w == nw) {
                        if (nw == fc_gather_windows) { nw = -1; break; }
                        wb[nw] = ol;
                        wm[nw++] = 0;
                    }
                }
                for (int w = 0; w < nw; w++)
                    for (int l = 0; l < VLEN; l++) {
                        const int32_t ol = o[v * VLEN + l];
                        if (ol >= wb[w] && ol - wb[w] < VLEN) wm[w] |= 1 << (ol - wb[w]);
                    }
                wt[0] = nw > 0 ? nw : 0;
                for (int w = 0; w < nw; w++) {
                    /* the load reads values base .. the last one needed */
                    int hi = 0;
                    while (wm[w] >> (hi + 1)) hi++;
                    wt[1 + 2 * w] = wb[w];
                    wt[2 + 2 * w] = (int32_t)((2u << hi) - 1);
                }
#endif
            }
#endif
        }
    return 1;
}

/* pack_b through the table: rows [r0, r0+kc), all nbr lanes. */
static inline __attribute__((always_inline)) void
FC_FN(pack_b_gather_)(const fc_gemm_args *g, const int32_t *restrict tab, fc_idx nbr,
                      fc_idx r0, fc_idx kc, fc_idx p0, fc_idx np, FC_T *restrict bp,
                      fc_idx pf, const int strided)
{
    const fc_idx ntaps = (fc_idx)g->ntap_h * g->ntap_w;
    const FC_T *xn = (const FC_T *)g->x
                     + (g->batch_inner ? 0 : p0 / (g->P_h * g->P_w) * g->x_nstride);
    fc_idx c = r0 / ntaps, t = r0 % ntaps;
    for (fc_idx r = 0; r < kc; r++) {
        const FC_T *xc = xn + c * g->x_cstride;
        const int32_t *o = tab + t * nbr;
        FC_T *d = bp + r * NR;
#ifdef FC_GATHER_RUNS
        const int32_t *rb = tab + FC_GATHER_ENTRIES + t * (nbr / VLEN);
        const int32_t *rm = rb + FC_GATHER_RUN_ENTRIES;
        const int runs = fc_gather_runs;
#endif
#ifdef FC_GATHER_WINDOWS
        const int32_t *win = tab + FC_GATHER_ENTRIES + 2 * FC_GATHER_RUN_ENTRIES;
#endif
        for (fc_idx l = 0; l < nbr; l += NR, d += kc * NR)
            for (int v = 0, nv = FC_UK_NVEC(np - l); v < nv; v++) {
#ifdef FC_GATHER_RUNS
                const fc_idx q = l / VLEN + v;
                if (runs && rb[q] != FC_GATHER_NORUN) {
                    const unsigned u = (unsigned)rm[q];
                    if (strided && (u & FC_GATHER_RUN2)) {   /* the even values of two loads */
                        const unsigned lanes = (1u << VLEN) - 1;
                        if (pf) {
                            __builtin_prefetch(xc + rb[q] + pf, 0, 2);
                            __builtin_prefetch(xc + rb[q] + pf + VLEN, 0, 2);
                        }
                        *(VT *)(d + v * VLEN) = FC_FN(evens)(
                            FC_FN(mload)(xc + rb[q], FC_FN(bits)(u & lanes)),
                            FC_FN(mload)(xc + rb[q] + VLEN,
                                         FC_FN(bits)(((u & ~FC_GATHER_RUN2) >> VLEN) & lanes)));
                    } else {
                        *(VT *)(d + v * VLEN) = FC_FN(mload)(xc + rb[q], FC_FN(bits)(u));
                    }
                    continue;
                }
#endif
#ifdef FC_GATHER_WINDOWS
                const int32_t *wt = win + (t * (nbr / VLEN) + l / VLEN + v) * FC_GATHER_WIN_SLOTS;
                if (wt[0] > 0) {    /* Note [gather windows] */
                    const __m512i ov = _mm512_loadu_si512((const void *)(o + l + v * VLEN));
                    __m512 r = _mm512_setzero_ps();
                    for (int w = 0; w < wt[0]; w++) {
                        const int32_t wbase = wt[1 + 2 * w];
                        const __m512i dv = _mm512_sub_epi32(ov, _mm512_set1_epi32(wbase));
                        /* lanes whose value is in the window (o < 0: far below) */
                        const __mmask16 in = _mm512_cmplt_epu32_mask(dv, _mm512_set1_epi32(VLEN));
                        const __m512 src = _mm512_maskz_loadu_ps((__mmask16)wt[2 + 2 * w],
                                                                 xc + wbase);
                        r = _mm512_mask_permutexvar_ps(r, in, dv, src);
                    }
                    _mm512_storeu_ps(d + v * VLEN, r);
                    continue;
                }
#endif
                FC_FN(gather)(d + v * VLEN, xc, o + l + v * VLEN);
            }
        if (++t == ntaps) { t = 0; c++; }
    }
}
/* Only a grid at column stride 2 has stride-2 runs: other packs keep the plain
 * loop (the test per vector cost stride-1 layers 2-3%). */
static void FC_FN(pack_b_gather)(const fc_gemm_args *g, const int32_t *restrict tab,
                                 fc_idx nbr, fc_idx r0, fc_idx kc, fc_idx p0, fc_idx np,
                                 FC_T *restrict bp, fc_idx pf)
{
    if (g->col_step == 2) FC_FN(pack_b_gather_)(g, tab, nbr, r0, kc, p0, np, bp, pf, 1);
    else FC_FN(pack_b_gather_)(g, tab, nbr, r0, kc, p0, np, bp, 0, 0);
}

/* Note [gather prefetch]: a stride-2 layer's gathered B reads, for each of a
 * block's reduction rows, a stretch of one input row of one channel: with 32
 * channels x 3 tap rows (YOLO's 32 -> 64 3x3 at 416x416, input 22 MB) that is
 * ~100 streams a block, more than the hardware prefetchers follow, and the
 * pack waited on memory (39% of the call, the micro-kernel 54%).  So each run
 * of a block's pack also prefetches (into L2) what the same lanes read in the
 * block np pixels on, which this thread's next block usually is.  Values and
 * their order are untouched.  Interleaved medians, with / without, AMD EPYC
 * Zen 5, 29 Nov 2026, 1 thread (2 threads): YOLO's layer 0.82-0.85
 * (0.87-0.91), now ~1.0x torch; 3x3 stride 2 on 128 at 56x56, 64 at 112x112,
 * 3 and 16 at 224x224, 256 at 28x28: 0.97-1.01.  Returns how far the next
 * block reads from this one: the first pixel whose tap (0, 0) is inside the
 * input here and there, 0 if none. */
static fc_idx FC_FN(next_block_step)(const fc_gemm_args *g, fc_idx p0, fc_idx np)
{
    const fc_idx plane = g->P_h * g->P_w, total = g->P_n * plane;
    for (fc_idx p = p0; p < p0 + np && p + np < total; p++) {
        const fc_idx a = p, b = p + np;
        const int32_t ra = g->rowtab[a % plane / g->P_w], ca = g->coltab[a % g->P_w];
        const int32_t rb = g->rowtab[b % plane / g->P_w], cb = g->coltab[b % g->P_w];
        if (ra < 0 || ca < 0 || rb < 0 || cb < 0) continue;
        return (b / plane - a / plane) * g->x_nstride + ((fc_idx)rb - ra) * g->x_rstride
               + ((fc_idx)cb - ca);
    }
    return 0;
}

/* The packed-B micro-kernel K (ukernel, or ukernel_a) as wide as a chunk of
 * `ncol` pixels needs. */
#define FC_UK_WIDTH(K, ncol, ...)                                                  \
    do {                                                                         \
        if ((ncol) <= VLEN && FC_NV > 1) FC_FN(K##_v1)(__VA_ARGS__);               \
        else if ((ncol) <= 2 * VLEN && FC_NV > 2) FC_FN(K##_v2)(__VA_ARGS__);      \
        else FC_FN(K)(__VA_ARGS__);                                                \
    } while (0)
#define FC_UK_PACKED(ncol, ...) FC_UK_WIDTH(ukernel, ncol, __VA_ARGS__)

#if defined(FC_MASKED) && FC_VBYTES == 64
/* Lanes l of v with lo <= l < hi to p[2*l] (every other value, as a transposed
 * conv's stride-2 phase lies in its output rows; the values between are left
 * alone): two permutes spread v over the even lanes of two vectors, each a
 * masked store, instead of one scalar store per value. */
#define FC_STORE2 1
/* store2's masks of output positions: even lanes 2l for l in [lo, hi), of 2*VLEN. */
static inline uint64_t FC_FN(store2_mask)(fc_idx lo, fc_idx hi)
{
    lo = lo < 0 ? 0 : lo;
    hi = hi > VLEN ? VLEN : hi;
    if (hi <= lo) return 0;
    return (((uint64_t)1 << (2 * hi)) - 1) & ~(((uint64_t)1 << (2 * lo)) - 1)
           & 0x5555555555555555ull;
}
static inline void FC_FN(store2_m)(FC_T *p, uint64_t m, VT v)
{
#if FC_VLEN == 16
    const __m512i e0 = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i e1 = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11,
                                         12, 12, 13, 13, 14, 14, 15, 15);
    if ((__mmask16)m)
        _mm512_mask_storeu_ps(p, (__mmask16)m, _mm512_permutexvar_ps(e0, (__m512)v));
    if ((__mmask16)(m >> 16))
        _mm512_mask_storeu_ps(p + 16, (__mmask16)(m >> 16), _mm512_permutexvar_ps(e1, (__m512)v));
#else
    const __m512i e0 = _mm512_setr_epi64(0, 0, 1, 1, 2, 2, 3, 3);
    const __m512i e1 = _mm512_setr_epi64(4, 4, 5, 5, 6, 6, 7, 7);
    if ((__mmask8)m)
        _mm512_mask_storeu_pd(p, (__mmask8)m, _mm512_permutexvar_pd(e0, (__m512d)v));
    if ((__mmask8)(m >> 8))
        _mm512_mask_storeu_pd(p + 8, (__mmask8)(m >> 8), _mm512_permutexvar_pd(e1, (__m512d)v));
#endif
}
static inline void FC_FN(store2)(FC_T *p, fc_idx lo, fc_idx hi, VT v)
{
    FC_FN(store2_m)(p, FC_FN(store2_mask)(lo, hi), v);
}
#endif

/* Note [vector-wise tiles]: a gemm task's pixels run over the batch, and a
 * chunk of NR (3 vectors) pixels that crosses from one image into the next
 * used to go through the staging tile (copied in and out a run at a time)
 * because its outputs are not NR consecutive values.  But where each vector's
 * lanes are consecutive -- every image's plane a multiple of VLEN pixels: 4x4,
 * 8x8, 16x16 maps, as in a batch of late-stage or GAN layers -- ukernel_vo
 * writes each vector to its own place.  The same multiply-adds in the same
 * order: the same bits (tests/test_packing.py switches it off and compares).
 * Interleaved medians, new / old, AMD EPYC Zen 5, 29 Nov 2026, 2 threads (1):
 * 16 x 512 -> 1024 1x1 at 8x8 0.94-0.96 (0.93-0.96), 16 x 512 at 4x4 0.90-0.91
 * (0.90-0.91), 8 x 64 3x3 at 8x8 0.95-0.96 (0.94-0.95), 8 x 128 3x3 s2 on
 * 16x16 0.95 (0.95); 4 x 256 at 16x16 and one image at 32x32 unchanged. */
void FC_FN(gemm_task)(const fc_gemm_args *g, fc_idx p0, fc_idx p1, int m0, int m1,
                             void *scratch)
{
    const fc_idx kred = (fc_idx)g->C_g * g->ntap_h * g->ntap_w;
    const fc_idx np = p1 - p0, nchunk = (np + NR - 1) / NR, nbr = nchunk * NR;
    const FC_T *A = (const FC_T *)g->a, *bias = (const FC_T *)g->bias;
    FC_T *y = (FC_T *)g->y;
    FC_T *bp = (FC_T *)(((uintptr_t)scratch + FC_ALIGN - 1) & ~(uintptr_t)(FC_ALIGN - 1));
    FC_T *tile = bp + FC_KC * nbr;
    /* Scattered outputs (the transposed conv's phases) accumulate in a contiguous
     * stage [panels*MR][nbr] across the reduction blocks, written out once. */
    int32_t *gtab = (int32_t *)(tile + FC_MR * NR);
    fc_idx *woff = (fc_idx *)(gtab + FC_GATHER_ENTRIES + 2 * FC_GATHER_RUN_ENTRIES
                              + FC_GATHER_WIN_ENTRIES);     /* the stage's write-out */
    FC_T *stage = (FC_T *)(woff + nbr);
    fc_idx off[NR];          /* output offset of each lane of the current chunk */
    fc_idx vo[FC_NV];        /* and of each vector's first lane (Note [vector-wise tiles]) */
    int seg[NR + 1];         /* where its runs of consecutive offsets start */
    FC_T binit[FC_MR];       /* the bias of the panel's rows: each sum starts there */
    /* The output grid rows are contiguous (conv2d): full tiles can be written in place. */
    const int contiguous = g->y_cstride == 1 && g->y_rstride == g->P_w && !g->batch_inner
                           && !g->aoff;

    int gather_pw = fc_gather_pw;
#ifndef FC_GATHER_RUNS
    if (gather_pw == FC_GATHER_PW_DEFAULT) gather_pw = FC_GATHER_PW_PLAIN;
#endif
    const int gathered = (g->P_w < gather_pw || (gather_pw > 0 && g->col_step != 1)
                          || g->batch_inner)
        && kred > 0
        && (fc_idx)g->ntap_h * g->ntap_w * nbr <= FC_GATHER_ENTRIES
        && FC_FN(gather_table)(g, p0, np, nbr, gtab);

    const fc_idx pf = gathered && g->col_step == 2 && fc_gather_pf
                      ? FC_FN(next_block_step)(g, p0, np) : 0;
    for (fc_idx k0 = 0; k0 < kred || (k0 == 0 && kred == 0); k0 += FC_KC) {
        const fc_idx kc = kred - k0 < FC_KC ? kred - k0 : FC_KC;
        if (kc > 0 && gathered) FC_FN(pack_b_gather)(g, gtab, nbr, k0, kc, p0, np, bp, pf);
        else if (kc > 0 && g->batch_inner) FC_FN(pack_b_pixels)(g, k0, kc, p0, np, bp);
        else if (kc > 0) FC_FN(pack_b)(g, k0, kc, p0, np, bp);
        for (fc_idx ch = 0; ch < nchunk; ch++) {
            const fc_idx pc = p0 + ch * NR;
            const int ncol = p1 - pc < NR ? (int)(p1 - pc) : NR;
            const FC_T *bc = bp + ch * kc * NR;
            int in_place = 0, vec_place = 0, nseg = 0;
            if (contiguous) {   /* lane offsets without a division per element */
                const fc_idx plane = g->P_h * g->P_w, rem = pc % plane;
                fc_idx n = pc / plane, py = rem / g->P_w, px = rem % g->P_w;
                for (int l = 0; l < ncol; l++) {
                    off[l] = n * g->y_nstride + py * g->y_rstride + px * g->y_cstride;
                    if (++px == g->P_w) { px = 0; if (++py == g->P_h) { py = 0; n++; } }
                }
                /* Lanes land on consecutive outputs (chunk inside one image). */
                in_place = ncol == NR && off[NR - 1] - off[0] == NR - 1;
                /* Else each vector's lanes may (Note [vector-wise tiles]). */
                vec_place = !in_place && ncol == NR && fc_vector_tiles;
                for (int v = 0; v < FC_NV && vec_place; v++) {
                    vo[v] = off[v * VLEN];
                    vec_place = off[v * VLEN + VLEN - 1] - vo[v] == VLEN - 1;
                }
                /* Else the lanes' runs of consecutive outputs (a chunk across
                 * images has two or three), each copied as one run below. */
                for (int l = 0; l < ncol; l++)
                    if (l == 0 || off[l] != off[l - 1] + 1) seg[nseg++] = l;
                seg[nseg] = ncol;
            }
            for (int panel = m0; panel < m1; panel++) {
                const fc_idx mbase = (fc_idx)panel * FC_MR;
                const FC_T *ap = A + mbase * g->lda + (g->aoff ? 0 : k0);
                const int32_t *ao = g->aoff ? g->aoff + k0 : NULL;
                const int mrows = g->M - mbase < FC_MR ? (int)(g->M - mbase) : FC_MR;
                const FC_T *init = NULL;
                if (k0 == 0) {
                    for (int q = 0; q < FC_MR; q++)
                        binit[q] = bias && q < mrows ? bias[mbase + q] : (FC_T)0;
                    init = binit;
                }
                if (!contiguous) {
                    FC_T *st = stage + (fc_idx)(panel - m0) * FC_MR * nbr + ch * NR;
                    if (ao) FC_UK_WIDTH(ukernel_a, ncol, kc, ap, g->lda, mrows, bc, ao, st, nbr, init);
                    else FC_UK_PACKED(ncol, kc, ap, g->lda, mrows, bc, 0, st, nbr, init);
                    continue;
                }
                FC_T *yp = y + mbase * g->y_kstride;
                if (in_place && mrows == FC_MR) {
                    FC_FN(ukernel)(kc, ap, g->lda, mrows, bc, 0, yp + off[0], g->y_kstride, init);
                    continue;
                }
                if (vec_place && mrows == FC_MR) {
                    FC_FN(ukernel_vo)(kc, ap, g->lda, mrows, bc, vo, yp, g->y_kstride, init);
                    continue;
                }
                /* Partial tile: go through `tile`, a run of lanes at a time. */
#ifdef FC_MASKED
                if (!init)
                    for (int q = 0; q < mrows; q++)
                        FC_FN(runs_in)(tile + q * NR, yp + q * g->y_kstride, ncol, seg, nseg,
                                       off);
                FC_UK_PACKED(ncol, kc, ap, g->lda, mrows, bc, 0, tile, NR, init);
                for (int q = 0; q < mrows; q++)
                    FC_FN(runs_out)(yp + q * g->y_kstride, tile + q * NR, ncol, seg, nseg, off);
#else
                if (!init)
                    for (int q = 0; q < mrows; q++)
                        for (int s = 0; s < nseg; s++)
                            FC_FN(copy_run)(tile + q * NR + seg[s],
                                            yp + q * g->y_kstride + off[seg[s]],
                                            seg[s + 1] - seg[s]);
                FC_UK_PACKED(ncol, kc, ap, g->lda, mrows, bc, 0, tile, NR, init);
                for (int q = 0; q < mrows; q++)
                    for (int s = 0; s < nseg; s++)
                        FC_FN(copy_run)(yp + q * g->y_kstride + off[seg[s]],
                                        tile + q * NR + seg[s], seg[s + 1] - seg[s]);
#endif
            }
        }
    }
    if (contiguous) return;
    /* Write the stage out: row m, pixel p -> y[m*kstride + offset(p)]. */
    /* Through locals: a store through ym may alias *g (see implicit_task). */
    const fc_idx Ph = g->P_h, Pw = g->P_w, plane = Ph * Pw, rem = p0 % plane;
    const fc_idx n0 = p0 / plane, py0 = rem / Pw, px0 = rem % Pw;
    const fc_idx ns = g->y_nstride, rs = g->y_rstride, cs = g->y_cstride, ks = g->y_kstride;
    const fc_idx mend = (fc_idx)m1 * FC_MR < g->M ? (fc_idx)m1 * FC_MR : g->M;
    if (g->batch_inner) {
        /* Note [batch lanes]: each pixel's output offset once, then for every
         * row m a copy a value, image by image (lanes j, j + P_n, ...: stores
         * in address order, not one to each image in turn). */
        fc_idx n, py, px;
        fc_pix_at(g, p0, &n, &py, &px);
        for (fc_idx l = 0; l < np; l++) {
            woff[l] = n * ns + py * rs + px * cs;
            fc_pix_next(g, &n, &py, &px);
        }
        const fc_idx step = g->P_n;
        for (fc_idx m = (fc_idx)m0 * FC_MR; m < mend; m++) {
            const FC_T *restrict sr = stage + (m - (fc_idx)m0 * FC_MR) * nbr;
            FC_T *restrict ym = y + m * ks;
            for (fc_idx j = 0; j < step && j < np; j++)
                for (fc_idx l = j; l < np; l += step) ym[woff[l]] = sr[l];
        }
        return;
    }
    for (fc_idx m = (fc_idx)m0 * FC_MR; m < mend; m++) {
        const FC_T *restrict sr = stage + (m - (fc_idx)m0 * FC_MR) * nbr;
        FC_T *restrict ym = y + m * ks;
        fc_idx n = n0, py = py0, px = px0, l = 0;
        while (l < np) {   /* a grid row at a time: a stride-cs run */
            const fc_idx run = Pw - px < np - l ? Pw - px : np - l;
            FC_T *restrict yr = ym + n * ns + py * rs + px * cs;
#ifdef FC_STORE2
            /* A stride-2 phase's row of a vector or more: store2's masked
             * stores, not a store a value.  New / old time (gemm forced),
             * interleaved, AMD EPYC Zen 5, 29 Nov 2026, 2 threads (1): UNet's
             * 2x2 s2 512 -> 256 at 32x32 0.96-0.97 (0.96), 256 -> 128 at 64x64
             * 0.91-0.94 (0.90-0.95), 3x3 s2 op1 4 x 128 -> 96 at 20x20
             * 0.95-0.97 (0.94-0.97), pix2pix 4x4 at 64x64 0.98-0.99; rows of
             * 8 (dcgan-up2) 0.99-1.00, and of 4 (dcgan-up1) lost 2-4%: they
             * keep the scalar copy. */
            if (cs == 2 && run >= VLEN && fc_stage_store2) {
                for (fc_idx i = 0; i < run; i += VLEN) {
                    const int nl = run - i < VLEN ? (int)(run - i) : VLEN;
                    FC_FN(store2)(yr + 2 * i, 0, nl,
                                  FC_FN(mload)(sr + l + i, FC_FN(lanes)(0, nl)));
                }
            } else
#endif
            for (fc_idx i = 0; i < run; i++) yr[i * cs] = sr[l + i];
            l += run;
            px = 0;
            if (++py == Ph) { py = 0; n++; }
        }
    }
}

/* Note [implicit GEMM on a padded copy]: copy the input once with its padding
 * applied, split into stride phases (padded row r, column x go to phase plane
 * (r % sh, x % sw) at (r / sh, x / sw); each plane PHs x PWs).  On the grid
 * q = oh*PWs + ow (columns ow >= OW are junk, never stored) the input of tap
 * (c, i, j) for pixel q sits at q + koff[c, i, j] with
 *   koff = phase(i*dh % sh, j*dw % sw) + c*PHs*PWs + (i*dh / sh)*PWs + j*dw / sw:
 * a shifted view, so B needs no packing and the whole reduction runs in
 * registers (no KC blocks). */
/* Note [row chunks]: by default a task's grid pixels [q0, q1) go to the
 * micro-kernel in chunks of NR along the grid, so every tile is full however
 * narrow the output, but on a wide output most chunks straddle a grid row's end:
 * they compute its junk columns and go through the staging tile and masked
 * stores.  With row_chunks (conv2d outputs at least IMPLICIT_ROW_CHUNK_MIN_OW
 * wide, _cpu.pyx, whose tasks are then whole grid rows) the chunks are pieces of
 * output rows instead: NR pixels while at least 2*NR remain, the rest as two
 * pieces of whole vectors where it can (112 = 48 + 32 + 32), each stored by the
 * micro-kernel in place (full or narrow tile).  Which pixels share a tile does
 * not change any output's sum (Note [summation order]).  Interleaved medians on
 * an Intel Xeon 5th gen, row chunks vs grid chunks, 1 thread (2 threads):
 * resnet50 stem 1.06 (1.01-1.04) times faster, 3 -> 32 channels 3x3 s2 at 224
 * 1.19 (0.97), 3 -> 64 3x3 at 224 1.08 (1.03-1.18), 3 -> 24 at 100x100 1.03
 * (0.93-0.99). */
/* no loop-to-memmove: the output runs are short and a libc call per run costs more. */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
void FC_FN(implicit_task)(const fc_implicit_args *g, fc_idx n, fc_idx q0, fc_idx q1,
                                 int m0, int m1, void *scratch)
{
    const FC_T *A = (const FC_T *)g->a, *bias = (const FC_T *)g->bias;
    const FC_T *xn = (const FC_T *)g->xp + n * g->xp_nstride;
    FC_T *y = (FC_T *)g->y + n * g->y_nstride;
    FC_T *tile = (FC_T *)(((uintptr_t)scratch + FC_ALIGN - 1) & ~(uintptr_t)(FC_ALIGN - 1));
    fc_idx roff[NR];
    int rlane[NR], rlen[NR], nrun;
    FC_T binit[FC_MR];
    const fc_idx ks = g->y_kstride, cs = g->y_cstride;
    for (fc_idx qc = q0, ncol_ = 0; qc < q1; qc += ncol_) {
        if (g->row_chunks) {
            /* Note [row chunks]: the next piece of an output row, junk columns skipped */
            const fc_idx oh = qc / g->PW, ow = qc % g->PW;
            if (ow >= g->OW) { ncol_ = g->PW - ow; continue; }
            const fc_idx end = oh * g->PW + g->OW < q1 ? oh * g->PW + g->OW : q1, rem = end - qc;
            ncol_ = rem >= 2 * NR ? NR : rem > NR ? ((rem + 1) / 2 + VLEN - 1) / VLEN * VLEN : rem;
        } else {
            ncol_ = q1 - qc < NR ? q1 - qc : NR;
        }
        const int ncol = (int)ncol_;
        nrun = 0;
        {   /* the valid lanes as runs along output rows (lanes rlane.., outputs
             * roff + i*cs), a grid row at a time; the junk columns skipped */
            fc_idx oh = qc / g->PW, ow = qc % g->PW;
            for (int l = 0; l < ncol && oh < g->OH; oh++, ow = 0) {
                const int seg = g->PW - ow < ncol - l ? (int)(g->PW - ow) : ncol - l;
                if (ow < g->OW) {
                    const int len = g->OW - ow < seg ? (int)(g->OW - ow) : seg;
                    const fc_idx o = oh * g->y_rstride + ow * cs;
                    if (nrun && rlane[nrun - 1] + rlen[nrun - 1] == l
                        && roff[nrun - 1] + rlen[nrun - 1] * cs == o) {
                        rlen[nrun - 1] += len;
                    } else {
                        rlane[nrun] = l; roff[nrun] = o; rlen[nrun] = len; nrun++;
                    }
                }
                l += seg;
            }
        }
        if (nrun == 0) continue;   /* junk columns only */
        /* whole vectors of contiguous outputs: the micro-kernel stores them in place */
        const int in_place = g->y_cstride == 1 && nrun == 1 && rlen[0] == ncol
                             && ncol % VLEN == 0;
        for (int panel = m0; panel < m1; panel++) {
            const fc_idx mbase = (fc_idx)panel * FC_MR;
            const int mrows = g->M - mbase < FC_MR ? (int)(g->M - mbase) : FC_MR;
            for (int q = 0; q < FC_MR; q++)
                binit[q] = bias && q < mrows ? bias[mbase + q] : (FC_T)0;
            FC_T *yp = y + mbase * g->y_kstride;
            /* whole vectors in place (ncol NR, or VLEN or 2*VLEN: a narrow tile), or staged */
            const int whole = in_place && mrows == FC_MR
                              && (ncol == NR || ncol <= 2 * VLEN);
            FC_T *c = whole ? yp + roff[0] : tile;
            const fc_idx ldc = whole ? ks : NR;
            if (ncol <= VLEN && FC_NV > 1)
                FC_FN(ukernel_off_v1)(g->kred, A + mbase * g->lda, g->lda, mrows, xn + qc,
                                      g->koff, c, ldc, binit);
            else if (ncol <= 2 * VLEN && FC_NV > 2)
                FC_FN(ukernel_off_v2)(g->kred, A + mbase * g->lda, g->lda, mrows, xn + qc,
                                      g->koff, c, ldc, binit);
            else if (mrows <= FC_MR / 2)
                FC_FN(ukernel_off_half)(g->kred, A + mbase * g->lda, g->lda, mrows, xn + qc,
                                        g->koff, c, ldc, binit);
            else
                FC_FN(ukernel_off)(g->kred, A + mbase * g->lda, g->lda, mrows, xn + qc,
                                   g->koff, c, ldc, binit);
            if (whole) continue;
#ifdef FC_MASKED
            /* Whole tile vectors, each stored by masks into the runs it meets
             * (output pitch cs 1, or 2 for the transposed conv's stride-2
             * phases where store2 exists): a narrower load from where the
             * micro-kernel just stored a vector cannot be forwarded from that
             * store, and stalls: this function's own share of the stem's samples
             * (whose chunks mostly straddle grid rows) went from 12% to 9%, and
             * of fcn-up's from 22% to 17% (perf, one thread, Intel Xeon 5th gen). */
#ifdef FC_STORE2
            if (cs == 1 || cs == 2) {
#else
            if (cs == 1) {
#endif
                /* Each (vector, run) pair's masks made once for all the tile's
                 * rows (they were made per row: shifts and tests were most of
                 * this loop's samples).  New / old, interleaved, AMD EPYC Zen 5,
                 * 29 Nov 2026, 1 thread (2): fcn-up 0.90 (0.91), a 4x4 s2
                 * transposed 64 -> 32 at 64x64 0.93 (0.94), UNet's 2x2 0.97
                 * (0.99), dcgan-out 0.97, conv2d 3 -> 24 3x3 at 100x100 0.90
                 * (0.92); stem, res5, res3's 3x3 s2 0.99-1.01. */
                for (int l0 = 0; l0 < ncol; l0 += VLEN) {
                    for (int r = 0; r < nrun; r++) {
                        const int a = rlane[r] - l0, b = a + rlen[r];
                        if (b <= 0 || a >= VLEN) continue;
                        FC_T *p = yp + roff[r] - cs * a;   /* lane l goes to p[l*cs] */
                        const FC_T *tq = tile + l0;
#ifdef FC_STORE2
                        if (cs == 2) {
                            const uint64_t m2 = FC_FN(store2_mask)(a, b);
                            for (int q = 0; q < mrows; q++)
                                FC_FN(store2_m)(p + q * ks, m2, *(const VT *)(tq + q * NR));
                            continue;
                        }
#endif
                        const MT m = FC_FN(lanes)(a, b);
                        for (int q = 0; q < mrows; q++)
                            FC_FN(mstore)(p + q * ks, m, *(const VT *)(tq + q * NR));
                    }
                }
                continue;
            }
#endif
            /* Valid lanes only, run by run, through locals: a store through yp
             * may alias *g, which would reload g's fields for every value. */
            for (int q = 0; q < mrows; q++) {
                FC_T *restrict yq = yp + q * ks;
                const FC_T *restrict tq = tile + q * NR;
                for (int r = 0; r < nrun; r++) {
                    if (cs == 1) {
                        FC_FN(copy_run)(yq + roff[r], tq + rlane[r], rlen[r]);
                    } else {
                        FC_T *restrict yr = yq + roff[r];
                        const FC_T *restrict tr = tq + rlane[r];
                        for (int i = 0; i < rlen[r]; i++) yr[i * cs] = tr[i];
                    }
                }
            }
        }
    }
}

/* Note [channel lanes]: implicit_task's vectors run over output pixels, so
 * a small grid leaves lanes idle: a 7x7 output is 49 pixels in 64 lanes, and
 * a batch does not help (each image is its own grid).  implicit_cl_task turns
 * the tile around: its vectors hold output channels, a tile is FC_CL_RT
 * pixels (of one or two output rows, or consecutive on the grid) by two
 * vectors of channels, and each reduction step broadcasts the pixels' input
 * values (from the same padded, phase-split copy, at q + koff[k]) against one
 * step of the weights, transposed by the task into wp[k][2*VLEN] a block of
 * FC_KC steps at a time (in L1).  Every output is still bias + w[0]x[0] +
 * w[1]x[1] + ..., one multiply-add per step in koff's order, as in
 * ukernel_off: the same bits (Note [summation order]).  Tiles wait in a stage
 * [tile][pixel][channel] between blocks and then go out. */
#if FC_VBYTES == 64
#define FC_CL_RT 14
#else
#define FC_CL_RT 6
#endif
#define FC_CL_HALF (FC_CL_RT / 2)
/* acc = init (one vector pair for every pixel with istep 0, else pixel r's
 * at init + r*istep) + the kc steps; to out[pixel][2*VLEN].  One prefetch a
 * step of the next k-block's weights (Note [channel lanes]): line
 * pf_first + k of its rows, 2^pf_shift lines a row, pf_pitch apart, while
 * below pf_count. */
#define FC_CL_TILE(NAME, R_, CC_)                                                          \
__attribute__((noinline)) static void NAME(fc_idx kc, const FC_T *restrict wp,              \
                                           const FC_T *restrict x0,                          \
                                           const fc_idx *restrict koff, fc_idx rstep,       \
                                           const FC_T *init, fc_idx istep, FC_T *out,       \
                                           const FC_T *pf, fc_idx pf_pitch, int pf_shift,   \
                                           fc_idx pf_first, fc_idx pf_count)                \
{                                                                                          \
    VT acc[R_ * CC_][2];                                                                   \
    _Pragma("GCC unroll 16")                                                               \
    for (int r = 0; r < R_ * CC_; r++) {                                                   \
        acc[r][0] = *(const VT *)(init + r * istep);                                       \
        acc[r][1] = *(const VT *)(init + r * istep + VLEN);                                \
    }                                                                                      \
    const fc_idx pf_end = pf_count - pf_first;                                             \
    for (fc_idx k = 0; k < kc; k++) {                                                      \
        if (k < pf_end) {                                                                  \
            const fc_idx l = pf_first + k;                                                 \
            __builtin_prefetch(pf + (l >> pf_shift) * pf_pitch                             \
                               + (l & ((1 << pf_shift) - 1)) * (64 / sizeof(FC_T)), 0, 2); \
        }                                                                                  \
        const FC_T *p[2];                  /* the rows' pointers: immediate offsets */     \
        p[0] = x0 + koff[k];                                                               \
        p[1] = p[0] + rstep;                                                               \
        const VT w0 = *(const VT *)(wp + k * 2 * VLEN);                                    \
        const VT w1 = *(const VT *)(wp + k * 2 * VLEN + VLEN);                             \
        _Pragma("GCC unroll 2")                                                            \
        for (int i = 0; i < R_; i++)                                                       \
            _Pragma("GCC unroll 16")                                                       \
            for (int r = 0; r < CC_; r++) {                                                \
                const VT xv = SPLAT(p[i][r]);                                              \
                acc[i * CC_ + r][0] += xv * w0;                                            \
                acc[i * CC_ + r][1] += xv * w1;                                            \
            }                                                                              \
    }                                                                                      \
    _Pragma("GCC unroll 16")                                                               \
    for (int r = 0; r < R_ * CC_; r++) {                                                   \
        *(VT *)(out + r * 2 * VLEN) = acc[r][0];                                           \
        *(VT *)(out + r * 2 * VLEN + VLEN) = acc[r][1];                                    \
    }                                                                                      \
}
FC_CL_TILE(FC_FN(cl_row), 1, FC_CL_RT)
FC_CL_TILE(FC_FN(cl_half), 1, FC_CL_HALF)
FC_CL_TILE(FC_FN(cl_two), 2, FC_CL_HALF)
#undef FC_CL_TILE

/* v[0 .. VLEN) replaced by its transpose (lane l of row i to lane i of row
 * l), in registers: log2(VLEN) rounds of interleaving rows i and i + VLEN/2
 * (perfect shuffles). */
static inline __attribute__((always_inline)) void FC_FN(transpose)(VT *v)
{
#if FC_VLEN * 4 == FC_VBYTES     /* float lanes */
    typedef int32_t VI __attribute__((vector_size(FC_VBYTES)));
#else
    typedef int64_t VI __attribute__((vector_size(FC_VBYTES)));
#endif
    VI lo, hi;
    for (int l = 0; l < VLEN; l++) {
        lo[l] = l / 2 + (l % 2) * VLEN;
        hi[l] = VLEN / 2 + l / 2 + (l % 2) * VLEN;
    }
    VT t[VLEN];
    _Pragma("GCC unroll 4")
    for (int round = 1; round < VLEN; round *= 2) {
        _Pragma("GCC unroll 8")
        for (int i = 0; i < VLEN / 2; i++) {
            t[2 * i] = __builtin_shuffle(v[i], v[i + VLEN / 2], lo);
            t[2 * i + 1] = __builtin_shuffle(v[i], v[i + VLEN / 2], hi);
        }
        _Pragma("GCC unroll 16")
        for (int i = 0; i < VLEN; i++) v[i] = t[i];
    }
}

#ifdef FC_MASKED
/* pack_phases where each of the nphase phases has one tap, together the
 * nphase values of each w[c, m] (a kernel no larger than its stride: UNet's
 * 2x2 at stride 2): for VLEN channels, their rows m0 .. m1 are runs of
 * (m1 - m0) * nphase values, VLEN at a time a VLEN x VLEN transpose in
 * registers whose vectors are each one phase's VLEN channels of one row,
 * stored whole (masked for a last block of channels).  The same values land
 * in the same places; pack_phases's gathers (16 cache lines a vector) took
 * 8% of unet-up.  Returns -1 where it does not apply, else 1 if a packed
 * value is Inf or NaN, 0 if not. */
static __attribute__((noinline)) int
FC_FN(pack_phases1)(const FC_T *restrict base, int g, int M, int m0, int m1, int C_g,
                    int nphase, const int *restrict ntaps, fc_idx m_stride,
                    const int32_t *const *tabs, FC_T *const *dsts)
{
    const int T = nphase;
    if (T < 1 || T > 16 || m_stride != T || C_g < 1 || m1 <= m0) return -1;
    for (int p = 0; p < T; p++)   /* first: an empty phase's table holds one entry */
        if (ntaps[p] != 1) return -1;
    int ph_of[16];
    for (int t = 0; t < T; t++) ph_of[t] = -1;
    const fc_idx cs = C_g > 1 ? (fc_idx)tabs[0][1] - tabs[0][0] : 0;
    for (int p = 0; p < T; p++) {
        const int32_t o = tabs[p][0];
        if (o < 0 || o >= T || ph_of[o] >= 0) return -1;
        ph_of[o] = p;
        for (int c = 1; c < C_g; c++)
            if ((fc_idx)tabs[p][c] != c * cs + o) return -1;
    }
    VT acc = SPLAT((FC_T)0);   /* stays 0 unless some v - v is NaN */
    const fc_idx run = (fc_idx)(m1 - m0) * T;
    const FC_T *b0 = base + (fc_idx)m0 * m_stride;
    for (int cb = 0; cb < C_g; cb += VLEN) {
        const int nc = C_g - cb < VLEN ? C_g - cb : VLEN;
        const MT sm = FC_FN(lanes)(0, nc);
        for (fc_idx e0 = 0; e0 < run; e0 += VLEN) {
            const MT lm = FC_FN(lanes)(0, run - e0);
            VT v[VLEN];
            for (int l = 0; l < VLEN; l++)
                v[l] = l < nc ? FC_FN(mload)(b0 + (cb + l) * cs + e0, lm) : SPLAT((FC_T)0);
            FC_FN(transpose)(v);   /* v[l]: the channels' value e0 + l of the run */
            fc_idx m = m0 + e0 / T;
            int t = (int)(e0 % T);
            _Pragma("GCC unroll 16")   /* v stays in registers */
            for (int l = 0; l < VLEN; l++) {
                if (e0 + l >= run) break;
                acc += v[l] - v[l];
                FC_T *d = dsts[ph_of[t]] + ((fc_idx)g * M + m) * C_g + cb;
                if (nc == VLEN) *(VTU *)d = v[l];
                else FC_FN(mstore)(d, sm, v[l]);
                if (++t == T) { t = 0; m++; }
            }
        }
    }
    int bad = 0;
    for (int l = 0; l < VLEN; l++) bad |= acc[l] != 0;
    return bad;
}
#endif

/* wp[k][2*VLEN] = A[j*lda + k] for the task's rows j < mrows, zeros past
 * them: a transpose, VLEN x VLEN blocks in registers (FC_FN(transpose)), the
 * rest by values. */
static void FC_FN(cl_pack)(const FC_T *restrict A, fc_idx lda, int mrows, fc_idx kred,
                           FC_T *restrict wp)
{
    for (int j0 = 0; j0 < 2 * VLEN; j0 += VLEN) {
        fc_idx k = 0;
        if (mrows >= j0 + VLEN)
            for (; k + VLEN <= kred; k += VLEN) {
                VT v[VLEN];
                _Pragma("GCC unroll 16")
                for (int i = 0; i < VLEN; i++) v[i] = (VT)*(const VTU *)(A + (j0 + i) * lda + k);
                FC_FN(transpose)(v);
                _Pragma("GCC unroll 16")
                for (int i = 0; i < VLEN; i++) *(VT *)(wp + (k + i) * 2 * VLEN + j0) = v[i];
            }
        for (; k < kred; k++)
            for (int j = j0; j < j0 + VLEN; j++)
                wp[k * 2 * VLEN + j] = j < mrows ? A[j * lda + k] : (FC_T)0;
    }
}

/* Note [one-pixel conv2d]: where every image has one output pixel whose
 * window is its whole input (a 1x1 conv on 1x1 maps: squeeze-and-excitation
 * blocks, classifier heads; a kh x kw kernel on a kh x kw input), output
 * (n, k) is bias[k] + sum_r w[k][r] * x[n][r] over r = (c, i, j), both rows
 * contiguous.  The GEMM's tiles put pixels in the lanes: one image fills one
 * lane of sixteen.  Here the lanes hold output channels instead: a task
 * transposes its block of FC_PIX_NV vectors of weight rows, FC_PIX_KC
 * reduction steps at a time, into wp[r][FC_PIX_NV*VLEN] (VLEN x VLEN blocks in
 * registers, FC_FN(transpose); rows past mrows repeat the last one, whose lanes are
 * never stored), then runs every image, up to four at a time, over it: four
 * vectors of channels give one image four independent sums in flight (an
 * FMA's latency).  Each output is still bias + w[0]x[0] + w[1]x[1] + ..., one
 * fused multiply-add a term (Note [summation order]): the GEMM's bits.
 * acc[n][FC_PIX_NV*VLEN] carries the sums between reduction blocks. */
#define FC_PIX_NV (FC_VBYTES == 64 ? 4 : 2)
#define FC_PIX_KC (FC_KC * 2 / FC_PIX_NV)
#define FC_PIX_AHEAD (256 / (fc_idx)sizeof(FC_T))     /* 4 cache lines */
static void FC_FN(pix_pack)(const FC_T *restrict A, fc_idx lda, int mrows, int nv, fc_idx kc,
                            FC_T *restrict wp)
{
    for (int j0 = 0; j0 < nv * VLEN; j0 += VLEN) {
        const FC_T *rows[VLEN];
        for (int i = 0; i < VLEN; i++)
            rows[i] = A + (j0 + i < mrows ? j0 + i : mrows - 1) * lda;
        /* a whole block's rows are lda apart: one base pointer, no table */
        const FC_T *base = rows[0];
        const fc_idx step = j0 + VLEN <= mrows ? lda : 0;
        fc_idx k = 0;
        for (; k + VLEN <= kc; k += VLEN) {
            VT v[VLEN];
            if (step) {
                /* weights past L2 stream in as VLEN rows at once: fetch ahead */
                _Pragma("GCC unroll 16")
                for (int i = 0; i < VLEN; i++) {
                    __builtin_prefetch(base + i * step + k + FC_PIX_AHEAD);
                    v[i] = (VT)*(const VTU *)(base + i * step + k);
                }
            } else {
                _Pragma("GCC unroll 16")
                for (int i = 0; i < VLEN; i++) v[i] = (VT)*(const VTU *)(rows[i] + k);
            }
            FC_FN(transpose)(v);
            _Pragma("GCC unroll 16")
            for (int i = 0; i < VLEN; i++) *(VT *)(wp + (k + i) * FC_PIX_NV * VLEN + j0) = v[i];
        }
        for (; k < kc; k++)
            for (int j = 0; j < VLEN; j++) wp[k * FC_PIX_NV * VLEN + j0 + j] = rows[j][k];
    }
}

/* ni images (rows xs apart) x nv vectors of channels over kc steps of wp;
 * constant ni and nv at each call, so the sums stay in registers. */
static inline __attribute__((always_inline)) void FC_FN(pix_run)(
    const FC_T *restrict wp, fc_idx kc, const FC_T *restrict x, fc_idx xs,
    FC_T *restrict acc, const int ni, const int nv)
{
    VT a[4][FC_PIX_NV];
    for (int i = 0; i < ni; i++)
        for (int v = 0; v < nv; v++)
            a[i][v] = *(const VT *)(acc + (i * FC_PIX_NV + v) * VLEN);
    for (fc_idx r = 0; r < kc; r++) {
        VT wv[FC_PIX_NV];
        for (int v = 0; v < nv; v++) wv[v] = *(const VT *)(wp + (r * FC_PIX_NV + v) * VLEN);
        for (int i = 0; i < ni; i++) {
            const VT xv = SPLAT(x[i * xs + r]);
            for (int v = 0; v < nv; v++) a[i][v] += wv[v] * xv;
        }
    }
    for (int i = 0; i < ni; i++)
        for (int v = 0; v < nv; v++)
            *(VT *)(acc + (i * FC_PIX_NV + v) * VLEN) = a[i][v];
}

void FC_FN(pixel_task)(const FC_T *x, fc_idx N, fc_idx xs, const FC_T *w, fc_idx R, int mrows,
                       const FC_T *bias, FC_T *y, fc_idx ys, void *scratch)
{
    FC_T *wp = (FC_T *)(((uintptr_t)scratch + FC_ALIGN - 1) & ~(uintptr_t)(FC_ALIGN - 1));
    FC_T *acc = wp + FC_PIX_KC * FC_PIX_NV * VLEN;      /* [N][FC_PIX_NV*VLEN] */
    const int nv = (mrows + VLEN - 1) / VLEN;
    {   /* every image's sums start at the bias (zeros in lanes past mrows) */
        VT b0[FC_PIX_NV];
        for (int v = 0; v < FC_PIX_NV; v++) b0[v] = SPLAT((FC_T)0);
        if (bias)
            for (int j = 0; j < mrows; j++) ((FC_T *)b0)[j] = bias[j];
        for (fc_idx n = 0; n < N; n++)
            for (int v = 0; v < FC_PIX_NV; v++) *(VT *)(acc + (n * FC_PIX_NV + v) * VLEN) = b0[v];
    }
    for (fc_idx kb = 0; kb < R; kb += FC_PIX_KC) {
        const fc_idx kc = R - kb < FC_PIX_KC ? R - kb : FC_PIX_KC;
        FC_FN(pix_pack)(w + kb, R, mrows, nv, kc, wp);
        for (fc_idx n0 = 0; n0 < N; n0 += 4) {
            const int ni = N - n0 < 4 ? (int)(N - n0) : 4;
            const FC_T *xn = x + n0 * xs + kb;
            FC_T *an = acc + n0 * FC_PIX_NV * VLEN;
#define FC_PIX(NI)                                                               \
            switch (nv) {                                                        \
            case 1: FC_FN(pix_run)(wp, kc, xn, xs, an, NI, 1); break;            \
            case 2: FC_FN(pix_run)(wp, kc, xn, xs, an, NI, 2 < FC_PIX_NV ? 2 : FC_PIX_NV); break; \
            case 3: FC_FN(pix_run)(wp, kc, xn, xs, an, NI, 3 < FC_PIX_NV ? 3 : FC_PIX_NV); break; \
            default: FC_FN(pix_run)(wp, kc, xn, xs, an, NI, FC_PIX_NV); break;   \
            }
            switch (ni) {
            case 1: FC_PIX(1); break;
            case 2: FC_PIX(2); break;
            case 3: FC_PIX(3); break;
            default: FC_PIX(4); break;
            }
#undef FC_PIX
        }
    }
    for (fc_idx n = 0; n < N; n++)
        for (int j = 0; j < mrows; j++) y[n * ys + j] = acc[n * FC_PIX_NV * VLEN + j];
}
#undef FC_PIX_NV
#undef FC_PIX_KC
#undef FC_PIX_AHEAD

/* Pixels [0, npix) of `tile` (lanes: channels) to output row yr, channels
 * [0, mrows) ks apart. */
static inline void FC_FN(cl_out)(const FC_T *restrict tile, int npix, int mrows,
                                 FC_T *restrict yr, fc_idx ks)
{
    for (int j = 0; j < mrows; j++)
        for (int r = 0; r < npix; r++) yr[j * ks + r] = tile[r * 2 * VLEN + j];
}

/* One image's tiles (Note [channel lanes]): along output rows (a row's last
 * tile half wide where that is enough; two rows a tile where they are at
 * most half a tile wide), or along the grid, junk columns and all, whichever
 * computes fewer pixels: the grid where a row ends just past a tile (17 = 14
 * + 3 on a grid 17 wide).  Which pixels share a tile changes no sum. */
static inline fc_idx FC_FN(cl_run)(fc_idx n)   /* pixels computed for a run of n */
{
    const fc_idx r = n % FC_CL_RT;
    return n - r + (r == 0 ? 0 : r <= FC_CL_HALF ? FC_CL_HALF : FC_CL_RT);
}
static void FC_FN(cl_layout)(fc_idx OH, fc_idx OW, fc_idx PW, fc_cl_layout *L)
{
    const fc_idx Q = (OH - 1) * PW + OW;
    const fc_idx by_rows = OW <= FC_CL_HALF ? FC_CL_HALF * OH : OH * FC_FN(cl_run)(OW);
    const fc_idx by_grid = FC_FN(cl_run)(Q);
    L->per_row = (OW + FC_CL_RT - 1) / FC_CL_RT;
    if (by_grid < by_rows) {
        L->mode = FC_CL_GRID;
        L->ntile = (Q + FC_CL_RT - 1) / FC_CL_RT;
        L->computed = by_grid;
    } else if (OW <= FC_CL_HALF) {
        L->mode = FC_CL_TWO;
        L->ntile = (OH + 1) / 2;
        L->computed = by_rows;
    } else {
        L->mode = FC_CL_ROWS;
        L->ntile = OH * L->per_row;
        L->computed = by_rows;
    }
}

/* Pixels the tiles of an OH x OW output on a grid PW wide compute (the
 * 'auto' rule in _cpu.pyx weighs them against the outputs). */
fc_idx FC_FN(cl_computed)(fc_idx OH, fc_idx OW, fc_idx PW)
{
    fc_cl_layout L;
    FC_FN(cl_layout)(OH, OW, PW, &L);
    return L.computed;
}

/* Tile i of an image: where its pixels start on the grid (xoff), how many
 * (npix, per row), and its kernel (0: cl_row, 1: cl_half, 2: cl_two). */
static inline void FC_FN(cl_tile)(const fc_implicit_args *g, const fc_cl_layout *L, fc_idx i,
                                  fc_idx *xoff, int *npix, int *kind)
{
    const fc_idx OH = g->OH, OW = g->OW, PW = g->PW, Q = (OH - 1) * PW + OW;
    fc_idx n;
    if (L->mode == FC_CL_GRID) {
        *xoff = i * FC_CL_RT;
        n = Q - *xoff < FC_CL_RT ? Q - *xoff : FC_CL_RT;
    } else if (L->mode == FC_CL_TWO) {
        *xoff = 2 * i * PW;
        n = OW;
        if (2 * i + 1 < OH) { *npix = (int)n; *kind = 2; return; }
    } else {
        const fc_idx oh = i / L->per_row, ow = (i % L->per_row) * FC_CL_RT;
        *xoff = oh * PW + ow;
        n = OW - ow < FC_CL_RT ? OW - ow : FC_CL_RT;
    }
    *npix = (int)n;
    *kind = n > FC_CL_HALF ? 0 : 1;
}

/* Tile i's outputs from `t` (lanes: channels) into image yn's channels [0, mrows). */
static void FC_FN(cl_put)(const fc_implicit_args *g, const fc_cl_layout *L, fc_idx i,
                          const FC_T *restrict t, int mrows, FC_T *restrict yn)
{
    const fc_idx OW = g->OW, PW = g->PW, ks = g->y_kstride, rs = g->y_rstride;
    fc_idx xoff;
    int npix, kind;
    FC_FN(cl_tile)(g, L, i, &xoff, &npix, &kind);
    const fc_idx oh = xoff / PW, ow = xoff % PW;
    if (L->mode != FC_CL_GRID) {
        FC_FN(cl_out)(t, npix, mrows, yn + oh * rs + ow, ks);
        if (kind == 2) FC_FN(cl_out)(t + FC_CL_HALF * 2 * VLEN, npix, mrows, yn + (oh + 1) * rs, ks);
        return;
    }
    fc_idx off[FC_CL_RT], h = oh, w = ow;
    for (int r = 0; r < npix; r++) {
        off[r] = w < OW ? h * rs + w : -1;
        if (++w == PW) { w = 0; h++; }
    }
    for (int j = 0; j < mrows; j++)
        for (int r = 0; r < npix; r++)
            if (off[r] >= 0) yn[j * ks + off[r]] = t[r * 2 * VLEN + j];
}

/* Note [channel lanes]: images [n0, n1), output channels [k0, k0 + 2*VLEN) of
 * the group, part `part` of `nparts` equal runs of the images' tiles (a small
 * layer's tasks split its tiles too).  The task's tiles go in bands that fit the stage
 * (FC_CL_STAGE_BYTES), and a band's reduction in blocks of FC_KC steps: each
 * block's weights are transposed into wp (in L1) and run over every tile of
 * the band, whose sums wait in the stage between blocks (the same steps in the
 * same order: the same bits), and each tile's steps prefetch the next block's
 * weights, so their reads from memory overlap the multiply-adds.  A band of
 * tiles then goes out.  scratch: fc_cl_scratch_bytes. */
void FC_FN(implicit_cl_task)(const fc_implicit_args *g, fc_idx n0, fc_idx n1, int part,
                             int nparts, int k0, void *scratch)
{
    const fc_idx kred = g->kred, lda = g->lda, ks = g->y_kstride;
    const int mrows = g->M - k0 < 2 * VLEN ? g->M - k0 : 2 * VLEN;
    const fc_idx tsize = FC_CL_RT * 2 * VLEN;         /* values a tile */
    const fc_idx band = FC_CL_STAGE_BYTES / (tsize * (fc_idx)sizeof(FC_T));   /* tiles */
    fc_cl_layout L;
    FC_FN(cl_layout)(g->OH, g->OW, g->PW, &L);
    const fc_idx all = (n1 - n0) * L.ntile;
    const fc_idx first = all * part / nparts, end = all * (part + 1) / nparts;
    FC_T *wp = (FC_T *)(((uintptr_t)scratch + FC_ALIGN - 1) & ~(uintptr_t)(FC_ALIGN - 1));
    FC_T *binit = wp + FC_KC * 2 * VLEN;
    FC_T *stage = binit + 2 * VLEN;
    const FC_T *A = (const FC_T *)g->a + (fc_idx)k0 * lda, *bias = (const FC_T *)g->bias;
    const fc_idx *koff = g->koff;
    for (int j = 0; j < 2 * VLEN; j++) binit[j] = bias && j < mrows ? bias[k0 + j] : (FC_T)0;
    const int shift = FC_KC * (int)sizeof(FC_T) / 64 == 16 ? 4 : 5;   /* lines a row */
    for (fc_idx t0 = first; t0 < end; t0 += band) {
        const fc_idx t1 = end - t0 < band ? end : t0 + band;
        for (fc_idx kb = 0; kb < kred; kb += FC_KC) {
            const fc_idx kc = kred - kb < FC_KC ? kred - kb : FC_KC, nk = kb + kc;
            FC_FN(cl_pack)(A + kb, lda, mrows, kc, wp);
            const fc_idx pf_count = nk < kred ? (fc_idx)mrows << shift : 0;  /* next block's lines */
            const FC_T *pf = A + nk;
            for (fc_idx t = t0; t < t1; t++) {
                const fc_idx i = t % L.ntile;
                const FC_T *xn = (const FC_T *)g->xp + (n0 + t / L.ntile) * g->xp_nstride;
                fc_idx xoff;
                int npix, kind;
                FC_FN(cl_tile)(g, &L, i, &xoff, &npix, &kind);
                FC_T *st = stage + (t - t0) * tsize;
                const FC_T *init = kb == 0 ? binit : st;
                const fc_idx istep = kb == 0 ? 0 : 2 * VLEN, pf_first = (t - t0) * kc;
                if (kind == 0)
                    FC_FN(cl_row)(kc, wp, xn + xoff, koff + kb, 0, init, istep, st, pf, lda,
                                  shift, pf_first, pf_count);
                else if (kind == 1)
                    FC_FN(cl_half)(kc, wp, xn + xoff, koff + kb, 0, init, istep, st, pf, lda,
                                   shift, pf_first, pf_count);
                else
                    FC_FN(cl_two)(kc, wp, xn + xoff, koff + kb, g->PW, init, istep, st, pf,
                                  lda, shift, pf_first, pf_count);
            }
        }
        for (fc_idx t = t0; t < t1; t++) {
            FC_T *yn = (FC_T *)g->y + (n0 + t / L.ntile) * g->y_nstride + (fc_idx)k0 * ks;
            FC_FN(cl_put)(g, &L, t % L.ntile, stage + (t - t0) * tsize, mrows, yn);
        }
    }
}

#if FC_VBYTES == 64
/* Note [two-phase rows]: at column stride 2 with zero padding, one padded
 * row's two column phases come from the same 2*VLEN source values: two
 * masked loads (lanes outside the input or past PW load zeros), two
 * permutes, two masked stores.  pad_plane's general loops (a scalar prologue
 * and epilogue a phase, on rows of 28 values) took 28% of a grouped 240 ->
 * 240 3x3 s2 layer at 56x56 (15 groups, IMPLICIT); with this path the call
 * went 0.89 -> 0.72 ms and the copy's share to 22%, at memory speed (perf,
 * 1 thread, AMD EPYC Zen 4, 29 Nov 2026).  Winograd's phase split (column
 * stride 2 * dw) takes it too.  A copy: the same values either way. */
/* The masks of phases2_row's chunks of VLEN phase columns: mk[3*j] the
 * chunk's lanes inside PWs, mk[3*j + 1] and mk[3*j + 2] the source lanes of
 * its two loads inside the input and the padded row.  They depend on the
 * plane's geometry only: made once a plane (made once a row they were a
 * quarter of the copy of 8x8 phase planes). */
static inline void FC_FN(phases2_masks)(fc_idx W, fc_idx pl, fc_idx PW, fc_idx PWs, int nq,
                                        MT *mk)
{
    /* source columns [0, hi) are in the input and inside the PW padded ones */
    const fc_idx hi = W < PW - pl ? W : PW - pl;
    for (int j = 0; j < nq; j++) {
        const fc_idx q0 = (fc_idx)j * VLEN, c0 = 2 * q0 - pl;
        mk[3 * j] = FC_FN(lanes)(0, PWs - q0);
        mk[3 * j + 1] = FC_FN(lanes)(-c0, hi - c0);
        mk[3 * j + 2] = FC_FN(lanes)(-c0 - VLEN, hi - c0 - VLEN);
    }
}

/* mk: phases2_masks' for the nq chunks; NULL: made here (rows over 8 chunks). */
static inline void FC_FN(phases2_row)(const FC_T *s, fc_idx W, fc_idx pl, fc_idx PW,
                                      fc_idx PWs, int nq, const MT *mk, FC_T *d0, FC_T *d1)
{
#if FC_VLEN == 16
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14,
                                         16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_add_epi32(ie, _mm512_set1_epi32(1));
#else
    const __m512i ie = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    const __m512i io = _mm512_add_epi64(ie, _mm512_set1_epi64(1));
#endif
    for (int j = 0; j < nq; j++) {
        const fc_idx q0 = (fc_idx)j * VLEN;
        MT m3[3];
        if (!mk) FC_FN(phases2_masks)(W, pl - 2 * q0, PW - 2 * q0, PWs - q0, 1, m3);
        const MT *m = mk ? mk + 3 * j : m3;
        VT e = (VT){0}, o = (VT){0};
        if (s) {
            const fc_idx c0 = 2 * q0 - pl;      /* source column of lane 0 of lo */
            /* masked-off lanes are not read: their addresses may lie outside s */
            const FC_T *p = (const FC_T *)((const char *)s + c0 * (fc_idx)sizeof(FC_T));
            const VT lo = FC_FN(mload)(p, m[1]);
            const VT up = FC_FN(mload)(p + VLEN, m[2]);
#if FC_VLEN == 16
            e = (VT)_mm512_permutex2var_ps((__m512)lo, ie, (__m512)up);
            o = (VT)_mm512_permutex2var_ps((__m512)lo, io, (__m512)up);
#else
            e = (VT)_mm512_permutex2var_pd((__m512d)lo, ie, (__m512d)up);
            o = (VT)_mm512_permutex2var_pd((__m512d)lo, io, (__m512d)up);
#endif
        }
        FC_FN(mstore)(d0 + q0, m[0], e);
        FC_FN(mstore)(d1 + q0, m[0], o);
    }
}
#endif

/* One padded plane, split into stride phases: padded (r, x) goes to phase
 * (r % sh, x % sw) at (r / sh, x / sw); phase planes are PHs x PWs and
 * phase_stride apart.  With sh = sw = 1 this is a plain padded copy. */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
void FC_FN(pad_plane)(const FC_T *restrict src, fc_idx W, const int32_t *rowmap,
                             const int32_t *colmap, fc_idx PH, fc_idx PW, fc_idx pl,
                             int sh, int sw, fc_idx PWs, fc_idx phase_stride, fc_idx PHs,
                             FC_T *restrict dst)
{
    const fc_idx xend = pl + W < PW ? pl + W : PW;
#if FC_VBYTES == 64
    /* Note [two-phase rows]: zero padding is colmap -1 outside [pl, pl + W). */
    int zero_cols = sw == 2;
    for (fc_idx q = 0; zero_cols && q < pl && q < PW; q++) zero_cols = colmap[q] < 0;
    for (fc_idx q = xend; zero_cols && q < PW; q++) zero_cols = colmap[q] < 0;
    if (zero_cols) {
        /* rows past PH (when sh does not divide it) are zeros; the row's
         * phase and place counted along (a division a row was a tenth of
         * the copy of 8x8 phase planes) */
        const fc_idx nq = (PWs + VLEN - 1) / VLEN;
        MT mk[3 * 8];
        if (nq <= 8) FC_FN(phases2_masks)(W, pl, PW, PWs, (int)nq, mk);
        int ry = 0;
        FC_T *d = dst;
        for (fc_idx r = 0; r < PHs * sh; r++) {
            const FC_T *s = r < PH && rowmap[r] >= 0 ? src + (fc_idx)rowmap[r] * W : NULL;
            FC_T *drow = d + (fc_idx)ry * 2 * phase_stride;
            FC_FN(phases2_row)(s, W, pl, PW, PWs, (int)nq, nq <= 8 ? mk : NULL, drow,
                               drow + phase_stride);
            if (++ry == sh) { ry = 0; d += PWs; }
        }
        return;
    }
#endif
    for (fc_idx r = 0; r < PH; r++) {
        FC_T *drow = dst + (fc_idx)(r % sh) * sw * phase_stride + (r / sh) * PWs;
        const int32_t srow = rowmap[r];
        const FC_T *s = srow >= 0 ? src + (fc_idx)srow * W : NULL;
        if (sw == 1) {
            fc_idx q = 0;
            if (!s) {
                for (; q < PW; q++) drow[q] = (FC_T)0;
            } else {
                for (; q < pl && q < PW; q++) drow[q] = colmap[q] >= 0 ? s[colmap[q]] : (FC_T)0;
                if (q < xend) { FC_FN(copy_run)(drow + q, s + (q - pl), xend - q); q = xend; }
                for (; q < PW; q++) drow[q] = colmap[q] >= 0 ? s[colmap[q]] : (FC_T)0;
            }
            for (; q < PWs; q++) drow[q] = (FC_T)0;
            continue;
        }
        for (int rx = 0; rx < sw; rx++) {
            FC_T *d = drow + (fc_idx)rx * phase_stride;
            fc_idx q = 0, xq = rx;
            if (s) {
                for (; xq < PW && xq < pl; xq += sw, q++)
                    d[q] = colmap[xq] >= 0 ? s[colmap[xq]] : (FC_T)0;
                if (sw == 2 && xq < xend) {   /* constant stride: a loop GCC vectorises */
                    const FC_T *restrict sp = s + (xq - pl);
                    FC_T *restrict dq = d + q;
                    const fc_idx n = (xend - xq + 1) / 2;
                    for (fc_idx l = 0; l < n; l++) dq[l] = sp[2 * l];
                    q += n;
                    xq += 2 * n;
                }
                for (; xq < xend; xq += sw, q++) d[q] = s[xq - pl];
                for (; xq < PW; xq += sw, q++)
                    d[q] = colmap[xq] >= 0 ? s[colmap[xq]] : (FC_T)0;
            }
            for (; q < PWs; q++) d[q] = (FC_T)0;
        }
    }
    /* Rows of the phase planes past the padded input (when sh does not divide PH). */
    for (fc_idx r = PH; r < PHs * sh; r++)
        for (int rx = 0; rx < sw; rx++) {
            FC_T *d = dst + (fc_idx)(r % sh) * sw * phase_stride + (fc_idx)rx * phase_stride
                      + (r / sh) * PWs;
            for (fc_idx q = 0; q < PWs; q++) d[q] = (FC_T)0;
        }
}

/* Note [Winograd F(2x2, 3x3)]: for a 3x3 kernel at stride 1, each
 * 2x2 block of outputs ("tile") is  Y = A^T [sum_c U_c (.) V_c] A  with
 * U = G g G^T the transformed 3x3 weights (4x4) and V = B^T d B the
 * transformed 4x4 input patch, 16 multiplies per tile and channel instead of
 * 36 (Lavin and Gray, 2016).  The input is a padded copy split into phases
 * (pad_plane with sh = 2*dh, sw = 2*dw), each PHs x PWs, so on the tile grid
 * q = ty*PWs + tx the patch value d[i][j] of tile q sits at q + doff[i][j]: a
 * shifted view, as in Note [implicit GEMM on a padded copy] (columns
 * tx >= TW are junk, never stored).  With dilation d the outputs split into
 * d x d phases (rows p mod dh, columns p' mod dw), each an undilated
 * convolution over the phase planes: one sub-problem each, with its own doff
 * and output origin, and output steps y_rstep = dh*OW, y_cstep = dw.  A task
 * transforms NR tiles (nv vectors of them) of all C channels into
 * V[16][C][nv*VLEN] (packed-B layout), runs the 16 products
 * M[xi] = U[xi] x V[xi] through the GEMM micro-kernel one MR-row panel at a
 * time, and transforms M back to outputs (Note [Winograd panels] has the
 * other task layout).  Every output sums its channels in
 * order inside one micro-kernel call: the same bits for any thread count.
 * *bad is set when the transform could leave the error bound of the direct
 * algorithms' rounding analysis: a transformed input value nonzero but below
 * FC_WINO_TINY (products would underflow), or a non-finite output (an
 * overflow in the transforms, or an inf the transforms turned into NaN);
 * the caller then recomputes with the implicit GEMM. */
#define FC_WINO_TINY ((FC_T)(sizeof(FC_T) == 4 ? 0x1p-60 : 0x1p-500))
typedef __typeof__((VT){0} < (VT){0}) FC_CAT(fcv, m, FC_SUF, FC_ISA_NAME);
#define VTM FC_CAT(fcv, m, FC_SUF, FC_ISA_NAME)

/* gbuf[t][l] = tap t of the 3x3 kernel wk + 9*l, for the n <= VLEN kernels
 * stored one after another at wk (lanes past n read as zero); idx is the
 * gather table of winograd_weights.  With 16 float lanes the kernels are
 * loaded whole (nine values each) and transposed in registers: the transform
 * of 16 kernels then takes about 64 cycles instead of 76 with nine vector
 * gathers (Emerald Rapids, weights in cache). */
static inline void FC_FN(taps9)(FC_T gbuf[9][VLEN], const FC_T *restrict wk, int n,
                                const int32_t idx[9][VLEN])
{
#if defined(FC_HAVE_X86) && FC_HAVE_X86 && FC_VBYTES == 64 && FC_VLEN == 16
    (void)idx;
    __m512 r[16], a[16], b[16];
    for (int l = 0; l < 16; l++)
        r[l] = l < n ? _mm512_maskz_loadu_ps((__mmask16)0x1FF, wk + 9 * l) : _mm512_setzero_ps();
    for (int i = 0; i < 8; i++) {       /* pairs of kernels, within 128-bit blocks */
        a[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        a[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {       /* b[4i + j], block k: tap 4k + j of kernels 4i..4i+3 */
        b[4 * i] = _mm512_shuffle_ps(a[4 * i], a[4 * i + 2], 0x44);
        b[4 * i + 1] = _mm512_shuffle_ps(a[4 * i], a[4 * i + 2], 0xEE);
        b[4 * i + 2] = _mm512_shuffle_ps(a[4 * i + 1], a[4 * i + 3], 0x44);
        b[4 * i + 3] = _mm512_shuffle_ps(a[4 * i + 1], a[4 * i + 3], 0xEE);
    }
    for (int j = 0; j < 4; j++) {       /* gather block k of the four groups */
        const __m512 t0 = _mm512_shuffle_f32x4(b[j], b[4 + j], 0x88);
        const __m512 t1 = _mm512_shuffle_f32x4(b[j], b[4 + j], 0xDD);
        const __m512 t2 = _mm512_shuffle_f32x4(b[8 + j], b[12 + j], 0x88);
        const __m512 t3 = _mm512_shuffle_f32x4(b[8 + j], b[12 + j], 0xDD);
        _mm512_store_ps(gbuf[j], _mm512_shuffle_f32x4(t0, t2, 0x88));
        _mm512_store_ps(gbuf[4 + j], _mm512_shuffle_f32x4(t1, t3, 0x88));
        if (j == 0) _mm512_store_ps(gbuf[8], _mm512_shuffle_f32x4(t0, t2, 0xDD));
    }
#else
    (void)n;
    for (int t = 0; t < 9; t++) FC_FN(gather)(gbuf[t], wk, idx[t]);
#endif
}

/* U[m][xi][c] for output channels [k0, k1) of one group (w: [M][C][3][3]),
 * in FC_T arithmetic, VLEN channels at a time: each of a kernel's 9 taps is
 * gathered across VLEN channels (Note [gathered B]'s gather; lanes past C
 * read as zero and are never stored), so the transform and the FC_WINO_TINY
 * test run on vectors and U's rows are stored whole.  Each value takes the
 * same operations in the same order as one scalar transform would (no
 * contraction): the bits do not depend on where a channel falls in a vector.
 * Returns 1 when some U is nonzero and below FC_WINO_TINY. */
__attribute__((optimize("fp-contract=off")))
int FC_FN(winograd_weights)(const FC_T *restrict w, fc_idx M, fc_idx C, fc_idx k0,
                                   fc_idx k1, FC_T *restrict U)
{
    const fc_idx MC = C;     /* U is [M][16][C]: a channel's 16 rows C apart, not M*C
                              * (rows M*C apart would all map to one L1 set) */
    const VT half = SPLAT((FC_T)0.5), vz = SPLAT((FC_T)0);
    const VT tiny = SPLAT(FC_WINO_TINY), ntiny = SPLAT(-FC_WINO_TINY);
    /* lane l of tap t reads channel c0 + l's tap t; [1]: the last, partial block */
    int32_t idx[2][9][VLEN] __attribute__((aligned(FC_ALIGN)));
    FC_T gbuf[9][VLEN] __attribute__((aligned(FC_ALIGN)));
    FC_T ubuf[VLEN] __attribute__((aligned(FC_ALIGN)));
    VTM bad = vz < vz;      /* all lanes false */
    const int ntail = (int)(C % VLEN);
    (void)M;
    for (int t = 0; t < 9; t++)
        for (int l = 0; l < VLEN; l++) {
            idx[0][t][l] = 9 * l + t;
            idx[1][t][l] = l < ntail ? 9 * l + t : -1;
        }
    for (fc_idx k = k0; k < k1; k++) {
        for (fc_idx c0 = 0; c0 < C; c0 += VLEN) {
            const int n = C - c0 < VLEN ? (int)(C - c0) : VLEN;
            FC_T *restrict Uk = U + k * 16 * C + c0;
            const FC_T *wk = w + (k * C + c0) * 9;
            FC_FN(taps9)(gbuf, wk, n, idx[n < VLEN]);
            VT tr[4][3], u[16];
            for (int j = 0; j < 3; j++) {        /* G g: rows */
                const VT g0 = *(const VT *)gbuf[j], g1 = *(const VT *)gbuf[3 + j];
                const VT g2 = *(const VT *)gbuf[6 + j];
                tr[0][j] = g0;
                tr[1][j] = (g0 + g1 + g2) * half;
                tr[2][j] = (g0 - g1 + g2) * half;
                tr[3][j] = g2;
            }
            for (int a = 0; a < 4; a++) {        /* (G g) G^T: columns */
                const VT r0 = tr[a][0], r1 = tr[a][1], r2 = tr[a][2];
                u[a * 4 + 0] = r0;
                u[a * 4 + 1] = (r0 + r1 + r2) * half;
                u[a * 4 + 2] = (r0 - r1 + r2) * half;
                u[a * 4 + 3] = r2;
            }
            for (int e = 0; e < 16; e++) {
                bad |= (u[e] != vz) & (u[e] < tiny) & (u[e] > ntiny);
                if (n == VLEN) {
                    *(VTU *)(Uk + e * MC) = u[e];
                } else {
                    *(VT *)ubuf = u[e];
                    for (int l = 0; l < n; l++) Uk[e * MC + l] = ubuf[l];
                }
            }
        }
    }
    int any = 0;
    for (int l = 0; l < VLEN; l++) any |= bad[l] != 0;
    return any;
}

/* Note [dense Winograd lanes]: on small maps the grid wastes most lanes (a
 * 4x4 output: 2x2 tiles at pitch 3, 5 lanes of a vector of 16 for 4 tiles,
 * alone in its chunk per image; at dilation 6 on 33x33, 36 phases of 3x3
 * tiles, each grid 11 lanes of a vector).  Dense lanes instead number the
 * band's tiles image by image, output phase by phase, then by tile row and
 * column, every lane a tile, from tables the caller makes (_dense_lanes in
 * _cpu.pyx): each lane's patch origin (xo: image and phase plane included) is
 * gathered from the same phase planes, with phase (0, 0)'s patch offsets, and
 * its output offset includes its image and phase (callers pass image 0).
 * Every tile takes the same operations in the same order as on the grid: the
 * same bits.  (Across the phases since the dilated grids' lanes: interleaved
 * medians, 2 threads, AMD EPYC Zen 5, Winograd per phase -> across: 512 ->
 * 256 at 33x33, dilation 6, 8.4-8.8 ms -> 6.2-6.7; dilation 4 3.0-3.1 ->
 * 2.6-2.8; 256 at 65x65, dilation 12, 16.7-17.4 -> 10.1-11.4.) */

/* The lanes of chunk [qc, qc + ncol) (ncol <= NR): each lane's output
 * offset (-1 for a junk lane), its tile's rows and columns inside the output
 * (1 or 2), and masks of the valid lanes; with dense lanes also each lane's
 * patch origin xo (-1 past ncol).  Returns how many lanes are valid. */
static inline int FC_FN(wino_lanes)(const fc_winograd_args *g, fc_idx qc, int ncol,
                                    fc_idx *off, int *nr_, int *nc_, VTM *valid, int32_t *xo)
{
    const fc_idx pw = g->PWs;
    fc_idx ty = qc / pw, tx = qc % pw;
    int nvalid = 0;
    FC_T one[NR] __attribute__((aligned(FC_ALIGN)));
    for (int l = 0; l < NR; l++) {
        off[l] = -1;
        if (g->dense) {
            xo[l] = -1;
            if (l < ncol) {
                off[l] = g->lane_off[qc + l];
                xo[l] = g->lane_xo[qc + l];
                nr_[l] = g->lane_nrc[qc + l] & 3;
                nc_[l] = g->lane_nrc[qc + l] >> 2;
                nvalid++;
            }
        } else {
            if (l < ncol && tx < g->TW && ty < g->TH) {
                off[l] = 2 * ty * g->y_rstep + 2 * tx * g->y_cstep;
                nr_[l] = 2 * ty + 1 < g->OH ? 2 : 1;
                nc_[l] = 2 * tx + 1 < g->OW ? 2 : 1;
                nvalid++;
            }
            if (++tx == pw) { tx = 0; ty++; }
        }
        one[l] = off[l] >= 0 ? (FC_T)1 : (FC_T)0;
    }
    /* Only the valid tiles' values may flag the call: which lanes are junk
     * depends on how the grid was cut into tasks, i.e. on the thread count. */
    for (int v = 0; v < FC_NV; v++) valid[v] = *(const VT *)(one + v * VLEN) != SPLAT((FC_T)0);
    return nvalid;
}

/* V = B^T d B for channels [c0, c1) and the nv vectors of tiles at grid
 * point qc of image n: V[e][c][vs] holds value e of channel c's tiles, vs
 * (>= nv*VLEN) lanes a channel. */
static inline void FC_FN(wino_input)(const fc_winograd_args *g, fc_idx n, fc_idx qc, int nv,
                                     const VTM *valid, fc_idx c0, fc_idx c1,
                                     FC_T *restrict V, fc_idx vs, VTM *bad_, const int32_t *xo)
{
    const FC_T *xn = (const FC_T *)g->xp + n * g->xp_nstride;
    const fc_idx *doff = g->doff, C = g->C;
    const VT tiny = SPLAT(FC_WINO_TINY), ntiny = SPLAT(-FC_WINO_TINY), vz = SPLAT((FC_T)0);
    VTM bad = *bad_;
    /* Patch value (i, j + 2) sits one column right of (i, j) (the phase planes
     * of _winograd_bands): eight offsets, not sixteen, stay in registers (with
     * sixteen GCC spilled them, a move per load). */
    fc_idx o8[8];
    int pairs = 1;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++) {
            o8[i * 2 + j] = doff[i * 4 + j];
            pairs &= doff[i * 4 + j + 2] == doff[i * 4 + j] + 1;
        }
    for (fc_idx c = c0; c < c1; c++) {
        const FC_T *b = xn + c * g->plane + qc;
        for (int v = 0; v < nv; v++) {
            VT d[16], t[16], o[16];
            if (xo) {           /* Note [dense Winograd lanes] */
                FC_T gb[16][VLEN] __attribute__((aligned(FC_ALIGN)));
                const FC_T *bc = xn + c * g->plane;
                for (int e = 0; e < 16; e++) {
                    FC_FN(gather)(gb[e], bc + doff[e], xo + v * VLEN);
                    d[e] = *(const VT *)gb[e];
                }
            } else if (pairs) {
                _Pragma("GCC unroll 8")
                for (int k = 0; k < 8; k++) {
                    const FC_T *p = b + o8[k] + v * VLEN;
                    d[(k >> 1) * 4 + (k & 1)] = (VT)*(const VTU *)p;
                    d[(k >> 1) * 4 + (k & 1) + 2] = (VT)*(const VTU *)(p + 1);
                }
            } else {
                _Pragma("GCC unroll 16")
                for (int e = 0; e < 16; e++) d[e] = (VT)*(const VTU *)(b + doff[e] + v * VLEN);
            }
            _Pragma("GCC unroll 4")
            for (int j = 0; j < 4; j++) {
                t[j] = d[j] - d[8 + j];
                t[4 + j] = d[4 + j] + d[8 + j];
                t[8 + j] = d[8 + j] - d[4 + j];
                t[12 + j] = d[4 + j] - d[12 + j];
            }
            _Pragma("GCC unroll 4")
            for (int r = 0; r < 4; r++) {
                o[r * 4] = t[r * 4] - t[r * 4 + 2];
                o[r * 4 + 1] = t[r * 4 + 1] + t[r * 4 + 2];
                o[r * 4 + 2] = t[r * 4 + 2] - t[r * 4 + 1];
                o[r * 4 + 3] = t[r * 4 + 1] - t[r * 4 + 3];
            }
            _Pragma("GCC unroll 16")
            for (int e = 0; e < 16; e++) {
                bad |= (o[e] != vz) & (o[e] < tiny) & (o[e] > ntiny) & valid[v];
                *(VT *)(V + ((fc_idx)e * C + c) * vs + v * VLEN) = o[e];
            }
        }
    }
    *bad_ = bad;
}

/* The 16 products M[e] = U[e] x V[e] of one MR-row panel: U's row m of
 * value e at u + (m*16 + e)*C, V as wino_input left it (vs = nv*VLEN), M
 * [16][MR][NR]. */
static inline void FC_FN(wino_products)(fc_idx C, const FC_T *u, int mrows, const FC_T *V,
                                        int nv, FC_T *Mb, const FC_T *zero)
{
    const fc_idx vs = (fc_idx)nv * VLEN;
    for (int e = 0; e < 16; e++) {
        const FC_T *ue = u + (fc_idx)e * C, *ve = V + (fc_idx)e * C * vs;
        FC_T *me = Mb + (fc_idx)e * FC_MR * NR;
        if (nv == 1 && FC_NV > 1)
            FC_FN(ukernel_v1p)(C, ue, 16 * C, mrows, ve, 0, me, NR, zero);
        else if (nv == 2 && FC_NV > 2)
            FC_FN(ukernel_v2p)(C, ue, 16 * C, mrows, ve, 0, me, NR, zero);
        else
            FC_FN(ukernel)(C, ue, 16 * C, mrows, ve, 0, me, NR, zero);
    }
}

/* Y = A^T M A + bias for the panel's rows [mbase, mbase + mrows), stored to
 * the valid lanes' outputs of image n.  Undilated (y_cstep 1), a run of tiles
 * side by side in one tile row covers whole stretches of two output rows:
 * each row's two outputs per tile are interleaved in registers and the
 * stretch copied by vectors (one scalar store per output took a quarter of
 * resnet50-res2's Winograd tasks). */
static inline void FC_FN(wino_output)(const fc_winograd_args *g, fc_idx n, fc_idx mbase,
                                      int mrows, const FC_T *Mb, int nv, int ncol,
                                      const fc_idx *off, const int *nr_, const int *nc_,
                                      const VTM *valid, FC_T *Yt, VTM *bad_)
{
    const FC_T *bias = (const FC_T *)g->bias;
    FC_T *y = (FC_T *)g->y + n * g->y_nstride;
    const fc_idx yr = g->y_rstep, yc = g->y_cstep;
    const VT vz = SPLAT((FC_T)0);
    VTM bad = *bad_;
    VTM lo, hi;                  /* interleave two vectors: a0 b0 a1 b1 ... */
    for (int i = 0; i < VLEN; i++) {
        lo[i] = (i & 1 ? VLEN : 0) + i / 2;
        hi[i] = lo[i] + VLEN / 2;
    }
    for (int m = 0; m < mrows; m++) {
        const VT bv = SPLAT(bias ? bias[mbase + m] : (FC_T)0);
        for (int v = 0; v < nv; v++) {
            VT x[16], s0[4], s1[4];
            _Pragma("GCC unroll 16")
            for (int e = 0; e < 16; e++)
                x[e] = *(const VT *)(Mb + ((fc_idx)e * FC_MR + m) * NR + v * VLEN);
            _Pragma("GCC unroll 4")
            for (int j = 0; j < 4; j++) {
                s0[j] = x[j] + x[4 + j] + x[8 + j];
                s1[j] = x[4 + j] - x[8 + j] - x[12 + j];
            }
            const VT y00 = s0[0] + s0[1] + s0[2] + bv, y01 = s0[1] - s0[2] - s0[3] + bv;
            const VT y10 = s1[0] + s1[1] + s1[2] + bv, y11 = s1[1] - s1[2] - s1[3] + bv;
            bad |= (((y00 - y00) != vz) | ((y01 - y01) != vz) | ((y10 - y10) != vz)
                    | ((y11 - y11) != vz)) & valid[v];
            if (yc == 1) {      /* Yt: [2][2*NR], output rows 0 and 1 interleaved */
                *(VT *)(Yt + 2 * v * VLEN) = __builtin_shuffle(y00, y01, lo);
                *(VT *)(Yt + (2 * v + 1) * VLEN) = __builtin_shuffle(y00, y01, hi);
                *(VT *)(Yt + 2 * NR + 2 * v * VLEN) = __builtin_shuffle(y10, y11, lo);
                *(VT *)(Yt + 2 * NR + (2 * v + 1) * VLEN) = __builtin_shuffle(y10, y11, hi);
            } else {
                *(VT *)(Yt + v * VLEN) = y00;
                *(VT *)(Yt + NR + v * VLEN) = y01;
                *(VT *)(Yt + 2 * NR + v * VLEN) = y10;
                *(VT *)(Yt + 3 * NR + v * VLEN) = y11;
            }
        }
        FC_T *yk = y + (mbase + m) * g->y_kstride;
        if (yc == 1) {
            for (int l = 0; l < ncol;) {
                if (off[l] < 0) { l++; continue; }
                int e = l + 1;   /* tiles [l, e): side by side, the same rows, all but the last 2 wide */
                while (e < ncol && off[e] == off[e - 1] + 2 && nc_[e - 1] == 2 && nr_[e] == nr_[l])
                    e++;
                const fc_idx len = 2 * (e - l) - (nc_[e - 1] == 1);
                FC_FN(copy_run)(yk + off[l], Yt + 2 * l, len);
                if (nr_[l] > 1) FC_FN(copy_run)(yk + off[l] + yr, Yt + 2 * NR + 2 * l, len);
                l = e;
            }
            continue;
        }
        for (int l = 0; l < ncol; l++) {
            if (off[l] < 0) continue;
            FC_T *yo = yk + off[l];
            yo[0] = Yt[l];
            if (nc_[l] > 1) yo[yc] = Yt[NR + l];
            if (nr_[l] > 1) {
                yo[yr] = Yt[2 * NR + l];
                if (nc_[l] > 1) yo[yr + yc] = Yt[3 * NR + l];
            }
        }
    }
    *bad_ = bad;
}

static int FC_FN(any_lane)(VTM m)
{
    int any = 0;
    for (int l = 0; l < VLEN; l++) any |= m[l] != 0;
    return any;
}

void FC_FN(winograd_task)(const fc_winograd_args *g, fc_idx n, fc_idx q0, fc_idx q1,
                                 int m0, int m1, void *scratch, int *bad_out)
{
    const FC_T *U = (const FC_T *)g->u;
    const fc_idx C = g->C, M = g->M;
    FC_T *V = (FC_T *)(((uintptr_t)scratch + FC_ALIGN - 1) & ~(uintptr_t)(FC_ALIGN - 1));
    FC_T *Mb = V + 16 * C * NR;               /* [16][MR][NR] */
    FC_T *Yt = Mb + 16 * FC_MR * NR;          /* [4][NR]: outputs (r, s) of each lane */
    FC_T zero[FC_MR];
    for (int m = 0; m < FC_MR; m++) zero[m] = (FC_T)0;
    fc_idx off[NR];      /* output offset of each lane's tile, -1 for junk lanes */
    int nr_[NR], nc_[NR];   /* rows / columns of the tile inside the output (1 or 2) */
    int32_t xo[NR];      /* dense lanes: each lane's patch origin */
    const VT vz = SPLAT((FC_T)0);
    VTM bad = vz < vz;      /* all lanes false */
    for (fc_idx qc = q0; qc < q1; qc += NR) {
        const int ncol = q1 - qc < NR ? (int)(q1 - qc) : NR;
        VTM valid[FC_NV];
        if (FC_FN(wino_lanes)(g, qc, ncol, off, nr_, nc_, valid, xo) == 0) continue;
        /* vectors of lanes this chunk needs (a grid's last chunk may need fewer) */
        const int nv = (ncol + VLEN - 1) / VLEN;
        FC_FN(wino_input)(g, n, qc, nv, valid, 0, C, V, (fc_idx)nv * VLEN, &bad,
                          g->dense ? xo : NULL);
        for (int panel = m0; panel < m1; panel++) {
            const fc_idx mbase = (fc_idx)panel * FC_MR;
            const int mrows = M - mbase < FC_MR ? (int)(M - mbase) : FC_MR;
            FC_FN(wino_products)(C, U + mbase * 16 * C, mrows, V, nv, Mb, zero);
            FC_FN(wino_output)(g, n, mbase, mrows, Mb, nv, ncol, off, nr_, nc_, valid, Yt, &bad);
        }
    }
    if (FC_FN(any_lane)(bad)) *bad_out = 1;
}

/* Note [Winograd panels]: with few tiles (a 14x14 layer: 49), the tasks of
 * winograd_task each transform all channels of their tiles, and the whole
 * call's transformed weights U (16 values per channel pair: 4 MB for 256 ->
 * 256) go out to memory and back, for a GEMM that reuses each of them only
 * over those few tiles.  Instead the call can transform every chunk of tiles
 * once into a shared V (winograd_input_task, tasks over chunks and channel
 * blocks), then run tasks over MR-row panels (winograd_panel_task): each
 * transforms its panel's weights into scratch, where they stay in cache, and
 * runs them over every chunk.  Each value takes exactly the operations it
 * takes in winograd_task, in the same order: the same bits either way. */
void FC_FN(winograd_input_task)(const fc_winograd_args *subs, const fc_wino_chunk *ch,
                                fc_idx c0, fc_idx c1, void *V, int *bad_out)
{
    const fc_winograd_args *g = subs + ch->sub;
    fc_idx off[NR];
    int nr_[NR], nc_[NR];
    int32_t xo[NR];
    VTM valid[FC_NV];
    const VT vz = SPLAT((FC_T)0);
    VTM bad = vz < vz;
    FC_FN(wino_lanes)(g, ch->qc, ch->ncol, off, nr_, nc_, valid, xo);
    const int nv = (ch->ncol + VLEN - 1) / VLEN;
    FC_FN(wino_input)(g, ch->n, ch->qc, nv, valid, c0, c1, (FC_T *)V + ch->voff,
                      (fc_idx)nv * VLEN, &bad, g->dense ? xo : NULL);
    if (FC_FN(any_lane)(bad)) *bad_out = 1;
}

void FC_FN(winograd_panel_task)(const fc_winograd_args *subs, const fc_wino_chunk *chunks,
                                int nchunk, const void *V, const void *w, int panel,
                                void *scratch, int *bad_out)
{
    const fc_idx C = subs[0].C, M = subs[0].M, mbase = (fc_idx)panel * FC_MR;
    const int mrows = M - mbase < FC_MR ? (int)(M - mbase) : FC_MR;
    FC_T *Up = (FC_T *)(((uintptr_t)scratch + FC_ALIGN - 1) & ~(uintptr_t)(FC_ALIGN - 1));
    FC_T *Mb = Up + 16 * C * FC_MR;           /* [16][MR][NR] */
    FC_T *Yt = Mb + 16 * FC_MR * NR;          /* [4][NR] */
    FC_T zero[FC_MR];
    for (int m = 0; m < FC_MR; m++) zero[m] = (FC_T)0;
    fc_idx off[NR];
    int nr_[NR], nc_[NR];
    int32_t xo[NR];
    VTM valid[FC_NV];
    const VT vz = SPLAT((FC_T)0);
    VTM bad = vz < vz;
    if (FC_FN(winograd_weights)((const FC_T *)w + mbase * C * 9, mrows, C, 0, mrows, Up))
        *bad_out = 1;
    for (int i = 0; i < nchunk; i++) {
        const fc_wino_chunk *ch = chunks + i;
        const fc_winograd_args *g = subs + ch->sub;
        if (FC_FN(wino_lanes)(g, ch->qc, ch->ncol, off, nr_, nc_, valid, xo) == 0) continue;
        const int nv = (ch->ncol + VLEN - 1) / VLEN;
        FC_FN(wino_products)(C, Up, mrows, (const FC_T *)V + ch->voff, nv, Mb, zero);
        FC_FN(wino_output)(g, ch->n, mbase, mrows, Mb, nv, ch->ncol, off, nr_, nc_, valid,
                           Yt, &bad);
    }
    if (FC_FN(any_lane)(bad)) *bad_out = 1;
}

/* Note [transposed Winograd]: a conv_transpose2d with a 4x4 kernel at stride
 * 2 splits into four output phases (r, r') (output row 2m + r, column
 * 2m' + r'), each a 2x2 correlation of the input: phase r reads input rows
 * m + e_r - 1 and m + e_r, e_r = (r + pad) / 2, with kernel rows f_r + 2
 * and f_r, f_r = (r + pad) % 2 (the same along columns).  Each runs as
 * Winograd F(3x3, 2x2): three outputs per axis from a 4-value patch, 16
 * multiplies per tile and channel pair instead of 36 (Lavin and Gray, 2016;
 * points 0, 1, -1 and infinity).  Its input transform B^T is the one of
 * F(2x2, 3x3) (wino_input, reused); G = [1 0; 1/2 1/2; 1/2 -1/2; 0 -1]
 * (the last row's sign matches B^T's last row, d1 - d3) and
 * A^T = [1 1 1 0; 0 1 -1 0; 0 1 1 1].  A tile's patch rows 3ty + e - 1 ..
 * 3ty + e + 2 (e the smaller e_r) serve both row phases: phase r's tile
 * then holds its outputs m = 3ty + c_r + i, c_r = e - e_r (0 or -1), i < 3.
 * So one transformed patch feeds all four phases: the GEMM rows are
 * R = 4k + 2r + r' (U: [4K][16][C]) over the tiles of one grid, a 4x4 input
 * patch per 6x6 outputs.  The padded copy is split into 3x3 phase planes
 * (tiles step 3), so tile q = ty*PWs + tx reads value (i, j) at q + doff,
 * and a band's images follow each other in every plane, so the lanes of a
 * chunk run on from one image's grid into the next.  Outputs a tile
 * computes past the output's edges are dropped; the grid keeps a junk column
 * (row) past the last tile's only where its patch column (row) 3 feeds a
 * stored output, and elsewhere that value is the next row's (image's) first,
 * which feeds only dropped outputs: dcgan-up3's 16 x 36 tiles then fill 12
 * chunks of 48 lanes instead of 16 chunks of 48 with 36 tiles each (the
 * products are four fifths of the call: 18-22% faster).  *bad as in
 * Note [Winograd F(2x2, 3x3)]; the caller then recomputes exactly. */
__attribute__((optimize("fp-contract=off")))
int FC_FN(winograd_t_weights)(const FC_T *restrict w, fc_idx C, fc_idx K, fc_idx k0,
                              fc_idx k1, const int *f, FC_T *restrict U)
{
    /* w: [C][K][4][4], from output channel 0 of the chunk; U: rows 4(k - k0)..,
     * each [16][C].  f: f_r for rows r = 0, 1 then columns. */
    const VT half = SPLAT((FC_T)0.5), vz = SPLAT((FC_T)0);
    const VT tiny = SPLAT(FC_WINO_TINY), ntiny = SPLAT(-FC_WINO_TINY);
    int32_t idx[2][16][VLEN] __attribute__((aligned(FC_ALIGN)));
    FC_T gbuf[16][VLEN] __attribute__((aligned(FC_ALIGN)));
    FC_T ubuf[VLEN] __attribute__((aligned(FC_ALIGN)));
    VTM bad = vz < vz;
    const int ntail = (int)(C % VLEN);
    int ok = K * 16 * (fc_idx)VLEN < ((fc_idx)1 << 31);   /* gather offsets fit 32 bits */
    for (int t = 0; t < 16; t++)
        for (int l = 0; l < VLEN; l++) {
            idx[0][t][l] = ok ? (int32_t)(16 * K * l + t) : 0;
            idx[1][t][l] = ok && l < ntail ? (int32_t)(16 * K * l + t) : -1;
        }
    for (fc_idx k = k0; k < k1; k++) {
        for (fc_idx c0 = 0; c0 < C; c0 += VLEN) {
            const int n = C - c0 < VLEN ? (int)(C - c0) : VLEN;
            const FC_T *wk = w + (c0 * K + k) * 16;
            if (ok) {
                for (int t = 0; t < 16; t++) FC_FN(gather)(gbuf[t], wk, idx[n < VLEN][t]);
            } else {
                for (int t = 0; t < 16; t++)
                    for (int l = 0; l < VLEN; l++)
                        gbuf[t][l] = l < n ? wk[(fc_idx)l * K * 16 + t] : (FC_T)0;
            }
            for (int ph = 0; ph < 4; ph++) {
                const int fr = f[ph >> 1], fc = f[2 + (ph & 1)];
                FC_T *restrict Uk = U + ((k - k0) * 4 + ph) * 16 * C + c0;
                VT g2[2][2], tr[4][2], u[16];
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++)
                        g2[a][b] = *(const VT *)gbuf[(fr + 2 - 2 * a) * 4 + fc + 2 - 2 * b];
                for (int b = 0; b < 2; b++) {           /* G g: rows */
                    tr[0][b] = g2[0][b];
                    tr[1][b] = (g2[0][b] + g2[1][b]) * half;
                    tr[2][b] = (g2[0][b] - g2[1][b]) * half;
                    tr[3][b] = -g2[1][b];
                }
                for (int a = 0; a < 4; a++) {           /* (G g) G^T: columns */
                    u[a * 4 + 0] = tr[a][0];
                    u[a * 4 + 1] = (tr[a][0] + tr[a][1]) * half;
                    u[a * 4 + 2] = (tr[a][0] - tr[a][1]) * half;
                    u[a * 4 + 3] = -tr[a][1];
                }
                for (int e = 0; e < 16; e++) {
                    bad |= (u[e] != vz) & (u[e] < tiny) & (u[e] > ntiny);
                    if (n == VLEN) {
                        *(VTU *)(Uk + e * C) = u[e];
                    } else {
                        *(VT *)ubuf = u[e];
                        for (int l = 0; l < n; l++) Uk[e * C + l] = ubuf[l];
                    }
                }
            }
        }
    }
    return FC_FN(any_lane)(bad);
}

/* A run of a chunk's lanes: tiles side by side in one tile row. */
typedef struct { int l0, l1; fc_idx n, ty, tx0; } FC_FN(wt_run);

/* Y = A^T M A + bias for the panel's GEMM rows [mbase, mbase + mrows) (row
 * R: output channel R/4, phase R%4) of the chunk's tiles, stored where they
 * fall inside the output.  Rows 2h and 2h + 1 are one channel's two column
 * phases: in output row 6ty + 2i + ro[r] a tile's six values (three of each
 * phase, alternating) lie side by side, and so do its neighbours'.  They are
 * interleaved in registers into Z (six values a lane) and each run of tiles
 * copied out by vectors, clipped to the output (by its own loop: as a call
 * to memmove, the 36-value runs of dcgan-up3 took 4% of its call). */
__attribute__((noinline, optimize("no-tree-loop-distribute-patterns")))
static void FC_FN(wino_t_output)(const fc_winograd_args *g, fc_idx mbase,
                                        int mrows, const FC_T *Mb, int nv,
                                        const FC_FN(wt_run) *runs, int nrun, const VTM *valid,
                                        FC_T *Z, VTM *bad_)
{
    const FC_T *bias = (const FC_T *)g->bias;
    FC_T *y = (FC_T *)g->y;
    const fc_idx OH = g->OH, OW = g->OW;
    const VT vz = SPLAT((FC_T)0);
    /* the phase whose columns come first (co smaller) is "a", the other "b" */
    const int b_first = g->t_co[1] < g->t_co[0];
    const fc_idx cmin = b_first ? g->t_co[1] : g->t_co[0];
    VTM bad = *bad_;
    VTM lo, hi, m1[6], m2[6];       /* interleave two vectors; then three pairs */
    for (int e = 0; e < VLEN; e++) {
        lo[e] = (e & 1 ? VLEN : 0) + e / 2;
        hi[e] = lo[e] + VLEN / 2;
    }
    for (int v = 0; v < 6; v++)
        for (int e = 0; e < VLEN; e++) {
            const int zh = VLEN * v + e - 3 * VLEN * (v / 3), L = zh / 6, slot = zh % 6;
            const int j = slot / 2, src = 2 * L + slot % 2;
            m1[v][e] = j == 0 ? src : j == 1 ? VLEN + src : 0;
            m2[v][e] = j == 2 ? VLEN + src : e;
        }
    for (int m = 0; m < mrows; m += 2) {
        const fc_idx R = mbase + m, k = R >> 2;
        const int r = (int)(R >> 1) & 1;
        const VT bv = SPLAT(bias ? bias[k] : (FC_T)0);
        VT yv[2][FC_NV][3][3];
        for (int h = 0; h < 2; h++)
            for (int v = 0; v < nv; v++) {
                VT x[16], s[3][4];
                _Pragma("GCC unroll 16")
                for (int e = 0; e < 16; e++)
                    x[e] = *(const VT *)(Mb + ((fc_idx)e * FC_MR + m + h) * NR + v * VLEN);
                _Pragma("GCC unroll 4")
                for (int b = 0; b < 4; b++) {
                    s[0][b] = x[b] + x[4 + b] + x[8 + b];
                    s[1][b] = x[4 + b] - x[8 + b];
                    s[2][b] = x[4 + b] + x[8 + b] + x[12 + b];
                }
                VTM nonfinite = vz < vz;
                _Pragma("GCC unroll 3")
                for (int i = 0; i < 3; i++) {
                    const VT y0 = s[i][0] + s[i][1] + s[i][2] + bv;
                    const VT y1 = s[i][1] - s[i][2] + bv;
                    const VT y2 = s[i][1] + s[i][2] + s[i][3] + bv;
                    nonfinite |= ((y0 - y0) != vz) | ((y1 - y1) != vz) | ((y2 - y2) != vz);
                    yv[h ^ b_first][v][i][0] = y0;
                    yv[h ^ b_first][v][i][1] = y1;
                    yv[h ^ b_first][v][i][2] = y2;
                }
                bad |= nonfinite & valid[v];
            }
        FC_T *yk = y + k * g->y_kstride;
        for (int i = 0; i < 3; i++) {
            for (int v = 0; v < nv; v++) {
                VT p[2][3];
                for (int j = 0; j < 3; j++) {
                    p[0][j] = __builtin_shuffle(yv[0][v][i][j], yv[1][v][i][j], lo);
                    p[1][j] = __builtin_shuffle(yv[0][v][i][j], yv[1][v][i][j], hi);
                }
                for (int u = 0; u < 6; u++) {
                    const VT t = __builtin_shuffle(p[u / 3][0], p[u / 3][1], m1[u]);
                    *(VT *)(Z + (6 * v + u) * VLEN) = __builtin_shuffle(t, p[u / 3][2], m2[u]);
                }
            }
            const fc_idx orow = 2 * i + g->t_ro[r];
            for (int q = 0; q < nrun; q++) {
                const fc_idx o = 6 * runs[q].ty + orow;
                if (o < 0 || o >= OH) continue;
                fc_idx c0 = 6 * runs[q].tx0 + cmin, c1 = c0 + 6 * (runs[q].l1 - runs[q].l0);
                const FC_T *src = Z + 6 * runs[q].l0;
                if (c0 < 0) { src -= c0; c0 = 0; }
                if (c1 > OW) c1 = OW;
                if (c1 > c0)
                    FC_FN(copy_run)(yk + runs[q].n * g->y_nstride + o * OW + c0, src, c1 - c0);
            }
        }
    }
    *bad_ = bad;
}

/* One input plane into the 3x3 phase planes of Note [transposed Winograd]:
 * padded row r (input row rowmap[r], -1 for a zero row) and column x (input
 * column x - pl, zero outside [0, W)) go to phase plane (r % 3, x % 3) at
 * (r / 3, x / 3); phase planes are rows of PWs values, phase_stride apart.
 * Each stretch of VLEN phase columns takes its 3*VLEN padded values by three
 * masked loads (without masks: through a zero-filled buffer) and two shuffles
 * a phase (the scalar loops of pad_plane took a tenth of dcgan-up3's call).
 * Whole vectors are stored: up to VLEN - 1 values past a row's end, which the
 * next row overwrites; the caller leaves VLEN values of slack after each
 * channel's planes for the last rows. */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
void FC_FN(pad_plane3)(const FC_T *restrict src, fc_idx W, const int32_t *rowmap,
                       fc_idx nrows, fc_idx PWs, fc_idx pl, fc_idx phase_stride,
                       FC_T *restrict dst)
{
#if !defined(FC_MASKED)
    FC_T buf[3 * VLEN] __attribute__((aligned(FC_ALIGN)));
#endif
    VTM m1[3], m2[3];
    for (int rx = 0; rx < 3; rx++)
        for (int l = 0; l < VLEN; l++) {
            const int x = 3 * l + rx;
            m1[rx][l] = x < 2 * VLEN ? x : 0;
            m2[rx][l] = x < 2 * VLEN ? l : VLEN + x - 2 * VLEN;
        }
    for (fc_idx r = 0; r < nrows; r++) {
        FC_T *drow = dst + (r % 3) * 3 * phase_stride + (r / 3) * PWs;
        const FC_T *s = rowmap[r] >= 0 ? src + (fc_idx)rowmap[r] * W : NULL;
        for (fc_idx q0 = 0; q0 < PWs; q0 += VLEN) {
            const fc_idx x0 = 3 * q0 - pl;     /* input column of buf[0] */
#if defined(FC_MASKED)
            /* Masked loads straight from the row (no round trip through buf,
             * whose narrow stores then wide loads stalled store forwarding:
             * ~39 cycles a 16-wide row, 11% of DCGAN's 128 -> 64 at 16x16). */
            const VT vz = SPLAT((FC_T)0);
            const VT A = s ? FC_FN(mload)(s + x0, FC_FN(lanes)(-x0, W - x0)) : vz;
            const VT B = s ? FC_FN(mload)(s + x0 + VLEN, FC_FN(lanes)(-x0 - VLEN, W - x0 - VLEN))
                           : vz;
            const VT Cv = s ? FC_FN(mload)(s + x0 + 2 * VLEN,
                                           FC_FN(lanes)(-x0 - 2 * VLEN, W - x0 - 2 * VLEN))
                            : vz;
#else
            const fc_idx a = x0 < 0 ? 0 : x0, e = x0 + 3 * VLEN < W ? x0 + 3 * VLEN : W;
            for (int i = 0; i < 3 * VLEN; i++) buf[i] = (FC_T)0;
            if (s)
                for (fc_idx i = a; i < e; i++) buf[i - x0] = s[i];
            const VT A = *(const VT *)buf, B = *(const VT *)(buf + VLEN);
            const VT Cv = *(const VT *)(buf + 2 * VLEN);
#endif
            for (int rx = 0; rx < 3; rx++)
                *(VTU *)(drow + rx * phase_stride + q0) =
                    __builtin_shuffle(__builtin_shuffle(A, B, m1[rx]), Cv, m2[rx]);
        }
    }
}

/* Tasks of Note [transposed Winograd]: the lanes [q0, q1) of the band's
 * grid (its images' grids one after another, g->xp_nstride lanes apart; tile
 * rows from g->ty0), GEMM-row panels [m0, m1). */
void FC_FN(winograd_t_task)(const fc_winograd_args *g, fc_idx q0, fc_idx q1,
                            int m0, int m1, void *scratch, int *bad_out)
{
    const FC_T *U = (const FC_T *)g->u;
    const fc_idx C = g->C, M = g->M, pw = g->PWs;
    FC_T *V = (FC_T *)(((uintptr_t)scratch + FC_ALIGN - 1) & ~(uintptr_t)(FC_ALIGN - 1));
    FC_T *Mb = V + 16 * C * NR;               /* [16][MR][NR] */
    FC_T *Z = Mb + 16 * FC_MR * NR;           /* [6][NR]: one output row's values */
    FC_T zero[FC_MR];
    for (int m = 0; m < FC_MR; m++) zero[m] = (FC_T)0;
    FC_FN(wt_run) runs[NR];
    FC_T one[NR] __attribute__((aligned(FC_ALIGN)));
    const VT vz = SPLAT((FC_T)0);
    VTM bad = vz < vz;
    for (fc_idx qc = q0; qc < q1; qc += NR) {
        const int ncol = q1 - qc < NR ? (int)(q1 - qc) : NR;
        const fc_idx img = g->xp_nstride;
        fc_idx n = qc / img, ty = qc % img / pw, tx = qc % img % pw;
        int nrun = 0;
        for (int l = 0; l < NR; l++) {
            const int ok = l < ncol && tx < g->TW && ty < g->TH;
            one[l] = ok ? (FC_T)1 : (FC_T)0;
            if (ok && (nrun == 0 || runs[nrun - 1].l1 != l || tx == 0)) {   /* a row's first */
                runs[nrun].l0 = l;
                runs[nrun].n = n;
                runs[nrun].ty = g->ty0 + ty;
                runs[nrun].tx0 = tx;
                nrun++;
            }
            if (ok) runs[nrun - 1].l1 = l + 1;
            if (++tx == pw) {
                tx = 0;
                if (++ty * pw == img) { ty = 0; n++; }
            }
        }
        if (nrun == 0) continue;
        VTM valid[FC_NV];
        for (int v = 0; v < FC_NV; v++) valid[v] = *(const VT *)(one + v * VLEN) != vz;
        const int nv = (ncol + VLEN - 1) / VLEN;
        FC_FN(wino_input)(g, 0, qc, nv, valid, 0, C, V, (fc_idx)nv * VLEN, &bad, NULL);
        for (int panel = m0; panel < m1; panel++) {
            const fc_idx mbase = (fc_idx)panel * FC_MR;
            const int mrows = M - mbase < FC_MR ? (int)(M - mbase) : FC_MR;
            FC_FN(wino_products)(C, U + mbase * 16 * C, mrows, V, nv, Mb, zero);
            FC_FN(wino_t_output)(g, mbase, mrows, Mb, nv, runs, nrun, valid, Z, &bad);
        }
    }
    if (FC_FN(any_lane)(bad)) *bad_out = 1;
}
#undef VTM

#define FC_RB 4   /* output rows per register block of the direct kernel */

/* Note [depthwise tile]: a few input channels with a KxK kernel at stride S,
 * K and S compile-time constants so every loop below unrolls and every tap
 * test folds away.  A block is FC_RB output rows x 2 vectors; the kernel walks
 * the block's input rows once, loads each tap column's vectors once, and feeds
 * them to every output row of the block that uses that input row (up to K/S
 * rows), instead of reloading per output row.  The loads are unaligned (the
 * phase-split scratch rows of direct_task); sharing
 * them halves or better the load slots per FMA, which is what bounds a
 * depthwise convolution.  Each output still sums its taps in (i, j) order from
 * the bias, so results match the other paths bitwise. */
static inline __attribute__((always_inline)) void
FC_FN(dw_tile)(const FC_T *s, fc_idx rowstep, fc_idx rowpitch, fc_idx qw, int C_g,
               fc_idx cstride, const FC_T *wk, FC_T b, FC_T *yk, fc_idx OW, fc_idx r0,
               fc_idx r1, FC_T *tmp, const int K, const int S)
{
    for (fc_idx oh = r0; oh < r1; oh += FC_RB) {
        const FC_T *blk = s + (oh - r0) * rowstep;
        const fc_idx nrow = r1 - oh < FC_RB ? r1 - oh : FC_RB;
        for (fc_idx ow = 0; ow < OW; ow += 2 * VLEN) {
            VT acc[FC_RB][2];
            for (int rb = 0; rb < FC_RB; rb++) acc[rb][0] = acc[rb][1] = SPLAT(b);
            for (int c = 0; c < C_g; c++) {
            const FC_T *wc = wk + c * K * K;
#pragma GCC unroll 16
            for (int ir = 0; ir < (FC_RB - 1) * S + K; ir++) {
                const FC_T *rp = blk + c * cstride + ir * rowpitch + ow;
#pragma GCC unroll 8
                for (int j = 0; j < K; j++) {
                    const FC_T *p = rp + (j % S) * qw + j / S;
                    VT v0 = *(const VTU *)p, v1 = *(const VTU *)(p + VLEN);
                    /* Keep the loaded vectors in registers: folded into each
                     * FMA as a memory operand they would be loaded again. */
                    __asm__("" : "+x"(v0), "+x"(v1));
#pragma GCC unroll 4
                    for (int r = 0; r < FC_RB; r++) {
                        const int i = ir - r * S;
                        if (i >= 0 && i < K) {
                            const VT wv = SPLAT(wc[i * K + j]);
                            acc[r][0] += wv * v0;
                            acc[r][1] += wv * v1;
                        }
                    }
                }
            }
            }
            for (fc_idx rb = 0; rb < nrow; rb++)
                for (int v = 0; v < 2; v++) {
                    const fc_idx o0 = ow + v * VLEN;
                    if (o0 >= OW) break;
                    FC_T *yr = yk + (oh + rb) * OW + o0;
                    if (o0 + VLEN <= OW) {
                        *(VTU *)yr = acc[rb][v];
                    } else {
                        *(VTU *)tmp = acc[rb][v];
                        for (fc_idx l = 0; l < OW - o0; l++) yr[l] = tmp[l];
                    }
                }
        }
    }
}

/* Note [masked depthwise]: at stride 1 or 2 with zero padding, on AVX-512 and
 * AVX2, the depthwise tile reads the input where it lies, with no padded copy:
 * a register block's input rows are pointers into x (or into a zero row for
 * padding rows), and every load is a masked load whose lanes outside the
 * row's W columns read as zero (masked lanes touch no memory); at stride 2 a
 * vector of outputs is the even lanes of two such loads.  The tail of an
 * output row is a masked store.  The copy of Note [depthwise tile] took ~40%
 * of a 56x56 3x3 channel and ~65% of a 112x112 one at stride 2 (Intel Xeon
 * 5th gen, in L2).  The multiply-adds and their order are those of the copied
 * path, zeros included, so the results are bitwise the same.
 *
 * Note [depthwise rows in registers]: on AVX-512 each input row of a block
 * is loaded once, as S NV + 1 masked vectors from the strip's first column,
 * and every tap's vectors are made from those in registers.  At stride 1 tap
 * j's vector v is L[v], L[v + 1] shifted down j lanes (valignd).  At stride 2
 * tap j is the even (j even) or odd columns of the padded row from column
 * j / 2 on: the row's vectors are split by permutes into its even and odd
 * columns E[0..NV], O[0..NV] (E[NV], O[NV] hold the values past the strip),
 * and tap j's vectors are E or O shifted down j / 2 lanes.  Before, each
 * (row, tap) took its own masked loads (and at stride 2 a permute a vector),
 * and the K x NV (x 2) masks spilled from the mask registers (3x3 on 96 x
 * 112x112 at stride 2, 1 thread: 4.4 cycles a multiply-add).  The same values
 * reach the same multiply-adds in the same order.  Old / new time,
 * interleaved medians at 2 threads, AMD EPYC Zen 5, 29 Nov 2026: stride 2, 3x3
 * on 96 at 112x112 0.79 / 0.70 (float64 0.75 / 0.62), 144 at 56x56 0.79, 16
 * at 224x224 0.73, 480 at 24x24 0.80; 5x5 on 24 at 112x112 0.59-0.66, 40 at
 * 56x56 0.76-0.89.  Stride 1, 3x3: 144 at 56x56 0.74-0.77, 96 at 112x112
 * 0.79, 256 at 28x28 0.82, 192 at 28x28 0.81-0.85, 32 at 112x112 0.86-0.89,
 * 8 at 224x224 0.74 (5x5 and 7x7 there run Note [padded depthwise] or Note
 * [depthwise channel lanes]; 3x3 on planes wider than a vector, one channel a
 * group, now rolls: Note [rolling depthwise rows]).  AVX2 keeps the per-tap
 * loads (no two-register lane shift there). */
#if defined(FC_MASKED) && FC_VBYTES == 64
/* mh[h], h < nh: the lanes of vector h of a row read from column c0 on that
 * lie inside its W columns (the other lanes read as zero, touching nothing). */
static inline __attribute__((always_inline)) void
FC_FN(row_lanes)(MT *mh, int nh, fc_idx W, fc_idx c0)
{
    for (int h = 0; h < nh; h++) mh[h] = FC_FN(lanes)(-(c0 + h * VLEN), W - (c0 + h * VLEN));
}
#endif
#ifdef FC_MASKED
/* Output rows [r0, r1) of KB output channels (1, 2 or 4; C_g input channels at
 * x, weights wk [C_g][K][K], the next channel's wks on), RB rows x NV vectors a
 * block (4 x 2, or 8 x 1 for rows of at most one vector: 7x7 and 14x14 planes
 * waste fewer lanes; 2 x 2 for four channels), as Note
 * [depthwise tile] but straight from x (Note [masked depthwise]).  On AVX-512
 * each input row's vectors are loaded once (Note [depthwise rows in
 * registers]); on AVX2 each tap loads its own, at stride 2 the even lanes of
 * two masked loads.  `zero`: W zeros. */
static inline __attribute__((always_inline)) void
FC_FN(dw_masked)(const FC_T *x, fc_idx H, fc_idx W, int C_g, const int32_t *rowmap,
                 fc_idx PH, fc_idx pl, const FC_T *zero, const FC_T *wk, fc_idx wks,
                 const FC_T *bk, FC_T *yk, fc_idx yks, fc_idx OW, fc_idx r0, fc_idx r1,
                 const int K, const int S, const int RB, const int NV, const int KB)
{
    /* Column strips outer: a strip's masks are made once for all its rows. */
    for (fc_idx ow = 0; ow < OW; ow += NV * VLEN) {
        const fc_idx c0 = ow * S - pl;   /* input column of lane 0 at tap column 0 */
#if FC_VBYTES == 64
        /* Note [depthwise rows in registers]: the lanes inside the row's W
         * columns of the row's vector h */
        MT mh[5];
        FC_FN(row_lanes)(mh, S * NV + 1, W, c0);
#else
        MT m[7][2][2];   /* [tap column][vector][half]: lanes inside the row's W columns */
FC_DW_UNROLL(8)
        for (int j = 0; j < K; j++)
            for (int v = 0; v < NV; v++)
                for (int h = 0; h < S; h++) {
                    const fc_idx o = c0 + j + (v * S + h) * VLEN;
                    m[j][v][h] = FC_FN(lanes)(-o, W - o);
                }
#endif
        const MT s0 = FC_FN(lanes)(0, OW - ow), s1 = FC_FN(lanes)(0, OW - ow - VLEN);
        for (fc_idx oh = r0; oh < r1; oh += RB) {
            /* The block's input rows (RB <= 8, K <= 7) of channel 0, at c0, and
             * the step to the next channel's: H*W, or 0 for the zero row. */
            const FC_T *rows[2 * 8 + 6];
            fc_idx cstep[2 * 8 + 6];
FC_DW_UNROLL(16)
            for (int ir = 0; ir < (RB - 1) * S + K; ir++) {
                const fc_idx pr = oh * S + ir;
                const int32_t sr = pr < PH ? rowmap[pr] : -1;
                rows[ir] = (sr >= 0 ? x + (fc_idx)sr * W : zero) + c0;
                cstep[ir] = sr >= 0 ? H * W : 0;
            }
            VT acc[4][8][2];
            for (int kb = 0; kb < KB; kb++) {
                const FC_T b = bk ? bk[kb] : (FC_T)0;
                for (int rb = 0; rb < RB; rb++) acc[kb][rb][0] = acc[kb][rb][1] = SPLAT(b);
            }
            for (int c = 0; c < C_g; c++) {
                const FC_T *wc = wk + c * K * K;   /* output channel kb: + kb*wks */
FC_DW_UNROLL(32)
                for (int ir = 0; ir < (RB - 1) * S + K; ir++) {
                    const FC_T *rp = rows[ir] + c * cstep[ir];
#if FC_VBYTES == 64
                    VT L[5], E[3], O[3];   /* the row; at stride 2 its even and odd columns */
                    for (int h = 0; h < S * NV + 1; h++) L[h] = FC_FN(mload)(rp + h * VLEN, mh[h]);
                    if (S == 2) {
                        for (int v = 0; v < NV; v++) {
                            E[v] = FC_FN(evens)(L[2 * v], L[2 * v + 1]);
                            O[v] = FC_FN(odds)(L[2 * v], L[2 * v + 1]);
                        }
                        if (K == 3) {
                            E[NV] = L[2 * NV];    /* lane 0: the one value tap 2 needs */
                        } else {
                            const VT z = SPLAT((FC_T)0);
                            E[NV] = FC_FN(evens)(L[2 * NV], z);
                            O[NV] = FC_FN(odds)(L[2 * NV], z);
                        }
                    }
#endif
FC_DW_UNROLL(8)
                    for (int j = 0; j < K; j++) {
                        VT v0, v1 = SPLAT((FC_T)0);
#if FC_VBYTES == 64
                        if (S == 1) {
                            v0 = j == 0 ? L[0] : FC_FN(shiftcat)(L[0], L[1], j);
                            if (NV == 2) v1 = j == 0 ? L[1] : FC_FN(shiftcat)(L[1], L[2], j);
                        } else {
                            const VT *B = j % 2 ? O : E;
                            v0 = j < 2 ? B[0] : FC_FN(shiftcat)(B[0], B[1], j / 2);
                            if (NV == 2) v1 = j < 2 ? B[1] : FC_FN(shiftcat)(B[1], B[2], j / 2);
                        }
#else
                        if (S == 1) {
                            v0 = FC_FN(mload)(rp + j, m[j][0][0]);
                            if (NV == 2) v1 = FC_FN(mload)(rp + j + VLEN, m[j][1][0]);
                        } else {
                            v0 = FC_FN(evens)(FC_FN(mload)(rp + j, m[j][0][0]),
                                              FC_FN(mload)(rp + j + VLEN, m[j][0][1]));
                            if (NV == 2)
                                v1 = FC_FN(evens)(FC_FN(mload)(rp + j + 2 * VLEN, m[j][1][0]),
                                                  FC_FN(mload)(rp + j + 3 * VLEN, m[j][1][1]));
                        }
#endif
                        __asm__("" : "+v"(v0), "+v"(v1));   /* as in dw_tile; any of 32 registers */
FC_DW_UNROLL(4)
                        for (int kb = 0; kb < KB; kb++)
FC_DW_UNROLL(8)
                        for (int r = 0; r < RB; r++) {
                            const int i = ir - r * S;
                            if (i >= 0 && i < K) {
                                const VT wv = SPLAT(wc[kb * wks + i * K + j]);
                                acc[kb][r][0] += wv * v0;
                                if (NV == 2) acc[kb][r][1] += wv * v1;
                            }
                        }
                    }
                }
            }
            const fc_idx nrow = r1 - oh < RB ? r1 - oh : RB;
            for (int kb = 0; kb < KB; kb++)
                for (fc_idx rb = 0; rb < nrow; rb++) {
                    FC_T *yr = yk + kb * yks + (oh + rb) * OW + ow;
                    FC_FN(mstore)(yr, s0, acc[kb][rb][0]);
                    if (NV == 2 && ow + VLEN < OW) FC_FN(mstore)(yr + VLEN, s1, acc[kb][rb][1]);
                }
        }
    }
}

/* One out-of-line function per specialisation of dw_masked (kernel K, stride
 * S, channels per group CG or 0 for any, RB x NV blocks, KB output channels
 * at a time): inlined all into direct_task they made one function too big for the
 * compiler to build in reasonable time. */
#define FC_DWM_DEF(NAME, CG, K, S, RB, NV, KB)                                           \
static __attribute__((noinline)) void FC_FN(NAME)(                                       \
    const FC_T *x, fc_idx H, fc_idx W, int C_g, const int32_t *rowmap, fc_idx PH,        \
    fc_idx pl, const FC_T *zero, const FC_T *wk, fc_idx wks, const FC_T *bk, FC_T *yk,   \
    fc_idx yks, fc_idx OW, fc_idx r0, fc_idx r1)                                         \
{                                                                                        \
    FC_FN(dw_masked)(x, H, W, CG ? CG : C_g, rowmap, PH, pl, zero, wk,                   \
                     CG ? CG * K * K : wks, bk, yk, yks, OW, r0, r1, K, S, RB, NV, KB);  \
}
#define FC_DWM_DEF2(NAME, CG, K, S, KB)                                                  \
    FC_DWM_DEF(NAME##_n, CG, K, S, 8, 1, KB)                                             \
    FC_DWM_DEF(NAME##_w, CG, K, S, 4, 2, KB)
/* Quads on planes wider than a vector: 2 x 2 blocks, 16 accumulators as for pairs. */
FC_DWM_DEF(dwm3s1q, 0, 3, 1, 2, 2, 4)
/* Note [grouped channel counts]: a group's channel count as a constant (4, 8
 * or 16, resnext's and most grouped layers' C_g) makes every weight offset
 * kb*wks + i*K + j a constant, so the weight broadcasts address one register
 * plus an immediate.  With wks at run time GCC kept the four kb*wks offsets on
 * the stack and rebuilt an address per broadcast (195 movs to 144 multiply-adds
 * in the quad tile).  Same operations, same bits.  Interleaved medians, const
 * vs run-time C_g, Intel Xeon 5th gen, 1 thread (2 threads): resnext-g32 (4
 * per group, 56x56) 1.16 (1.18), 8 per group at 28x28 1.17 (1.18), 16 at 28x28
 * 1.18 (1.20), 16 at 14x14 (pairs) 1.14 (1.14), 8 at 56x56 stride 2 1.10
 * (1.09), 4 at 7x7 x4 1.12 (1.10).  fc_dw_const_cg = 0 (a test hook) keeps
 * the run-time versions. */
#define FC_DWM_CG3(NAME, K, S, RB, NV, KB)                                                \
    FC_DWM_DEF(NAME##4, 4, K, S, RB, NV, KB)                                             \
    FC_DWM_DEF(NAME##8, 8, K, S, RB, NV, KB)                                             \
    FC_DWM_DEF(NAME##16, 16, K, S, RB, NV, KB)
FC_DWM_CG3(dwm3s1q, 3, 1, 2, 2, 4)
FC_DWM_CG3(dwm3s2q, 3, 2, 2, 2, 4)
FC_DWM_CG3(dwm3s1p_n, 3, 1, 8, 1, 2)
FC_DWM_CG3(dwm3s1p_w, 3, 1, 4, 2, 2)
#undef FC_DWM_CG3
FC_DWM_DEF(dwm3s2q, 0, 3, 2, 2, 2, 4)
FC_DWM_DEF2(dwm3s1p, 0, 3, 1, 2)
FC_DWM_DEF2(dwm3s2p, 0, 3, 2, 2)
FC_DWM_DEF2(dwm3s1c1, 1, 3, 1, 1)
FC_DWM_DEF2(dwm3s1, 0, 3, 1, 1)
FC_DWM_DEF2(dwm5s1, 0, 5, 1, 1)
FC_DWM_DEF2(dwm7s1, 0, 7, 1, 1)
FC_DWM_DEF2(dwm3s2c1, 1, 3, 2, 1)
FC_DWM_DEF2(dwm3s2, 0, 3, 2, 1)
FC_DWM_DEF2(dwm5s2, 0, 5, 2, 1)
FC_DWM_DEF2(dwm7s2, 0, 7, 2, 1)
#undef FC_DWM_DEF2
#undef FC_DWM_DEF

#if FC_VBYTES == 64
/* Note [rolling depthwise rows]: a depthwise 3x3 at stride 1 or 2 (one input
 * channel a group, one output) on planes wider than a vector, AVX-512.  The
 * tile of dw_masked (4 rows x 2 vectors a block) ran at ~73 cycles a block of
 * 72 multiply-adds, twice what they take (AMD EPYC Zen 5): each block rebuilt
 * its six row pointers and masks, loaded 6 rows for 4 outputs, and GCC sank
 * the second vector's multiply-adds into the stores' branches, leaving four
 * dependent chains at a time.  Here a column strip of up to 4 vectors rolls
 * down the rows: each padded input row p is loaded once (NV + 1 masked
 * loads), its three tap vectors made once (valignd), and fed to the three
 * output rows it reaches: p (weights row 0, the accumulators started at the
 * bias), p - 1 (row 1) and p - 2 (row 2, then stored).  Three sets of NV
 * accumulators rotate; a step has 3 NV independent chains.  An output's
 * multiply-adds are dw_masked's in its order (bias, then input rows, then tap
 * columns, zero rows included), so the results are bitwise the same.  The
 * weights are broadcast inside each strip's function (passed as vectors in
 * memory, they were reloaded every step), and each step prefetches the row 8
 * on.  Standalone, one 56x56 plane in L1: 7.1-7.5 cycles a row vector (the tiles
 * 6.8); 144 planes (from L3): 9.6 against 10.9, 32 at 112x112 10.1 against
 * 12.7.  Interleaved medians, rolling / tiles, AMD EPYC Zen 5, 29 Nov 2026,
 * 1 thread (2 threads): 144 at 56x56 (mobilenetv2-dw3x3) 0.78-0.79
 * (0.79-0.85), 96 at 112x112 0.68-0.69 (0.70), 32 at 112x112 0.71-0.74
 * (0.74-0.80), 8 at 224x224 0.80-0.85 (0.56), 256 and 192 at 28x28 0.92-1.03
 * (0.97-1.03).  At stride 2 (dwr3s2_strip) two sets take turns, each input
 * row loaded once where the tiles loaded 9 rows for 4 outputs in each of a
 * row's strips; 1 thread (2 threads): 96 at 112x112 (mobilenetv2-dw3x3s2)
 * 0.70-0.73 (0.71-0.72), float64 0.68-0.69 (0.68-0.75), 144 at 56x56
 * 0.70-0.72 (0.84-0.86), 32 at 112x112 0.69-0.70 (0.78-0.93), 16 at 224x224
 * 0.70 (0.59-0.75).  Planes of one vector keep the 8 x 1 tiles. */
static inline __attribute__((always_inline)) const FC_T *
FC_FN(dwr_row)(const FC_T *x, fc_idx W, const int32_t *rowmap, fc_idx PH, const FC_T *zero,
               fc_idx p, fc_idx c0)
{
    const int32_t sr = p < PH ? rowmap[p] : -1;
    return (sr >= 0 ? x + (fc_idx)sr * W : zero) + c0;
}

/* The strip's weights and bias as vectors, and the masks of the lanes inside
 * the input row (nh vectors from column c0) and inside the output row. */
static inline __attribute__((always_inline)) void
FC_FN(dwr_setup)(const FC_T *wk, const FC_T *bk, fc_idx W, fc_idx c0, int nh, fc_idx OW,
                 fc_idx ow, int NV, VT *w, VT *bv, MT *mh, MT *ms)
{
    for (int i = 0; i < 9; i++) w[i] = SPLAT(wk[i]);
    *bv = SPLAT(bk ? *bk : (FC_T)0);
    FC_FN(row_lanes)(mh, nh, W, c0);
    for (int v = 0; v < NV; v++) ms[v] = FC_FN(lanes)(0, OW - ow - v * VLEN);
}

/* One input row rp: start Nw (its output row), add to Md (the row above) and
 * Od (two above, then stored at yo) where dn, dm, dod. */
static inline __attribute__((always_inline)) void
FC_FN(dwr3_step)(const FC_T *rp, fc_idx W, const MT *mh, const VT *w, VT bv, VT *Nw, VT *Md,
                 VT *Od, FC_T *yo, const MT *ms, const int NV, const int dn, const int dm,
                 const int dod)
{
    VT L[5];
    for (int h = 0; h <= NV; h++) L[h] = FC_FN(mload)(rp + h * VLEN, mh[h]);
    /* The row 8 on (the next plane's past the last rows): the hardware's
     * prefetch alone left ~20% of the time waiting on x out of L2. */
    for (int h = 0; h <= NV; h++) __builtin_prefetch(rp + 8 * W + h * VLEN, 0, 3);
    for (int v = 0; v < NV; v++) {
        const VT t0 = L[v], t1 = FC_FN(shiftcat)(L[v], L[v + 1], 1),
                 t2 = FC_FN(shiftcat)(L[v], L[v + 1], 2);
        if (dn) { Nw[v] = bv; Nw[v] += w[0] * t0; Nw[v] += w[1] * t1; Nw[v] += w[2] * t2; }
        if (dm) { Md[v] += w[3] * t0; Md[v] += w[4] * t1; Md[v] += w[5] * t2; }
        if (dod) { Od[v] += w[6] * t0; Od[v] += w[7] * t1; Od[v] += w[8] * t2; }
    }
    if (dod)
        for (int v = 0; v < NV; v++) FC_FN(mstore)(yo + v * VLEN, ms[v], Od[v]);
}

/* Output rows [r0, r1) (at least 3) of the strip of NV vectors at column ow. */
static inline __attribute__((always_inline)) void
FC_FN(dwr3s1_strip)(const FC_T *x, fc_idx W, const int32_t *rowmap, fc_idx PH, fc_idx pl,
                    const FC_T *zero, const FC_T *wk, const FC_T *bk, FC_T *yk, fc_idx OW,
                    fc_idx ow, fc_idx r0, fc_idx r1, const int NV)
{
    const fc_idx c0 = ow - pl;
    VT w[9], bv, A[4], B[4], C[4];
    MT mh[5], ms[4];
    FC_FN(dwr_setup)(wk, bk, W, c0, NV + 1, OW, ow, NV, w, &bv, mh, ms);
#define FC_DWR_STEP(P, N_, M_, O_, dn, dm, dod)                                           \
    FC_FN(dwr3_step)(FC_FN(dwr_row)(x, W, rowmap, PH, zero, P, c0), W, mh, w, bv, N_, M_, \
                     O_, yk + ((P) - 2) * OW + ow, ms, NV, dn, dm, dod)
    fc_idx p = r0;
    FC_DWR_STEP(p, C, A, B, 1, 0, 0);
    FC_DWR_STEP(p + 1, B, C, A, 1, 1, 0);
    p += 2;
    fc_idx n = r1 - r0 - 2;   /* steps with all three rows */
    for (; n >= 3; n -= 3, p += 3) {
        FC_DWR_STEP(p, A, B, C, 1, 1, 1);
        FC_DWR_STEP(p + 1, C, A, B, 1, 1, 1);
        FC_DWR_STEP(p + 2, B, C, A, 1, 1, 1);
    }
    if (n == 0) {
        FC_DWR_STEP(p, A, B, C, 0, 1, 1);
        FC_DWR_STEP(p + 1, C, A, B, 0, 0, 1);
    } else if (n == 1) {
        FC_DWR_STEP(p, A, B, C, 1, 1, 1);
        FC_DWR_STEP(p + 1, C, A, B, 0, 1, 1);
        FC_DWR_STEP(p + 2, B, C, A, 0, 0, 1);
    } else {
        FC_DWR_STEP(p, A, B, C, 1, 1, 1);
        FC_DWR_STEP(p + 1, C, A, B, 1, 1, 1);
        FC_DWR_STEP(p + 2, B, C, A, 0, 1, 1);
        FC_DWR_STEP(p + 3, A, B, C, 0, 0, 1);
    }
#undef FC_DWR_STEP
}

/* Stride 2: output row r reads padded rows 2r, 2r + 1, 2r + 2, and row 2r + 2
 * is also row r + 1's first; two sets of accumulators take turns.  A row's
 * taps are its even columns, its odd ones, and the even ones a column on (the
 * vectors of Note [depthwise rows in registers], made a vector at a time).
 * Input row rp adds to Cu with weights row i (1 or 2; 0: none) and, where nx,
 * starts Nx (weights row 0). */
static inline __attribute__((always_inline)) void
FC_FN(dwr3s2_row)(const FC_T *rp, fc_idx W, const MT *mh, const VT *w, VT bv, VT *Cu, VT *Nx,
                  const int NV, const int i, const int nx)
{
    for (int h = 0; h <= 2 * NV; h++) __builtin_prefetch(rp + 8 * W + h * VLEN, 0, 3);
    VT Lo = FC_FN(mload)(rp, mh[0]);
    for (int v = 0; v < NV; v++) {
        const VT L1 = FC_FN(mload)(rp + (2 * v + 1) * VLEN, mh[2 * v + 1]),
                 L2 = FC_FN(mload)(rp + (2 * v + 2) * VLEN, mh[2 * v + 2]);
        const VT t0 = FC_FN(evens)(Lo, L1), t1 = FC_FN(odds)(Lo, L1),
                 t2 = FC_FN(shiftcat)(t0, L2, 1);
        if (i) { Cu[v] += w[3 * i] * t0; Cu[v] += w[3 * i + 1] * t1; Cu[v] += w[3 * i + 2] * t2; }
        if (nx) { Nx[v] = bv; Nx[v] += w[0] * t0; Nx[v] += w[1] * t1; Nx[v] += w[2] * t2; }
        Lo = L2;
    }
}

static inline __attribute__((always_inline)) void
FC_FN(dwr3s2_strip)(const FC_T *x, fc_idx W, const int32_t *rowmap, fc_idx PH, fc_idx pl,
                    const FC_T *zero, const FC_T *wk, const FC_T *bk, FC_T *yk, fc_idx OW,
                    fc_idx ow, fc_idx r0, fc_idx r1, const int NV)
{
    const fc_idx c0 = 2 * ow - pl;
    VT w[9], bv, A[4], B[4];
    MT mh[9], ms[4];
    FC_FN(dwr_setup)(wk, bk, W, c0, 2 * NV + 1, OW, ow, NV, w, &bv, mh, ms);
#define FC_DWR_ROW(P, CU, NX, i, nx)                                                      \
    FC_FN(dwr3s2_row)(FC_FN(dwr_row)(x, W, rowmap, PH, zero, P, c0), W, mh, w, bv, CU, NX, \
                      NV, i, nx)
    /* Output row R: its rows 2R + 1 and 2R + 2 (this one also row R + 1's
     * first, where nx), then stored. */
#define FC_DWR_STEP2(R, CU, NX, nx)                                                       \
    do {                                                                                 \
        FC_DWR_ROW(2 * (R) + 1, CU, NX, 1, 0);                                           \
        FC_DWR_ROW(2 * (R) + 2, CU, NX, 2, nx);                                          \
        for (int v = 0; v < NV; v++) FC_FN(mstore)(yk + (R) * OW + ow + v * VLEN, ms[v], CU[v]); \
    } while (0)
    FC_DWR_ROW(2 * r0, B, A, 0, 1);   /* row r0's first */
    fc_idx r = r0;
    for (; r + 2 < r1; r += 2) {
        FC_DWR_STEP2(r, A, B, 1);
        FC_DWR_STEP2(r + 1, B, A, 1);
    }
    if (r1 - r == 2) {
        FC_DWR_STEP2(r, A, B, 1);
        FC_DWR_STEP2(r + 1, B, A, 0);
    } else {
        FC_DWR_STEP2(r, A, B, 0);
    }
#undef FC_DWR_STEP2
#undef FC_DWR_ROW
}

#define FC_DWR_DEF(S, NV)                                                                 \
static __attribute__((noinline)) void FC_FN(dwr3s##S##_##NV)(                           \
    const FC_T *x, fc_idx W, const int32_t *rowmap, fc_idx PH, fc_idx pl,                \
    const FC_T *zero, const FC_T *wk, const FC_T *bk, FC_T *yk, fc_idx OW, fc_idx ow,    \
    fc_idx r0, fc_idx r1)                                                                \
{                                                                                        \
    FC_FN(dwr3s##S##_strip)(x, W, rowmap, PH, pl, zero, wk, bk, yk, OW, ow, r0, r1, NV); \
}
FC_DWR_DEF(1, 2)
FC_DWR_DEF(1, 3)
FC_DWR_DEF(1, 4)
FC_DWR_DEF(2, 2)
FC_DWR_DEF(2, 3)
FC_DWR_DEF(2, 4)
#undef FC_DWR_DEF

/* Rows [r0, r1) of a plane more than a vector wide (at stride 1 at least 3
 * rows), in strips of at most 4 vectors, as even as the vector count allows. */
static void FC_FN(dwr3)(const FC_T *x, fc_idx W, const int32_t *rowmap, fc_idx PH, fc_idx pl,
                        const FC_T *zero, const FC_T *wk, const FC_T *bk, FC_T *yk,
                        fc_idx OW, fc_idx r0, fc_idx r1, int S)
{
    const fc_idx nvec = (OW + VLEN - 1) / VLEN, nstrip = (nvec + 3) / 4;
    fc_idx ow = 0;
    for (fc_idx s = 0; s < nstrip; s++) {
        const fc_idx nv = (nvec - ow / VLEN + (nstrip - s) - 1) / (nstrip - s);
#define FC_DWR_CALL(FN) FC_FN(FN)(x, W, rowmap, PH, pl, zero, wk, bk, yk, OW, ow, r0, r1)
        if (S == 1) {
            if (nv >= 4) FC_DWR_CALL(dwr3s1_4);
            else if (nv == 3) FC_DWR_CALL(dwr3s1_3);
            else FC_DWR_CALL(dwr3s1_2);
        } else {
            if (nv >= 4) FC_DWR_CALL(dwr3s2_4);
            else if (nv == 3) FC_DWR_CALL(dwr3s2_3);
            else FC_DWR_CALL(dwr3s2_2);
        }
#undef FC_DWR_CALL
        ow += nv * VLEN;
    }
}
#endif

/* Note [padded depthwise]: a 5x5 or 7x7 depthwise layer at stride 1 has 2K
 * masks per column strip in dw_masked, more than the 7 mask registers of
 * AVX-512: GCC spilled and reloaded them, hoisted all K*K weight splats out
 * of the block loop and spilled those too (~750 register copies and ~570 mask
 * moves to ~1570 multiply-adds: 22-24 ns per output vector of a 7x7 on 56x56,
 * 3 times what the multiply-adds take).  So here each task copies its input
 * rows once into a zero-bordered plane (masked loads, one per vector, a few
 * percent of a 7x7's loads), and the tile reads it with plain loads: no masks
 * but the output's last vector.  A weight is broadcast from memory once per
 * (input row, tap column, block row), through an asm statement so the compiler
 * cannot hoist it, and feeds the block row's NV vectors.  The multiply-adds and
 * their order are dw_masked's (input rows, then tap columns, per output), so
 * the results are bitwise the same.  A task copies a block's new input rows
 * just before the block, so the copy's loads from x overlap the arithmetic.
 * Standalone (plane in cache), Intel Xeon 5th gen, one thread: 7x7 on 56x56
 * 11.5-12.7 ns per output vector against 22-24; in the library (x from L3,
 * which the copy now waits on: 18% of the time) interleaved medians, padded vs
 * masked, float32, 1 thread (2 threads): 7x7 on 56x56 1.12-1.16 (1.18),
 * 112x112 1.13-1.15 (1.20), 40x40 (1.14), 28x28 0.99-1.01, 14x14 0.89-0.91,
 * 7x7 0.80-0.86; 5x5 on 56x56 1.01-1.03 (1.08), 28x28 0.90-0.93, 14x14 0.81.
 * float64: 7x7 on 56x56 1.18, 28x28 1.07, 14x14 1.12, 7x7 0.81; 5x5 on 14x14
 * 1.06.  AVX2, float32, 1 thread: 1.30-1.88, 7x7 planes 1.02 (8 x 2 blocks;
 * 4 x 2, which fit AVX2's 16 registers, are 1.25-1.45 times faster again).  A 3x3 lost
 * (the copy costs about as much as its 9 multiply-adds a vector), so 3x3
 * stays in dw_masked.  (Inside FC_MASKED: AVX-512 and AVX2 only.) */
#define FC_DW_PADDED 1
#if FC_VLEN * 4 == FC_VBYTES
#define FC_BCAST_INSN "vbroadcastss"
#else
#define FC_BCAST_INSN "vbroadcastsd"
#endif
/* Padded rows [pr0, pr0 + nrows) of one channel plane x (H x W) into P, row
 * pitch PWp: P[i][col] = x[rowmap[pr0 + i]][col - pl], zero outside the input. */
static void FC_FN(dw_pad_rows)(const FC_T *x, fc_idx W, const int32_t *rowmap, fc_idx PH,
                               fc_idx pl, fc_idx pr0, fc_idx nrows, FC_T *P, fc_idx PWp)
{
    for (fc_idx i = 0; i < nrows; i++) {
        const int32_t sr = pr0 + i < PH ? rowmap[pr0 + i] : -1;
        FC_T *d = P + i * PWp;
        if (sr < 0) {
            for (fc_idx c = 0; c < PWp; c += VLEN) *(VT *)(d + c) = SPLAT((FC_T)0);
            continue;
        }
        const FC_T *s = x + (fc_idx)sr * W - pl;
        for (fc_idx c = 0; c < PWp; c += VLEN)
            *(VT *)(d + c) = c >= pl && c + VLEN <= pl + W ? (VT)*(const VTU *)(s + c)
                             : FC_FN(mload)(s + c, FC_FN(lanes)(pl - c, pl + W - c));
    }
}

/* A block's RB x NV sums acc to output rows oh ... (up to r1) at column ow (a
 * macro: as a function taking acc, GCC ran Note [large depthwise kernels]'s
 * blocks 15% slower). */
#define FC_DWP_STORE()                                                                    \
    do {                                                                                  \
        const fc_idx nrow = r1 - oh < RB ? r1 - oh : RB;                                  \
        for (fc_idx r = 0; r < nrow; r++)                                                 \
            for (int v = 0; v < NV; v++) {                                                \
                FC_T *yr = yk + (oh + r) * OW + ow + v * VLEN;                            \
                const fc_idx n = OW - ow - v * VLEN;                                      \
                if (n >= VLEN) *(VTU *)yr = acc[r][v];                                    \
                else if (n > 0) FC_FN(mstore)(yr, FC_FN(lanes)(0, n), acc[r][v]);         \
            }                                                                             \
    } while (0)

/* Output rows [r0, r1) of one output channel (weights wk [K][K], bias *bk) from
 * the padded plane P (row 0 = padded row r0), RB x NV blocks. */
static inline __attribute__((always_inline)) void
FC_FN(dw_padded)(const FC_T *P, fc_idx PWp, const FC_T *wk, const FC_T *bk, FC_T *yk,
                 fc_idx OW, fc_idx r0, fc_idx r1, const int K, const int RB, const int NV)
{
    for (fc_idx ow = 0; ow < OW; ow += NV * VLEN) {
        for (fc_idx oh = r0; oh < r1; oh += RB) {
            const FC_T *base = P + (oh - r0) * PWp + ow, *wb = wk;
            /* The weights' address made opaque per block: without, GCC kept the
             * broadcasts' addresses live across blocks, in ~450 moves. */
            __asm__("" : "+r"(wb));
            const FC_T b = bk ? *bk : (FC_T)0;
            VT acc[8][2];
            for (int r = 0; r < RB; r++)
                for (int v = 0; v < NV; v++) acc[r][v] = SPLAT(b);
FC_DW_UNROLL(16)
            for (int ir = 0; ir < RB + K - 1; ir++)
FC_DW_UNROLL(8)
                for (int j = 0; j < K; j++) {
                    VT in[2];
FC_DW_UNROLL(2)
                    for (int v = 0; v < NV; v++) {
                        in[v] = *(const VTU *)(base + ir * PWp + j + v * VLEN);
                        __asm__("" : "+v"(in[v]));   /* loaded once, kept in a register */
                    }
FC_DW_UNROLL(8)
                    for (int r = 0; r < RB; r++) {
                        const int i = ir - r;
                        if (i >= 0 && i < K) {
                            VT wv;
                            __asm__ volatile(FC_BCAST_INSN " %1, %0" : "=v"(wv) : "m"(wb[i * K + j]));
FC_DW_UNROLL(2)
                            for (int v = 0; v < NV; v++) acc[r][v] += wv * in[v];
                        }
                    }
                }
            FC_DWP_STORE();
        }
    }
}
#define FC_DWP_DEF(NAME, K, RB, NV)                                                       \
static __attribute__((noinline)) void FC_FN(NAME)(const FC_T *P, fc_idx PWp,              \
    const FC_T *wk, const FC_T *bk, FC_T *yk, fc_idx OW, fc_idx r0, fc_idx r1)             \
{                                                                                         \
    FC_FN(dw_padded)(P, PWp, wk, bk, yk, OW, r0, r1, K, RB, NV);                          \
}
#if FC_VBYTES == 64
FC_DWP_DEF(dwp5n, 5, 8, 1)
FC_DWP_DEF(dwp5w, 5, 8, 2)
FC_DWP_DEF(dwp7n, 7, 8, 1)
FC_DWP_DEF(dwp7w, 7, 8, 2)
#else   /* AVX2's 16 registers: 4 x 2 blocks, 1.25-1.45 times as fast as 8 x 2 */
FC_DWP_DEF(dwp5n, 5, 8, 1)
FC_DWP_DEF(dwp5w, 5, 4, 2)
FC_DWP_DEF(dwp7n, 7, 8, 1)
FC_DWP_DEF(dwp7w, 7, 4, 2)
#endif
#undef FC_DWP_DEF

/* Note [large depthwise kernels]: a depthwise layer's square kernel from 8x8
 * (RepLKNet's and SLaK's 13x13 to 31x31, 9x9 and 11x11 filters) runs the same
 * blocks as Note [padded depthwise] with K a run-time count.  Its loops cannot
 * unroll fully, so the block's input rows are written out in three parts (the
 * first RB - 1 rows reach output rows 0 ... ir, the middle ones all RB, the last
 * RB - 1 fewer and fewer), each row's calls with constant bounds on the output
 * rows, which keeps the RB x NV sums in registers (a first version tested the
 * rows' bounds per tap: GCC kept the sums in memory across rows, and 13x13 ran
 * at 0.74 of the 7x7 tiles' rate).  The multiply-adds and their order are
 * dw_padded's, so the same bits as every other path.  K x K weights do not fit
 * in registers, so each is broadcast from memory where it is used.  Such
 * kernels' padding is wide (6 rows on each side for 13x13): where
 * all of the channel's weights are finite, input rows wholly in the padding
 * (rowmap -1, or past PH) are skipped, as Note [padding-only taps] does for
 * the GEMM: the same values, a zero's sign aside (an Inf or NaN weight times a
 * padding zero is NaN, as in torch, so those channels keep every row).
 * Interleaved medians, the per-tap direct tiles before / these, float32, 1
 * thread (2 threads), AMD EPYC Zen 4, 30 Nov 2026, padding k / 2: 13x13 on 128
 * channels at 56x56 1.58 (1.55), 256 at 28x28 1.68 (1.73), 512 at 14x14 3.76
 * (3.40), 1024 at 7x7 5.29 (4.06); 9x9 on 64 at 56x56 1.42 (1.44), 8x8 1.42
 * (1.39); 31x31 on 128 at 56x56 1.87 (1.85), 27x27 on 512 at 14x14 5.95 (5.80).
 * Against torch 2.13 then: 0.94 (1.07) for 13x13 at 28x28 (its 13x13 at 56x56
 * ran 1.7-3.9 ms against these 1.63: it changes path), 0.91 (1.03) at 14x14,
 * 0.71 (0.70) at 7x7, where a 7-wide row fills 7 of 16 lanes; 9x9 1.08 (1.82);
 * 27x27 and 31x31 29-30 times faster.  */
/* One input row of a block: the taps of output rows [RLO, RHI] (constants where
 * inlined, so the loop over them unrolls and the sums stay in registers). */
static inline __attribute__((always_inline)) void
FC_FN(dwk_row)(const FC_T *row, const FC_T *wi, const int K, VT acc[8][2], const int RLO,
               const int RHI, const int NV)
{
    for (int j = 0; j < K; j++) {
        VT in[2];
FC_DW_UNROLL(2)
        for (int v = 0; v < NV; v++) in[v] = *(const VTU *)(row + j + v * VLEN);
FC_DW_UNROLL(8)
        for (int r = RLO; r <= RHI; r++) {     /* tap row (input row - r) */
            const VT wv = SPLAT(wi[j - (fc_idx)r * K]);
FC_DW_UNROLL(2)
            for (int v = 0; v < NV; v++) acc[r][v] += wv * in[v];
        }
    }
}

/* The input rows of a block of RB (8 or 4, K >= RB) output rows: the first RB - 1
 * reach output rows 0 ... ir, the middle ones all RB, the last RB - 1 rows ir - K + 1
 * ... RB - 1; written out so each call has constant bounds. */
static inline __attribute__((always_inline)) void
FC_FN(dw_padded_rt)(const FC_T *P, fc_idx PWp, const FC_T *wk, const FC_T *bk, FC_T *yk,
                    fc_idx OW, fc_idx r0, fc_idx r1, const int K, const int RB, const int NV,
                    const int32_t *skip, fc_idx PH)
{
    for (fc_idx ow = 0; ow < OW; ow += NV * VLEN) {
        for (fc_idx oh = r0; oh < r1; oh += RB) {
            const FC_T *base = P + (oh - r0) * PWp + ow;
            const FC_T b = bk ? *bk : (FC_T)0;
            VT acc[8][2];
            for (int r = 0; r < RB; r++)
                for (int v = 0; v < NV; v++) acc[r][v] = SPLAT(b);
#define FC_DWK_ROW(IR, RLO, RHI)                                                          \
            if (!(skip && (oh + (IR) >= PH || skip[oh + (IR)] < 0)))   /* padding */      \
                FC_FN(dwk_row)(base + (fc_idx)(IR) * PWp, wk + (fc_idx)(IR) * K, K, acc, RLO, \
                               RHI, NV)
            if (RB == 8) {
                FC_DWK_ROW(0, 0, 0); FC_DWK_ROW(1, 0, 1); FC_DWK_ROW(2, 0, 2);
                FC_DWK_ROW(3, 0, 3); FC_DWK_ROW(4, 0, 4); FC_DWK_ROW(5, 0, 5);
                FC_DWK_ROW(6, 0, 6);
            } else {
                FC_DWK_ROW(0, 0, 0); FC_DWK_ROW(1, 0, 1); FC_DWK_ROW(2, 0, 2);
            }
            for (int ir = RB - 1; ir < K; ir++) { FC_DWK_ROW(ir, 0, RB - 1); }
            if (RB == 8) {
                FC_DWK_ROW(K, 1, 7); FC_DWK_ROW(K + 1, 2, 7); FC_DWK_ROW(K + 2, 3, 7);
                FC_DWK_ROW(K + 3, 4, 7); FC_DWK_ROW(K + 4, 5, 7); FC_DWK_ROW(K + 5, 6, 7);
                FC_DWK_ROW(K + 6, 7, 7);
            } else {
                FC_DWK_ROW(K, 1, 3); FC_DWK_ROW(K + 1, 2, 3); FC_DWK_ROW(K + 2, 3, 3);
            }
#undef FC_DWK_ROW
            FC_DWP_STORE();
        }
    }
}
#define FC_DWPK_DEF(NAME, RB, NV)                                                         \
static __attribute__((noinline)) void FC_FN(NAME)(const FC_T *P, fc_idx PWp,              \
    const FC_T *wk, const FC_T *bk, FC_T *yk, fc_idx OW, fc_idx r0, fc_idx r1, int K,      \
    const int32_t *skip, fc_idx PH)                                                       \
{                                                                                         \
    FC_FN(dw_padded_rt)(P, PWp, wk, bk, yk, OW, r0, r1, K, RB, NV, skip, PH);             \
}
FC_DWPK_DEF(dwpkn, 8, 1)
#if FC_VBYTES == 64
FC_DWPK_DEF(dwpkw, 8, 2)
#else
FC_DWPK_DEF(dwpkw, 4, 2)
#endif
#undef FC_DWPK_DEF
#undef FC_DWP_STORE
#undef FC_BCAST_INSN

/* Note [depthwise channel lanes]: a depthwise 3x3, 5x5 or 7x7 at stride 1
 * (any dilation) or 2 (undilated) with zero padding, AVX-512 float32, with
 * channels in the vector lanes instead of pixels.  A task takes one image, 16
 * channels and a band of output rows: it transposes the band's input rows (16
 * x 16 blocks in registers) into scratch
 * T[padded row][padded column][16 channels], zeros around them for the
 * padding, then makes 16 output pixels of a row at a time -- 16 accumulators,
 * a kernel row's K weight vectors in registers, each input vector loaded once
 * and fed to the up to K accumulators it reaches -- and transposes them back
 * into the 16 channels' output rows (masked stores for a row's tail and the
 * last block's channels).  Every lane is a real channel, however narrow the
 * map (a 7x7 plane fills 7 of a pixel vector's 16 lanes), and a multiply-add
 * costs one register operand and a fraction of a load, where the pixel-lane
 * tiles pay a broadcast and an unaligned load per few multiply-adds.  Each
 * output is still the bias plus its taps in (i, j) order, padding zeros
 * included, so the bits are those of the other depthwise paths.  A dilation
 * dh takes the kernel's rows dh rows apart; a dilation dw splits T's columns
 * into dw phases (padded columns r, r + dw, ... side by side), each phase's
 * outputs an undilated row of the same tile.  At stride 2 output row r reads
 * T's rows 2r + i and a block's 16 outputs 2 (16 - 1) + K input vectors, each
 * loaded once and fed to the up to (K + 1) / 2 accumulators it reaches (no
 * deinterleaving of even and odd columns, which the pixel-lane tiles pay). */
#if FC_VBYTES == 64 && FC_VLEN == 16
/* r[0..15] (rows) to its transpose, in place. */
static inline __attribute__((always_inline)) void FC_FN(tr16)(__m512 r[16])
{
    __m512 t[16];
    for (int k = 0; k < 8; k++) {
        t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    /* r[4k + m], 128-bit lane L: rows 4k .. 4k + 3 at column 4L + m */
    for (int k = 0; k < 4; k++) {
        r[4 * k] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
        r[4 * k + 1] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
        r[4 * k + 2] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
        r[4 * k + 3] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
    }
    for (int m = 0; m < 4; m++) {
        const __m512 a = _mm512_shuffle_f32x4(r[m], r[4 + m], 0x88);
        const __m512 b = _mm512_shuffle_f32x4(r[m], r[4 + m], 0xDD);
        const __m512 c = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0x88);
        const __m512 d = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0xDD);
        t[m] = _mm512_shuffle_f32x4(a, c, 0x88);
        t[8 + m] = _mm512_shuffle_f32x4(a, c, 0xDD);
        t[4 + m] = _mm512_shuffle_f32x4(b, d, 0x88);
        t[12 + m] = _mm512_shuffle_f32x4(b, d, 0xDD);
    }
    for (int k = 0; k < 16; k++) r[k] = t[k];
}

/* 16 pixel vectors to the channels' rows: v[o] is pixel o's 16 channels;
 * pixels past n and channels past nc are not stored. */
static inline __attribute__((always_inline)) void
FC_FN(dwcl_put)(__m512 v[16], FC_T *y, fc_idx plane, int nc, fc_idx n)
{
    FC_FN(tr16)(v);
    const MT m = FC_FN(lanes)(0, n);
    /* Unrolled, each store under its condition: with nc the loop's bound, GCC
     * kept v on the stack (Note [short depthwise blocks]). */
    for (int l = 0; l < 16; l++)
        if (l < nc) FC_FN(mstore)(y + l * plane, m, (VT)v[l]);
}

/* A row of outputs O[0 .. OW) (pixel vectors) to the channels' rows at y. */
static inline __attribute__((always_inline)) void
FC_FN(dwcl_put_row)(const VT *O, FC_T *y, fc_idx plane, int nc, fc_idx OW)
{
    for (fc_idx ow = 0; ow < OW; ow += 16) {
        __m512 r[16];
        for (int o = 0; o < 16; o++) r[o] = ow + o < OW ? (__m512)O[ow + o] : _mm512_setzero_ps();
        FC_FN(dwcl_put)(r, y + ow, plane, nc, OW - ow);
    }
}

/* Columns [c0, c1) of input row xr (channel l's at xr + l * plane, nc
 * channels) transposed into T's row dst: column c as the vector at
 * position p = c + off, stored at (p % dw) * PWq + p / dw (p itself at dw 1). */
static inline void FC_FN(dwcl_get_row)(const FC_T *xr, fc_idx plane, int nc, fc_idx c0,
                                      fc_idx c1, VT *dst, fc_idx off, int dw, fc_idx PWq)
{
    for (fc_idx cc = c0; cc < c1; cc += 16) {
        const MT m = FC_FN(lanes)(0, c1 - cc);
        __m512 v[16];
        for (int l = 0; l < 16; l++)
            v[l] = l < nc ? (__m512)FC_FN(mload)(xr + l * plane + cc, m) : _mm512_setzero_ps();
        FC_FN(tr16)(v);
        const int nq = c1 - cc < 16 ? (int)(c1 - cc) : 16;
        if (dw == 1) {   /* unrolled, as dwcl_put's stores */
            for (int q = 0; q < 16; q++)
                if (q < nq) dst[cc + off + q] = (VT)v[q];
        } else {   /* no division per column */
            fc_idx ph = (cc + off) % dw, idx = (cc + off) / dw;
            for (int q = 0; q < 16; q++) {
                if (q >= nq) break;
                dst[ph * PWq + idx] = (VT)v[q];
                if (++ph == dw) { ph = 0; idx++; }
            }
        }
    }
}

/* The 16 channels from c0 (nc of them, zeros past) of ntap weights a channel
 * (w [C][ntap]) into W16[ntap], and of the bias (or zeros) into *bv. */
static inline void FC_FN(dwcl_weights)(const FC_T *w, const FC_T *bias, fc_idx c0, int nc,
                                       int ntap, VT *W16, VT *bv)
{
    for (int tap = 0; tap < ntap; tap++) {
        VT v = SPLAT((FC_T)0);
        for (int l = 0; l < nc; l++) v[l] = w[(c0 + l) * ntap + tap];
        W16[tap] = v;
    }
    VT b = SPLAT((FC_T)0);
    for (int l = 0; l < nc; l++) b[l] = bias ? bias[c0 + l] : (FC_T)0;
    *bv = b;
}

/* Note [short depthwise blocks]: a row's outputs go 16 to a block, so a row
 * of 56 (ConvNeXt's 7x7 layers) made 64, an eighth of the multiply-adds on
 * lanes past the row.  A last block of at most 8 outputs now makes 8
 * accumulators (the same terms in the same order: same bits).  8 and 16
 * only: each variant is a fully unrolled body per kernel size and stride.
 * Interleaved medians, 8 / 16 accumulators, one thread, AMD EPYC Zen 5: 96 at
 * 56x56 7x7 0.93, 64 at 40x40 5x5 0.92, 128 at 24x24 5x5 0.88; rows of 28, 14
 * and 112 unchanged (0.995-0.999).
 *
 * The block's kernel rows are a loop, not unrolled: unrolled, GCC scheduled
 * the next rows' loads early and spilled accumulators (~1150 stack accesses in
 * dwcl_row7, 125 now).  And the transposes' loads and stores are unrolled
 * loops of 16, each under its condition (channel < nc, column < the row's
 * end): with nc or the column count a loop bound, GCC kept the 16 vectors on
 * the stack (a masked store loop, ~9% of a 7x7's time) and copied transposed
 * input rows through memmove (~4%).  New / old, one thread (2 threads), the
 * short blocks, the kernel-row loop and whole channel blocks unrolled: 96 at
 * 56x56 7x7 0.875 (0.905), 768 at 7x7 7x7 0.70 (0.89), 672 at 14x14 5x5
 * stride 2 0.82, 960 at 7x7 3x3 0.81, 240 at 28x28 5x5 0.92, 320 at 33x33 3x3
 * dilation 2 0.94 (0.92); then the conditions for partial channel blocks and
 * a row's last 16 columns too: 96 at 56x56 7x7 0.96 (0.93), 240 at 28x28 5x5
 * 0.92 (0.90), 576 at 14x14 3x3 0.85 (0.89), 960 at 7x7 3x3 0.87 (0.91), 672
 * at 14x14 5x5 stride 2 0.87 (0.92), 320 at 33x33 3x3 dilation 2 0.93 (0.93).
 * Tried and dropped: transposing each input row just
 * before the first output row that reads it, with the next row's lines
 * prefetched (1-4% slower; without the prefetches 0-1.7% slower). */
/* One block's NO outputs (16, or 8 for a short last block) into acc[0 ..
 * NO), from T at tr (dwcl_phase's layout): each input vector loaded once and
 * fed to the accumulators it reaches, in increasing t, so each output's taps
 * in j order. */
static inline __attribute__((always_inline)) void
FC_FN(dwcl_block)(const FC_T *tr, fc_idx krv, const FC_T *W16, VT bv, VT acc[16], const int K,
                  const int S, const int NO)
{
    for (int o = 0; o < NO; o++) acc[o] = bv;
FC_DW_UNROLL(1)   /* Note [short depthwise blocks]: not unrolled */
    for (int i = 0; i < K; i++) {
        const FC_T *ti = tr + (fc_idx)i * krv * 16;
        VT wv[7];
        for (int j = 0; j < K; j++) wv[j] = *(const VT *)(W16 + (i * K + j) * 16);
FC_DW_UNROLL(40)
        for (int t = 0; t < S * (NO - 1) + K; t++) {
            const VT xv = *(const VT *)(ti + t * 16);
FC_DW_UNROLL(8)
            for (int j = 0; j < K; j++) {
                const int o = (t - j) / S;
                if (t >= j && (t - j) % S == 0 && o < NO) acc[o] += wv[j] * xv;
            }
        }
    }
}

/* The phase's outputs of a row, 16 at a time: output o of a block at T + S b 16
 * sums taps (i, j) of T at ((i * krv + S (b + o) + j) * 16 (krv: vectors
 * between kernel rows; S the stride), weights W16[K * K][16], from the bias
 * vector bv.  dw == 1: the row is the output row, to y; else phase ph of a
 * column dilation dw (outputs ph, ph + dw, ...; T's columns of the phase at
 * ph * PWq), to O[OW]; the blocks by dwcl_block. */
static inline __attribute__((always_inline)) void
FC_FN(dwcl_phase)(const FC_T *T, fc_idx krv, fc_idx PWq, int dw, int ph, const FC_T *W16,
                  VT bv, FC_T *y, fc_idx plane, int nc, fc_idx OW, VT *O, const int K,
                  const int S)
{
    const fc_idx nout = (OW - ph + dw - 1) / dw;
    for (fc_idx b = 0; b < nout; b += 16) {
        const FC_T *tr = T + (ph * PWq + S * b) * 16;
        /* Note [short depthwise blocks] */
        const int no = nout - b < 16 ? (int)(nout - b) : 16;
        VT acc[16];
        if (no > 8 || !fc_dwcl_short) {
            FC_FN(dwcl_block)(tr, krv, W16, bv, acc, K, S, 16);
        } else {
            FC_FN(dwcl_block)(tr, krv, W16, bv, acc, K, S, 8);
            for (int o = 8; o < 16; o++) acc[o] = SPLAT((FC_T)0);
        }
        if (dw == 1) {
            __m512 r[16];
            for (int o = 0; o < 16; o++) r[o] = (__m512)acc[o];
            FC_FN(dwcl_put)(r, y + b, plane, nc, OW - b);
        } else {
            for (int o = 0; o < no; o++) O[ph + dw * (b + o)] = acc[o];
        }
    }
}

/* Output row at y (channel l at y + l * plane) from T (tap row 0 of this
 * output row): each column phase of the dilation dw an undilated row of
 * Note [depthwise channel lanes]; at dw > 1 their outputs gather in O, then
 * go to y 16 at a time. */
#define FC_DWCL_ROW(K)                                                                      \
static __attribute__((noinline)) void                                                      \
FC_FN(dwcl_row##K)(const FC_T *T, fc_idx krv, fc_idx PWq, int dw, const FC_T *W16, VT bv,   \
                   FC_T *y, fc_idx plane, int nc, fc_idx OW, VT *O)                         \
{                                                                                           \
    if (dw == 1) {                                                                          \
        FC_FN(dwcl_phase)(T, krv, PWq, 1, 0, W16, bv, y, plane, nc, OW, O, K, 1);          \
        return;                                                                             \
    }                                                                                       \
    for (int ph = 0; ph < dw && ph < OW; ph++)                                              \
        FC_FN(dwcl_phase)(T, krv, PWq, dw, ph, W16, bv, y, plane, nc, OW, O, K, 1);        \
    FC_FN(dwcl_put_row)(O, y, plane, nc, OW);                                               \
}                                                                                           \
static __attribute__((noinline)) void                                                      \
FC_FN(dwcl_row##K##s2)(const FC_T *T, fc_idx krv, const FC_T *W16, VT bv, FC_T *y,          \
                       fc_idx plane, int nc, fc_idx OW)                                     \
{                                                                                           \
    FC_FN(dwcl_phase)(T, krv, 0, 1, 0, W16, bv, y, plane, nc, OW, NULL, K, 2);             \
}
FC_DWCL_ROW(3)
FC_DWCL_ROW(5)
FC_DWCL_ROW(7)
#undef FC_DWCL_ROW

static void FC_FN(dwcl_run)(const fc_dwcl_args *a, fc_idx n, fc_idx cb, fc_idx r0, fc_idx r1,
                            void *scratch)
{
    const int K = a->K, dh = a->dh, dw = a->dw, S = a->S;
    const fc_idx C = a->C, H = a->H, W = a->W, OH = a->OH, OW = a->OW, PWq = a->PWq;
    const fc_idx RS = dw * PWq;   /* vectors a row of T */
    const fc_idx c0 = cb * 16;
    const int nc = C - c0 < 16 ? (int)(C - c0) : 16;
    const FC_T *x = (const FC_T *)a->x + (n * C + c0) * H * W;
    const FC_T *w = (const FC_T *)a->w, *bias = (const FC_T *)a->bias;
    FC_T *T = (FC_T *)(((uintptr_t)scratch + FC_ALIGN - 1) & ~(uintptr_t)(FC_ALIGN - 1));
    const fc_idx nrow = S * (r1 - r0 - 1) + (fc_idx)(K - 1) * dh + 1;
    VT *W16 = (VT *)(T + nrow * RS * 16), *O = W16 + K * K, bv;
    FC_FN(dwcl_weights)(w, bias, c0, nc, K * K, W16, &bv);
    const VT zero = SPLAT((FC_T)0);
    /* The band's padded rows S r0 ... S (r1 - 1) + (K - 1) * dh, transposed
     * into T, padded column c at (c % dw) * PWq + c / dw. */
    for (fc_idx pr = S * r0; pr < S * r0 + nrow; pr++) {
        VT *dst = (VT *)(T + (pr - S * r0) * RS * 16);
        const fc_idx ir = pr - a->pt;
        if (ir < 0 || ir >= H || dw > 1) {
            for (fc_idx c = 0; c < RS; c++) dst[c] = zero;
            if (ir < 0 || ir >= H) continue;
        } else {
            for (fc_idx c = 0; c < a->pl && c < RS; c++) dst[c] = zero;
            for (fc_idx c = a->pl + W; c < RS; c++) dst[c] = zero;
        }
        FC_FN(dwcl_get_row)(x + ir * W, H * W, nc, 0, W, dst, a->pl, dw, PWq);
    }
    FC_T *y = (FC_T *)a->y + (n * C + c0) * OH * OW;
    const fc_idx krv = (fc_idx)dh * RS;
    for (fc_idx oh = r0; oh < r1; oh++) {
        const FC_T *Tr = T + S * (oh - r0) * RS * 16;
        FC_T *yr = y + oh * OW;
        const FC_T *Wf = (const FC_T *)W16;
        if (S == 2) {
            if (K == 5) FC_FN(dwcl_row5s2)(Tr, krv, Wf, bv, yr, OH * OW, nc, OW);
            else if (K == 7) FC_FN(dwcl_row7s2)(Tr, krv, Wf, bv, yr, OH * OW, nc, OW);
            else FC_FN(dwcl_row3s2)(Tr, krv, Wf, bv, yr, OH * OW, nc, OW);
        } else if (K == 5) FC_FN(dwcl_row5)(Tr, krv, PWq, dw, Wf, bv, yr, OH * OW, nc, OW, O);
        else if (K == 7) FC_FN(dwcl_row7)(Tr, krv, PWq, dw, Wf, bv, yr, OH * OW, nc, OW, O);
        else FC_FN(dwcl_row3)(Tr, krv, PWq, dw, Wf, bv, yr, OH * OW, nc, OW, O);
    }
}

/* Note [transposed depthwise channel lanes]: a depthwise conv_transpose2d
 * (one input and one output channel per group, undilated), AVX-512 float32,
 * in one pass with 16 channels in the vector lanes, where Note [transposed
 * direct] flips x, runs a small conv2d per stride phase and scatters each
 * phase's output: a task transposes the input rows its band of output rows
 * reads into T (as Note [depthwise channel lanes]), then sums each output
 * pixel's taps there and transposes 16 pixels at a time back into the
 * channels' rows.  An output (oy, ox) takes the taps (i, j) with
 * oy + ph - i and ox + pw - j multiples of the stride, i then j increasing,
 * reading x[(oy + ph - i) / sh, (ox + pw - j) / sw] or a zero outside x:
 * the terms and order of the phase conv2d, so the same bits. */
static void FC_FN(dwtcl_run)(const fc_dwtcl_args *a, fc_idx n, fc_idx cb, fc_idx r0,
                             fc_idx r1, void *scratch)
{
    const fc_idx C = a->C, H = a->H, W = a->W, OH = a->OH, OW = a->OW;
    const int kh = a->kh, kw = a->kw, sh = a->sh, sw = a->sw;
    const fc_idx ph = a->ph, pw = a->pw, c0 = cb * 16;
    const int nc = C - c0 < 16 ? (int)(C - c0) : 16;
    const FC_T *x = (const FC_T *)a->x + (n * C + c0) * H * W;
    const FC_T *w = (const FC_T *)a->w, *bias = (const FC_T *)a->bias;
    /* Input rows [iy0, iy1] and columns [ix0, ix1] the band's taps can read. */
    const fc_idx iy0 = fc_floordiv(r0 + ph - (kh - 1), sh), iy1 = fc_floordiv(r1 - 1 + ph, sh);
    const fc_idx ix0 = fc_floordiv(pw - (kw - 1), sw), ix1 = fc_floordiv(OW - 1 + pw, sw);
    const fc_idx TW = ix1 - ix0 + 1;
    VT *T = (VT *)(((uintptr_t)scratch + FC_ALIGN - 1) & ~(uintptr_t)(FC_ALIGN - 1));
    VT *W16 = T + (iy1 - iy0 + 1) * TW, *O = W16 + kh * kw, bv;
    FC_FN(dwcl_weights)(w, bias, c0, nc, kh * kw, W16, &bv);
    const VT zero = SPLAT((FC_T)0);
    for (fc_idx iy = iy0; iy <= iy1; iy++) {
        VT *dst = T + (iy - iy0) * TW;
        if (iy < 0 || iy >= H) {
            for (fc_idx c = 0; c < TW; c++) dst[c] = zero;
            continue;
        }
        /* T column c - ix0 holds x column c; zeros outside x */
        const fc_idx xa = ix0 > 0 ? ix0 : 0, xb = W < ix1 + 1 ? W : ix1 + 1;
        for (fc_idx c = 0; c < TW && c < xa - ix0; c++) dst[c] = zero;
        for (fc_idx c = xb - ix0 > 0 ? xb - ix0 : 0; c < TW; c++) dst[c] = zero;
        FC_FN(dwcl_get_row)(x + iy * W, H * W, nc, xa, xb, dst, -ix0, 1, 0);
    }
    /* A row's outputs, phase by phase of the column stride (each phase's taps
     * and weights the same for all its pixels), then 16 at a time to y. */
    FC_T *y = (FC_T *)a->y + (n * C + c0) * OH * OW;
    for (fc_idx oy = r0; oy < r1; oy++) {
        const int i0 = (int)((oy + ph) % sh);
        const int nti = i0 < kh ? (kh - 1 - i0) / sh + 1 : 0;
        const VT *trow0 = T + ((oy + ph - i0) / sh - iy0) * TW;   /* tap i0's row */
        for (int rx = 0; rx < sw && rx < OW; rx++) {
            const int j0 = (int)((rx + pw) % sw);
            const int ntj = j0 < kw ? (kw - 1 - j0) / sw + 1 : 0;
            const fc_idx col0 = (rx + pw - j0) / sw - ix0;            /* tap j0's column */
            fc_idx q = 0;
            for (fc_idx ox = rx; ox < OW; ox += sw, q++) {
                VT acc = bv;
                for (int ti = 0; ti < nti; ti++) {
                    const VT *tr = trow0 - (fc_idx)ti * TW + col0 + q;
                    const VT *wr = W16 + (i0 + ti * sh) * kw + j0;
                    for (int tj = 0; tj < ntj; tj++) acc += wr[tj * sw] * tr[-tj];
                }
                O[ox] = acc;
            }
        }
        FC_FN(dwcl_put_row)(O, y + oy * OW, OH * OW, nc, OW);
    }
}
#endif
#undef MT
#endif

void FC_FN(dwcl_task)(const fc_dwcl_args *a, fc_idx n, fc_idx cb, fc_idx r0, fc_idx r1,
                      void *scratch)
{
#if defined(FC_MASKED) && FC_VBYTES == 64 && FC_VLEN == 16
    FC_FN(dwcl_run)(a, n, cb, r0, r1, scratch);
#else
    (void)a; (void)n; (void)cb; (void)r0; (void)r1; (void)scratch;
#endif
}

void FC_FN(dwtcl_task)(const fc_dwtcl_args *a, fc_idx n, fc_idx cb, fc_idx r0, fc_idx r1,
                       void *scratch)
{
#if defined(FC_MASKED) && FC_VBYTES == 64 && FC_VLEN == 16
    FC_FN(dwtcl_run)(a, n, cb, r0, r1, scratch);
#else
    (void)a; (void)n; (void)cb; (void)r0; (void)r1; (void)scratch;
#endif
}

__attribute__((optimize("no-tree-loop-distribute-patterns")))   /* no memset per row */
void FC_FN(direct_task)(const fc_direct_args *a, fc_idx r0, fc_idx r1, void *scratch)
{
    const FC_T *x = (const FC_T *)a->x, *w = (const FC_T *)a->w;
    const FC_T *bias = (const FC_T *)a->bias;
    FC_T *y = (FC_T *)a->y;
    const int sh = a->sh, sw = a->sw, dh = a->dh, dw = a->dw, kh = a->kh, kw = a->kw;
#ifdef FC_DW_PADDED
    /* Depthwise 5x5 or 7x7 at stride 1, zero padding: Note [padded depthwise].
     * AVX-512 keeps the masked tiles on narrow planes: up to 2 vectors wide in
     * float32, 1 in float64 (see the Note); AVX2 gains at every width. */
    if (a->zpad && a->C_g == 1 && sh == 1 && sw == 1 && dh == 1 && dw == 1 && kh == kw
            && (kh == 5 || kh >= 7) && fc_dw_padded
            && (kh >= 8 || FC_VBYTES == 32
                || a->OW > (FC_VLEN * 4 == FC_VBYTES ? 2 * VLEN : VLEN))) {
        const fc_idx PWp = FC_DW_PADDED_PITCH(a->OW, kh, VLEN);
        FC_T *P = (FC_T *)(((uintptr_t)scratch + FC_ALIGN - 1) & ~(uintptr_t)(FC_ALIGN - 1));
        /* A block of 8 output rows at a time, its new input rows copied just
         * before: the copy's loads from x then overlap the previous block's
         * arithmetic (copied all first, it was 18% of a 7x7's time, waiting on x). */
        fc_idx have = 0;   /* padded rows r0 ... r0 + have - 1 are in P */
        uint64_t finite = 0;   /* output channels (< 64) whose weights are all finite */
        for (int k = 0; kh >= 8 && k < a->K_g && k < 64; k++)
            finite |= (uint64_t)!_Generic((FC_T)0, float: fc_any_nonfinite_f32,
                                          double: fc_any_nonfinite_f64)(
                          w + (fc_idx)k * kh * kw, (fc_idx)kh * kw) << k;
        for (fc_idx oh = r0; oh < r1; oh += 8) {
            const fc_idx need = oh - r0 + 8 + kh - 1, oe = oh + 8 < r1 ? oh + 8 : r1;
            FC_FN(dw_pad_rows)(x, a->W, a->rowmap, a->PH, a->pl, r0 + have, need - have,
                               P + have * PWp, PWp);
            have = need;
            const FC_T *Pb = P + (oh - r0) * PWp;
            for (int k = 0; k < a->K_g; k++) {
                const FC_T *wk = w + (fc_idx)k * kh * kw, *bk = bias ? bias + k : NULL;
                FC_T *yk = y + (fc_idx)k * a->OH * a->OW;
                if (kh >= 8) {      /* Note [large depthwise kernels] */
                    const int32_t *skip = k < 64 && finite >> k & 1 ? a->rowmap : NULL;
                    if (a->OW <= VLEN)
                        FC_FN(dwpkn)(Pb, PWp, wk, bk, yk, a->OW, oh, oe, kh, skip, a->PH);
                    else FC_FN(dwpkw)(Pb, PWp, wk, bk, yk, a->OW, oh, oe, kh, skip, a->PH);
                } else if (a->OW <= VLEN) {
                    if (kh == 5) FC_FN(dwp5n)(Pb, PWp, wk, bk, yk, a->OW, oh, oe);
                    else FC_FN(dwp7n)(Pb, PWp, wk, bk, yk, a->OW, oh, oe);
                } else {
                    if (kh == 5) FC_FN(dwp5w)(Pb, PWp, wk, bk, yk, a->OW, oh, oe);
                    else FC_FN(dwp7w)(Pb, PWp, wk, bk, yk, a->OW, oh, oe);
                }
            }
        }
        return;
    }
#endif
#ifdef FC_MASKED
    /* Undilated 3x3, 5x5 or 7x7, stride 1 or 2, zero padding: Note [masked depthwise]. */
    if (a->zpad && sh == sw && sh <= 2 && dh == 1 && dw == 1 && kh == kw
            && (kh == 3 || kh == 5 || kh == 7)) {
        FC_T *zero = (FC_T *)(((uintptr_t)scratch + FC_ALIGN - 1) & ~(uintptr_t)(FC_ALIGN - 1));
        for (fc_idx l = 0; l < a->W; l++) zero[l] = (FC_T)0;
        const fc_idx wks = (fc_idx)a->C_g * kh * kw, yks = a->OH * a->OW;
        for (int k = 0; k < a->K_g;) {
            /* A 3x3 layer with several outputs per group makes them in pairs, or
             * in fours on planes wider than a vector: each input vector loaded
             * feeds all of them (resnext's 4 x 4 channel groups).  Fours take
             * blocks of 2 rows instead of 4, which costs more than it saves where
             * a row is one vector (14x14 planes: 0.77-0.86 times as fast).
             * Interleaved medians, fours vs pairs, Intel Xeon 5th gen, 1 thread
             * (2 threads): resnext-g32 (4 x 4 per group, 56x56) 1.18 (1.14),
             * 8 x 8 per group at stride 2 1.16 (1.34), 16 x 16 at 28x28 1.14
             * (1.12), 8 x 8 at 112x112 1.16 (1.10). */
            const int kb = kh == 3 && a->K_g - k >= 4 && a->OW > VLEN ? 4
                           : kh == 3 && a->K_g - k >= 2 ? 2 : 1;
            const FC_T *bk = bias ? bias + k : NULL;
            FC_T *yk = y + (fc_idx)k * yks;
            const FC_T *wk = w + (fc_idx)k * wks;
            /* A constant C_g = 1 keeps a 3x3's weights in registers (7x7's would spill). */
#define FC_DWM_CALL(FN) FC_FN(FN)(x, a->H, a->W, a->C_g, a->rowmap, a->PH, a->pl, zero, wk, \
                                  wks, bk, yk, yks, a->OW, r0, r1)
#define FC_DWM(NAME) (a->OW <= VLEN ? FC_DWM_CALL(NAME##_n) : FC_DWM_CALL(NAME##_w))
            if (kb == 4) {
/* Note [grouped channel counts] */
#define FC_DWM_CG(NAME) (!fc_dw_const_cg ? FC_DWM_CALL(NAME)                          \
                         : a->C_g == 4 ? FC_DWM_CALL(NAME##4)                         \
                         : a->C_g == 8 ? FC_DWM_CALL(NAME##8)                         \
                         : a->C_g == 16 ? FC_DWM_CALL(NAME##16) : FC_DWM_CALL(NAME))
                if (sh == 1) FC_DWM_CG(dwm3s1q); else FC_DWM_CG(dwm3s2q);
            } else if (kh == 3 && kb == 2) {
                if (sh == 1) { if (a->OW <= VLEN) FC_DWM_CG(dwm3s1p_n); else FC_DWM_CG(dwm3s1p_w); }
                else FC_DWM(dwm3s2p);
            } else if (sh == 1) {
                if (kh == 3) {
#if FC_VBYTES == 64
                    /* Note [rolling depthwise rows] */
                    if (a->C_g == 1 && a->OW > VLEN && r1 - r0 >= 3 && fc_dw_rolling)
                        FC_FN(dwr3)(x, a->W, a->rowmap, a->PH, a->pl, zero, wk, bk, yk,
                                    a->OW, r0, r1, 1);
                    else
#endif
                    if (a->C_g == 1) FC_DWM(dwm3s1c1); else FC_DWM(dwm3s1);
                }
                else if (kh == 5) FC_DWM(dwm5s1);
                else FC_DWM(dwm7s1);
            } else {
                if (kh == 3) {
#if FC_VBYTES == 64
                    /* Note [rolling depthwise rows] */
                    if (a->C_g == 1 && a->OW > VLEN && fc_dw_rolling)
                        FC_FN(dwr3)(x, a->W, a->rowmap, a->PH, a->pl, zero, wk, bk, yk,
                                    a->OW, r0, r1, 2);
                    else
#endif
                    if (a->C_g == 1) FC_DWM(dwm3s2c1); else FC_DWM(dwm3s2);
                }
                else if (kh == 5) FC_DWM(dwm5s2);
                else FC_DWM(dwm7s2);
            }
#undef FC_DWM_CG
#undef FC_DWM
#undef FC_DWM_CALL
            k += kb;
        }
        return;
    }
#endif
    /* Rows of whole register blocks: the depthwise tiles read the input rows
     * of all FC_RB rows of the last block (zero past the padded input). */
    const fc_idx rows = (r1 - r0 + FC_RB - 1) / FC_RB * FC_RB;
    const fc_idx in_rows = (rows - 1) * sh + (fc_idx)(kh - 1) * dh + 1;
    const fc_idx qw = (a->PW + sw - 1) / sw + 2 * VLEN;   /* slack: 2 vectors */
    FC_T *s = (FC_T *)(((uintptr_t)scratch + FC_ALIGN - 1) & ~(uintptr_t)(FC_ALIGN - 1));
    FC_T *tmp = s + (fc_idx)a->C_g * in_rows * sw * qw;

    /* Padded input rows r0*sh ... into s[c][ir][phase][qw], column x at
     * phase x % sw, index x / sw, so the loads below are contiguous. */
    for (int c = 0; c < a->C_g; c++)
        for (fc_idx ir = 0; ir < in_rows; ir++) {
            FC_T *row = s + ((fc_idx)c * in_rows + ir) * sw * qw;
            const int32_t srow = r0 * sh + ir < a->PH ? a->rowmap[r0 * sh + ir] : -1;
            const FC_T *src = srow >= 0 ? x + ((fc_idx)c * a->H + srow) * a->W : NULL;
            for (int ph = 0; ph < sw; ph++) {
                FC_T *rp = row + (fc_idx)ph * qw;
                fc_idx q = 0, xq = ph;
                if (src) {
                    for (; xq < a->PW && xq < a->pl; xq += sw, q++) {   /* left padding */
                        const int32_t col = a->colmap[xq];
                        rp[q] = col >= 0 ? src[col] : (FC_T)0;
                    }
                    const fc_idx xend = a->pl + a->W < a->PW ? a->pl + a->W : a->PW;
                    if (sw == 1) {                                      /* interior */
                        for (; xq < xend; xq++, q++) rp[q] = src[xq - a->pl];
                    } else if (sw == 2 && xq < xend) {   /* constant stride: vectorised */
                        const FC_T *sp = src + (xq - a->pl);
                        const fc_idx n = (xend - xq + 1) / 2;
                        FC_T *restrict dq = rp + q;
                        for (fc_idx l = 0; l < n; l++) dq[l] = sp[2 * l];
                        q += n;
                        xq += 2 * n;
                    } else {
                        for (; xq < xend; xq += sw, q++) rp[q] = src[xq - a->pl];
                    }
                    for (; xq < a->PW; xq += sw, q++) {                 /* right padding */
                        const int32_t col = a->colmap[xq];
                        rp[q] = col >= 0 ? src[col] : (FC_T)0;
                    }
                }
                for (; q < qw; q++) rp[q] = (FC_T)0;   /* beyond the row: vector slack */
            }
        }

    /* Undilated 3x3, 5x5 or 7x7 at stride 1 or 2: the depthwise tile (Note
     * [depthwise tile]), channel by channel of the group. */
    if (dh == 1 && dw == 1 && kh == kw && sh == sw && sh <= 2
            && (kh == 3 || kh == 5 || kh == 7)) {
        const fc_idx rowstep = (fc_idx)sh * sw * qw;
        for (int k = 0; k < a->K_g; k++) {
            const FC_T b = bias ? bias[k] : (FC_T)0;
            FC_T *yk = y + (fc_idx)k * a->OH * a->OW;
            const FC_T *wk = w + (fc_idx)k * a->C_g * kh * kw;
#define FC_DW(K, S) FC_FN(dw_tile)(s, rowstep, (fc_idx)sw * qw, qw, a->C_g,                   \
                                   in_rows * sw * qw, wk, b, yk, a->OW, r0, r1, tmp, K, S)
            if (sh == 1) {
                if (kh == 3) FC_DW(3, 1); else if (kh == 5) FC_DW(5, 1); else FC_DW(7, 1);
            } else {
                if (kh == 3) FC_DW(3, 2); else if (kh == 5) FC_DW(5, 2); else FC_DW(7, 2);
            }
#undef FC_DW
        }
        return;
    }

    /* Where tap r = (c, i, j) of the first output of row r0 sits in the scratch
     * rows: all the index arithmetic, once per task. */
    const fc_idx kred = (fc_idx)a->C_g * kh * kw;
    fc_idx *toff = (fc_idx *)(((uintptr_t)(tmp + 2 * VLEN) + 63) & ~(uintptr_t)63);
    for (int c = 0, r = 0; c < a->C_g; c++)
        for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++, r++)
                toff[r] = (((fc_idx)c * in_rows + (fc_idx)i * dh) * sw + (j * dw) % sw) * qw
                          + (j * dw) / sw;
    const fc_idx rowstep = (fc_idx)sh * sw * qw;   /* scratch distance of output rows */
    for (int k = 0; k < a->K_g; k++) {
        const FC_T b = bias ? bias[k] : (FC_T)0;
        const FC_T *wk = w + (fc_idx)k * kred;
        FC_T *yk = y + (fc_idx)k * a->OH * a->OW;
        for (fc_idx oh = r0; oh < r1; oh += FC_RB) {
            /* Rows past r1 repeat the last row (computed, never stored). */
            fc_idx rofs[FC_RB];
            for (int rb = 0; rb < FC_RB; rb++) {
                fc_idx r = oh + rb < r1 ? oh + rb : r1 - 1;
                rofs[rb] = (r - r0) * rowstep;
            }
            /* FC_RB rows x 2 vectors: 8 independent sums hide the FMA latency. */
            for (fc_idx ow = 0; ow < a->OW; ow += 2 * VLEN) {
                VT acc[FC_RB][2];
                for (int rb = 0; rb < FC_RB; rb++) acc[rb][0] = acc[rb][1] = SPLAT(b);
                const FC_T *s0 = s + ow, *s1 = s0 + rofs[1], *s2 = s0 + rofs[2], *s3 = s0 + rofs[3];
                s0 += rofs[0];
                for (fc_idx r = 0; r < kred; r++) {
                    const FC_T ws = wk[r];
                    const VT wv = SPLAT(ws);
                    const fc_idx o = toff[r];
                    acc[0][0] += wv * *(const VTU *)(s0 + o);
                    acc[1][0] += wv * *(const VTU *)(s1 + o);
                    acc[2][0] += wv * *(const VTU *)(s2 + o);
                    acc[3][0] += wv * *(const VTU *)(s3 + o);
                    acc[0][1] += wv * *(const VTU *)(s0 + o + VLEN);
                    acc[1][1] += wv * *(const VTU *)(s1 + o + VLEN);
                    acc[2][1] += wv * *(const VTU *)(s2 + o + VLEN);
                    acc[3][1] += wv * *(const VTU *)(s3 + o + VLEN);
                }
                const fc_idx nrow = r1 - oh < FC_RB ? r1 - oh : FC_RB;
                for (fc_idx rb = 0; rb < nrow; rb++)
                    for (int v = 0; v < 2; v++) {
                        const fc_idx o0 = ow + v * VLEN;
                        if (o0 >= a->OW) break;
                        FC_T *yr = yk + (oh + rb) * a->OW + o0;
                        if (o0 + VLEN <= a->OW) {
                            *(VTU *)yr = acc[rb][v];
                        } else {
                            *(VTU *)tmp = acc[rb][v];
                            for (fc_idx l = 0; l < a->OW - o0; l++) yr[l] = tmp[l];
                        }
                    }
            }
        }
    }
}

#undef FC_RB
#undef FC_MASKED
#undef FC_STORE2
#undef FC_GATHER_RUNS
#undef FC_GATHER_WINDOWS
#undef FC_DW_PADDED
#undef FC_GATHER_NORUN
#undef FC_GATHER_RUN2
#undef FC_UK_PACKED
#undef FC_UK_WIDTH
#undef VT
#undef VTU
#undef VLEN
#undef FC_VLEN
#undef SPLAT
#undef NR
#undef FC_UK_NVEC
#undef FC_FN
#undef FC_CAT
#undef FC_CAT_
#undef FC_T
#undef FC_SUF
