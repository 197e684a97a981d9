// conv2d kernels: conv2d_igemm<T, BM, BN, BK, TM, TN> (implicit GEMM) and
// conv2d_direct<T> (depthwise and grouped convolutions with few output
// channels per group).
//
// Legend: N, C, H, W input; K output channels; G groups; C_g = C / G,
// K_g = K / G; kh, kw kernel; OH, OW output; sh, sw stride; dh, dw
// dilation; pt, pl padding top, left (bottom/right follow from OH, OW).
// Arrays are C-contiguous: x [N, C, H, W], w [K, C_g, kh, kw], b [K],
// y [N, K, OH, OW].
#include "fc_common.cuh"

// Implicit GEMM per group g:  y_g[m, p] = sum_r w_g[m, r] * im2col(x)_g[r, p]
// with m an output channel (< K_g), p = (n, oh, ow) an output pixel
// (< N*OH*OW = work) and r = (c, i, j) a tap (< C_g*kh*kw).  A block computes
// a BM x BN tile of y_g: it walks r in steps of BK, staging a BK x BM slice of
// the weight and a BK x BN slice of im2col(x) in shared memory (the im2col
// values are gathered on the fly, padding modes included: no buffer, no padded
// copy), and each thread accumulates a TM x TN register block.
// Grid: x = ceil(work / BN) pixel tiles, y = G * ceil(K_g / BM), z = splits
// (Note [split reduction] in fc_common.cuh: part z of the taps).
template <typename T, int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN), 2)
conv2d_igemm(FC_ARGS(T)) {
    constexpr int TX = BN / TN;          // threads along pixels
    constexpr int TY = BM / TM;          // threads along channels
    constexpr int NT = TX * TY;
    static_assert(NT % BN == 0, "each thread loads im2col values of one pixel");
    __shared__ T As[BK][BM];
    __shared__ T Bs[BK][BN];

    const int tid = threadIdx.x;
    const int C_g = C / G, K_g = K / G;
    const int KK = kh * kw;
    const int R = C_g * KK;              // host checks R < 2**31
    const int mtiles = (K_g + BM - 1) / BM;
    const int g = blockIdx.y / mtiles;
    const int m0 = (blockIdx.y % mtiles) * BM;
    const idx_t p0 = (idx_t)blockIdx.x * BN;
    const idx_t OHW = (idx_t)OH * OW;
    const idx_t HW = (idx_t)H * W;

    // The pixel whose im2col values this thread stages, decomposed once.
    const int lp = tid % BN;
    const idx_t p = p0 + lp;
    const bool p_ok = p < work;
    int ih0 = 0, iw0 = 0;
    const T* xg = x;
    if (p_ok) {
        const idx_t n = p / OHW;
        const idx_t q = p - n * OHW;
        const int oh = (int)(q / OW), ow = (int)(q - (idx_t)(q / OW) * OW);
        ih0 = oh * sh - pt;
        iw0 = ow * sw - pl;
        xg = x + (n * C + (idx_t)g * C_g) * HW;
    }
    const T* wg = w + (idx_t)g * K_g * R;
    int r_lo, r_hi;
    fc_split_range(R, BK, splits, blockIdx.z, &r_lo, &r_hi);
    // Parts of a split reduction go to slices of their own (the host passes
    // has_bias = 0 for them).
    T* const ys = splits > 1 ? y + (idx_t)blockIdx.z * N * K * OHW : y;

    const int tx = tid % TX, ty = tid / TX;
    T acc[TM][TN];
#pragma unroll
    for (int a = 0; a < TM; ++a)
#pragma unroll
        for (int c = 0; c < TN; ++c) acc[a][c] = T(0);

    for (int r0 = r_lo; r0 < r_hi; r0 += BK) {
        // Weights: consecutive threads read consecutive taps of one channel.
        for (int e = tid; e < BM * BK; e += NT) {
            const int mc = e / BK, rr = e % BK;
            const int m = m0 + mc, r = r0 + rr;
            As[rr][mc] = (m < K_g && r < r_hi) ? wg[(idx_t)m * R + r] : T(0);
        }
        // im2col(x): rows tid / BN, + NT / BN, ... of this thread's pixel.
        for (int rr = tid / BN; rr < BK; rr += NT / BN) {
            const int r = r0 + rr;
            T v = T(0);
            if (p_ok && r < r_hi) {
                const int c = r / KK, t = r - c * KK;
                const int i = t / kw, j = t - (t / kw) * kw;
                const int ih = fc_source_index(ih0 + i * dh, H, mode);
                const int iw = fc_source_index(iw0 + j * dw, W, mode);
                if (ih >= 0 && iw >= 0) v = xg[(idx_t)c * HW + (idx_t)ih * W + iw];
            }
            Bs[rr][lp] = v;
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < BK; ++k) {
            T av[TM], bv[TN];
#pragma unroll
            for (int a = 0; a < TM; ++a) av[a] = As[k][ty + a * TY];
#pragma unroll
            for (int c = 0; c < TN; ++c) bv[c] = Bs[k][tx + c * TX];
#pragma unroll
            for (int a = 0; a < TM; ++a)
#pragma unroll
                for (int c = 0; c < TN; ++c) acc[a][c] += av[a] * bv[c];
        }
        __syncthreads();
    }

    // Epilogue: bias fused; consecutive threads store consecutive pixels.
#pragma unroll
    for (int c = 0; c < TN; ++c) {
        const idx_t pp = p0 + tx + c * TX;
        if (pp >= work) continue;
        const idx_t n = pp / OHW;
        const idx_t q = pp - n * OHW;
#pragma unroll
        for (int a = 0; a < TM; ++a) {
            const int m = m0 + ty + a * TY;
            if (m >= K_g) continue;
            const int k = g * K_g + m;
            ys[(n * K + k) * OHW + q] = acc[a][c] + (has_bias ? b[k] : T(0));
        }
    }
}

