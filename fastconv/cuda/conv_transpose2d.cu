// Transposed convolution as a gather: conv_transpose2d_igemm<T, BM, BN, BK,
// TM, TN> (implicit GEMM per stride phase) and conv_transpose2d_gather<T>
// (one output element per thread, for few output channels per group).
//
// Legend: N, C, H, W input; K output channels; G groups; C_g = C / G,
// K_g = K / G; kh, kw kernel; OH, OW output; sh, sw stride; dh, dw
// dilation; pt, pl padding top, left.  Arrays are C-contiguous:
// x [N, C, H, W], w [C, K_g, kh, kw], b [K], y [N, K, OH, OW].
//
// Note [transposed conv as gather]: the transposed conv is the adjoint of
// conv2d.  Each output element sums, in a fixed order, every
//   x[n, g*C_g + c, ih, iw] * w[g*C_g + c, k, i, j]
// with oh + pt - i*dh == ih*sh and ow + pl - j*dw == iw*sw; it is computed by
// one thread and written once: no atomics, bitwise reproducible.
// Stride-phase decomposition: output rows with the same phase
// rh = (oh + pt) mod sh use the same taps, i = i0(rh) + step_h*u with
// step_h = sh / gcd(sh, dh), so no thread visits a tap that cannot
// contribute.  The work is ordered phase-major (phase, n, k, a_h, a_w) with
// oh = oh0(rh) + a_h*sh, so a block runs one phase and its threads take the
// same tap loop.  work = sh*sw * N*K * ceil(OH/sh) * ceil(OW/sw).
#include "fc_common.cuh"

__device__ __forceinline__ int fc_gcd(int a, int b) {
    while (b != 0) { const int t = a % b; a = b; b = t; }
    return a;
}

// First tap i >= 0 with i*d == r (mod s), or n when none is below n.
__device__ __forceinline__ int fc_first_tap(int r, int s, int d, int step, int n) {
    for (int i = 0; i < step && i < n; ++i)
        if (fc_mod(i * d, s) == r) return i;
    return n;
}

// I: the work index type, as for conv2d_direct.
template <typename T, typename I>
__global__ void __launch_bounds__(256, 2) conv_transpose2d_gather(FC_ARGS(T)) {
    const int C_g = C / G, K_g = K / G;
    const int Ah = (OH + sh - 1) / sh, Aw = (OW + sw - 1) / sw;
    const int step_h = sh / fc_gcd(sh, dh), step_w = sw / fc_gcd(sw, dw);
    const idx_t HW = (idx_t)H * W;
    for (I e = (I)blockIdx.x * blockDim.x + threadIdx.x; e < (I)work;
         e += (I)gridDim.x * blockDim.x) {
        const int aw = (int)(e % Aw);
        I t = e / Aw;
        const int ah = (int)(t % Ah);
        t /= Ah;
        const int k = (int)(t % K);
        t /= K;
        const idx_t n = (idx_t)(t % N);
        const int phase = (int)(t / N);
        const int rh = phase / sw, rw = phase % sw;
        const int oh = fc_mod(rh - pt, sh) + ah * sh;
        const int ow = fc_mod(rw - pl, sw) + aw * sw;
        if (oh >= OH || ow >= OW) continue;
        const int g = k / K_g, kg = k - g * K_g;
        const int i0 = fc_first_tap(rh, sh, dh, step_h, kh);
        const int j0 = fc_first_tap(rw, sw, dw, step_w, kw);
        T acc = T(0);
        for (int i = i0; i < kh; i += step_h) {
            const int th = oh + pt - i * dh;      // a multiple of sh
            if (th < 0) break;                    // only falls as i grows
            const int ih = th / sh;
            if (ih >= H) continue;
            for (int j = j0; j < kw; j += step_w) {
                const int tw = ow + pl - j * dw;
                if (tw < 0) break;
                const int iw = tw / sw;
                if (iw >= W) continue;
                const T* xp = x + (n * C + (idx_t)g * C_g) * HW + (idx_t)ih * W + iw;
                const T* wp = w + ((idx_t)g * C_g * K_g + kg) * kh * kw + i * kw + j;
                for (int c = 0; c < C_g; ++c)
                    acc += xp[(idx_t)c * HW] * wp[(idx_t)c * K_g * kh * kw];
            }
        }
        y[((n * K + k) * OH + oh) * OW + ow] = acc + (has_bias ? b[k] : T(0));
    }
}

