// splitk_reduce<T, I>: the second pass of a split reduction (Note [split
// reduction] in fc_common.cuh).  x holds `splits` partial outputs, each
// [N, K, OH, OW] (work = N*K*OH*OW elements); y[e] = ((x_0[e] + x_1[e]) + ...)
// + b[k], parts in order, one output per thread (grid-stride).  The weight
// pointer w is not read.  I: the work index type, as for conv2d_direct.
#include "fc_common.cuh"

template <typename T, typename I>
__global__ void __launch_bounds__(256, 4) splitk_reduce(FC_ARGS(T)) {
    const I OHW = (I)OH * OW;
    for (I e = (I)blockIdx.x * blockDim.x + threadIdx.x; e < (I)work;
         e += (I)gridDim.x * blockDim.x) {
        T acc = x[e];
        for (int s = 1; s < splits; ++s) acc += x[(idx_t)s * work + e];
        const int k = (int)((e / OHW) % K);
        y[e] = acc + (has_bias ? b[k] : T(0));
    }
}