// Direct convolution, one output element per thread (grid-stride over
// work = N*K*OH*OW), taps in the order c, i, j.  For depthwise and grouped
// convolutions with few output channels per group, where a GEMM tile would be
// mostly padding; such layers are memory-bound, and neighbouring threads
// (neighbouring ow) read neighbouring inputs.
// I, the type of the work index, is int where work plus the grid's thread
// count fits in int32 (the host decides; 64-bit division costs several times
// the 32-bit one, per output), else idx_t.  Offsets are idx_t either way.
template <typename T, typename I>
__global__ void __launch_bounds__(256, 4) conv2d_direct(FC_ARGS(T)) {
    const int C_g = C / G, K_g = K / G;
    const idx_t HW = (idx_t)H * W;
    for (I e = (I)blockIdx.x * blockDim.x + threadIdx.x; e < (I)work;
         e += (I)gridDim.x * blockDim.x) {
        const int ow = (int)(e % OW);
        I t = e / OW;
        const int oh = (int)(t % OH);
        t /= OH;
        const int k = (int)(t % K);
        const idx_t n = (idx_t)(t / K);
        const int g = k / K_g;
        const T* xc = x + (n * C + (idx_t)g * C_g) * HW;
        const T* wk = w + (idx_t)k * C_g * kh * kw;
        T acc = T(0);
        for (int c = 0; c < C_g; ++c, xc += HW) {
            for (int i = 0; i < kh; ++i) {
                const int ih = fc_source_index(oh * sh - pt + i * dh, H, mode);
                if (ih < 0) { wk += kw; continue; }
                for (int j = 0; j < kw; ++j, ++wk) {
                    const int iw = fc_source_index(ow * sw - pl + j * dw, W, mode);
                    if (iw >= 0) acc += *wk * xc[(idx_t)ih * W + iw];
                }
            }
        }
        y[e] = acc + (has_bias ? b[k] : T(0));
    }
}
