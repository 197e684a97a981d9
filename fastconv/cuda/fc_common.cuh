// Shared device helpers of the fastconv CUDA kernels.
//
// Legend (as in fastconv/_params.py): N, C, H, W input; K output channels;
// G groups; C_g = C / G, K_g = K / G; kh, kw kernel; OH, OW output;
// sh, sw stride; dh, dw dilation; pt, pl padding top, left.
//
// Every kernel takes the same argument list (FC_ARGS), so the host packs one
// tuple for all of them (fastconv/_gpu.py, pack_args) and the CPU emulator's
// driver (tests/cuda_emu) calls any of them the same way.  `work` is the
// kernel's count of work items (int64: it may pass 2**31); every other size
// fits in int32 (fastconv._dispatch.kernel_params guarantees it), and every
// product of sizes is formed in int64 (`idx_t`).  `splits` is the number of
// parts the implicit GEMMs cut their reduction into (Note [split reduction]);
// 1 for every other kernel.
#pragma once

// Launch bounds name a minimum of resident blocks: with the thread count
// alone, nvcc 13's ptxas aimed at higher occupancy and spilled (the compile
// gate, tests/test_cuda_compile.py, caught it).  conv2d_direct says (256, 4):
// up to 64 registers; the implicit GEMMs and the transposed gather (256, 2):
// up to 128.

typedef long long idx_t;

// Padding modes, in the order of fastconv/_params.py PADDING_MODES.
enum { FC_ZEROS = 0, FC_REFLECT = 1, FC_REPLICATE = 2, FC_CIRCULAR = 3 };

#define FC_ARGS(T)                                                              \
    const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b, \
    T* __restrict__ y, idx_t work, int N, int C, int H, int W, int K, int G,   \
    int kh, int kw, int OH, int OW, int sh, int sw, int dh, int dw, int pt,    \
    int pl, int mode, int has_bias, int splits

// Index into an axis of length n for the padded position i, or -1 for a
// zero.  torch limits reflect padding to n - 1 and circular padding to n, so
// one reflection or one wrap is enough (fastconv._params checks it).
__device__ __forceinline__ int fc_source_index(int i, int n, int mode) {
    if (i >= 0 && i < n) return i;
    switch (mode) {
    case FC_REFLECT:   return i < 0 ? -i : 2 * (n - 1) - i;
    case FC_REPLICATE: return i < 0 ? 0 : n - 1;
    case FC_CIRCULAR:  return i < 0 ? i + n : i - n;
    default:           return -1;
    }
}

// Note [split reduction]: an implicit GEMM whose grid holds fewer blocks than
// the GPU has multiprocessors (a deep layer on a small image: resnet50-res5
// is 8 tiles of 64 x 64) leaves most of the GPU idle while each block walks
// thousands of taps.  The host then cuts the reduction into `splits` parts of
// whole BK steps, one per grid z (per stride phase for the transposed GEMM).
// Part s writes its sums to y + s * N*K*OH*OW (bias left out: has_bias = 0), and
// splitk_reduce (splitk.cu) adds the parts in the order s = 0, 1, ... and then
// the bias: a fixed order, no atomics, the same bits on every run.  Part s
// covers taps [lo, hi) below; a part past R is empty and writes zeros (only a
// transposed phase with fewer taps than the largest has such parts).
__device__ __forceinline__ void fc_split_range(int R, int bk, int splits, int s, int* lo,
                                               int* hi) {
    const idx_t steps = ((idx_t)R + bk - 1) / bk;
    const idx_t per = (steps + splits - 1) / splits * bk;
    const idx_t a = (idx_t)s * per, e = a + per;
    *lo = (int)(a < R ? a : R);
    *hi = (int)(e < R ? e : R);
}

// a / b and a % b rounded towards minus infinity (b > 0).
__device__ __forceinline__ int fc_floordiv(int a, int b) {
    int q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}
__device__ __forceinline__ int fc_mod(int a, int b) {
    int r = a % b;
    return r < 0 ? r + b : r;
}
