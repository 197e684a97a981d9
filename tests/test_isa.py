"""Every SIMD level the CPU supports, not just the one picked at load time.

The kernels are compiled for AVX-512, AVX2+FMA and baseline x86-64 from one
source and chosen at run time; a machine without AVX-512 runs the others, so
they are checked here too (fastconv._cpu.set_isa switches for the test).
"""

import numpy as np
import pytest

import fastconv
from fastconv import _cpu
from conftest import random_arrays
from reference import (assert_within, conv2d_ref, conv_transpose2d_ref, reduction_length,
                       tolerance)


CONV = [  # (x shape, w shape, kwargs)
    ((2, 6, 13, 37), (10, 3, 3, 3), dict(padding=1, groups=2)),
    ((1, 5, 11, 9), (17, 5, 2, 4), dict(stride=(2, 3), padding=(1, 2), dilation=(2, 1))),
    ((3, 8, 9, 9), (8, 1, 5, 5), dict(padding=2, groups=8, padding_mode="reflect")),
    ((1, 4, 7, 7), (12, 4, 3, 3), dict(padding="same", padding_mode="circular")),
]
TRANSPOSED = [
    ((2, 6, 5, 7), (6, 5, 4, 4), dict(stride=2, padding=1, groups=2)),
    ((1, 3, 6, 5), (3, 9, 3, 2), dict(stride=(3, 2), padding=(1, 0), output_padding=(2, 1),
                                      dilation=(1, 2))),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CONV)))
def test_conv2d_every_level(level, dtype, case):
    xs, ws, kw = CONV[case]
    x, w, b = random_arrays(xs, ws, ws[0], dtype, seed=case)
    ref = conv2d_ref(x, w, b, **kw)
    tol = tolerance(dtype, reduction_length(w), x, w, b, **kw)
    for alg in fastconv.ALGORITHMS["conv2d"]:
        y = fastconv.conv2d(x, w, b, algorithm=alg, **kw)
        assert_within(y, ref, tol, what=f"{level} {alg}")
        np.testing.assert_array_equal(y, fastconv.conv2d(x, w, b, algorithm=alg,
                                                         num_threads=1, **kw))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(TRANSPOSED)))
def test_conv_transpose2d_every_level(level, dtype, case):
    xs, ws, kw = TRANSPOSED[case]
    groups = kw.get("groups", 1)
    x, w, b = random_arrays(xs, ws, ws[1] * groups, dtype, seed=10 + case)
    ref = conv_transpose2d_ref(x, w, b, **kw)
    tol = tolerance(dtype, reduction_length(w, transposed=True, groups=groups), x, w, b,
                    transposed=True, **kw)
    for alg in fastconv.ALGORITHMS["conv_transpose2d"]:
        y = fastconv.conv_transpose2d(x, w, b, algorithm=alg, **kw)
        assert_within(y, ref, tol, what=f"{level} {alg}")


def test_unsupported_level_is_refused():
    with pytest.raises(KeyError):
        _cpu.set_isa("sse9")


