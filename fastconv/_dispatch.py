"""Array preparation, algorithm choice and backend dispatch.

Decides once per call: which array library (NumPy -> the CPU backend, CuPy ->
the GPU backend, decided by the arrays' type; other array objects are converted
through DLPack or ``__array__``), that all arrays share one device and one
float dtype, the C-contiguous operands the kernels need, and which algorithm
runs.  Backends never validate user input.  CuPy is never imported here unless
the caller hands over a CUDA array: a cupy.ndarray can only exist once cupy is
imported, so ``sys.modules`` tells.
"""

import dataclasses
import enum
import sys

import numpy as np

from . import _cpu
from ._params import ConvError

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Algorithm(enum.Enum):
    """Convolution algorithms of the CPU backend."""
    GEMM = "gemm"          # implicit GEMM, tiled implicit im2col packing (any stride)
    IMPLICIT = "implicit"  # implicit GEMM read in place from a padded, phase-split copy
    DIRECT = "direct"      # direct accumulation over taps, for few channels per group
    WINOGRAD = "winograd"  # Winograd F(2x2, 3x3) for 3x3 at stride 1, F(3x3, 2x2) on the
                           # phases of 4x4 stride-2 transposed (IMPLICIT elsewhere)


# Which algorithms each op implements.
ALGORITHMS = {
    "conv2d": (Algorithm.GEMM, Algorithm.IMPLICIT, Algorithm.DIRECT, Algorithm.WINOGRAD),
    "conv_transpose2d": (Algorithm.GEMM, Algorithm.IMPLICIT, Algorithm.DIRECT,
                         Algorithm.WINOGRAD),
}