// Implicit GEMM per group g and stride phase (rh, rw) (blockIdx.z = s*sh*sw +
// rh*sw + rw, with s the part of a split reduction, Note [split reduction]):
//   y[m, p] = sum_r w'[m, r] * x'[r, p]
// with m an output channel (< K_g), p = (n, a_h, a_w) an output pixel of the
// phase (oh = oh0(rh) + a_h*sh, likewise ow; work = N*ceil(OH/sh)*ceil(OW/sw)
// covers the largest phase), and r = (c, u, v) a tap that can contribute to
// the phase: i = i0 + u*step_h, j = j0 + v*step_w (Note [transposed conv as
// gather]), so no masked taps are staged.  Tiles and register blocks as in
// conv2d_igemm.  Grid: x = ceil(work / BN), y = G * ceil(K_g / BM),
// z = splits * sh*sw.
template <typename T, int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN), 2)
conv_transpose2d_igemm(FC_ARGS(T)) {
    constexpr int TX = BN / TN;
    constexpr int TY = BM / TM;
    constexpr int NT = TX * TY;
    static_assert(NT % BN == 0, "each thread loads values of one pixel");
    __shared__ T As[BK][BM];
    __shared__ T Bs[BK][BN];

    const int tid = threadIdx.x;
    const int C_g = C / G, K_g = K / G;
    const int mtiles = (K_g + BM - 1) / BM;
    const int g = blockIdx.y / mtiles;
    const int m0 = (blockIdx.y % mtiles) * BM;
    const idx_t p0 = (idx_t)blockIdx.x * BN;
    const idx_t HW = (idx_t)H * W;
    const idx_t OHW = (idx_t)OH * OW;

    // This block's phase and the taps that reach it.
    const int phase = blockIdx.z % (sh * sw), part = blockIdx.z / (sh * sw);
    const int rh = phase / sw, rw = phase % sw;
    const int step_h = sh / fc_gcd(sh, dh), step_w = sw / fc_gcd(sw, dw);
    const int i0 = fc_first_tap(rh, sh, dh, step_h, kh);
    const int j0 = fc_first_tap(rw, sw, dw, step_w, kw);
    const int nh = i0 < kh ? (kh - 1 - i0) / step_h + 1 : 0;
    const int nw = j0 < kw ? (kw - 1 - j0) / step_w + 1 : 0;
    const int taps = nh * nw;
    const int R = C_g * taps;              // host checks C_g*kh*kw < 2**31
    const int oh0 = fc_mod(rh - pt, sh), ow0 = fc_mod(rw - pl, sw);
    const int Ah = (OH + sh - 1) / sh, Aw = (OW + sw - 1) / sw;
    const idx_t AHW = (idx_t)Ah * Aw;

    // The pixel whose input values this thread stages.
    const int lp = tid % BN;
    const idx_t p = p0 + lp;
    int oh = OH, ow = OW;
    const T* xg = x;
    if (p < work) {
        const idx_t n = p / AHW;
        const idx_t q = p - n * AHW;
        oh = oh0 + (int)(q / Aw) * sh;
        ow = ow0 + (int)(q % Aw) * sw;
        xg = x + (n * C + (idx_t)g * C_g) * HW;
    }
    const bool p_ok = oh < OH && ow < OW;
    const T* wg = w + (idx_t)g * C_g * K_g * kh * kw;
    int r_lo, r_hi;
    fc_split_range(R, BK, splits, part, &r_lo, &r_hi);
    T* const ys = splits > 1 ? y + (idx_t)part * N * K * OHW : y;

    const int tx = tid % TX, ty = tid / TX;
    T acc[TM][TN];
#pragma unroll
    for (int a = 0; a < TM; ++a)
#pragma unroll
        for (int c = 0; c < TN; ++c) acc[a][c] = T(0);

    for (int r0 = r_lo; r0 < r_hi; r0 += BK) {
        // Weights w[g*C_g + c, m, i, j]: consecutive threads, consecutive taps.
        for (int e = tid; e < BM * BK; e += NT) {
            const int mc = e / BK, rr = e % BK;
            const int m = m0 + mc, r = r0 + rr;
            T v = T(0);
            if (m < K_g && r < r_hi) {
                const int c = r / taps, t = r - c * taps;
                const int u = t / nw, vv = t - (t / nw) * nw;
                const int i = i0 + u * step_h, j = j0 + vv * step_w;
                v = wg[((idx_t)c * K_g + m) * kh * kw + i * kw + j];
            }
            As[rr][mc] = v;
        }
        for (int rr = tid / BN; rr < BK; rr += NT / BN) {
            const int r = r0 + rr;
            T v = T(0);
            if (p_ok && r < r_hi) {
                const int c = r / taps, t = r - c * taps;
                const int u = t / nw, vv = t - (t / nw) * nw;
                const int th = oh + pt - (i0 + u * step_h) * dh;   // a multiple of sh
                const int tw = ow + pl - (j0 + vv * step_w) * dw;
                if (th >= 0 && tw >= 0) {
                    const int ih = th / sh, iw = tw / sw;
                    if (ih < H && iw < W) v = xg[(idx_t)c * HW + (idx_t)ih * W + iw];
                }
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

#pragma unroll
    for (int c = 0; c < TN; ++c) {
        const idx_t pp = p0 + tx + c * TX;
        if (pp >= work) continue;
        const idx_t n = pp / AHW;
        const idx_t q = pp - n * AHW;
        const int yh = oh0 + (int)(q / Aw) * sh, yw = ow0 + (int)(q % Aw) * sw;
        if (yh >= OH || yw >= OW) continue;
        const idx_t out = n * K * OHW + (idx_t)yh * OW + yw;
#pragma unroll
        for (int a = 0; a < TM; ++a) {
            const int m = m0 + ty + a * TY;
            if (m >= K_g) continue;
            const int k = g * K_g + m;
            ys[out + (idx_t)k * OHW] = acc[a][c] + (has_bias ? b[k] : T(0));
        }
    }
}