# The depthwise tile (Note [depthwise tile]) is compiled per kernel size and
# stride; cover each, with partial register blocks (rows not a multiple of 4,
# columns not a multiple of two vectors), a channel multiplier, padding modes
# tiny planes whose blocks read past the padded input, and grouped layers
# with a few channels per group.
DEPTHWISE = [  # (x shape, w shape, kwargs)
    ((2, 3, 13, 37), (3, 1, 3, 3), dict(padding=1, groups=3)),
    ((1, 4, 22, 41), (4, 1, 3, 3), dict(stride=2, padding=1, groups=4)),
    ((1, 2, 9, 70), (4, 1, 5, 5), dict(padding=2, groups=2, padding_mode="reflect")),
    ((1, 3, 17, 19), (3, 1, 5, 5), dict(stride=2, padding=(2, 1), groups=3,
                                       padding_mode="replicate")),
    ((1, 2, 11, 33), (2, 1, 7, 7), dict(padding=3, groups=2, padding_mode="circular")),
    ((2, 2, 15, 16), (2, 1, 7, 7), dict(stride=2, padding=3, groups=2)),
    ((1, 1, 7, 7), (1, 1, 7, 7), dict()),
    ((1, 1, 3, 5), (1, 1, 3, 3), dict(stride=2, padding=1)),
    ((1, 6, 10, 21), (4, 3, 3, 3), dict(padding=1, groups=2)),       # grouped, C_g = 3
    ((1, 8, 13, 12), (4, 4, 5, 5), dict(stride=2, padding=2, groups=2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(DEPTHWISE)))
def test_depthwise_tile_every_level(level, dtype, case):
    xs, ws, kw = DEPTHWISE[case]
    rng = np.random.default_rng(20 + case)
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    ref = conv2d_ref(x, w, b, **kw)
    tol = tolerance(dtype, reduction_length(w), x, w, b, **kw)
    y = fastconv.conv2d(x, w, b, algorithm="direct", **kw)
    assert_within(y, ref, tol, what=f"{level} direct")
    # Same bits as the GEMM path (same summation order) and for any thread count.
    np.testing.assert_array_equal(y, fastconv.conv2d(x, w, b, algorithm="implicit", **kw))
    np.testing.assert_array_equal(y, fastconv.conv2d(x, w, b, algorithm="direct",
                                                     num_threads=1, **kw))


# Zero-padded stride-1 depthwise tiles read the input in place with masked
# loads and stores, at stride 2 through their even lanes (Note [masked
# depthwise]); the copied tiles above are the other way.  Both must give the same bits: cover left and right borders in one
# strip (planes narrower than a vector), strips wholly inside, wholly in the
# padding, rows only of padding, asymmetric and 'same' padding, channel
# multipliers, grouped layers and several images.
MASKED = [  # (x shape, w shape, kwargs)
    ((2, 3, 13, 37), (3, 1, 3, 3), dict(padding=1, groups=3)),
    ((1, 2, 5, 1), (2, 1, 3, 3), dict(padding=1, groups=2)),           # one column
    ((1, 2, 4, 3), (4, 1, 3, 3), dict(padding=3, groups=2)),           # all-padding strips
    ((1, 3, 9, 64), (3, 1, 3, 3), dict(padding="valid", groups=3)),     # whole strips
    ((1, 2, 6, 33), (2, 1, 5, 5), dict(padding=((0, 4), (3, 1)), groups=2)),
    ((3, 4, 11, 20), (4, 1, 5, 5), dict(padding="same", groups=4)),
    ((1, 2, 12, 47), (2, 1, 7, 7), dict(padding=3, groups=2)),
    ((1, 1, 7, 7), (1, 1, 7, 7), dict(padding=6)),
    ((1, 8, 10, 21), (8, 4, 3, 3), dict(padding=1, groups=2)),         # grouped, C_g = 4
    ((2, 6, 9, 18), (6, 2, 7, 7), dict(padding=(2, 3), groups=3)),
    # stride 2: the even lanes of two loads
    ((1, 3, 22, 41), (3, 1, 3, 3), dict(stride=2, padding=1, groups=3)),
    ((2, 2, 9, 70), (2, 1, 5, 5), dict(stride=2, padding=2, groups=2)),
    ((1, 2, 15, 16), (2, 1, 7, 7), dict(stride=2, padding=3, groups=2)),
    ((1, 1, 3, 5), (1, 1, 3, 3), dict(stride=2, padding=1)),
    ((1, 4, 13, 12), (4, 2, 5, 5), dict(stride=2, padding=((1, 3), (0, 2)), groups=2)),
    ((1, 2, 40, 67), (2, 1, 3, 3), dict(stride=2, padding=4, groups=2)),
    ((1, 2, 8, 1), (4, 1, 3, 3), dict(stride=2, padding=1, groups=2)),
    ((1, 2, 11, 130), (2, 1, 7, 7), dict(stride=2, padding="valid", groups=2)),
    # rows of one vector or less: 8 rows x 1 vector blocks (per dtype and level)
    ((1, 2, 20, 16), (2, 1, 3, 3), dict(padding=1, groups=2)),
    ((1, 2, 9, 17), (2, 1, 5, 5), dict(padding=2, groups=2)),
    ((2, 3, 14, 14), (3, 1, 5, 5), dict(padding=2, groups=3)),
    ((1, 2, 13, 13), (2, 1, 3, 3), dict(stride=2, padding=1, groups=2)),
    ((1, 4, 19, 9), (8, 2, 3, 3), dict(padding=1, groups=2)),
    ((1, 2, 30, 30), (2, 1, 7, 7), dict(stride=2, padding=3, groups=2)),
    # 3x3 with several outputs per group: made in pairs, an odd one alone; in
    # fours on planes wider than a vector (then pairs, then one)
    ((1, 6, 12, 20), (9, 2, 3, 3), dict(padding=1, groups=3)),
    ((1, 8, 17, 23), (8, 4, 3, 3), dict(stride=2, padding=1, groups=2)),
    ((2, 3, 9, 40), (15, 1, 3, 3), dict(padding=(0, 2), groups=3)),
    ((1, 8, 10, 37), (8, 4, 3, 3), dict(padding=1, groups=2)),
    ((1, 4, 21, 70), (14, 2, 3, 3), dict(stride=2, padding=1, groups=2)),
    ((2, 6, 9, 40), (12, 3, 3, 3), dict(padding=(0, 2), groups=2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(MASKED)))
def test_masked_depthwise_every_level(level, dtype, case):
    xs, ws, kw = MASKED[case]
    x, w, b = random_arrays(xs, ws, ws[0], dtype, seed=40 + case)
    old = _cpu._set_dw_masked(False)
    try:
        copied = fastconv.conv2d(x, w, b, algorithm="direct", **kw)
    finally:
        _cpu._set_dw_masked(old)
    masked = fastconv.conv2d(x, w, b, algorithm="direct", **kw)
    np.testing.assert_array_equal(masked, copied)
    old = _cpu._set_dw_masked(False)
    try:
        copied_nobias = fastconv.conv2d(x, w, None, algorithm="direct", **kw)
    finally:
        _cpu._set_dw_masked(old)
    np.testing.assert_array_equal(fastconv.conv2d(x, w, None, algorithm="direct", **kw),
                                  copied_nobias)
    tol = tolerance(dtype, reduction_length(w), x, w, b, **kw)
    assert_within(masked, conv2d_ref(x, w, b, **kw), tol, what=f"{level} masked")
    np.testing.assert_array_equal(masked, fastconv.conv2d(x, w, b, algorithm="direct",
                                                          num_threads=1, **kw))


# Depthwise 5x5 and 7x7 at stride 1 go through a zero-bordered copy of each
# block's input rows (Note [padded depthwise]) where they are wide enough: the
# same multiply-adds in the same order as the masked tiles, so the same bits.
# Widths on both sides of each level's threshold (float32 AVX-512 above 32,
# float64 above 8, AVX2 all), channel multipliers, asymmetric padding, planes
# shorter than the kernel, and rows split over tasks (two threads, few channels).
PADDED = [  # (x shape, w shape, kwargs)
    ((1, 2, 12, 47), (2, 1, 7, 7), dict(padding=3, groups=2)),
    ((2, 3, 19, 40), (6, 1, 5, 5), dict(padding=2, groups=3)),          # multiplier 2
    ((1, 2, 21, 64), (2, 1, 7, 7), dict(padding=((0, 4), (3, 1)), groups=2)),
    ((1, 1, 9, 100), (1, 1, 5, 5), dict(padding="valid")),
    ((1, 1, 8, 33), (3, 1, 7, 7), dict(padding=6)),                     # multiplier 3
    ((1, 2, 3, 50), (2, 1, 7, 7), dict(padding=3, groups=2)),           # 3 rows, 7 taps
    ((1, 2, 17, 20), (2, 1, 5, 5), dict(padding=2, groups=2)),
    ((1, 2, 10, 9), (2, 1, 7, 7), dict(padding=3, groups=2)),
    ((1, 1, 41, 33), (1, 1, 5, 5), dict(padding="same")),               # 41 rows, one channel
    # Note [large depthwise kernels]: 8x8 and up, rows of one vector or less too,
    # input rows wholly in the padding skipped
    ((1, 2, 12, 47), (2, 1, 9, 9), dict(padding=4, groups=2)),
    ((1, 3, 9, 14), (3, 1, 13, 13), dict(padding=6, groups=3)),         # 9 rows, 13 taps
    ((2, 2, 20, 40), (4, 1, 11, 11), dict(padding=5, groups=2)),        # multiplier 2
    ((1, 1, 7, 7), (1, 1, 31, 31), dict(padding=15)),                   # 7 of 37 rows real
    ((1, 2, 30, 70), (2, 1, 8, 8), dict(padding="same", groups=2)),     # pads 3 and 4
    ((1, 2, 17, 33), (2, 1, 10, 10), dict(padding=((0, 4), (3, 1)), groups=2)),
    ((1, 1, 41, 20), (1, 1, 9, 9), dict(padding="valid")),
    ((1, 2, 25, 18), (2, 1, 15, 15), dict(padding=7, groups=2)),
]


def _direct_both_ways(level, dtype, xs, ws, kw, seed, hook, what, transposed=False,
                      used=None):
    """conv2d (or conv_transpose2d) 'direct' with a test hook off and on: the
    same bits either way, with and without bias, at 1 and 2 threads, into a
    NaN-filled `out` too, and within the float64 reference's bound.  used(on):
    what _cpu._dw_channel_lanes_used() must say after each call, if given."""
    op, ref = ((fastconv.conv_transpose2d, conv_transpose2d_ref) if transposed
               else (fastconv.conv2d, conv2d_ref))
    x, w, b = random_arrays(xs, ws, ws[1] * xs[1] if transposed else ws[0], dtype, seed=seed)
    want = {}
    for on in (0, 1):
        old = hook(on)
        try:
            for bias in (b, None):
                for threads in (1, 2):
                    y = op(x, w, bias, algorithm="direct", num_threads=threads, **kw)
                    out = np.full_like(y, np.nan)   # an output left unwritten shows
                    op(x, w, bias, algorithm="direct", num_threads=threads, out=out, **kw)
                    if used is not None:
                        assert _cpu._dw_channel_lanes_used() == used(on)
                    np.testing.assert_array_equal(out, y)
                    key = (bias is None, threads)
                    if key in want:
                        np.testing.assert_array_equal(y, want[key], err_msg=f"{key}")
                    else:
                        want[key] = y
        finally:
            hook(old)
    np.testing.assert_array_equal(want[(False, 1)], want[(False, 2)])
    n = reduction_length(w, transposed, kw.get("groups", 1))
    tol = tolerance(dtype, n, x, w, b, transposed=transposed, **kw)
    assert_within(want[(False, 2)], ref(x, w, b, **kw), tol, what=f"{level} {what}")
    return x, w, b, want[(False, 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(PADDED)))
def test_padded_depthwise_every_level(level, dtype, case):
    xs, ws, kw = PADDED[case]
    _direct_both_ways(level, dtype, xs, ws, kw, 80 + case, _cpu._set_dw_padded, "padded")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("k,H,W", [(13, 7, 7), (9, 20, 40), (8, 12, 12)])
def test_large_depthwise_kernels_keep_nonfinite_weights_padding_taps(level, dtype, k, H, W):
    # Note [large depthwise kernels] skips input rows wholly in the padding
    # only for channels whose weights are all finite: an Inf or NaN weight
    # times a padding zero is NaN, as in torch and the other algorithms.
    x, w, b = random_arrays((1, 4, H, W), (4, 1, k, k), 4, dtype, seed=k)
    w[0, 0, 0, 0] = np.inf
    w[2, 0, k - 1, k // 2] = np.nan
    kw = dict(padding=k // 2, groups=4)
    y = fastconv.conv2d(x, w, b, algorithm="direct", **kw)
    np.testing.assert_array_equal(y, fastconv.conv2d(x, w, b, algorithm="implicit", **kw))
    ref = conv2d_ref(x, w, b, **kw)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(ref))
    assert np.isnan(y[0, 0]).any() and np.isnan(y[0, 2]).all()
    finite = np.isfinite(ref)
    assert finite[0, 1].all() and finite[0, 3].all()
    tol = tolerance(dtype, reduction_length(w, False, 4), x, np.nan_to_num(w, posinf=0), b,
                    **kw)
    assert_within(y[:, 1::2], ref[:, 1::2], tol[:, 1::2], what=f"{level} finite channels")


# Grouped 3x3 layers with 4, 8 or 16 channels per group run tiles compiled for
# that count (Note [grouped channel counts]): the same multiply-adds as the
# run-time tiles, so the same bits.  Quads (wide planes) at stride 1 and 2,
# pairs on narrow and wide planes, a count with no constant version (6), K_g
# not a multiple of 4, odd sizes, rows split over tasks.
CONST_CG = [  # (x shape, w shape, kwargs)
    ((1, 8, 11, 37), (8, 4, 3, 3), dict(padding=1, groups=2)),            # quads, C_g 4
    ((2, 16, 9, 21), (8, 8, 3, 3), dict(padding=1, groups=2)),            # quads, C_g 8
    ((1, 32, 13, 40), (32, 16, 3, 3), dict(stride=2, padding=1, groups=2)),  # s2 quads
    ((1, 16, 14, 14), (24, 4, 3, 3), dict(padding=1, groups=4)),          # pairs, narrow
    ((1, 32, 7, 7), (12, 16, 3, 3), dict(padding="same", groups=2)),      # K_g 6: 4 + 2
    ((1, 8, 6, 19), (8, 4, 3, 3), dict(padding=((0, 2), (1, 0)), groups=2)),
    ((1, 12, 9, 33), (12, 6, 3, 3), dict(padding=1, groups=2)),           # C_g 6: run time
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CONST_CG)))
def test_grouped_const_channels_every_level(level, dtype, case):
    xs, ws, kw = CONST_CG[case]
    _direct_both_ways(level, dtype, xs, ws, kw, 90 + case, _cpu._set_dw_const_cg, "const C_g")


# Depthwise 3x3 at stride 1 or 2 on planes wider than a vector rolls a strip
# of up to 4 vectors down the rows on AVX-512 (Note [rolling depthwise rows]):
# the multiply-adds of the masked tiles in their order, so the same bits.  Row
# counts for each way the rolled loops end, 2 rows at stride 1 (the tiles take
# them), strips of 2, 3 and 4 vectors with partial last vectors, valid and
# asymmetric padding, bands of rows split over tasks.  The channel-lane path
# is off, so every case reaches the kernel.
ROLLING = [  # (x shape, w shape, kwargs)
    ((1, 3, 3, 40), (3, 1, 3, 3), dict(padding=1, groups=3)),      # 3 rows
    ((1, 2, 4, 17), (2, 1, 3, 3), dict(padding=1, groups=2)),      # 4 rows, 2 vectors
    ((1, 2, 5, 33), (2, 1, 3, 3), dict(padding=1, groups=2)),      # 5 rows, 3 vectors
    ((2, 3, 11, 56), (3, 1, 3, 3), dict(padding=1, groups=3)),     # 4 vectors, half the last
    ((1, 2, 9, 112), (2, 1, 3, 3), dict(padding=1, groups=2)),     # strips of 4 and 3
    ((1, 2, 7, 200), (2, 1, 3, 3), dict(padding=1, groups=2)),     # 4, 3, 3, 3
    ((1, 3, 2, 40), (3, 1, 3, 3), dict(padding=1, groups=3)),      # 2 rows: the tiles
    ((1, 2, 12, 50), (2, 1, 3, 3), dict(groups=2)),                # valid
    ((1, 2, 10, 45), (2, 1, 3, 3), dict(padding=((0, 2), (1, 0)), groups=2)),
    ((1, 1, 40, 70), (1, 1, 3, 3), dict(padding=1)),               # bands over tasks
    # stride 2: 1 to 5 output rows (each way the rolled loop ends), strips of
    # 2 to 4 vectors, valid and asymmetric padding, bands
    ((1, 2, 2, 40), (2, 1, 3, 3), dict(stride=2, padding=1, groups=2)),     # 1 x 20
    ((1, 2, 4, 70), (2, 1, 3, 3), dict(stride=2, padding=1, groups=2)),     # 2 x 35
    ((1, 3, 6, 130), (3, 1, 3, 3), dict(stride=2, padding=1, groups=3)),    # 3 x 65
    ((2, 2, 9, 255), (2, 1, 3, 3), dict(stride=2, padding=1, groups=2)),    # 5 x 128
    ((1, 2, 11, 112), (2, 1, 3, 3), dict(stride=2, padding=((0, 2), (1, 0)), groups=2)),
    ((1, 2, 12, 67), (2, 1, 3, 3), dict(stride=2, groups=2)),               # 5 x 33, valid
    ((1, 1, 80, 100), (1, 1, 3, 3), dict(stride=2, padding=1)),             # bands
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(ROLLING)))
def test_rolling_depthwise_every_level(level, dtype, case):
    xs, ws, kw = ROLLING[case]
    lanes = _cpu._set_dw_channel_lanes(0)
    try:
        _direct_both_ways(level, dtype, xs, ws, kw, 140 + case, _cpu._set_dw_rolling,
                          "rolling")
    finally:
        _cpu._set_dw_channel_lanes(lanes)