# Note [auto thresholds]: how 'auto' picks, and where the numbers come from.
# - conv2d where each image has one output pixel whose window is its whole
#   input (_one_pixel: squeeze-and-excitation 1x1 convs on 1x1 maps,
#   classifier heads, a kh x kw kernel on a kh x kw input), fewer than
#   PIXEL_MAX_N images, a reduction C_g*kh*kw of at least PIXEL_MIN_REDUCTION,
#   ungrouped or with PIXEL_GROUPED_MIN_K_G output channels per group: GEMM,
#   which runs Note [one-pixel conv2d] (_kernels_impl.h) there, output
#   channels in the lanes.  Interleaved medians at 2 threads, AMD EPYC Zen 5,
#   29 Nov 2026, us, GEMM (before: GEMM's pixel lanes) vs DIRECT vs torch:
#   240 -> 10 3.3 (4.5) vs 11.4 vs 2.6; 1152 -> 48 9.2 (15.1) vs 159 vs 4.9;
#   4 x 1152 -> 48 12.7 (36) vs 324 vs 72; 8 x 240 -> 10 4.7 (5.5) vs 70 vs
#   51; 1280 -> 1000 129 (139) vs 3361 vs 64; 512 -> 1 4x4 on 4x4 18 vs 47
#   vs 55; 256 -> 4 3x3 on 3x3 6.7 vs 13.8 vs 9.1; but depthwise (64 groups
#   of one channel) 14 vs 5.5, 32 groups of 8 10.2 vs IMPLICIT 7.7.
# - conv2d, fewer than DIRECT_MAX_K_G output channels per group (depthwise,
#   grouped with few channels, single-channel filters): DIRECT.  The GEMM
#   kernels' micro-tile has MR (8 or 4) channel rows and would mostly compute
#   padding; the direct kernel reuses nothing across channels and needs none.
#   Not for 1x1 kernels from DIRECT_1X1_MAX_C_G input channels per group:
#   GEMM (its reduction is C_g long, and DIRECT's one multiply-add per loaded
#   vector bounds it).  GEMM / DIRECT time, interleaved medians at 2 threads,
#   AMD EPYC Zen 5, 28 Nov 2026, 2 images at 7x7 and 28x28, K_g 1-4: C_g 32
#   0.38-0.79, C_g 128 0.27-0.65; C_g 16 0.48-0.55 at 7x7 but 0.89-1.28 at
#   28x28; C_g 4 0.75-2.79.  Nor for dilated kernels (DIRECT's general path)
#   from DIRECT_DILATED_MAX_C_K_G input times output channels per group, or
#   strided and dilated from DIRECT_DILATED_MAX_C_G_S2 input channels:
#   IMPLICIT.  Best other / DIRECT, same machine, 2 x 256 channels at 28x28,
#   3x3 and 5x5 at dilation 2 and 4: C_g 1 (depthwise) 1.02-4.00; C_g 8, K_g
#   1-2, stride 1 1.10-1.69, stride 2 0.68-0.92; C_g 24, K_g 1 1.05-1.21,
#   K_g 2 0.80-0.86; C_g 64 0.46-0.82.
#   Past 9 taps (5x5, 7x7) that lack of reuse costs more with each output
#   channel: DIRECT only up to DIRECT_LARGE_KERNEL_MAX_K_G output channels per
#   group (_S2 strided, _WIDE from DIRECT_LARGE_KERNEL_WIDE_C_G input channels
#   per group), IMPLICIT above.  IMPLICIT / DIRECT time, interleaved medians at
#   2 threads, Intel Xeon 5th gen, 28 Nov 2026, 2 images at 14x14 and 56x56
#   unless said: stride 1, K_g 2: C_g 16-128 1.17-1.66; K_g 3: 16 to 64 at
#   28x28 1.30-1.31, 128 at 14x14 7x7 0.82; K_g 4: C_g 8 1.12, 16 0.87-0.92,
#   64-128 0.60-0.78; K_g 6: C_g 8 1.18, 16-128 0.64-0.94.  Stride 2, K_g 2:
#   C_g 8 at 56x56 7x7 1.03, C_g 16-256 0.51-1.32 (the 1.19-1.32 on 2 x 56x56,
#   below 1 on 4-8 images or 14x14); K_g 3-6: 0.23-0.71; K_g 4 at C_g 8
#   0.56-0.71 and C_g 1 (depthwise, multiplier 4, 7x7, 512x512) 0.74; K_g 1
#   stays DIRECT: 128 -> 1 at 56x56 7x7 s2 0.180 ms vs IMPLICIT 0.328.  On 1 to
#   3 input channels with 5x5 at stride 1 DIRECT wins by 1.5-4.7x.
#   Kernels even on both sides (2x2, 4x4, 6x6, 8x8) with 2 or more input and
#   output channels a group: IMPLICIT at any K_g (DIRECT's tiles are odd
#   squares; these take its per-tap loop), 2x2 only at stride 1 and from
#   IMPLICIT_EVEN_2X2_MIN_C_G inputs a group.  DIRECT / IMPLICIT time,
#   interleaved medians, 1 thread (2 threads), AMD EPYC Zen 4, 29 Nov 2026,
#   64x64 maps unless said: 4x4, 64 -> 3 2.5 (1.2-2.3), 64 -> 2 1.8 (1.6), 3
#   -> 3 1.5-1.6 (1.15), 512 -> 3 at 32x32 3.0 (3.0), 4 x 8 -> 6 at 32x32 2.2
#   (1.8), 64 -> 16 in 8 groups at 32x32 1.45 (1.43), 32 -> 4 in 2 groups 1.39
#   (1.28); 6x6, 16 -> 3 2.0 (1.8); 8x8, 16 -> 3 2.0 (2.4); 2x2, 8 x 96 -> 48
#   in 8 groups at 31x31 stride 2 3.3 (2.9), in 16 groups 2.9 (1.9), 64 -> 3
#   1.4-2.2 (1.24, once 0.66 on a slow host), 256 -> 4 at 32x32 1.9 (1.6), 128
#   -> 7 at 28x28 2.1 (1.7), 72 -> 3 at 14x14 2.5 (1.2), 2 x 16 -> 4 at 56x56
#   1.6 (1.08), 32 -> 8 in 4 groups at 112x112 s2 1.55 (1.32).  Alternated
#   across the host's two states (see the few-channel Winograd rule below),
#   2 threads, fast (slow): 4x4, 64 -> 3 2.35 (1.55-1.84), 3 -> 3 1.55
#   (1.30-1.39), 4 x 8 -> 6 2.0 (1.18-1.21), 64 -> 16 in 8 groups 1.6 (2.0);
#   2x2, 256 -> 4 3.0 (1.9-2.35), 64 -> 3 2.3 (0.97-1.06), but 8 x 96 -> 48 in
#   8 groups at stride 2 2.3 (0.43-0.62): strided 2x2 stays.  Not 2x2 on 3
#   inputs (0.92 (0.77)), 4x3 (32 -> 2: 1.2 (0.55)), 5x3 (1.0), depthwise
#   (64 at 56x56 2x2 0.59) nor one output channel (16 -> 1 4x4: 0.79).
#   Depthwise kx1 kernels at stride 2 stay DIRECT: IMPLICIT ran them 1.33-1.9
#   times as fast in the fast state (3x1 to 7x1, 28x28 to 56x56), but 4 x 96
#   7x1 at 28x28 took 0.47 ms against DIRECT's 0.17 at 2 threads in the slow
#   one (compare.py).
# - grouped conv2d with a 3x3 kernel at stride 1 or 2, undilated, and at most
#   DIRECT_GROUPED_MAX_CHANNELS input and output channels per group: DIRECT
#   too.  Its tile makes a group's outputs in pairs from the input in place
#   (Note [masked depthwise]), where the GEMM algorithms run one small problem
#   per group.  Best of ten calls at 2 threads, DIRECT vs IMPLICIT / WINOGRAD /
#   GEMM ms (Intel Xeon 5th gen): 128 channels in 16 groups at 28x28 0.118 vs
#   0.230 / 0.299 / 0.444; 64 in 8 at 56x56 0.238 vs 0.966 / 1.038 / 0.615; 192
#   in 12 groups of 16 at 28x28 0.336 vs 0.480 / 0.561 / 0.617; 512 in 32 at
#   14x14 0.240 vs 0.312 / 0.450 / 0.330; 128 in 16 at 56x56 s2 0.273 vs 0.455
#   / - / 0.436 (1 thread: 0.568 vs 0.610 / - / 0.837).  Ungrouped layers that
#   small tie or lose (16 -> 32 channels at 56x56: 0.264 vs 0.243 / 0.205).
#   At stride 2 only up to DIRECT_GROUPED_MAX_CHANNELS_S2: with 16 channels per
#   group GEMM (the strided rule below) won every layer tried, DIRECT vs GEMM ms
#   at 2 threads (1 thread), Intel Xeon 5th gen, 27 Nov 2026: RegNet's 448 in
#   28 groups at 28x28 0.274 vs 0.216 (0.505 vs 0.408), 896 at 14x14 0.250 vs
#   0.139 (0.496 vs 0.268), 512 at 28x28 0.305 vs 0.238, 256 at 56x56 0.529
#   vs 0.522; with 12 or fewer DIRECT won: 12 per group 0.179 vs 0.210 and
#   0.365 vs 0.521, 10 per group 0.226 vs 0.367, 8 per group 0.244 vs 0.522.
# - ungrouped 3x3 at stride 1, undilated, zero padding, on output rows at most
#   DIRECT_SMALL_MAX_OW wide, with at most DIRECT_SMALL_MAX_C_G input and
#   DIRECT_SMALL_MAX_K_G output channels (CIFAR-sized layers), or on rows of
#   any width with at most DIRECT_SMALL_WIDE_MAX_K_G output channels: DIRECT.  The
#   GEMM kernels' reduction is only 9 x C_g long there, so their tiles' loads
#   and stores dominate; DIRECT's rows of 32 or fewer waste no lanes.
#   IMPLICIT / DIRECT time, interleaved medians at 2 threads (1 thread),
#   Intel Xeon 5th gen, 27 Nov 2026, for C_g in {3, 8, 16} x K_g in {8, 16,
#   24, 32}: 4 x 32x32 1.09-1.97 (1.09-1.82), 32 x 32x32 1.12-1.81, 8 x 16x16
#   1.24-1.99, 28x28 1.17-1.76; 128 x 3 -> 16 at 32x32 0.948 vs 0.599 ms.  Not
#   past them: 32 channels at 32x32 0.88-1.14, 56x56 0.87-1.58 (16 -> 32
#   0.87), 112x112 0.73-1.31; nor with reflect or circular padding, which
#   DIRECT copies (16 -> 16 at 32x32: 0.134 vs IMPLICIT 0.110).  With 8
#   output channels, on wide rows: 3, 8 or 16 -> 8 at 56x56 to 224x224 1.00-1.29
#   (0.96-1.38; the 0.96 is 16 -> 8 at 224x224, 1 thread).  Those rows filled
#   their vectors; on rows that fill under DIRECT_SMALL_MIN_ROW_USE of them
#   (OW / 16 rounded up to whole vectors: 4-11 and 17-23 outputs wide) DIRECT
#   lost, except on one input channel: 212 random layers at each thread count
#   (1-16 inputs, 12-32 outputs, 4-32 wide, batch 1-128, padding 0 or 1, AMD
#   EPYC Zen 4, 30 Nov 2026, interleaved) had DIRECT / IMPLICIT geomeans 1.24-1.67 on rows 4-12
#   wide and 1.13-1.14 on 17-24 (on 13-16 and 25-32: 0.90-1.02); over all of
#   them, time / the better of the two at 1 thread (2 threads), DIRECT
#   throughout 1.17 (1.11), this rule 1.03 (1.04); torch / fastconv geomean
#   1.38 -> 1.57 (1.58 -> 1.67).
# - conv2d with a 3x3 kernel at stride 1, any dilation (winograd_applies), with
#   c = min(C_g, K_g) at least WINOGRAD_MIN_CHANNELS and c times the 2x2 output
#   tiles over the batch at least WINOGRAD_MIN_CHANNEL_TILES: WINOGRAD, 16
#   multiplies per tile and channel pair instead of 36.  Its input transform
#   costs per input channel and tile, its output transform per output channel
#   and tile, and its weight transform per channel pair, against a saving per
#   channel pair and tile: so the fewer of the two channel counts, times the
#   tiles, decides.  Interleaved medians, IMPLICIT / WINOGRAD time at 2
#   threads (1 thread), Intel Xeon 5th gen, after the weight transform went to
#   vectors: c x tiles from 10368 up wins -- 128 at 18x18 1.14 (1.28), 96 at
#   22x22 1.14, 2 x 128 at 14x14 1.10, resnet50-res4 (256 at 14x14, 12544)
#   1.08-1.11 (1.20), 256 -> 128 at 18x18 1.18, 256 at 16x16 1.19, 48 at 40x40
#   1.12, 256 -> 64 at 28x28 1.28; float64 1.22-1.45; below it ties or loses
#   -- 256 at 12x12 (9216) 1.00, 128 at 16x16 0.99, 64 at 20x20 0.98, 128 at
#   14x14 0.92, 512 -> 128 at 14x14 0.88, 64 at 14x14 0.83; and so do few
#   channels with many tiles: 24 at 56x56 0.96, 16 at 28x28 0.87 (dilated 2:
#   WINOGRAD 0.053 ms vs GEMM 0.033).  (The rule was C_g >= 8 and 150 tiles,
#   set before the vectorised weight transform: it left res4 and 2 x 256 at
#   14x14, 1.28, to IMPLICIT and gave 16-channel layers to WINOGRAD.)  Past
#   WINOGRAD_WIDE_C_G input channels a task's transformed input (16 x C_g x
#   NR values, 1.5 MB at 512) crowds L2 and, with Note [Winograd chunks], the
#   input is transformed once per chunk of output channels: then at least
#   WINOGRAD_WIDE_MIN_TILES tiles -- 512 at 20x20 (100 tiles) 1.18 (1.33),
#   19x19 1.27, 24x24 1.28, 28x28 1.43, 2 x 512 at 14x14 (98) 1.08 (1.15),
#   384 at 20x20 1.28, 512 -> 256 at 20x20 1.28, 512 -> 128 at 28x28 1.36,
#   float64 512 at 20x20 1.07; but 512 at 16x16 (64) 0.91, at 14x14 0.91,
#   384 at 13x13 0.85, 512 -> 1024 at 14x14 0.82, 512 at 7x7 0.41 -- and never
#   past WINOGRAD_MAX_C_G: 1024 at 28x28 0.76, at 7x7 0.21.  A
#   dilation d splits the outputs into d x d phases with their own tile grids;
#   the count is over all of them: deeplab-dil2 (4 phases of 49 tiles) 3.56 ms
#   vs IMPLICIT 4.38 (6.10 vs 8.13 at 1 thread), its undilated twin (196
#   tiles) 3.72 vs 5.20 (these on the second development machine, an Intel
#   Xeon 5th gen (Emerald Rapids) with 2 vCPUs and AVX-512, 27 Nov 2026, as
#   are the GEMM figures below).
#   Where the data would take the transforms outside the error bound (see
#   Note [Winograd F(2x2, 3x3)]) the backend recomputes with IMPLICIT.
#   Phases of fewer than WINOGRAD_MIN_TILE_COLUMNS tile columns waste too many
#   lanes (a 4 x 4 tile grid fills 16 of 32): 3x3 at dilation 4, interleaved
#   medians, WINOGRAD vs GEMM ms at 2 threads (1 thread), Intel Xeon 5th gen:
#   4 tile columns, 128 channels on 32x32 1.35 vs 1.04 (2.17 vs 1.81), 256 on
#   28x28 4.03 vs 2.90, 128 on 56x56 at dilation 8 5.23 vs 3.05; 5 columns
#   (128 on 40x40) 1.51 vs 1.61 (2.27 vs 2.75); 6 (256 on 65x65 at dilation
#   6) 13.7 vs 15.3 (26.8 vs 28.8); 7 (deeplab-like, 128 on 28x28 at 2) 0.72
#   vs 0.81.
#   Except where the backend runs dense lanes (_winograd_dense, Note [dense
#   Winograd lanes] in _kernels_impl.h: the grids would leave at least
#   WINOGRAD_DENSE_WASTE of their vectors' lanes junk): no column minimum,
#   c x tiles from WINOGRAD_DENSE_MIN_CHANNEL_TILES, and past WINOGRAD_WIDE_C_G
#   input channels WINOGRAD_DENSE_WIDE_MIN_TILES tiles.  ms at 2 threads,
#   3x3 padding 1, Intel Xeon 5th gen, 28 Nov 2026, dense WINOGRAD vs the
#   grid's vs the best other vs torch: 8 x 256 at 8x8 (c x tiles 32768) 1.19
#   vs 1.78 vs 1.87 (IMPLICIT) vs 1.50; 16 x 512 at 4x4 (64 tiles) 3.39 vs
#   8.43 vs 3.79 (GEMM) vs 3.06; 128 x 512 at 4x4 21.0 vs 61.7 vs 30.0 vs
#   20.6; 8 x 512 at 6x6 3.57 vs 7.03 vs 4.29 vs 3.44; 32 x 64 at 8x8 0.42 vs
#   0.62 vs 0.48 vs 0.42; dilation 4, 128 on 32x32 0.82 vs 1.16 vs 0.88 vs
#   0.68, 256 on 33x33 3.25 vs 3.74 vs 3.47 vs 2.78.  Kept out: 64 on 32x32
#   at dilation 4 (16384) 0.28 vs GEMM 0.24; 8 x 256 at 5x5 (18432) 0.83 vs
#   GEMM 0.84; 16 x 512 at 2x2 (8192) 1.91 vs 1.58; 1 x 512 at 4x4 0.78 vs
#   0.44.  Below the product, on undilated maps of even sides with 9 tiles
#   an image or more, from WINOGRAD_DENSE_LOW_MIN_CHANNELS channels and
#   WINOGRAD_DENSE_LOW_MIN_CHANNEL_TILES (dense WINOGRAD vs the best other vs
#   torch): 2 x 256 at 8x8 (8192) 0.34 vs 0.50 vs 0.51, 4 x 128 at 8x8 0.21 vs
#   0.24 vs 0.25, 4 x 256 at 6x6 0.50 vs 0.65 vs 0.59, 8 x 128 at 6x6 0.27 vs
#   0.33 vs 0.29; kept out: partial tiles, 8 x 128 at 5x5 0.26 vs 0.25, 4 x 128
#   at 7x7 0.22 vs 0.23 (a tie), 2 x 256 at 7x7 0.37 vs 0.38; 4 tiles an
#   image, 16 x 128 at 4x4 0.30 vs 0.28.
#   No WINOGRAD at all where the 2x2 tiles of an undilated map compute more
#   than WINOGRAD_MAX_TILE_WASTE times the outputs (odd sides up to 7): on the
#   AMD EPYC Zen 5, 28 Nov 2026, dense WINOGRAD vs the best other, with
#   _bench's interleaved timing at 2 threads: 8 x 512 at 7x7 6.84 vs 4.51
#   (IMPLICIT; torch 4.48), 8 x 256 at 7x7 1.69 vs 1.23, 16 x 256 at 7x7 2.68
#   vs 2.38, 32 x 256 at 7x7 4.62 vs 4.63, 8 x 512 at 5x5 3.05 vs 2.85 (GEMM),
#   16 x 512 at 5x5 8.37 vs 6.00, 8 x 256 at 3x3 0.71 vs 0.40; from 9x9 it
#   still wins: 8 x 256 at 9x9 1.93 vs 2.42, 11x11 2.73 vs 3.03, 13x13 3.32
#   vs 4.35, and so do even sides: 8 x 512 at 6x6 3.03 vs 3.77.  (Dilated
#   phases of odd sides were left alone: 8 x 256 at 14x14 at dilation 2, four
#   7x7 phases, 3.83 vs 4.54, though at 7x7 at dilation 2 1.39 vs 1.23.)
#   Where the backend runs its panel tasks (Note [Winograd panels] in
#   _kernels_impl.h: ungrouped, at least as many output channels as tile
#   lanes -- each phase's tile grid with its junk column, in vectors of 16 --
#   and at most WINOGRAD_PANEL_V_BYTES of float32 transformed input, the
#   backend's own budget), the weights are transformed in cache and WINOGRAD
#   wins on fewer tiles: there c x tiles from WINOGRAD_PANEL_MIN_CHANNEL_TILES
#   will do, with at least WINOGRAD_PANEL_MIN_TILE_USE of the lanes real
#   tiles, and the WINOGRAD_WIDE_C_G rule does not apply.  Interleaved medians,
#   IMPLICIT / WINOGRAD time at 2 threads (1 thread), Intel Xeon 5th gen, 27
#   Nov 2026: 64 at 14x14 (c x tiles 3136) 1.04 (1.05), 128 at 14x14 1.07
#   (1.17), 96 at 14x14 1.04, 128 at 12x12 1.15 (1.23), 192 at 10x10 1.27
#   (1.23), 128 -> 256 at 10x10 1.30, 96 at 17x17 1.09 (1.21), 192 -> 384 at
#   13x13 1.24 (1.30), 512 at 10x10 1.33 (1.32); below the product: 64 at 9x9
#   (1600) 0.94 (0.91), 48 at 14x14 0.86-1.00, 32 -> 64 at 12x12 1.00; and
#   half-empty lanes lose: 256 at 8x8 (16 tiles in 32 lanes) 0.81, 256 at 7x7
#   0.74, 512 at 7x7 0.72.  Past the V budget (the backend's 4x rule) it
#   gains nothing: 512 -> 1024 at 13x13 0.97 (0.97), 512 at 14x14 1.01.
# - conv2d that is strided or dilated (with at least GEMM_STRIDED_MIN_C_G
#   channels per group), 1x1, or one kernel row wide (1xk): GEMM.  Its B rows are packed by
#   vector gathers on such grids (Note [gathered B] in _kernels_base.h), and it
#   computes no padding columns, where IMPLICIT runs its micro-kernel along
#   the padded copy's pitch (1x7 with padding 3 on 17 columns: 23).  Medians
#   of five interleaved rounds, GEMM vs IMPLICIT ms at 2 threads (1 thread):
#   res3-3x3s2 1.34 vs 1.68 (1.97 vs 2.35), res4-3x3s2 1.40 vs 1.75, 1x1 s2
#   1.09 vs 1.34, 40->72 channels 45x45 s2 0.19 vs 0.26; 1x1 res2-red 0.90 vs
#   1.03 (1.59 vs 1.36), res2-exp 0.77 vs 0.91 (1.11 vs 1.09), 512->128 28x28
#   0.59 vs 0.83, 2048->512 7x7 1.06 vs 1.06; inception 1x7 0.37 vs 0.42 (0.53
#   vs 0.70).  Not the stem (3 channels, 7x7 s2: 2.59 vs 1.89), nor 7x1 (0.40
#   vs 0.37), nor 3x3 stride 1 on small grids (res4 1.44 vs 1.26, res5 1.83
#   vs 1.59).  Shapes off the workload agree at 2 threads (1x1 with groups 3:
#   0.22 vs 0.28; 32->64 1x1 on 112x112: 0.53 vs 0.74; 8->16 3x3 s2: 0.044 vs
#   0.067); at 1 thread small strided ones lose up to 14%.  On a CPU with
#   narrow FMAs (AMD Zen 4) ungrouped 3x3 at stride 2 with under
#   NARROW_FMA_GEMM_S2_MIN_C_G inputs and at most NARROW_FMA_IMPLICIT_S2_MAX_K_G
#   outputs run IMPLICIT: GEMM / IMPLICIT time, 2 threads, alternated call by
#   call for 80-90 s while the host went between its fast and slow states
#   (a Winograd marker at 0.74 and 1.03-1.14 ms), 30 Nov 2026, fast / slow:
#   16 x 8 -> 8 at 54x54 2.6 / 2.4-2.9, 4 x 8 -> 12 at 58x58 2.1 / 1.03-1.09,
#   16 x 12 -> 12 at 53x53 2.35 / 1.45-1.8, 8 x 12 -> 8 at 65x65 2.3 /
#   1.23-1.7, 64 x 8 -> 8 at 63x63 2.0 / 0.82-1.5; random layers there (1
#   and 2 threads, mixed states) 1.26-3.4.  Not from 16 inputs (8 x 16 -> 32
#   at 81x81 1.37 / 0.67-0.75), nor with more outputs (4 x 12 -> 24 at 85x85
#   1.72 / 0.76-1.06), nor larger layers (64 -> 64 at 112x112 1.16 /
#   0.74-0.78, 32 -> 64 at 208x208 0.94 / 0.80-0.87).  Dilated 3x3 that
#   Winograd does not take: IMPLICIT runs its micro-kernel over the padded
#   copy's pitch, W + 2d (DeepLab's ASPP, 256 channels on 33x33 at dilation 6:
#   45 columns for 33 outputs), GEMM over the outputs only: GEMM vs IMPLICIT ms
#   at 2 threads (1 thread) 4.42 vs 5.65 (7.44 vs 10.71), dilation 12 4.38 vs
#   8.38 (7.77 vs 14.51), 65x65 at 12 15.4 vs 24.9, 128 on 32x32 at 4 1.04 vs
#   1.04 (1.81 vs 2.22), 64 on 64x64 at 4 1.06 vs 1.06 (2.00 vs 1.96).
#   That holds from GEMM_DILATED_MIN_K_G output channels per group: GEMM
#   packs B once per group and fewer output rows share it.  Below, IMPLICIT:
#   IMPLICIT / GEMM time, interleaved medians at 2 threads, AMD EPYC Zen 5,
#   28 Nov 2026, 4 images, 256 channels in groups: at 28x28, dilation 2 or 3,
#   K_g 8 0.52-0.67, K_g 16 0.69-0.80; at 33x33, dilation 6, 0.75-0.96; from
#   K_g 32 0.80-1.04, K_g 64 0.88-1.22.  Except where IMPLICIT's padded
#   rows (W + 2d) are at least GEMM_DILATED_MIN_PITCH times the outputs, as
#   IMPLICIT computes them all: there GEMM wins at any K_g (since its tasks
#   stopped splitting few panels, _cpu.pyx GEMM_SPLIT_MIN_PANELS): same
#   machine and method, 29 Nov 2026, 2 x 1024 -> 16 at 8x8, dilation 4 (pitch
#   16 for 8 outputs) 2.96; 512 -> 24 and 16 at 33x33, dilation 6 (45 for
#   33) 1.13, 1.10; but 256 -> 16 at 28x28 at dilation 3 (34 for 28) 0.82,
#   -> 8 at dilation 2 0.86, 128 -> 16 at 56x56 0.70.  And strided only up to
#   GEMM_STRIDED_MAX_TAPS taps: a 5x5 or 7x7 kernel's B rows cost its 25 or 49
#   gathers per pixel to pack where IMPLICIT reads them in place.  IMPLICIT /
#   GEMM time at stride 2, same machine and method, 4 images at 28x28, C 32-256,
#   K 16-128: 5x5 0.51-0.81, 7x7 0.45-0.79; 64 -> 64 at 56x56 5x5 0.79, 7x7
#   0.75; 128 at 56x56 5x5 0.88; 4 x 256 -> 512 at 14x14 5x5 0.82.  (There 3x3
#   ran 0.74-0.99 too, where the Intel Xeon above gave GEMM the lead: left.)
#   But strided (2) or dilated layers with at most IMPLICIT_STRIDED_MAX_PIXELS
#   outputs an image run IMPLICIT where its tiles put output channels in the
#   lanes (Note [channel lanes]; the rule, CHANNEL_LANES_*, mirrors _cpu.pyx's
#   for float32 on AVX-512): no packing, and 49 pixels fill its tiles.  IMPLICIT vs GEMM ms
#   at 2 threads, interleaved medians: 512 at 14x14 -> 7x7 s2 1.05 vs 1.43,
#   batch 2 1.93 vs 2.41, 256 -> 512 0.57 vs 0.75; 512 at 7x7 dilation 2
#   1.03 vs 1.29.  At 14x14 outputs a tie (256 at 28x28 s2 1.01 vs 1.09,
#   batch 8 7.95 vs 8.12), and without AVX-512 IMPLICIT there loses 10%; small
#   layers lose (96 at 15x15 -> 8x8: 0.129 vs 0.101 ms, and 8x8 tiles compute
#   84 pixels for 64), which the rule's multiply-add and tile-use floors keep out.
#   And ungrouped 3x3 at stride 2 with at least IMPLICIT_S2_MIN_C_G input
#   channels, a multiple of IMPLICIT_S2_K_G_MULTIPLE output channels and at
#   most IMPLICIT_S2_MAX_N images runs IMPLICIT (with whichever lanes the
#   backend picks): since the Xeon numbers above IMPLICIT's copy and tiles got
#   faster.  IMPLICIT / GEMM time, interleaved medians, AMD EPYC Zen 5, 29 Nov
#   2026, 2 threads (1 thread), padding 1 unless said: 128 at 56x56 (res3)
#   0.94 (0.94), 256 at 28x28 0.82-0.84 (0.94), 192 at 35x35 0.87, 288 -> 384
#   at 35x35 unpadded 0.91 (0.97), 96 at 71x71 unpadded 0.97-0.98 (0.91),
#   384 and 512 at 28x28 0.86, 0.87, 128 at 112x112 0.94, 256 -> 512 at 56x56
#   0.95, 96 -> 128 at 28x28 0.81, 128 -> 160 at 50x50 0.91, 160 at 40x40
#   0.98-0.99, 2 x 256 at 56x56 0.99, 4 x 128 at 28x28 0.92 (0.92); small maps
#   too: 128 at 14x14 0.69, 256 at 16x16 0.85, 96 at 15x15 0.80, 512 at 12x12
#   0.67, 2 x 512 at 12x12 0.90.  float64: 0.96-1.00.  Left to GEMM: output
#   channels not a multiple of 32 (128 at 50x50 -> 100, 104, 136: 1.06-1.07;
#   -> 112, 144: 1.01; 100 at 50x50 1.08, at 56x56 1.14; 120 at 40x40 1.05;
#   200 at 30x30 1.00: IMPLICIT's channel-lane tiles are 32 channels wide),
#   below AVX-512 (the same machine with set_isa("avx2"): 128 at 56x56 1.15,
#   256 at 28x28 1.15, 288 -> 384 1.09, 128 at 14x14 1.17, 4 x 128 at 28x28
#   1.17, 96 -> 192 at 56x56 1.18; the plan cache keeps a call's choice if
#   the level is switched later, a speed matter only: same bits), fewer
#   input channels (32 -> 64 at 416x416 1.08-1.11, 48 -> 80 at 75x75 1.16, 8
#   x 64 -> 128 at 32x32 1.06-1.10; 64 at 112x112 would gain, 0.87), and 8
#   images (8 x 256 at 16x16 1.11).  Not rechecked on the Xeon.
#   Grouped 3x3 at stride 2 with more than DIRECT_GROUPED_MAX_CHANNELS_S2 and
#   at most IMPLICIT_S2_GROUPED_MAX_C_G input channels per group (RegNet's
#   and ResNeXt's downsampling layers), on AVX-512: IMPLICIT too, where the
#   strided rule's GEMM packs each group's few B rows by gathers.  IMPLICIT /
#   GEMM time, interleaved medians at 2 threads (1 thread), AMD EPYC Zen 4, 29
#   Nov 2026 (after Note [two-phase rows]): 240 channels in 15 groups of 16
#   at 56x56 0.53 (0.57), 60 in 4 groups of 15 0.98 (0.55); at 28x28 384,
#   448 and 512 channels (24, 16, 16 a group) 0.54-0.69 (0.51-0.68), 4 x 256
#   in groups of 16 0.58 (0.63); 896 in 56 groups at 14x14 0.73 (0.64); 25 a
#   group 0.77 (0.68); 32 a group (2 x 512 at 28x28, 1024 at 14x14)
#   0.84-0.92 (0.81-0.86); 48 a group (RegNet's 432 in 9 groups, 384, 528 at
#   28x28, 768 and 1344 at 14x14, 2 x 432), two runs each, 0.84-0.98
#   (0.84-0.98).  DIRECT, the other candidate, loses there from 16 a group
#   (512 in 32 groups at 28x28 1.05, 896 at 14x14 1.27).  From 56 a group it
#   no longer pays (56 and 64 a group: 0.92-1.03 at 2 threads, 0.93-1.02 at
#   1; 128 a group 1.25-1.40 once).  set_isa("avx2") on the
#   same machine: 0.78-0.99 from 16 to 32 a group, but 896 at 14x14
#   1.08: left to GEMM there, as the ungrouped rule is.  Not measured on the
#   Xeon (where GEMM beat DIRECT at 16 a group, above).
#   Narrower groups of IMPLICIT_S2_NARROW_GROUPED_MIN_C_G to
#   DIRECT_GROUPED_MAX_CHANNELS_S2 channels (in and out) go IMPLICIT too on
#   one image where Note [group copies] serves both 1 and 2 threads (an even
#   number of groups, at least IMPLICIT_S2_NARROW_GROUPED_MIN_G; a group's
#   float32 copy within its budget, _cpu.group_copies_fit) and the output has at least
#   IMPLICIT_S2_NARROW_GROUPED_MIN_PIXELS pixels.  IMPLICIT / DIRECT,
#   interleaved in one process after a second's warm-up (no torch), 41
#   rounds, 2 threads (1 thread), AMD EPYC Zen 4, 29 Nov 2026, 56x56 inputs:
#   ResNeXt's 256 in 32 groups of 8 0.95-0.97 (0.78-0.79), RegNet's 64 in 8
#   0.97-0.98 (0.78-0.79), 128 in 16 0.98-0.99 (0.79), 96 in 12 0.78 (0.60),
#   192 in 16 of 12 0.78-0.81 (0.59), 320 in 32 of 10 0.88 (0.74), 80 in 8
#   of 10 0.97 (0.79).  At 14x14 outputs DIRECT keeps them (512 in 64 groups
#   of 8 at 28x28: 1.24-1.26 at 2 threads, 0.93-0.96 at 1), and where the
#   group's copy passes the budget the shared copy's 2-thread calls ran 1.6
#   to 4x DIRECT's (96 in 12 groups, 48 in 6 at 112x112; 0.76-0.77 at 1
#   thread).
# - ungrouped 3x3 conv2d at stride 1, undilated, with fewer than
#   GEMM_FEW_K_G output channels and at most
#   GEMM_FEW_K_G_MAX_PIXELS outputs an image, that the rules above leave to
#   IMPLICIT: GEMM.  Few output rows share IMPLICIT's reads of B in place
#   (its channel-lane tiles fill 40 channels as 64 lanes), where GEMM packs B
#   once for all of them (since its tasks no longer split few panels, _cpu.pyx
#   GEMM_SPLIT_MIN_PANELS).  IMPLICIT / GEMM time, interleaved medians at 2
#   threads, AMD EPYC Zen 5, 29 Nov 2026, 3x3 padding 1: 1024 at 7x7 -> 24,
#   32, 48, 64: 1.19, 1.06, 1.58, 1.31; 2048 at 7x7 1.13, 1.24, 1.62, 1.15;
#   512 at 14x14 1.98, 1.58, 1.47, 1.01; 1024 at 14x14 1.73, 1.45, 1.47, 1.02;
#   256 at 28x28 -> 24, 32, 48 1.30, 1.19, 1.29; 128 at 28x28 1.27, 1.22,
#   1.30; 96 -> 32 1.32, 64 -> 32 1.23; 4 x 512 -> 32 at 14x14 1.12, 8 x 256 ->
#   48 1.35.  From 96 channels IMPLICIT ties or wins (0.87-1.12), and at 56x56
#   it wins at any count (128 -> 24 0.69, 64 -> 24 0.72); 5x5 and 7x7 split
#   (0.61-1.20) and stay.  Only from GEMM_FEW_K_G_MIN_C_G input channels (where
#   the measurements above start), and on a CPU with narrow FMAs (AMD Zen 4)
#   from NARROW_FMA_GEMM_FEW_K_G_MIN_C_G or on maps of at most
#   NARROW_FMA_GEMM_FEW_K_G_SMALL_PIXELS outputs: random layers there (1-64
#   images, 1-96 inputs, 8-48 outputs, 6x6 to 28x28 maps, padding 0 or 1,
#   every algorithm interleaved, 30 Nov 2026) had GEMM / IMPLICIT 0.89-2.31
#   from 1 to 32 inputs (64 x 32 -> 12 at 12x12 1.18, 4 x 32 -> 12 at 28x28
#   2.31, 16 x 32 -> 12 at 8x8 1.97), and from 40 to 96 inputs 1.04-2.31 on
#   maps of 8x8 outputs and more (2 x 56 -> 12 at 20x20 2.10, 8 x 96 -> 8
#   2.31, 2 x 64 -> 24 1.36, 8 x 64 -> 12 at 10x10 1.55; 0.94-0.97 on five of
#   the 50), but 0.79-0.91 on 5x5 and 7x7 outputs (2 x 56 -> 48 0.79, 8 x 64
#   -> 16 0.84; 64 -> 8 1.34); at 1 and 2 threads alike.  From 128 inputs
#   they are close: 0.97-1.11 at 1 thread, 0.92-1.06 at 2 (128 -> 24 and 48
#   at 28x28, 256 -> 32, 512 -> 32 at 14x14, 1024 -> 48 at 7x7).  (Winograd
#   beat both on most of the larger maps there, at K_g x tiles from about
#   3000 at 1 thread and 6000-9000 at 2: 1.1-1.7 times faster; left to a
#   later rule.)
# - on a CPU with narrow FMAs (_cpu.narrow_fma(), Note [narrow FMA] in
#   _kernels.h: AMD Zen 4), undilated 3x3 at stride 1 that the
#   Winograd rules above turn away, with at least NARROW_FMA_WINOGRAD_MIN_CHANNELS
#   input and output channels and at most WINOGRAD_MAX_C_G_BACKEND inputs a group:
#   WINOGRAD where its tiles compute at most WINOGRAD_MAX_TILE_WASTE times
#   the outputs, or with 2 images or more NARROW_FMA_WINOGRAD_BATCH_MAX_TILE_WASTE
#   (7x7 maps: 1.31).  There its 2.25x fewer multiply-adds outweigh the
#   transforms' traffic, which decided the rules above on Intel Xeon and Zen 5
#   (512 at 7x7 there: IMPLICIT 0.72 of Winograd's time).  WINOGRAD / IMPLICIT
#   time, interleaved medians at 2 threads (1 thread), AMD EPYC Zen 4, 29 Nov
#   2026: 512 at 8x8 0.68 (0.78), 12x12 0.66 (0.69), 13x13 0.76 (0.77), 14x14
#   0.74 (0.71), 17x17 0.63 (0.62); 384 and 768 at 14x14 0.72, 0.73 (0.70,
#   0.73); 1024 at 14x14 0.72 (0.71); 1024 -> 256 at 10x10 0.65 (0.73), 14x14
#   0.73 (0.75); 512 -> 256 at 17x17 0.73 (0.64); at 7x7 2, 4, 8 x 512 0.87,
#   0.77, 0.92 (0.86, 0.76, 0.73), 4, 8, 16 x 256 0.95, 0.89, 0.75 (0.78,
#   0.72, 0.68), 8 x 384 0.97 (0.73).  Left: one image at 7x7 (512 0.95-0.98,
#   256 0.89-0.91, but 512 -> 256 1.12, 1024 -> 256 1.09), fewer channels (64
#   and 128 at 8x8: 1.49, 1.32) and fewer outputs (-> 32, 48: GEMM's, 1.1-2.0).
#   float64 (the rule sees shapes only): 512 at 14x14 0.77-0.81 (0.77), 8 x
#   256 at 7x7 0.85 (0.75), 4 x 256 0.94-0.97 (0.91), 512 at 8x8 0.95-1.02
#   (1.01), but 2 x 512 at 7x7 1.06-1.10 (1.05).  Grouped layers too, with
#   NARROW_FMA_WINOGRAD_GROUPED_MIN_C_G channels a group or more (RegNet,
#   ResNeXt's wide stages) within the grouped weight cap: 32 a group, 448,
#   512 at 28x28 0.77-0.79 (0.72-0.73), 576, 768 at 14x14 0.88-0.90
#   (0.82-0.85); 48 a group, 432 and 864 at 14x14 0.77 (0.73-0.76), 4 x 432
#   0.72 (0.70), 2 x 1008 at 7x7 0.87 (0.85); 64 a group, 1024 at 14x14 0.79
#   (0.74).  Left: one image at 7x7 (432 in 9 groups 1.02-1.03, 2048 in 64
#   1.08-1.39) and 24 a group (168 and 240 at 28x28 0.78-0.92, but 384 at
#   14x14 0.94-1.08).
#   And ungrouped layers with 24 to 31 input channels and at least as many
#   outputs, which WINOGRAD_MIN_CHANNELS turns away (NARROW_FMA_WINOGRAD_FEW_*:
#   196 tiles over the batch, 8M multiply-adds, and the tile waste above).
#   The host switches between two states every few minutes (res2 by WINOGRAD
#   at 2 threads, the marker, takes 0.74 ms in one and 1.2 in the other), and
#   WINOGRAD slows more than IMPLICIT in the slow one (res2 at 1 thread: 1.3
#   -> 1.7-2.0 ms against 2.3 -> 2.7), so the rule keeps the layers that win
#   in both.  IMPLICIT / WINOGRAD time, alternated in one process, 2
#   threads, AMD EPYC Zen 4, 29 Nov 2026, fast (slow) state: 24 -> 320 at
#   56x56 1.46 (0.95-1.06), 24 -> 24 1.21 (1.03-1.07), 24 -> 128 at 28x28
#   1.44 (1.01-1.05), 4 x 24 -> 128 at 14x14 1.27 (1.02-1.07), 8 x 24 -> 64
#   at 16x16 1.23 (1.02-1.05), 24 -> 48 at 64x64 1.28 (1.11-1.13); 1 thread,
#   fast: 1.27-1.47; float64 1.30-1.41 (2 threads, fast).  Left: 16
#   channels (16 -> 64 at 56x56 1.17 (0.88-0.94), 16 -> 32 at 112x112 1.14
#   (0.88-0.91), 16 -> 16 at 224x224 1.03 (0.86-0.99), 4 x 16 -> 64 at 28x28
#   1.19 (0.94-0.98); 16 -> 256 at 28x28 1.33 (1.04-1.12)), 17 -> 200 at 29x29
#   1.13 (0.73-0.81), and fewer outputs than inputs (64 -> 16 at 56x56 1.07
#   (0.50-0.53)); 12 and 8 channels lose in both.
# - grouped 1xk layers (k > 1), which the 1-row rule above sends to GEMM:
#   IMPLICIT with at most IMPLICIT_GROUPED_1XK_MAX_K_G outputs a group (the
#   GEMM packs each group's input for only K_g rows of weights).  GEMM /
#   IMPLICIT time, interleaved medians, 1 thread (2 threads), AMD EPYC Zen 4,
#   29 Nov 2026: 1x7, 128 in 16 groups at 28x19 1.9 (1x28: 2.2 (2.2)), at
#   28x28 stride 2 3.2 (2.8), 4 x 144 in 2 groups -> 16 at 73x73 1.7 (1.7),
#   96 -> 384 in 32 groups at 28x28 4.6 (4.0), stride 2 and dilation 2 4.1
#   (3.5), dilation 2 2.7 (2.6); 1x3, 2 x 96 in 8 groups at 28x28 1.5 (1.1),
#   2 x 64 in 8 at 56x56 stride 2 2.2 (2.1); but 1x5, 64 in 4 groups (16 a
#   group) at 32x32 1.4 (1.2) and 1x7, 96 in 6 at 17x17 1.13 (0.93) stay
#   out, as do 32+ a group (0.79-1.0; 1x3, 256 in 2 groups at stride 2 0.96
#   (0.88)).  Grouped 1x1 stays GEMM: IMPLICIT won by 1.03-1.33 on
#   28x28+ maps with 24-96 inputs a group when the host was fast, but lost
#   again in its slow state (2 x 480 in 8 groups 0.76-0.81, 240 in 3
#   0.84-0.92, 128 in 4 at 56x56 0.92-1.29).
# - ungrouped 1x1 at stride 1 with at most IMPLICIT_1X1_MAX_C_G input
#   channels: IMPLICIT, not the GEMM of the 1-row rule (a reduction of 1-4
#   values a pixel: the GEMM's packing of B is most of its work).  GEMM /
#   IMPLICIT time, random layers (1-64 images, 8-128 outputs, 7x7 to 112x112,
#   interleaved, AMD EPYC Zen 4, 30 Nov 2026): 1-4 inputs geomean 1.63-1.74
#   at 1 thread, 1.73-1.96 at 2; alternated call by call at 2 threads across
#   the host's fast and slow states: 8 x 1 -> 128 at 95x95 1.4 / 1.4, 4 x 2
#   -> 96 at 74x74 1.3 / 1.4-1.8, 8 x 3 -> 16 at 224x224 1.9 / 2.0-2.2, 1 ->
#   8 at 300x300 3.3 / 2.2-2.5, 3 -> 64 at 224x224 1.2 / 1.0-1.1, 4 -> 32 at
#   112x112 1.56 / 0.87-1.0.  From 8 inputs one image lost in the slow state
#   (8 -> 32 at 74x74 0.88-0.93, 16 -> 64 at 55x55 0.80-0.88) while batches
#   won (16 x 6 -> 32 at 89x89 1.35 / 1.6): left to GEMM.
# - other conv2d: IMPLICIT (no packing; every stride via phase planes).
# - conv_transpose2d: IMPLICIT below TRANSPOSED_GEMM_MIN_C_G input channels per
#   group, GEMM (packed, batch folded into the pixel dimension) from there: the
#   implicit kernel walks one cache line per channel plane for each reduction
#   step, which stops paying once a pixel chunk's reduction spans hundreds of
#   planes (first builds, Intel Xeon: unet-up 512 channels GEMM 9.3 ms vs
#   IMPLICIT 15.3 ms, since overtaken: see one tap a phase below; dcgan-up3
#   128 channels: 12.0 vs 10.2 ms; dcgan-out 64 channels: 8.8 vs 3.7 ms).
#   Since B is packed by gathers (Note [gathered B]) GEMM also wins from
#   TRANSPOSED_GEMM_MIN_C_G_WIDE input channels where the layer has at least
#   TRANSPOSED_GEMM_MIN_K_G output channels per group: the packed B tile then
#   serves 8 or more micro-tile panels, where IMPLICIT re-reads a B tile too
#   big for L1 once per panel.  Seven-round interleaved medians, GEMM vs
#   IMPLICIT ms at 2 threads (1 thread), Intel Xeon 5th gen: dcgan-up3 (128->64,
#   4x4 s2) 8.0 vs 9.4 (12.4 vs 16.3); 128->96 3x3 s2 op1 on 20x20 x4 2.95 vs
#   3.23 (4.96 vs 5.30); 96->80 4x4 s2 on 12x12 x8 2.63 vs 2.94 (4.36 vs
#   5.01); but 64->64 4x4 s2 on 30x30 x2 2.38 vs 2.27, 160->32 3.06 vs 3.08
#   (5.46 vs 5.03), 128->16 1.82 vs 1.50 and 128->3 4.83 vs 4.00 (9.64 vs
#   4.58), fcn-up (64->32) 1.50 vs 1.38 -- and since IMPLICIT numbers its
#   tasks phase-inner (Note [phase-inner tasks] in _cpu.pyx) 0.70 vs 0.54.
#   Except with at most TRANSPOSED_IMPLICIT_MAX_PIXELS input pixels over the
#   batch and at least TRANSPOSED_IMPLICIT_MIN_WEIGHTS weights per group:
#   IMPLICIT.  There the weights are the traffic (each is used a few times),
#   and GEMM's per-task B packing and weight streaming cost more.  GEMM vs
#   IMPLICIT ms at 2 threads (1 thread), 4x4 stride 2 at 4x4, interleaved
#   medians, Intel Xeon 5th gen, 27 Nov 2026: 1024 -> 512 6.85-7.50 vs
#   4.31-4.67 (16.1 vs 12.7), 2048 -> 1024 42.3 vs 37.3 (78.9 vs 68.5), 768 ->
#   384 2.07-2.24 vs 1.99-2.03 (5.34 vs 4.43), 1024 -> 256 1.91-1.93 vs
#   1.82-1.88 (4.79 vs 3.88); below the weights 512 -> 256
#   0.95 vs 0.96 (1.64 vs 1.72), 256 -> 128 0.25 vs 0.28; over the pixels
#   2 x 1024 -> 512 7.30 vs 7.16, 4 x 1024 -> 512 9.34 vs 11.5.
#   But a kernel no larger than its stride (UNet's 2x2 at stride 2, undilated)
#   gives each stride phase one tap, a 1x1 conv written every other pixel:
#   IMPLICIT reads its input in place where GEMM gathers B, and wins at any
#   channel count.  GEMM vs IMPLICIT ms at 2 threads, interleaved medians,
#   AMD EPYC Zen 5, 29 Nov 2026: unet-up (512 -> 256 at 32x32) 2.65 vs 2.50,
#   256 -> 128 at 64x64 2.82 vs 2.68, 2 x 128 -> 64 at 64x64 1.74 vs 1.48, 128
#   -> 64 at 128x128 5.00 vs 3.53, 96 -> 96 at 56x56 0.76 vs 0.68, 1024 -> 512
#   at 16x16 3.46 vs 3.25, 2048 -> 1024 at 8x8 8.67 vs 7.90, 512 -> 256 at
#   8x8 0.46 vs 0.39; a tie on 8 x 512 -> 256 at 8x8 1.63 vs 1.68.  (At 3x3
#   stride 2, two taps and four on some phases, the two split: 128 -> 64 at
#   56x56 1.29 vs 1.16, 512 -> 256 at 14x14 1.44 vs 1.65: left to the rules
#   above.)
# - conv_transpose2d with an ungrouped, undilated 4x4 kernel at stride 2
#   (transposed_winograd_applies), TRANSPOSED_WINOGRAD_MIN_C to
#   TRANSPOSED_WINOGRAD_MAX_C input and at least TRANSPOSED_WINOGRAD_MIN_K
#   output channels: WINOGRAD (Note [transposed Winograd] in _kernels_impl.h)
#   where _transposed_winograd_gain, the multiplies it saves where its tiles and
#   lanes are used, reaches TRANSPOSED_WINOGRAD_MIN_GAIN
#   (TRANSPOSED_WINOGRAD_WIDE_MIN_GAIN from TRANSPOSED_WINOGRAD_WIDE_C input
#   channels, whose transformed input per task outgrows L2, and whose
#   transformed weights, four times the weights, stream in for every chunk).
#   Medians of 5, best of GEMM and IMPLICIT over WINOGRAD time at 2 threads
#   (1 thread), padding 1 unless said, Intel Xeon 5th gen, 28 Nov 2026 (gain
#   in brackets): 16 x 128 -> 64 at 16x16 (dcgan-up3, 1.78) 1.61 (1.54),
#   padding 0 (2.01) 1.80 (1.79), padding 2 (1.56) 1.33 (1.33); 8 x 64 -> 64
#   (1.78) 1.35 (1.52); 2 x 64 -> 64 at 30x30 (1.56) 1.22 (1.45); 16 x 64 -> 64
#   at 12x12 (1.33) 1.05 (1.14); 8 x 96 -> 80 at 12x12 (1.20) 1.06 (1.13);
#   4 x 256 -> 128 at 16x16 (1.78) 1.24 (1.47); 256 -> 128 at 32x32 (1.78)
#   1.21 (1.49).  Kept out: 32 x 64 -> 64 at 8x8 (0.97) 0.86 (0.94); 8 x 128
#   -> 128 at 8x8 (0.89) 0.73 (0.90); 16 x 256 -> 128 at 8x8 (dcgan-up2,
#   0.89) 0.92 (0.89); 256 -> 256 at 16x16 (1.33) 0.77 (0.65); 512 -> 256 at
#   32x32 (1.78) 0.97 (1.18), at 8x8 (0.33) 0.38 (0.38); 16 x 512 -> 256 at
#   4x4 (dcgan-up1, 0.67) 0.48 (0.54); 64 -> 32 at 16x16 (1.33) 0.92 (0.92);
#   4 x 32 -> 32 at 16x16 (1.78) 1.00 (1.42).  An earlier build (a junk column
#   and row around every image's grid, 28 Nov) also won 1.70-1.84 on 96 -> 64
#   at 56x56, 128 -> 64 at 128x128 and 256 -> 128 at 64x64.
#   On a CPU with narrow FMAs (Note [narrow FMA], AMD Zen 4) up to
#   NARROW_FMA_TRANSPOSED_WINOGRAD_MAX_C input channels, at the wide gain:
#   WINOGRAD / GEMM time, two runs of interleaved medians at 2 threads (one
#   at 1 thread), 29 Nov 2026: 512 -> 128 at 32x32 (pix2pix, 1.78) 0.76-0.77
#   (0.67), -> 256 0.81 (0.68), -> 512 0.78-0.79 (0.67), -> 64 at 64x64
#   (1.94) 0.50-0.52 (0.51); 512 -> 128 and 256 at 24x24 (1.50) 0.89-0.94
#   (0.79, 0.85), 2 x at 24x24 0.75-0.78 (0.72); 4 and 8 x 512 -> 256 at
#   16x16 (1.78) 0.82-0.84, 0.73 (0.71, 0.67); 384 -> 128 at 32x32 0.80-0.81
#   (0.70).  Below the gain it loses: 512 -> 256 at 16x16 (1.33) 1.27-1.32
#   (1.07), 4 x 512 -> 256 at 8x8 (0.67) 1.53 (1.38); and past 512 channels
#   it ties at best: 768 -> 256 at 32x32 (1.78) 0.96-0.97 (0.73), 1024 -> 512
#   at 16x16 (1.33) 1.65 (1.17).
# - conv_transpose2d of a 1x1 input: GEMM, which computes it as one GEMM
#   of the images' values and the weights (Note [one-pixel transposed conv]
#   in _cpu.pyx); the other algorithms run every tap over the padding.  ms at
#   2 threads, GEMM vs IMPLICIT vs torch, Intel Xeon 5th gen, 28 Nov 2026:
#   64 x 100 -> 512 4x4 (DCGAN) 0.80 vs 10.4 vs 1.39; 1 x 100 -> 512 0.19 vs
#   0.39 vs 0.43; 16 x 128 -> 256 0.17 vs 1.75 vs 0.38; 512 -> 512 4x4
#   stride 2 0.89 vs 1.47 vs 1.08; 4 x 256 -> 128 7x7 0.37 vs 3.75 vs 0.63;
#   8 x 64 depthwise 4x4 0.027 vs 0.084 (DIRECT 0.092) vs 0.062; a 32 -> 16
#   3x3 is all overhead: 0.011 vs 0.012 vs 0.006.
# - conv_transpose2d with one input and one output channel per group
#   (depthwise, multiplier 1), undilated: DIRECT, each stride phase a small
#   depthwise conv2d (Note [transposed direct] in _cpu.pyx), where IMPLICIT
#   runs one row of its micro-tile per group.  Medians, DIRECT vs IMPLICIT ms
#   at 2 threads (1 thread), Intel Xeon 5th gen, 4x4 stride 2: 64 channels
#   32x32 0.19 vs 0.51 (0.28 vs 0.89), 256 at 16x16 0.30 vs 0.57, 32 at 28x28
#   x4 0.34 vs 0.77, 2x2 on 128 at 64x64 1.27 vs 3.99; smaller ones pay four
#   calls' overhead: 64 at 12x12 (36864 outputs) 0.107 vs 0.105 (0.111 vs
#   0.161), 64 at 10x10 0.096 vs 0.082, 64 at 14x14 (50176) 0.112 vs 0.123.
#   Multipliers of 2 and more stay IMPLICIT, which makes a group's outputs in
#   one pass: DIRECT / IMPLICIT time, interleaved medians, 2 threads (1
#   thread), AMD EPYC Zen 4, 29 Nov 2026: 4x4 stride 2, 4 -> 16 at 32x32 3.1
#   (2.5), 8 -> 16 2.35 (1.8), 64 -> 256 at 16x16 1.6 (2.3), 4 x 32 -> 128
#   at 28x28 2.0 (2.15), 2 x 64 -> 128 at 56x56 2.2 (2.2); 3x3 stride 2, 32
#   -> 64 at 28x28 2.1 (1.7), 144 -> 288 at 35x35 1.5 (1.6); 5x5, 8 x 192 ->
#   384 at 28x28 1.3 (1.2); 7x7, 8 x 16 -> 32 at 64x64 2.2 (2.4); 2x2, 512 ->
#   1024 at 17x17 0.97 (1.5).  At multiplier 1 at any size: on AVX-512 in
#   float32 those run Note [transposed depthwise channel lanes] in one pass, DIRECT vs
#   IMPLICIT ms at 2 threads, AMD EPYC Zen 5, 28 Nov 2026: 4x4 stride 2, 32 at
#   8x8 0.0073 vs 0.033, 256 at 7x7 0.014 vs 0.102, 2 x 128 at 4x4 0.0097 vs
#   0.052; 3x3 on 8 at 16x16 0.0076 vs 0.024; 16x16 stride 8 on 21 at 4x4
#   0.015 vs 0.080.  (Elsewhere the small ones pay the phase calls' overhead,
#   as above: up to 1.2 times IMPLICIT's time.)
# - conv2d at stride 1 that would run IMPLICIT with pixel lanes (no channel
#   lanes) on grids where fewer than IMPLICIT_MIN_LANE_USE of its lanes are
#   outputs (_lane_use: each image's grid at the padded width's pitch, in
#   whole vectors) and GEMM, which packs the batch's outputs side by side,
#   fills more: GEMM.  Small maps of CIFAR-sized networks.  IMPLICIT over GEMM
#   ms at 2 threads, 3x3 padding 1, Intel Xeon 5th gen, 28 Nov 2026 (lane use
#   in brackets): 16 x 512 at 4x4 (0.50) 1.61-1.63, batch 4 1.43, batch 128
#   1.57, batch 1 (0.50 vs 1.00) 0.99-1.06; 16 x 512 at 2x2 (0.25) 2.47-2.59;
#   8 x 512 at 3x3 (0.56) 1.35-1.37; 8 x 256 at 5x5 (0.52) 1.27-1.31; 4 x 64
#   at 5x5 1.36; 8 x 256 at 1x1 2.80; kept: 8 x 512 at 6x6 (0.75) 0.99-1.01,
#   8 x 256 at 8x8 (0.80) 0.97, 16 x 128 at 9x9 (0.72) 1.10, 1 x 256 at 1x1
#   (1/16 either way) 0.74, 2 x 32 at 3x3 (0.56 either way) 1.14.  Only
#   where the junk lanes cost IMPLICIT at least GEMM_LANE_WASTE_MIN_K_G output
#   channels' work (K_g x (1 / lane use - 1)): GEMM's packed B serves only K_g
#   rows.  Random layers with 1-32 inputs and 6-64 outputs, 3x3 and 5x5 on 6x6
#   to 28x28 maps, batch 1-64 (AMD EPYC Zen 4, 30 Nov 2026, 1 and 2 threads,
#   all algorithms interleaved): of 61 the old rule sent to GEMM, GEMM took
#   1.27-4.9 times IMPLICIT's time on most (16 x 1 -> 16 5x5 on 10x10 4.9,
#   64 x 16 -> 8 at 14x14 3.1, 64 x 12 -> 12 at 12x12 2.7), and won (0.64-0.99)
#   only with many outputs on tiny maps (16 x 8 -> 48 5x5 on 6x6 0.64, 4 x 32
#   -> 64 0.76).  Over those 61, time / the best algorithm's geomean: all GEMM
#   1.48, all IMPLICIT 1.03, this bound at 16 / 32 / 48 1.09 / 1.02 / 1.01.
# Measured with benchmarks/compare.py and interleaved timings of both
# algorithms on the development machine (AMD EPYC Zen 5, 2 cores, AVX-512),
# 2 threads, float32, November 2026, except where another machine is named.
# - Problems under SINGLE_THREAD_MACS multiply-adds run on one thread: starting
#   the OpenMP team costs a few microseconds, more than such a call computes
#   (a 1x1x8x8 input through a 3x3 kernel is 324 MACs).
THRESHOLDS = {
    "DIRECT_MAX_K_G": 8,
    "DIRECT_1X1_MAX_C_G": 32,
    "DIRECT_DILATED_MAX_C_K_G": 32,
    "DIRECT_DILATED_MAX_C_G_S2": 8,
    "DIRECT_LARGE_KERNEL_WIDE_C_G": 16,
    "DIRECT_LARGE_KERNEL_MAX_K_G": 7,
    "DIRECT_LARGE_KERNEL_MAX_K_G_WIDE": 3,
    "DIRECT_LARGE_KERNEL_MAX_K_G_S2": 2,
    "DIRECT_LARGE_KERNEL_MAX_K_G_S2_WIDE": 1,
    "IMPLICIT_EVEN_2X2_MIN_C_G": 8,
    "DIRECT_GROUPED_MAX_CHANNELS": 16,
    "DIRECT_GROUPED_MAX_CHANNELS_S2": 12,
    "DIRECT_SMALL_MAX_C_G": 16,
    "DIRECT_SMALL_MAX_K_G": 32,
    "DIRECT_SMALL_MAX_OW": 32,
    "DIRECT_SMALL_MIN_ROW_USE": 0.75,
    "DIRECT_SMALL_WIDE_MAX_K_G": 8,
    "TRANSPOSED_GEMM_MIN_C_G": 256,
    "TRANSPOSED_GEMM_MIN_C_G_WIDE": 96,
    "TRANSPOSED_GEMM_MIN_K_G": 64,
    "TRANSPOSED_IMPLICIT_MAX_PIXELS": 16,
    "TRANSPOSED_IMPLICIT_MIN_WEIGHTS": 1 << 22,
    "TRANSPOSED_WINOGRAD_MIN_C": 64,
    "TRANSPOSED_WINOGRAD_MAX_C": 256,
    "TRANSPOSED_WINOGRAD_MIN_K": 64,
    "TRANSPOSED_WINOGRAD_MIN_GAIN": 1.1,
    "TRANSPOSED_WINOGRAD_WIDE_C": 256,
    "TRANSPOSED_WINOGRAD_WIDE_MIN_GAIN": 1.5,
    "NARROW_FMA_TRANSPOSED_WINOGRAD_MAX_C": 512,
    "SINGLE_THREAD_MACS": 1 << 16,
    # Note [one-pixel conv2d] (_cpu.pyx PIXEL_MAX_N, the same value): from
    # this many images the GEMM's pixel lanes fill; grouped only from
    # PIXEL_GROUPED_MIN_K_G output channels per group (a task per group)
    "PIXEL_MAX_N": 16,
    "PIXEL_MIN_REDUCTION": 16,
    "PIXEL_GROUPED_MIN_K_G": 16,
    "GEMM_STRIDED_MIN_C_G": 8,
    # ... from this many on narrow-FMA CPUs, for 3x3 at stride 2 with at most
    # NARROW_FMA_IMPLICIT_S2_MAX_K_G outputs (fewer: IMPLICIT)
    "NARROW_FMA_GEMM_S2_MIN_C_G": 16,
    "NARROW_FMA_IMPLICIT_S2_MAX_K_G": 16,
    # but 3x3 stride 2 (ungrouped) with this many input channels, output
    # channels a multiple of this, and at most this many images: IMPLICIT
    # (on AVX-512)
    "IMPLICIT_S2_MIN_C_G": 96,
    "IMPLICIT_S2_K_G_MULTIPLE": 32,
    "IMPLICIT_S2_MAX_N": 4,
    "IMPLICIT_S2_GROUPED_MAX_C_G": 48,
    "IMPLICIT_S2_NARROW_GROUPED_MIN_C_G": 8,
    "IMPLICIT_S2_NARROW_GROUPED_MIN_PIXELS": 784,
    "IMPLICIT_S2_NARROW_GROUPED_MIN_G": 8,
    "GEMM_DILATED_MIN_K_G": 32,
    # ... or fewer, where IMPLICIT's padded rows are this many times the outputs
    "GEMM_DILATED_MIN_PITCH": 1.3,
    "GEMM_STRIDED_MAX_TAPS": 9,
    "IMPLICIT_GROUPED_1XK_MAX_K_G": 12,
    # ungrouped 1x1 at stride 1 with at most this many input channels: IMPLICIT
    # (the 1-row rule's GEMM otherwise)
    "IMPLICIT_1X1_MAX_C_G": 4,
    # ungrouped 3x3, stride 1, fewer output channels than this, on
    # maps of at most GEMM_FEW_K_G_MAX_PIXELS outputs: GEMM, not IMPLICIT
    "GEMM_FEW_K_G": 64,
    "GEMM_FEW_K_G_MAX_PIXELS": 784,
    # ... from this many input channels; where FMAs are narrow, from the second
    # count or on maps of at most the pixels after it
    "GEMM_FEW_K_G_MIN_C_G": 64,
    "NARROW_FMA_GEMM_FEW_K_G_MIN_C_G": 128,
    "NARROW_FMA_GEMM_FEW_K_G_SMALL_PIXELS": 49,
    "IMPLICIT_STRIDED_MAX_PIXELS": 64,
    "IMPLICIT_MIN_LANE_USE": 0.7,
    # ... where the junk lanes cost IMPLICIT this many output channels' work
    "GEMM_LANE_WASTE_MIN_K_G": 32,
    "CHANNEL_LANES_MIN_PIXELS": 48,
    "CHANNEL_LANES_MIN_MACS": 1 << 24,
    "CHANNEL_LANES_MIN_TILE_USE": 0.9,
    # and 1x1 kernels, from this many weights, where the GEMM's pixel lanes
    # hold under this share of outputs (7x7 maps: 49 in 64); _cpu.pyx's too
    "CHANNEL_LANES_1X1_MIN_WEIGHTS": 1 << 20,
    "CHANNEL_LANES_1X1_MAX_LANE_USE": 0.9,
    "WINOGRAD_MIN_CHANNELS": 32,
    # outputs the 2x2 tiles compute over those asked for (odd sides compute
    # one junk row or column): 7x7 1.31, 5x5 1.44 are past it, 9x9 1.23 not
    "WINOGRAD_MAX_TILE_WASTE": 1.25,
    "WINOGRAD_MIN_CHANNEL_TILES": 10000,
    # tile columns per output phase (a dilation d makes d x d phases of
    # OW/d columns); each tile row carries one junk column
    "WINOGRAD_MIN_TILE_COLUMNS": 5,
    # more input channels per group than WINOGRAD_WIDE_C_G: at least
    # WINOGRAD_WIDE_MIN_TILES tiles; more than WINOGRAD_MAX_C_G: never
    "WINOGRAD_WIDE_C_G": 256,
    "WINOGRAD_WIDE_MIN_TILES": 96,
    # with dense lanes (_winograd_dense: at least WINOGRAD_DENSE_WASTE of the
    # grids' lanes junk), no tile-column minimum, channels x tiles from
    # WINOGRAD_DENSE_MIN_CHANNEL_TILES, and this many tiles past
    # WINOGRAD_WIDE_C_G input channels
    "WINOGRAD_DENSE_WASTE": 0.2,
    "WINOGRAD_DENSE_MIN_CHANNEL_TILES": 20000,
    "WINOGRAD_DENSE_WIDE_MIN_TILES": 64,
    # and below WINOGRAD_DENSE_MIN_CHANNEL_TILES, undilated maps of even sides
    # (no partial tiles) with at least this many tiles an image, channels and
    # channels x tiles
    "WINOGRAD_DENSE_LOW_MIN_IMAGE_TILES": 9,
    "WINOGRAD_DENSE_LOW_MIN_CHANNELS": 128,
    "WINOGRAD_DENSE_LOW_MIN_CHANNEL_TILES": 8000,
    # where the GEMM would skip this share of its multiply-adds, those that
    # meet only zero padding (Note [padding-only taps] in _cpu.pyx, whose cost
    # model gives the share net of its copies): the GEMM.  2 threads, float32,
    # before (algorithm) -> after: 8 x 256 at 7x7, dilation 6 (0.47), 1.85 ms
    # (implicit) -> 1.02; 4 x 256 at 14x14, dilation 12: 30 (Winograd)
    # -> 1.27
    "TAP_REGIONS_MIN_GAIN": 0.3,
    "WINOGRAD_MAX_C_G": 512,
    # Note [narrow FMA] (AMD Zen 4): see the comment above
    "NARROW_FMA_WINOGRAD_MIN_CHANNELS": 256,
    "NARROW_FMA_WINOGRAD_BATCH_MAX_TILE_WASTE": 1.35,
    "NARROW_FMA_WINOGRAD_GROUPED_MIN_C_G": 32,
    "NARROW_FMA_WINOGRAD_FEW_MIN_CHANNELS": 24,
    "NARROW_FMA_WINOGRAD_FEW_MIN_TILES": 196,
    "NARROW_FMA_WINOGRAD_FEW_MIN_MACS": 1 << 23,
    # the backend's own cap on input channels a group (read from _cpu.pyx)
    "WINOGRAD_MAX_C_G_BACKEND": _cpu.winograd_max_c_g(),
    # a dilation d runs d x d phases of tile grids: at 6 and up slower than
    # the GEMM everywhere measured (2 threads: 4 x 256 at 14x14, dilation 6,
    # 6.5 ms vs 3.2; dilation 12 30 vs 1.3; 256 at 33x33, dilation 6, 6.1 vs
    # 4.3, 12 20.5 vs 4.4); at 4 even (4 x 256 at 14x14 3.12 vs 3.21) or ahead
    # (512 at 33x33 14.5 vs 17.7)
    "WINOGRAD_MAX_DILATION": 4,
    # Since dense lanes run across the phases (Note [dense Winograd lanes]),
    # past that up to WINOGRAD_DENSE_MAX_DILATION where the tiles compute at
    # most WINOGRAD_DILATED_MAX_TILE_WASTE times the outputs and both channel
    # counts reach WINOGRAD_DILATED_MIN_CHANNELS.  AMD EPYC Zen 5, 2 threads,
    # Winograd vs the GEMM (ms, torch): 512 -> 256 at 33x33, dilation 6 (waste
    # 1.19) 5.2 vs 5.8 (4.6); 256 at 33x33, dilation 8 (1.06) 2.4 vs 2.9 (3.3);
    # 256 at 65x65, dilation 6 (1.16) 8.2 vs 11.3 (9.2), dilation 12 (1.23)
    # 9.5 vs 11.4 (12.7).  Slower: 512 at 33x33, dilation 12 (1.62) 7.8 vs
    # 4.9; 4 x 256 at 14x14, dilation 6 (1.31) 2.4 vs 1.8; 128 at 28x28,
    # dilation 6 (1.31) 0.60 vs 0.53; 64 at 33x33, dilation 6 0.28 vs 0.21.
    "WINOGRAD_DENSE_MAX_DILATION": 12,
    "WINOGRAD_DILATED_MAX_TILE_WASTE": 1.25,
    "WINOGRAD_DILATED_MIN_CHANNELS": 128,
    # grouped layers: K*C_g within the backend's cap on transformed weights
    # (_cpu.pyx WINOGRAD_WEIGHT_BYTES, 8 MiB, 16*K*C_g values) in float64 too;
    # one group's output channels go in chunks under it (Note [Winograd chunks])
    "WINOGRAD_MAX_K_C_GROUPED": 1 << 16,
    # the backend's panel tasks (_cpu.pyx WINOGRAD_PANEL_V_BYTES, the same
    # value): there from this c x tiles, with this share of the lanes tiles
    "WINOGRAD_PANEL_V_BYTES": 1310720,
    "WINOGRAD_PANEL_MIN_CHANNEL_TILES": 3000,
    "WINOGRAD_PANEL_MIN_TILE_USE": 0.7,
}


