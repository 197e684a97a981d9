"""Note [one-pixel conv2d] (_kernels_impl.h): conv2d_gemm where every image
has one output pixel whose window is its whole input (a 1x1 conv on 1x1 maps,
a kh x kw kernel on a kh x kw input), with output channels in the lanes.

Each output is still bias + w[0]x[0] + w[1]x[1] + ..., one fused multiply-add
a term, so the path must give the bits of the GEMM's pixel-lane tiles (hook
off) and of IMPLICIT, at every SIMD level and thread count, and the GEMM is
held to the float64 reference.
"""

import numpy as np
import pytest

import fastconv
from fastconv import _cpu
from fastconv._dispatch import Algorithm, choose_algorithm
from fastconv._params import conv2d_params
from conftest import assert_bitwise_equal, conv_arrays as arrays, snapshot, assert_unmodified
from reference import assert_within, conv2d_ref, reduction_length, tolerance

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]

# (input shape, weight shape, conv2d keywords)
CASES = [
    ((1, 240, 1, 1), (10, 240, 1, 1), {}),            # squeeze-and-excitation
    ((1, 10, 1, 1), (240, 10, 1, 1), {}),
    ((3, 600, 1, 1), (70, 600, 1, 1), {}),            # reduction past FC_KC, partial blocks
    ((15, 37, 1, 1), (33, 37, 1, 1), {}),             # the most images, odd counts
    ((5, 3, 1, 1), (1, 3, 1, 1), {}),
    ((2, 64, 4, 4), (5, 64, 4, 4), {}),               # a kernel as large as the input
    ((1, 7, 3, 2), (40, 7, 3, 2), dict(stride=(3, 2))),
    ((2, 6, 1, 1), (64, 3, 1, 1), dict(groups=2)),
    ((4, 96, 2, 3), (48, 32, 2, 3), dict(groups=3, padding=((0, 1), (0, 2)), stride=(2, 3))),
    ((1, 20, 1, 1), (17, 20, 1, 1), dict(dilation=5)),   # a 1-tap kernel: any dilation
]


class pixel_path:
    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        self.old = _cpu._set_pixel_path(self.mode)

    def __exit__(self, *exc):
        _cpu._set_pixel_path(self.old)


def gemm(x, w, b, num_threads=2, **kw):
    return fastconv.conv2d(x, w, b, algorithm="gemm", num_threads=num_threads, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,kw", CASES)
def test_one_pixel_path_gives_the_bits_of_the_gemm(xs, ws, kw, dtype, level):
    x, w, b = arrays(xs, ws, dtype, bias=xs[0] % 2 == 1, seed=5)
    snap = snapshot(x, w)
    with pixel_path(0):
        tiles = gemm(x, w, b, **kw)
        assert not _cpu._pixel_path_used()
    assert_within(tiles, conv2d_ref(x, w, b, **kw),
                  tolerance(dtype, reduction_length(w, groups=kw.get("groups", 1)), x, w, b,
                            **kw))
    for t in (1, 2, 3):
        out = gemm(x, w, b, num_threads=t, **kw)
        assert _cpu._pixel_path_used()
        assert_bitwise_equal(out, tiles, what=f"{level}, {t} threads")
    assert_bitwise_equal(fastconv.conv2d(x, w, b, algorithm="implicit", **kw), tiles)
    assert_unmodified(snap, x, w)


def test_random_shapes_give_the_bits_of_the_gemm():
    rng = np.random.default_rng(23)
    for _ in range(60):
        G = int(rng.choice([1, 1, 2, 4]))
        kh, kw = (int(v) for v in rng.integers(1, 4, 2))
        N, Cg, Kg = int(rng.integers(1, 16)), int(rng.integers(1, 300)), int(rng.integers(1, 80))
        dtype = [np.float32, np.float64][int(rng.integers(2))]
        x, w, b = arrays((N, G * Cg, kh, kw), (G * Kg, Cg, kh, kw), dtype,
                         bias=bool(rng.integers(2)), seed=int(rng.integers(1 << 30)))
        with pixel_path(0):
            tiles = gemm(x, w, b, groups=G)
        out = gemm(x, w, b, groups=G)
        assert _cpu._pixel_path_used()
        assert_bitwise_equal(out, tiles, what=f"{x.shape} {w.shape} groups {G}")


@pytest.mark.parametrize("xs,ws,kw", [
    ((16, 8, 1, 1), (4, 8, 1, 1), {}),                # enough images for the pixel lanes
    ((1, 8, 2, 2), (4, 8, 1, 1), {}),                 # more than one output pixel
    ((1, 8, 3, 3), (4, 8, 3, 3), dict(padding=1)),    # padding taps
    ((1, 8, 3, 3), (4, 8, 2, 2), dict(dilation=2)),   # the window skips input
    ((1, 8, 3, 3), (4, 8, 2, 2), {}),                 # the window is not the input
])
def test_other_shapes_keep_the_tiles(xs, ws, kw):
    x, w, b = arrays(xs, ws, np.float32)
    out = gemm(x, w, b, **kw)
    assert not _cpu._pixel_path_used()
    assert_within(out, conv2d_ref(x, w, b, **kw),
                  tolerance(np.float32, reduction_length(w), x, w, b, **kw))


def test_nonfinite_values_propagate_as_in_the_tiles():
    x, w, b = arrays((3, 40, 1, 1), (20, 40, 1, 1), np.float32, seed=2)
    x[1, 7] = np.inf
    w[4, 3] = np.nan
    w[9, 0] = -np.inf
    with pixel_path(0):
        tiles = gemm(x, w, b)
    out = gemm(x, w, b)
    assert _cpu._pixel_path_used()
    assert_bitwise_equal(out, tiles)
    ref = conv2d_ref(x, w, b)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(ref))
    assert np.isnan(out[:, 4]).all() and np.isinf(out[1]).any()


@pytest.mark.parametrize("xs,ws,groups,expected", [
    ((1, 240, 1, 1), (10, 240, 1, 1), 1, Algorithm.GEMM),
    ((1, 96, 1, 1), (4, 96, 1, 1), 1, Algorithm.GEMM),        # K_g < 8: was DIRECT
    ((1, 512, 4, 4), (1, 512, 4, 4), 1, Algorithm.GEMM),
    ((1, 64, 1, 1), (64, 1, 1, 1), 64, Algorithm.DIRECT),     # depthwise stays
    ((1, 8, 1, 1), (4, 8, 1, 1), 1, Algorithm.DIRECT),        # reduction too short
])
def test_auto_rule(xs, ws, groups, expected):
    p = conv2d_params(xs, ws, None, 1, 0, 1, groups, "zeros")
    assert choose_algorithm(p) is expected