# Depthwise 3x3, 5x5 and 7x7 at stride 1 (any dilation) or 2 (undilated) with
# zero padding run with 16 channels in the vector lanes on AVX-512 float32
# (Note [depthwise channel lanes]): the same multiply-adds in the same order as
# the pixel-lane tiles, so the same bits.  Channel counts off and on 16 (a
# partial last block), maps narrower than the kernel, rows past one vector with
# a tail, asymmetric and large padding and dilation, odd and even sizes at
# stride 2, and bands of rows split over tasks; a channel multiplier (not
# depthwise), dilation at stride 2, unequal strides, and other levels and
# dtypes keep the pixel-lane tiles.
CHANNEL_LANES = [  # (x shape, w shape, kwargs)
    ((2, 17, 7, 7), (17, 1, 5, 5), dict(padding=2, groups=17)),
    ((1, 16, 14, 14), (16, 1, 7, 7), dict(padding=3, groups=16)),
    ((1, 33, 9, 40), (33, 1, 5, 5), dict(padding=2, groups=33)),
    ((1, 3, 5, 3), (3, 1, 7, 7), dict(padding=((0, 4), (3, 1)), groups=3)),
    ((1, 32, 1, 1), (32, 1, 5, 5), dict(padding=2, groups=32)),
    ((2, 20, 12, 13), (20, 1, 5, 5), dict(padding="valid", groups=20)),
    ((1, 18, 8, 11), (18, 1, 7, 7), dict(padding=6, groups=18)),
    ((1, 16, 80, 40), (16, 1, 7, 7), dict(padding=3, groups=16)),       # bands of rows
    ((1, 16, 9, 9), (32, 1, 5, 5), dict(padding=2, groups=16)),         # multiplier 2
    ((2, 35, 7, 7), (35, 1, 3, 3), dict(padding=1, groups=35)),
    ((1, 16, 30, 21), (16, 1, 3, 3), dict(padding=((2, 0), (0, 1)), groups=16)),
    ((1, 33, 17, 17), (33, 1, 3, 3), dict(padding=2, dilation=2, groups=33)),   # dilated
    ((2, 17, 12, 20), (17, 1, 5, 5), dict(padding=(4, 6), dilation=(2, 3), groups=17)),
    ((1, 16, 40, 37), (16, 1, 3, 3), dict(padding=12, dilation=12, groups=16)),
    ((1, 16, 5, 40), (16, 1, 7, 7), dict(padding=(3, 9), dilation=(1, 3), groups=16)),
    ((1, 16, 14, 14), (16, 1, 3, 3), dict(stride=2, padding=1, groups=16)),
    ((2, 17, 9, 11), (17, 1, 5, 5), dict(stride=2, padding=2, groups=17)),
    ((1, 33, 30, 41), (33, 1, 7, 7), dict(stride=2, padding=3, groups=33)),
    ((1, 20, 8, 8), (20, 1, 3, 3), dict(stride=2, groups=20)),
    ((1, 16, 5, 9), (16, 1, 7, 7), dict(stride=2, padding=(3, 0), groups=16)),
    ((1, 18, 11, 13), (18, 1, 5, 5), dict(stride=2, padding=((0, 3), (2, 1)), groups=18)),
    ((1, 32, 1, 1), (32, 1, 3, 3), dict(stride=2, padding=1, groups=32)),
    ((1, 16, 7, 70), (16, 1, 3, 3), dict(stride=2, padding=1, groups=16)),   # 35 wide
    ((1, 16, 80, 40), (16, 1, 5, 5), dict(stride=2, padding=2, groups=16)),  # bands of rows
    ((1, 16, 9, 9), (16, 1, 3, 3), dict(stride=2, padding=2, dilation=2, groups=16)),
    ((1, 16, 9, 12), (16, 1, 3, 3), dict(stride=(2, 1), padding=1, groups=16)),
]


