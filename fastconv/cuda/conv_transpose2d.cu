// conv_transpose2d_gather<T>: transposed convolution as a gather.
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

template <typename T>
__global__ void __launch_bounds__(256, 4) conv_transpose2d_gather(FC_ARGS(T)) {
    const int C_g = C / G, K_g = K / G;
    const int Ah = (OH + sh - 1) / sh, Aw = (OW + sw - 1) / sw;
    const int step_h = sh / fc_gcd(sh, dh), step_w = sw / fc_gcd(sw, dw);
    const idx_t HW = (idx_t)H * W;
    for (idx_t e = (idx_t)blockIdx.x * blockDim.x + threadIdx.x; e < work;
         e += (idx_t)gridDim.x * blockDim.x) {
        const int aw = (int)(e % Aw);
        idx_t t = e / Aw;
        const int ah = (int)(t % Ah);
        t /= Ah;
        const int k = (int)(t % K);
        t /= K;
        const idx_t n = t % N;
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