def winograd_applies(params):
    """Whether Winograd F(2x2, 3x3) computes this conv2d (else 'winograd' runs
    the implicit GEMM): a 3x3 kernel at stride 1, any dilation."""
    p = params
    return (not p.transposed and p.kh == 3 and p.kw == 3
            # stride 1 as the output size shows it (a stride along an axis with one
            # output is no stride at all, but its output is still one row)
            and p.OH == p.H + p.pt + p.pb - 2 * p.dh and p.OW == p.W + p.pl + p.pr - 2 * p.dw)


def transposed_winograd_applies(params):
    """Whether Winograd F(3x3, 2x2) computes this conv_transpose2d (else
    'winograd' runs the implicit GEMM): a 4x4 kernel at stride 2, undilated,
    ungrouped (Note [transposed Winograd] in _kernels_impl.h)."""
    p = params
    return (p.transposed and p.G == 1 and p.kh == p.kw == 4 and p.sh == p.sw == 2
            and p.dh == p.dw == 1)


def _transposed_winograd_grid(params):
    """The transposed Winograd's tile rows and columns of an image, and the
    lanes (grid points) of the batch's grids one after another, each with a
    junk column (row) only where the last tile's third output column (row) of
    some phase falls inside the output (as conv_transpose2d_winograd lays
    them out; a tile serves all four output phases, and with odd padding one
    phase needs one more tile row)."""
    p = params

    def tiles(out, pad):
        shift = (pad + 1) // 2 - pad // 2
        t = max(-(-((out + 1) // 2) // 3), -(-(out // 2 + shift) // 3))
        return t, t + (6 * (t - 1) + 4 + min(0, 1 - 2 * shift) < out)
    (TH, rows), (TW, pitch) = tiles(p.OH, p.pt), tiles(p.OW, p.pl)
    return TH, TW, (p.N - 1) * rows * pitch + (TH - 1) * pitch + TW


def _transposed_winograd_gain(params, nr=48):
    """Multiplies saved by the transposed Winograd where its tiles and lanes
    are used: 36/16 times the outputs over the outputs its 6x6 tiles compute,
    times the tiles over the lanes of the nr-lane chunks the backend runs
    (nr: float32 on AVX-512)."""
    p = params
    TH, TW, lanes = _transposed_winograd_grid(p)
    if p.N == 0 or lanes <= 0 or TH * TW == 0:
        return 0.0                      # an empty batch or output: nothing to save
    return 36 / 16 * p.OH * p.OW / (36 * TH * TW) * p.N * TH * TW / _whole_vectors(lanes, nr)


def _whole_vectors(n, vlen=16):
    """n lanes rounded up to whole vectors of vlen (float32 on AVX-512)."""
    return -(-n // vlen) * vlen


def _phase_tiles(out, d):
    """2x2 tiles along one axis of `out` outputs, per output phase of a dilation d
    (phase r holds outputs r, r + d, ...)."""
    return [-(-((out - r + d - 1) // d) // 2) for r in range(min(d, out))]


def _winograd_tiles(params):
    """2x2 tiles over the batch and all output phases (a dilation d makes d x d
    phases, each its own tile grid), and the fewest tile columns of a phase."""
    p = params
    cols = _phase_tiles(p.OW, p.dw)
    return p.N * sum(_phase_tiles(p.OH, p.dh)) * sum(cols), min(cols, default=0)


def _winograd_lanes(params, vlen=16):
    """Tile lanes of the backend's panel tasks: each output phase's tile grid
    at the pitch of phase 0's (one junk column), in whole vectors, over the batch."""
    p = params
    rows, cols = _phase_tiles(p.OH, p.dh), _phase_tiles(p.OW, p.dw)
    pitch = max(cols, default=0) + 1
    per_image = sum(_whole_vectors((r - 1) * pitch + c, vlen) for r in rows for c in cols)
    return p.N * per_image


def _winograd_dense(params, vlen=16):
    """Whether the backend runs Winograd on dense lanes (Note [dense Winograd
    lanes] in _kernels_impl.h; _cpu.pyx WINOGRAD_DENSE_WASTE, the same value):
    where the batch's tiles fill fewer vectors than (1 - the waste) times the
    tile grids do (each output phase's grid at phase 0's pitch, per image)."""
    p = params
    rows, cols = _phase_tiles(p.OH, p.dh), _phase_tiles(p.OW, p.dw)
    dense = -(-(p.N * sum(rows) * sum(cols)) // vlen)      # every phase's tiles in a run
    return dense * vlen < (1 - THRESHOLDS["WINOGRAD_DENSE_WASTE"]) * _winograd_lanes(p, vlen)


def _winograd_panels(params, channels, tiles):
    """Whether 'auto' picks WINOGRAD as the backend's panel tasks run it."""
    p = params
    if p.G != 1:
        return False
    lanes = _winograd_lanes(p)
    return (p.K >= lanes and 16 * p.C * lanes * 4 <= THRESHOLDS["WINOGRAD_PANEL_V_BYTES"]
            and channels * tiles >= THRESHOLDS["WINOGRAD_PANEL_MIN_CHANNEL_TILES"]
            and tiles >= THRESHOLDS["WINOGRAD_PANEL_MIN_TILE_USE"] * lanes)


def _cl_computed(OH, OW, PW, rt=14):
    """Pixels the backend's channel-lane tiles (rt pixels, or half that) compute
    for one OH x OW image on a grid PW wide: along rows or along the grid,
    whichever is fewer (cl_layout in _kernels_impl.h)."""
    half = rt // 2

    def pieces(n):
        r = n % rt
        return n - r + (0 if r == 0 else half if r <= half else rt)
    by_rows = half * OH if OW <= half else OH * pieces(OW)
    return min(by_rows, pieces((OH - 1) * PW + OW))


def _channel_lanes(params):
    """Whether IMPLICIT runs with output channels in the lanes (Note [channel
    lanes]), as the backend decides it for float32 on AVX-512 (_cpu.pyx,
    CHANNEL_LANES_*; strides up to 2 checked by the caller)."""
    p = params
    taps = p.kh * p.kw
    PW = -(-(p.W + p.pl + p.pr) // p.sw)
    P = p.N * p.OH * p.OW
    return (p.K_g >= 32 and p.C_g * taps >= 256
            and (taps >= 4 or taps == 1 and p.K_g * p.C_g >= THRESHOLDS[
                "CHANNEL_LANES_1X1_MIN_WEIGHTS"] and P < THRESHOLDS[
                    "CHANNEL_LANES_1X1_MAX_LANE_USE"] * _whole_vectors(P))
            and p.N * p.OH * p.OW >= THRESHOLDS["CHANNEL_LANES_MIN_PIXELS"]
            and p.N * p.K_g * p.C_g * taps * p.OH * p.OW >= THRESHOLDS["CHANNEL_LANES_MIN_MACS"]
            and p.OH * p.OW >= THRESHOLDS["CHANNEL_LANES_MIN_TILE_USE"] * _cl_computed(
                p.OH, p.OW, PW))


def _one_pixel(p):
    """Whether each image has one output pixel whose window is its whole input
    (the backend's Note [one-pixel conv2d], which conv2d_gemm runs)."""
    return (p.OH == 1 and p.OW == 1 and p.H == p.kh and p.W == p.kw and p.pt == 0
            and p.pl == 0 and (p.kh == 1 or p.dh == 1) and (p.kw == 1 or p.dw == 1))


def _strided(p):
    """Whether a stride skips outputs along a side with more than one."""
    return p.OH > 1 and p.sh > 1 or p.OW > 1 and p.sw > 1


def _dilated(p):
    """Whether a dilation spreads the taps along a side with more than one output."""
    return p.OH > 1 and p.dh > 1 or p.OW > 1 and p.dw > 1


def _narrow_grouped_s2_implicit(p):
    """Grouped 3x3 at stride 2 with IMPLICIT_S2_NARROW_GROUPED_MIN_C_G to
    DIRECT_GROUPED_MAX_CHANNELS_S2 channels a group (in and out), on one
    image, where the implicit GEMM's Note [group copies] applies at 1 and 2
    threads (an even number of groups, at least IMPLICIT_S2_NARROW_GROUPED_MIN_G;
    a group's float32 padded copy within its budget) and the output has
    at least IMPLICIT_S2_NARROW_GROUPED_MIN_PIXELS pixels; on AVX-512."""
    return (p.G >= THRESHOLDS["IMPLICIT_S2_NARROW_GROUPED_MIN_G"] and p.G % 2 == 0
            and p.N == 1 and p.kh == p.kw == 3 and p.dh == p.dw == 1 and p.sh == p.sw == 2
            and THRESHOLDS["IMPLICIT_S2_NARROW_GROUPED_MIN_C_G"] <= p.C_g
            and max(p.C_g, p.K_g) <= THRESHOLDS["DIRECT_GROUPED_MAX_CHANNELS_S2"]
            and p.OH * p.OW >= THRESHOLDS["IMPLICIT_S2_NARROW_GROUPED_MIN_PIXELS"]
            and _cpu.get_isa() == "avx512"
            and _cpu.group_copies_fit(p.C_g, 2, 2, p.H + p.pt + p.pb, p.W + p.pl + p.pr))


def choose_algorithm(params):
    """The algorithm 'auto' runs for a checked problem (a ConvParams). Pure."""
    if params.transposed:
        if params.H == 1 and params.W == 1:
            return Algorithm.GEMM
        if params.C_g == params.K_g == 1 and params.dh == params.dw == 1:
            return Algorithm.DIRECT
        if (params.N * params.H * params.W <= THRESHOLDS["TRANSPOSED_IMPLICIT_MAX_PIXELS"]
                and params.C_g * params.K_g * params.kh * params.kw
                >= THRESHOLDS["TRANSPOSED_IMPLICIT_MIN_WEIGHTS"]):
            return Algorithm.IMPLICIT
        if (transposed_winograd_applies(params)
                and THRESHOLDS["TRANSPOSED_WINOGRAD_MIN_C"] <= params.C
                <= THRESHOLDS["NARROW_FMA_TRANSPOSED_WINOGRAD_MAX_C" if _cpu.narrow_fma()
                              else "TRANSPOSED_WINOGRAD_MAX_C"]
                and params.K >= THRESHOLDS["TRANSPOSED_WINOGRAD_MIN_K"]):
            wide = params.C >= THRESHOLDS["TRANSPOSED_WINOGRAD_WIDE_C"]
            if _transposed_winograd_gain(params) >= THRESHOLDS[
                    "TRANSPOSED_WINOGRAD_WIDE_MIN_GAIN" if wide
                    else "TRANSPOSED_WINOGRAD_MIN_GAIN"]:
                return Algorithm.WINOGRAD
        if (params.kh <= params.sh and params.kw <= params.sw
                and (params.kh == 1 or params.dh == 1) and (params.kw == 1 or params.dw == 1)):
            return Algorithm.IMPLICIT       # one tap a phase (2x2 stride 2)
        if (params.C_g >= THRESHOLDS["TRANSPOSED_GEMM_MIN_C_G"]
                or params.C_g >= THRESHOLDS["TRANSPOSED_GEMM_MIN_C_G_WIDE"]
                and params.K_g >= THRESHOLDS["TRANSPOSED_GEMM_MIN_K_G"]):
            return Algorithm.GEMM
        return Algorithm.IMPLICIT
    p = params
    if (_one_pixel(p) and p.N < THRESHOLDS["PIXEL_MAX_N"]
            and p.C_g * p.kh * p.kw >= THRESHOLDS["PIXEL_MIN_REDUCTION"]
            and (p.G == 1 or p.K_g >= THRESHOLDS["PIXEL_GROUPED_MIN_K_G"])):
        return Algorithm.GEMM
    if p.K_g < THRESHOLDS["DIRECT_MAX_K_G"]:
        if p.kh * p.kw == 1 and p.C_g >= THRESHOLDS["DIRECT_1X1_MAX_C_G"]:
            return Algorithm.GEMM
        if _dilated(p) and (p.C_g * p.K_g >= THRESHOLDS["DIRECT_DILATED_MAX_C_K_G"]
                            or _strided(p) and p.C_g >= THRESHOLDS["DIRECT_DILATED_MAX_C_G_S2"]):
            return Algorithm.IMPLICIT
        if (p.C_g > 1 and p.K_g > 1 and p.kh % 2 == 0 and p.kw % 2 == 0
                and (p.kh * p.kw > 9 or p.C_g >= THRESHOLDS["IMPLICIT_EVEN_2X2_MIN_C_G"]
                     and p.sh == p.sw == 1)):
            return Algorithm.IMPLICIT       # even kernels: DIRECT's per-tap loop
        if p.kh * p.kw <= 9:
            return Algorithm.DIRECT
        wide = p.C_g >= THRESHOLDS["DIRECT_LARGE_KERNEL_WIDE_C_G"]
        limit = THRESHOLDS["DIRECT_LARGE_KERNEL_MAX_K_G" + ("_S2" if _strided(p) else "")
                           + ("_WIDE" if wide else "")]
        return Algorithm.DIRECT if p.K_g <= limit else Algorithm.IMPLICIT
    if (p.G == 1 and p.kh == p.kw == 3 and p.sh == p.sw == 1 and p.dh == p.dw == 1
            and p.padding_mode == "zeros" and p.C_g <= THRESHOLDS["DIRECT_SMALL_MAX_C_G"]
            and (p.OW <= THRESHOLDS["DIRECT_SMALL_MAX_OW"]
                 and p.K_g <= THRESHOLDS["DIRECT_SMALL_MAX_K_G"]
                 and (p.OW / _whole_vectors(p.OW) >= THRESHOLDS["DIRECT_SMALL_MIN_ROW_USE"]
                      or p.C_g == 1)
                 or p.K_g <= THRESHOLDS["DIRECT_SMALL_WIDE_MAX_K_G"])):
        return Algorithm.DIRECT
    if _narrow_grouped_s2_implicit(p):
        return Algorithm.IMPLICIT
    if (p.G > 1 and p.kh == p.kw == 3 and p.dh == p.dw == 1 and p.sh == p.sw <= 2
            and max(p.K_g, p.C_g) <= THRESHOLDS["DIRECT_GROUPED_MAX_CHANNELS" if p.sh == 1
                                                else "DIRECT_GROUPED_MAX_CHANNELS_S2"]):
        return Algorithm.DIRECT
    if (p.G > 1 and p.kh == p.kw == 3 and p.dh == p.dw == 1 and p.sh == p.sw == 2
            and p.C_g <= THRESHOLDS["IMPLICIT_S2_GROUPED_MAX_C_G"]
            and _cpu.get_isa() == "avx512"):
        return Algorithm.IMPLICIT       # the narrowest groups went to DIRECT above
    if (p.padding_mode == "zeros" and p.pt + p.pb + p.pl + p.pr > 0
            and _cpu.tap_region_gain(p.N, p.C_g, p.K, p.H, p.W, p.kh, p.kw, p.sh, p.sw, p.dh,
                                     p.dw, p.pt, p.pl, p.OH, p.OW, 4)
            >= THRESHOLDS["TAP_REGIONS_MIN_GAIN"]):
        return Algorithm.GEMM
    tiles, columns = _winograd_tiles(p) if winograd_applies(p) else (0, 0)
    dilation = max(p.dh, p.dw)
    if tiles and (
            dilation == 1
            and 4 * tiles <= THRESHOLDS["WINOGRAD_MAX_TILE_WASTE"] * p.N * p.OH * p.OW
            or 1 < dilation <= THRESHOLDS["WINOGRAD_MAX_DILATION"]
            or dilation <= THRESHOLDS["WINOGRAD_DENSE_MAX_DILATION"]
            and 4 * tiles <= THRESHOLDS["WINOGRAD_DILATED_MAX_TILE_WASTE"] * p.N * p.OH * p.OW
            and min(p.C_g, p.K_g) >= THRESHOLDS["WINOGRAD_DILATED_MIN_CHANNELS"]):
        channels = min(p.C_g, p.K_g)
        dense = _winograd_dense(p)
        if (channels >= THRESHOLDS["WINOGRAD_MIN_CHANNELS"]
                and channels * tiles >= THRESHOLDS["WINOGRAD_DENSE_MIN_CHANNEL_TILES" if dense
                                                   else "WINOGRAD_MIN_CHANNEL_TILES"]
                and (columns >= THRESHOLDS["WINOGRAD_MIN_TILE_COLUMNS"] or dense)
                and p.C_g <= THRESHOLDS["WINOGRAD_MAX_C_G"]
                and (p.C_g <= THRESHOLDS["WINOGRAD_WIDE_C_G"]
                     or tiles >= THRESHOLDS["WINOGRAD_DENSE_WIDE_MIN_TILES" if dense
                                            else "WINOGRAD_WIDE_MIN_TILES"])
                and (p.G == 1 or p.K * p.C_g <= THRESHOLDS["WINOGRAD_MAX_K_C_GROUPED"])):
            return Algorithm.WINOGRAD
        if (channels >= THRESHOLDS["WINOGRAD_MIN_CHANNELS"]
                and p.C_g <= THRESHOLDS["WINOGRAD_MAX_C_G"]
                and _winograd_panels(p, channels, tiles)):
            return Algorithm.WINOGRAD
        if (dense and p.dh == p.dw == 1 and p.OH % 2 == 0 and p.OW % 2 == 0
                and p.OH * p.OW >= 4 * THRESHOLDS["WINOGRAD_DENSE_LOW_MIN_IMAGE_TILES"]
                and channels >= THRESHOLDS["WINOGRAD_DENSE_LOW_MIN_CHANNELS"]
                and channels * tiles >= THRESHOLDS["WINOGRAD_DENSE_LOW_MIN_CHANNEL_TILES"]
                and p.C_g <= THRESHOLDS["WINOGRAD_WIDE_C_G"]
                and (p.G == 1 or p.K * p.C_g <= THRESHOLDS["WINOGRAD_MAX_K_C_GROUPED"])):
            return Algorithm.WINOGRAD
    if _narrow_fma_winograd(p) or _narrow_fma_few_channels_winograd(p):
        return Algorithm.WINOGRAD
    strided, dilated = _strided(p), _dilated(p)
    if ((strided or dilated) and p.sh <= 2 and p.sw <= 2
            and p.OH * p.OW <= THRESHOLDS["IMPLICIT_STRIDED_MAX_PIXELS"] and _channel_lanes(p)):
        return Algorithm.IMPLICIT
    if (p.sh == p.sw == 2 and p.kh == p.kw == 3 and not dilated and p.G == 1
            and p.C_g >= THRESHOLDS["IMPLICIT_S2_MIN_C_G"]
            and p.K_g % THRESHOLDS["IMPLICIT_S2_K_G_MULTIPLE"] == 0
            and p.N <= THRESHOLDS["IMPLICIT_S2_MAX_N"] and _cpu.get_isa() == "avx512"):
        return Algorithm.IMPLICIT
    if (p.G == 1 and p.kh == p.kw == 3 and p.sh == p.sw == 2 and not dilated
            and p.C_g < THRESHOLDS["NARROW_FMA_GEMM_S2_MIN_C_G"]
            and p.K_g <= THRESHOLDS["NARROW_FMA_IMPLICIT_S2_MAX_K_G"] and _cpu.narrow_fma()):
        return Algorithm.IMPLICIT       # few channels at stride 2 (the GEMM rule's floor below)
    if ((strided and p.kh * p.kw <= THRESHOLDS["GEMM_STRIDED_MAX_TAPS"]
         or dilated and (p.K_g >= THRESHOLDS["GEMM_DILATED_MIN_K_G"]
                         or p.W + p.pl + p.pr >= THRESHOLDS["GEMM_DILATED_MIN_PITCH"] * p.OW))
            and p.C_g >= THRESHOLDS["GEMM_STRIDED_MIN_C_G"]
            or p.kh == 1):     # 1x1 and 1xk
        if p.kh == p.kw == 1 and p.sh <= 2 and p.sw <= 2 and _channel_lanes(p):
            return Algorithm.IMPLICIT   # Note [channel lanes]: 1x1 on 7x7 maps
        if _grouped_rows_implicit(p):
            return Algorithm.IMPLICIT
        if (p.kh == p.kw == 1 and p.sh == p.sw == 1 and p.G == 1
                and p.C_g <= THRESHOLDS["IMPLICIT_1X1_MAX_C_G"]):
            return Algorithm.IMPLICIT   # 1x1 on few channels: GEMM's packing outweighs
        return Algorithm.GEMM
    if (not (strided or dilated) and p.G == 1 and p.kh == p.kw == 3
            and p.K_g < THRESHOLDS["GEMM_FEW_K_G"]
            and p.OH * p.OW <= THRESHOLDS["GEMM_FEW_K_G_MAX_PIXELS"]
            and p.C_g >= THRESHOLDS["GEMM_FEW_K_G_MIN_C_G"]
            and (not _cpu.narrow_fma()
                 or p.C_g >= THRESHOLDS["NARROW_FMA_GEMM_FEW_K_G_MIN_C_G"]
                 or p.OH * p.OW <= THRESHOLDS["NARROW_FMA_GEMM_FEW_K_G_SMALL_PIXELS"])):
        return Algorithm.GEMM
    if not (strided or dilated) and not _channel_lanes(p):
        implicit_use, gemm_use = _lane_use(p)
        if (implicit_use < THRESHOLDS["IMPLICIT_MIN_LANE_USE"] and gemm_use > implicit_use
                and p.K_g * (1 / implicit_use - 1) >= THRESHOLDS["GEMM_LANE_WASTE_MIN_K_G"]):
            return Algorithm.GEMM
    return Algorithm.IMPLICIT


def _narrow_fma_winograd(params):
    """The NARROW_FMA_* rule: Winograd for wide 3x3 layers on small maps where
    the CPU's FMAs are narrow (Note [narrow FMA] in _kernels.h)."""
    p = params
    if not (p.dh == p.dw == 1 and winograd_applies(p) and _cpu.narrow_fma()
            and min(p.C, p.K) >= THRESHOLDS["NARROW_FMA_WINOGRAD_MIN_CHANNELS"]
            and p.C_g <= THRESHOLDS["WINOGRAD_MAX_C_G_BACKEND"]
            and (p.G == 1
                 or min(p.C_g, p.K_g) >= THRESHOLDS["NARROW_FMA_WINOGRAD_GROUPED_MIN_C_G"]
                 and p.K * p.C_g <= THRESHOLDS["WINOGRAD_MAX_K_C_GROUPED"])):
        return False
    if p.N * p.OH * p.OW == 0:
        return False                    # an empty batch: nothing to save
    waste = 4 * _winograd_tiles(p)[0] / (p.N * p.OH * p.OW)
    return (waste <= THRESHOLDS["WINOGRAD_MAX_TILE_WASTE"]
            or p.N >= 2 and waste <= THRESHOLDS["NARROW_FMA_WINOGRAD_BATCH_MAX_TILE_WASTE"])


def _narrow_fma_few_channels_winograd(params):
    """The NARROW_FMA_WINOGRAD_FEW_* rule: Winograd for ungrouped 3x3 layers
    with 24-31 input channels and at least as many outputs where the CPU's
    FMAs are narrow."""
    p = params
    if not (p.G == 1 and p.dh == p.dw == 1 and winograd_applies(p) and _cpu.narrow_fma()
            and THRESHOLDS["NARROW_FMA_WINOGRAD_FEW_MIN_CHANNELS"] <= p.C <= p.K
            and p.C < THRESHOLDS["WINOGRAD_MIN_CHANNELS"]):
        return False
    tiles = _winograd_tiles(p)[0]
    return (tiles >= THRESHOLDS["NARROW_FMA_WINOGRAD_FEW_MIN_TILES"]
            and 4 * tiles <= THRESHOLDS["WINOGRAD_MAX_TILE_WASTE"] * p.N * p.OH * p.OW
            and p.N * p.OH * p.OW * p.C * p.K * 9
            >= THRESHOLDS["NARROW_FMA_WINOGRAD_FEW_MIN_MACS"])


def _grouped_rows_implicit(p):
    """The IMPLICIT_GROUPED_1XK rule: grouped 1xk layers (k > 1) with few
    outputs a group, which IMPLICIT runs faster than GEMM."""
    return (p.G > 1 and p.kh == 1 and p.kw > 1
            and p.K_g <= THRESHOLDS["IMPLICIT_GROUPED_1XK_MAX_K_G"])


def _lane_use(params, vlen=16):
    """The share of real outputs in the pixel lanes of IMPLICIT (each image's
    grid at the padded width's pitch, junk columns included, in whole vectors)
    and of GEMM (the batch's outputs packed side by side), at stride 1."""
    p = params
    pitch = p.W + p.pl + p.pr
    grid = (p.OH - 1) * pitch + p.OW
    outputs = p.OH * p.OW
    if p.N * outputs <= 0:      # nothing to compute
        return 1.0, 0.0
    return (outputs / _whole_vectors(grid, vlen),
            p.N * outputs / _whole_vectors(p.N * outputs, vlen))


_benchmark_mode = False


def benchmark_mode(enabled=None):
    """Like ``torch.backends.cudnn.benchmark``: with it on, the first 'auto' call
    for each new problem (shapes, dtype, arguments, threads) times every
    algorithm on the call's own arrays and remembers the fastest.  It only
    chooses among algorithms that give bitwise the same results as 'auto'
    (GEMM, IMPLICIT and DIRECT agree bitwise, Note [summation order];
    WINOGRAD rounds differently and is kept only where 'auto' picks it), so
    this changes speed only, never a value.  Returns the setting; pass True/False to
    change it."""
    global _benchmark_mode
    if enabled is not None:
        _benchmark_mode = bool(enabled)
    return _benchmark_mode


def tuning_candidates(op, params, has_bias=True):
    """The algorithms benchmark mode may pick for a problem: those bitwise equal
    to 'auto's choice.  A transposed layer on 1x1 inputs with a bias runs the
    GEMM of the backend's Note [one-pixel transposed conv], which adds the bias
    after the products (torch's order there), not first: only that one."""
    chosen = choose_algorithm(params)
    if chosen is Algorithm.WINOGRAD or (params.transposed and params.H == params.W == 1
                                        and has_bias):
        return (chosen,)
    return tuple(a for a in ALGORITHMS[op] if a is not Algorithm.WINOGRAD)


def autotune(op, p, candidates, x, w, b, out_shape, num_threads, repeats=3):
    """The fastest of `candidates` on these arrays (median of `repeats` runs)."""
    import time
    y = np.empty(out_shape, dtype=x.dtype)
    best, best_t = None, None
    for alg in candidates:
        run(p, alg, x, w, b, y, num_threads)          # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            run(p, alg, x, w, b, y, num_threads)
            times.append(time.perf_counter() - t0)
        t = sorted(times)[len(times) // 2]
        if best_t is None or t < best_t:
            best, best_t = alg, t
    return best


def parse_algorithm(algorithm, op):
    if algorithm == "auto" or algorithm is None:
        return None
    try:
        alg = Algorithm(algorithm) if not isinstance(algorithm, Algorithm) else algorithm
    except ValueError:
        raise ConvError(
            f"algorithm must be 'auto' or one of {[a.value for a in Algorithm]}, but got "
            f"algorithm={algorithm!r}") from None
    if alg not in ALGORITHMS[op]:
        raise NotImplementedError(
            f"{op} does not implement algorithm={alg.value!r}; it supports "
            f"{[a.value for a in ALGORITHMS[op]]}")
    return alg



# DLPack device types (dlpack.h DLDeviceType).
_DL_CPU, _DL_CUDA, _DL_CUDA_MANAGED = 1, 2, 13


def _cupy_ndarray():
    cupy = sys.modules.get("cupy")
    return None if cupy is None else getattr(cupy, "ndarray", None)


def is_cupy(a):
    nd = _cupy_ndarray()
    return nd is not None and isinstance(a, nd)


def all_cupy_on_one_device(input, weight, bias, out):
    """True when every operand given is a cupy.ndarray and all are on one
    device: the GPU path's common case, settled without as_arrays and
    backend_of (Note [GPU launch cache] in _gpu.py)."""
    nd = _cupy_ndarray()
    if nd is None or type(input) is not nd or type(weight) is not nd:
        return False
    dev = input.device.id
    return (weight.device.id == dev
            and (bias is None or (type(bias) is nd and bias.device.id == dev))
            and (out is None or (type(out) is nd and out.device.id == dev)))


def as_array(a, name, op):
    """numpy.ndarray and cupy.ndarray as they are; another object exposing
    ``__dlpack__`` (a torch tensor, a JAX array) becomes a NumPy array (CPU
    memory) or a CuPy array (CUDA memory) without a copy, else one exposing
    ``__array__`` becomes a NumPy array.  Python scalars and lists are refused,
    as by torch; so is a masked array, whose data would be used and its mask
    ignored."""
    if isinstance(a, np.ma.MaskedArray):
        raise TypeError(
            f"{op}(): argument '{name}' is a numpy.ma.MaskedArray, whose mask a "
            f"convolution cannot honour; pass np.ma.filled({name}, fill_value) instead")
    if isinstance(a, np.ndarray) or a is None or is_cupy(a):
        return a
    t = type(a)
    error = None
    if hasattr(t, "__dlpack__") and hasattr(t, "__dlpack_device__"):
        try:
            dev_type = int(a.__dlpack_device__()[0])
            if dev_type in (_DL_CUDA, _DL_CUDA_MANAGED):
                from . import _gpu
                return _gpu.import_cupy().from_dlpack(a)
            if dev_type == _DL_CPU:
                return np.from_dlpack(a)
        except ImportError:
            raise
        except Exception as exc:    # e.g. torch: a tensor that requires grad
            error = exc
    if hasattr(t, "__array__"):
        try:
            return np.asarray(a)
        except Exception as exc:
            error = exc
    if error is not None:
        raise TypeError(
            f"{op}(): argument '{name}' ({t.__name__}) could not be converted to an array: "
            f"{error}") from error
    raise TypeError(
        f"{op}(): argument '{name}' must be a numpy.ndarray or cupy.ndarray (or an array "
        f"exposing __dlpack__ or __array__), not {t.__name__}")


def as_arrays(op, input, weight, bias):
    """as_array on the three operands (NumPy arrays pass straight through)."""
    if type(input) is np.ndarray and type(weight) is np.ndarray and (
            bias is None or type(bias) is np.ndarray):
        return input, weight, bias
    return (as_array(input, "input", op), as_array(weight, "weight", op),
            as_array(bias, "bias", op))


def _device(a):
    return f"cuda:{a.device.id}" if is_cupy(a) else "cpu"


def backend_of(input, weight, bias, out):
    """'numpy' or 'cupy' for arrays from as_arrays; all on one device, else
    torch's error.  `out` must be on that device too."""
    if type(input) is np.ndarray and type(weight) is np.ndarray and (
            bias is None or type(bias) is np.ndarray) and (
            out is None or type(out) is np.ndarray):
        return "numpy"
    devices = [_device(a) for a in (input, weight, bias) if a is not None]
    if out is not None and (isinstance(out, np.ndarray) or is_cupy(out)):
        devices.append(_device(out))
    for d in devices[1:]:
        if d != devices[0]:
            raise ConvError(
                "Expected all tensors to be on the same device, but found at least two "
                f"devices, {d} and {devices[0]}!")
    return "cupy" if devices[0].startswith("cuda") else "numpy"


def _as_array(a, name, op):
    if isinstance(a, np.ndarray) or is_cupy(a):
        return a
    raise TypeError(
        f"{op}(): argument '{name}' must be a numpy.ndarray or cupy.ndarray, not "
        f"{type(a).__name__}")


def _check_float(a, name, op):
    if a.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"{op}(): expected '{name}' to be a float32 or float64 array, but got dtype "
            f"{a.dtype}")


def prepare_arrays(op, input, weight, bias):
    """Check array types and dtypes; returns (input, weight, bias) as ndarrays."""
    input = _as_array(input, "input", op)
    weight = _as_array(weight, "weight", op)
    _check_float(input, "input", op)
    _check_float(weight, "weight", op)
    if bias is not None:
        bias = _as_array(bias, "bias", op)
        _check_float(bias, "bias", op)
    if weight.dtype != input.dtype:
        raise ConvError(
            f"Input type ({input.dtype}) and weight type ({weight.dtype}) should be the same")
    if bias is not None and bias.dtype != input.dtype:
        raise ConvError(
            f"Input type ({input.dtype}) and bias type ({bias.dtype}) should be the same")
    return input, weight, bias


def check_num_threads(num_threads):
    if num_threads is None:
        return None
    if isinstance(num_threads, bool):
        raise TypeError("num_threads must be None or a positive int, but got bool")
    try:
        n = int(num_threads) if isinstance(num_threads, (int, np.integer)) else None
    except (TypeError, ValueError):
        n = None
    if n is None:
        raise TypeError(
            f"num_threads must be None or a positive int, but got "
            f"{type(num_threads).__name__}")
    if n <= 0:
        raise ConvError(f"num_threads must be a positive int, but got {n}")
    return n


def prepare_out(out, shape, dtype, inputs, backend="numpy"):
    """A fresh output, or the caller's `out` once checked."""
    if backend == "cupy":
        return _prepare_cupy_out(out, shape, dtype, inputs)
    if out is None:
        try:
            return np.empty(shape, dtype=dtype)
        except (MemoryError, ValueError):   # ValueError: past NumPy's size limit
            nbytes = dtype.itemsize
            for d in shape:
                nbytes *= d
            raise MemoryError(
                f"the output of shape {list(shape)} and dtype {dtype} needs {nbytes} bytes, "
                "more than can be allocated") from None
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, not {type(out).__name__}")
    _check_out(out, shape, dtype)
    if not out.flags.writeable:
        raise ConvError("out must be writeable")
    for a in inputs:
        if a is not None and np.shares_memory(out, a, max_work=None):
            raise ConvError("out must not overlap an input array")
    return out


def _check_out(out, shape, dtype):
    if out.shape != tuple(shape):
        raise ConvError(
            f"Given out of shape {list(out.shape)}, expected shape {list(shape)}")
    if out.dtype != dtype:
        raise ConvError(f"Given out of dtype {out.dtype}, expected dtype {dtype}")
    if not out.flags.c_contiguous:
        raise ConvError("out must be a C-contiguous array")


def _prepare_cupy_out(out, shape, dtype, inputs):
    import cupy      # already imported: the inputs are cupy arrays
    if out is None:
        with inputs[0].device:
            return cupy.empty(shape, dtype=dtype)
    if not is_cupy(out):
        raise TypeError(f"out must be a cupy.ndarray for CuPy inputs, not "
                        f"{type(out).__name__}")
    _check_out(out, shape, dtype)
    for a in inputs:
        if a is not None and cupy.shares_memory(out, a):
            raise ConvError("out must not overlap an input array")
    return out


_INT32_MAX = 2**31 - 1


def default_threads():
    """Threads a call without num_threads= uses now (Note [thread setting])."""
    return _cpu.default_threads()


def threads_for(params, num_threads):
    """Threads to use: the caller's, or 1 for a problem too small to share."""
    if params.macs < THRESHOLDS["SINGLE_THREAD_MACS"]:
        return 1
    return num_threads


def kernel_params(p):
    """The problem with strides and dilations that cannot matter made harmless.

    A stride along an axis with one output row (conv2d) or one input row
    (transposed), or a dilation of a 1-tap kernel, does not change the result
    but may be astronomically large; replace it by an equivalent small value so
    the kernels' 32-bit index arithmetic holds.  Anything still too large for
    that is rejected.
    """
    sh, sw, dh, dw = p.sh, p.sw, p.dh, p.dw
    if p.kh == 1:
        dh = 1
    if p.kw == 1:
        dw = 1
    if p.transposed:
        # With one input row, only ih = 0 contributes: any stride beyond every
        # reachable output offset gives the same phases.
        if p.H == 1:
            sh = min(sh, p.OH + p.pt + (p.kh - 1) * dh + 1)
        if p.W == 1:
            sw = min(sw, p.OW + p.pl + (p.kw - 1) * dw + 1)
    else:
        if p.OH == 1:
            sh = 1
        if p.OW == 1:
            sw = 1
    q = dataclasses.replace(p, sh=sh, sw=sw, dh=dh, dw=dw)
    sizes = (q.sh, q.sw, q.dh, q.dw, q.pt, q.pb, q.pl, q.pr, q.H + q.pt + q.pb,
             q.W + q.pl + q.pr, q.OH + q.pt + q.pb, q.OW + q.pl + q.pr,
             (q.kh - 1) * q.dh + q.sh, (q.kw - 1) * q.dw + q.sw)
    if max(sizes) > _INT32_MAX:
        raise ConvError(
            "stride, padding, dilation or padded size exceeds 2**31 - 1 along an axis "
            f"that matters (stride=({p.sh}, {p.sw}), padding=({p.pt}, {p.pb}, {p.pl}, "
            f"{p.pr}), dilation=({p.dh}, {p.dw})); fastconv indexes rows and columns "
            "with 32-bit integers")
    return q


def _c_aligned(a):
    """C-contiguous and aligned to its itemsize (the kernels load whole elements)."""
    f = a.flags
    if f.c_contiguous and f.aligned:
        return a
    return np.array(a, order="C", copy=True)


def cpu_runner(p, algorithm, dtype):
    """The CPU kernel that runs problem p (made safe by kernel_params()) with
    `algorithm`, specialised for `dtype` (a fused Cython function's own dispatch
    costs a few hundred nanoseconds a call), and its arguments after (x, w, b, y)
    up to num_threads; None where run() must first replace an empty input."""
    if not p.transposed and (p.H == 0 or p.W == 0):
        return None
    if p.transposed and algorithm is Algorithm.DIRECT:   # not fused: numpy arrays in
        return _cpu.conv_transpose2d_direct, (p.G, p.sh, p.sw, p.dh, p.dw, p.pt, p.pl)
    if p.transposed and algorithm is Algorithm.WINOGRAD and transposed_winograd_applies(p):
        fn, args = _cpu.conv_transpose2d_winograd, (p.pt, p.pl)
    elif p.transposed and algorithm in (Algorithm.IMPLICIT, Algorithm.WINOGRAD):
        fn, args = _cpu.conv_transpose2d_implicit, (p.G, p.sh, p.sw, p.dh, p.dw, p.pt, p.pl)
    elif p.transposed:
        fn, args = _cpu.conv_transpose2d_gemm, (p.G, p.sh, p.sw, p.dh, p.dw, p.pt, p.pl)
    elif algorithm is Algorithm.WINOGRAD and winograd_applies(p):
        fn, args = _cpu.conv2d_winograd, (p.G, p.dh, p.dw, p.pt, p.pb, p.pl, p.pr,
                                          p.padding_mode)
    elif algorithm in (Algorithm.IMPLICIT, Algorithm.WINOGRAD):
        fn, args = _cpu.conv2d_implicit, (p.G, p.sh, p.sw, p.dh, p.dw, p.pt, p.pb, p.pl,
                                          p.pr, p.padding_mode)
    elif algorithm is Algorithm.DIRECT:
        fn, args = _cpu.conv2d_direct, (p.G, p.sh, p.sw, p.dh, p.dw, p.pt, p.pb, p.pl, p.pr,
                                        p.padding_mode)
    else:
        fn, args = _cpu.conv2d_gemm, (p.G, p.sh, p.sw, p.dh, p.dw, p.pt, p.pl,
                                      p.padding_mode)
    return fn["double" if dtype == np.float64 else "float"], args


def run(p, algorithm, x, w, b, y, num_threads, runner=None):
    """Run a problem made safe by kernel_params(), 4-D arrays; y is filled in
    place.  CuPy arrays go to the GPU backend, which picks its own kernel
    (`algorithm` and `num_threads` steer the CPU backend only).  `runner`:
    cpu_runner(p, algorithm, y.dtype), if the caller has it already (it exists
    only for NumPy arrays and a non-empty input, so the first two cases below
    cannot arise with it)."""
    if runner is None:
        if not p.transposed and (p.H == 0 or p.W == 0):
            # Note [nested padding of an empty input] (_params.py): all its values are
            # the padding's zeros; run on them, so 0 * inf in w gives NaN as in torch.
            if is_cupy(y):
                import cupy as xp     # already imported: the arrays are cupy arrays
            else:
                xp = np
            x = xp.zeros((p.N, p.C, p.H + p.pt + p.pb, p.W + p.pl + p.pr), dtype=y.dtype)
            p = dataclasses.replace(p, H=x.shape[2], W=x.shape[3], pt=0, pb=0, pl=0, pr=0)
        if is_cupy(y):
            from . import _gpu
            _gpu.run(p, x, w, b, y)
            return
    x, w, b = _c_aligned(x), _c_aligned(w), None if b is None else _c_aligned(b)
    if not y.flags.aligned:       # a misaligned `out`: compute aside, then copy in
        tmp = np.empty(y.shape, y.dtype)
        run(p, algorithm, x, w, b, tmp, num_threads, runner)
        y[...] = tmp
        return
    fn, args = runner or cpu_runner(p, algorithm, y.dtype)
    fn(x, w, b, y, *args, num_threads)