def _channel_lanes_apply(ws, xs, kw):
    """Whether Note [depthwise channel lanes] takes a float32 depthwise case."""
    s, d = kw.get("stride", 1), kw.get("dilation", 1)
    s = s if isinstance(s, tuple) else (s, s)
    return ws[0] == xs[1] and (s == (1, 1) or s == (2, 2) and d in (1, (1, 1)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CHANNEL_LANES)))
def test_depthwise_channel_lanes_every_level(level, dtype, case):
    xs, ws, kw = CHANNEL_LANES[case]
    lanes = level == "avx512" and dtype == np.float32 and _channel_lanes_apply(ws, xs, kw)
    _direct_both_ways(level, dtype, xs, ws, kw, 100 + case, _cpu._set_dw_channel_lanes,
                      "channel lanes", used=lambda on: on == 1 and lanes)


# A row's last block of at most 8 outputs makes 8 accumulators instead of 16
# (Note [short depthwise blocks]): the same terms in the same order, so the
# same bits as with 16.  Last blocks of 1, 4, 8 (short) and 9, 12 (not) outputs,
# the only block of a row, stride 2, column dilation (each phase's outputs a
# row of its own), full and partial channel blocks, bands of rows.
SHORT_BLOCKS = [  # (x shape, w shape, kwargs)
    ((1, 16, 9, 56), (16, 1, 7, 7), dict(padding=3, groups=16)),        # 16 16 16 8
    ((1, 19, 6, 17), (19, 1, 5, 5), dict(padding=2, groups=19)),        # 16 1
    ((2, 16, 5, 20), (16, 1, 3, 3), dict(padding=1, groups=16)),        # 16 4
    ((1, 32, 7, 7), (32, 1, 7, 7), dict(padding=3, groups=32)),         # 7 alone
    ((1, 16, 8, 25), (16, 1, 5, 5), dict(padding=2, groups=16)),        # 16 9
    ((1, 17, 8, 28), (17, 1, 7, 7), dict(padding=3, groups=17)),        # 16 12
    ((1, 16, 9, 47), (16, 1, 5, 5), dict(stride=2, padding=2, groups=16)),   # 16 8
    ((1, 16, 7, 39), (16, 1, 3, 3), dict(padding=(1, 3), dilation=(1, 3), groups=16)),
    ((1, 16, 90, 40), (16, 1, 7, 7), dict(padding=3, groups=16)),       # bands of rows
]


@pytest.mark.parametrize("case", range(len(SHORT_BLOCKS)))
def test_short_depthwise_blocks_give_the_same_bits(case):
    if not _cpu.isa_supported("avx512"):
        pytest.skip("channel lanes are AVX-512 only")
    xs, ws, kw = SHORT_BLOCKS[case]
    old = _cpu.get_isa()
    _cpu.set_isa("avx512")
    lanes = _cpu._set_dw_channel_lanes(1)
    try:
        _direct_both_ways("avx512", np.float32, xs, ws, kw, 160 + case, _cpu._set_dwcl_short,
                          "short blocks", used=lambda on: True)
    finally:
        _cpu._set_dw_channel_lanes(lanes)
        _cpu.set_isa(old)


# Depthwise conv_transpose2d (one output channel per group, undilated) runs in
# one pass with 16 channels in the lanes on AVX-512 float32 (Note [transposed
# depthwise channel lanes]): the terms and order of the phase conv2d path, so
# the same bits.  Kernels as wide as the stride or wider, strides 1 to 8,
# output padding, padding that crops, non-square kernels and strides, channel
# counts off 16, bands of rows split over tasks.
TRANSPOSED_LANES = [  # (x shape, w shape, kwargs)
    ((2, 17, 7, 9), (17, 1, 4, 4), dict(stride=2, padding=1, groups=17)),
    ((1, 21, 4, 5), (21, 1, 16, 16), dict(stride=8, padding=4, groups=21)),
    ((1, 33, 5, 6), (33, 1, 3, 3), dict(stride=2, padding=1, output_padding=1, groups=33)),
    ((2, 16, 8, 8), (16, 1, 2, 2), dict(stride=2, groups=16)),
    ((1, 20, 9, 7), (20, 1, 5, 5), dict(stride=3, padding=2, output_padding=2, groups=20)),
    ((1, 16, 3, 3), (16, 1, 7, 7), dict(padding=3, groups=16)),
    ((1, 18, 6, 7), (18, 1, 3, 5), dict(stride=(2, 3), padding=(1, 2), output_padding=(1, 0),
                                        groups=18)),
    ((1, 16, 9, 9), (16, 1, 3, 3), dict(padding=2, groups=16)),
    ((1, 16, 60, 20), (16, 1, 4, 4), dict(stride=2, padding=1, groups=16)),  # bands
    ((1, 3, 10, 10), (3, 1, 2, 2), dict(stride=3, groups=3)),                # gaps between
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(TRANSPOSED_LANES)))
def test_transposed_depthwise_channel_lanes_every_level(level, dtype, case):
    xs, ws, kw = TRANSPOSED_LANES[case]
    lanes = level == "avx512" and dtype == np.float32
    x, w, b, y = _direct_both_ways(level, dtype, xs, ws, kw, 120 + case,
                                   _cpu._set_dw_channel_lanes, "transposed channel lanes",
                                   transposed=True, used=lambda on: on == 1 and lanes)
    np.testing.assert_array_equal(y, fastconv.conv_transpose2d(x, w, b, algorithm="implicit",
                                                                **kw))


def test_depthwise_channel_lanes_where_they_pay():
    """By default only where 16 channels a vector use as many lanes as 16
    pixels of a row would: 96 channels on 56 columns, not 40 (5 of 6 vectors'
    lanes against 7 of 8); undilated 3x3 only on rows of one vector; at stride 2
    only on rows of at most 10 outputs (3x3) or 16 (5x5, 7x7)."""
    if _cpu.get_isa() != "avx512":
        pytest.skip("channel lanes run on AVX-512 only")
    for C, k, size, d, s, used in [(96, 7, 56, 1, 1, True), (40, 7, 56, 1, 1, False),
                                   (48, 5, 56, 1, 1, True), (64, 3, 14, 1, 1, True),
                                   (64, 3, 28, 1, 1, False), (64, 3, 28, 2, 1, True),
                                   (672, 5, 14, 1, 2, True), (24, 5, 112, 1, 2, False),
                                   (576, 3, 14, 1, 2, True), (64, 3, 20, 1, 2, True),
                                   (64, 3, 21, 1, 2, False),
                                   (64, 5, 32, 1, 2, True), (64, 7, 34, 1, 2, False),
                                   (1024, 3, 8, 1, 2, True), (192, 3, 28, 1, 2, False),
                                   (128, 7, 56, 1, 2, False)]:
        x, w, b = random_arrays((1, C, size, size), (C, 1, k, k), C, np.float32, seed=C)
        fastconv.conv2d(x, w, b, stride=s, padding=d * (k // 2), dilation=d, groups=C)
        assert _cpu._dw_channel_lanes_used() == used, (C, k, size, d, s)
    # Rows so wide that one row's band passes LANES_MAX_SCRATCH_BYTES (4 MB of
    # 16-channel vectors a thread): the pixel-lane tiles, whose scratch is bounded.
    old = _cpu._set_dw_channel_lanes(1)
    try:
        for W, used in [(4000, True), (40000, False)]:
            x, w, b = random_arrays((1, 16, 3, W), (16, 1, 7, 7), 16, np.float32, seed=W)
            y = fastconv.conv2d(x, w, b, padding=3, groups=16)
            assert _cpu._dw_channel_lanes_used() == used, W
            _cpu._set_dw_channel_lanes(0)
            np.testing.assert_array_equal(y, fastconv.conv2d(x, w, b, padding=3, groups=16))
            _cpu._set_dw_channel_lanes(1)
            xt, wt, bt = random_arrays((1, 16, 2, W), (16, 1, 4, 4), 16, np.float32, seed=W)
            fastconv.conv_transpose2d(xt, wt, bt, stride=2, padding=1, groups=16)
            assert _cpu._dw_channel_lanes_used() == used, W
    finally:
        _cpu._set_dw_channel_lanes(old)


def test_masked_depthwise_zero_padding_times_inf():
    """Padding is multiplied in, not skipped: an inf tap makes NaN where it
    meets the padding, as in torch and the copied tiles."""
    x = np.ones((1, 2, 6, 20), np.float32)
    w = np.ones((2, 1, 3, 3), np.float32)
    w[:, 0, 0, 0] = np.inf
    y = fastconv.conv2d(x, w, padding=1, groups=2, algorithm="direct")
    assert np.isnan(y[:, :, 0, :]).all() and np.isnan(y[:, :, :, 0]).all()
    assert np.isposinf(y[:, :, 1:, 1:]).all()
