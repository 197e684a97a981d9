"""The reference itself: vectorised reference == nested-loop definitions.

Nothing here imports fastconv, so this file runs before the package builds.
"""

import numpy as np
import pytest
from hypothesis import given, settings

from reference import (assert_within, conv2d_loops, conv2d_ref, conv_padding,
                       conv_transpose2d_loops, conv_transpose2d_ref, error_factor, tolerance)
from strategies import (Conv2dCase, ConvTranspose2dCase, conv2d_cases, conv_transpose2d_cases,
                        random_conv2d_case, random_conv_transpose2d_case)

# Loops are slow: keep these tiny.
TINY_CONV = dict(max_groups=2, max_kernel=3, max_stride=3, max_dilation=2, max_pad=2,
                 max_extra=3)
TINY_CONVT = dict(max_groups=2, max_kernel=3, max_stride=3, max_dilation=2, max_extra=2)

# float64 reference vs float64 loops: different summation orders only.
LOOP_RTOL = 1e-12


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=LOOP_RTOL, atol=LOOP_RTOL)


# ---------------------------------------------------------------------------
# Hand-worked values (anchor both layers to numbers, not only to each other)
# ---------------------------------------------------------------------------

def test_conv2d_hand_example():
    x = np.arange(9.0).reshape(1, 1, 3, 3)  # [[0,1,2],[3,4,5],[6,7,8]]
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    # out[0,0] = 0*1 + 1*2 + 3*3 + 4*4 = 27, then +10 each step right, +30 down.
    expected = np.array([[[[27.0, 37.0], [57.0, 67.0]]]]) + 0.5
    for f in (conv2d_ref, conv2d_loops):
        np.testing.assert_array_equal(f(x, w, np.array([0.5])), expected)


def test_conv_transpose2d_hand_example():
    # stride 2 scatter of a 2x2 input with a 2x2 kernel tiles the output.
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    w = np.array([[[[1.0, 10.0], [100.0, 1000.0]]]])
    expected = np.array([[[[1, 10, 2, 20], [100, 1000, 200, 2000],
                           [3, 30, 4, 40], [300, 3000, 400, 4000]]]], dtype=float)
    for f in (conv_transpose2d_ref, conv_transpose2d_loops):
        np.testing.assert_array_equal(f(x, w, stride=2), expected)
    # output_padding adds a row/column of zeros (bias only) at bottom/right.
    out = conv_transpose2d_ref(x, w, np.array([7.0]), stride=2, output_padding=1)
    assert out.shape == (1, 1, 5, 5)
    np.testing.assert_array_equal(out[0, 0, 4], 7.0)
    np.testing.assert_array_equal(out[0, 0, :, 4], 7.0)


@pytest.mark.parametrize("mode, expected", [
    ("zeros", [0, 0, 1, 2, 3, 0, 0]),
    ("reflect", [3, 2, 1, 2, 3, 2, 1]),
    ("replicate", [1, 1, 1, 2, 3, 3, 3]),
    ("circular", [2, 3, 1, 2, 3, 1, 2]),
])
def test_padding_mode_definitions(mode, expected):
    # torch.nn.functional.pad docs examples, on a 1x3 row padded by 2 left/right;
    # a 1x1 identity kernel exposes the padded input.
    x = np.array([[[[1.0, 2.0, 3.0]]]])
    w = np.ones((1, 1, 1, 1))
    for f in (conv2d_ref, conv2d_loops):
        out = f(x, w, padding=((0, 0), (2, 2)), padding_mode=mode)
        np.testing.assert_array_equal(out[0, 0, 0], expected)


@pytest.mark.parametrize("k, d, expected", [
    (3, 1, ((1, 1), (1, 1))),
    (4, 1, ((1, 2), (1, 2))),  # even kernel: extra on the bottom/right, like torch
    (4, 2, ((3, 3), (3, 3))),
    (2, 3, ((1, 2), (1, 2))),
    (1, 5, ((0, 0), (0, 0))),
])
def test_same_padding_split(k, d, expected):
    assert conv_padding("same", (k, k), d) == expected


def test_same_padding_keeps_size_asymmetric_kernel():
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 6))
    w = np.random.default_rng(1).standard_normal((3, 2, 4, 2))
    out = conv2d_ref(x, w, padding="same", dilation=(1, 3))
    assert out.shape == (1, 3, 5, 6)
    # same == explicit ((1, 2), (1, 2))
    np.testing.assert_array_equal(out, conv2d_ref(x, w, padding=((1, 2), (1, 2)), dilation=(1, 3)))


# ---------------------------------------------------------------------------
# Vectorised == loops, random configurations
# ---------------------------------------------------------------------------

@given(conv2d_cases(**TINY_CONV))
@settings(max_examples=150)
def test_conv2d_ref_matches_loops(case):
    x, w, b = case.arrays(np.float64)
    ref = conv2d_ref(x, w, b, **case.kwargs())
    assert ref.shape == case.out_shape
    _close(ref, conv2d_loops(x, w, b, **case.kwargs()))


@given(conv_transpose2d_cases(**TINY_CONVT))
@settings(max_examples=150)
def test_conv_transpose2d_ref_matches_loops(case):
    x, w, b = case.arrays(np.float64)
    ref = conv_transpose2d_ref(x, w, b, **case.kwargs())
    assert ref.shape == case.out_shape
    _close(ref, conv_transpose2d_loops(x, w, b, **case.kwargs()))


@pytest.mark.parametrize("seed", range(20))
def test_seeded_random_cases_match_loops(seed):
    rng = np.random.default_rng(seed)
    c = random_conv2d_case(rng, **TINY_CONV)
    x, w, b = c.arrays(np.float64)
    _close(conv2d_ref(x, w, b, **c.kwargs()), conv2d_loops(x, w, b, **c.kwargs()))
    t = random_conv_transpose2d_case(rng, **TINY_CONVT)
    x, w, b = t.arrays(np.float64)
    _close(conv_transpose2d_ref(x, w, b, **t.kwargs()),
           conv_transpose2d_loops(x, w, b, **t.kwargs()))


@pytest.mark.parametrize("case", [
    ConvTranspose2dCase(N=2, C=4, H=3, W=2, K=6, kh=3, kw=2, groups=2, stride=(2, 3),
                        padding=(1, 2), output_padding=(2, 1), dilation=(3, 2)),
    ConvTranspose2dCase(N=1, C=3, H=2, W=3, K=3, kh=2, kw=3, groups=3, stride=1,
                        padding=(0, 1), output_padding=(1, 0), dilation=(2, 1)),
    # padding larger than d*(k-1): the output is a crop
    ConvTranspose2dCase(N=1, C=2, H=4, W=4, K=2, kh=1, kw=2, groups=1, stride=3,
                        padding=(1, 2), output_padding=0, dilation=1),
    ConvTranspose2dCase(N=None, C=2, H=3, W=3, K=4, kh=3, kw=3, groups=2, stride=2,
                        padding=1, output_padding=1, dilation=2),
], ids=["groups-dilation-output_padding", "depthwise-op-from-dilation", "crop",
        "unbatched"])
def test_conv_transpose2d_ref_explicit_cases(case):
    x, w, b = case.arrays(np.float64)
    ref = conv_transpose2d_ref(x, w, b, **case.kwargs())
    assert ref.shape == case.out_shape
    _close(ref, conv_transpose2d_loops(x, w, b, **case.kwargs()))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_modes_at_their_limits(mode):
    # reflect: pad = size - 1; circular: pad = size; replicate: pad > size.
    H, W = 3, 4
    p = {"reflect": ((2, 1), (3, 0)), "circular": ((3, 0), (1, 4)),
         "replicate": ((5, 4), (0, 6))}[mode]
    case = Conv2dCase(N=2, C=2, H=H, W=W, K=2, kh=2, kw=3, groups=2, padding=p,
                      dilation=(1, 2), padding_mode=mode)
    x, w, b = case.arrays(np.float64)
    ref = conv2d_ref(x, w, b, **case.kwargs())
    assert ref.shape == case.out_shape
    _close(ref, conv2d_loops(x, w, b, **case.kwargs()))


def test_zero_size_batch():
    x = np.zeros((0, 4, 5, 5))
    assert conv2d_ref(x, np.ones((6, 2, 3, 3)), groups=2).shape == (0, 6, 3, 3)
    assert conv_transpose2d_ref(x, np.ones((4, 3, 3, 3)), groups=2,
                                stride=2).shape == (0, 6, 11, 11)


@given(conv2d_cases(padding_modes=("zeros",), padding_forms=("int", "pair"), bias=False,
                    max_extra=3))
@settings(max_examples=60)
def test_reference_adjointness(case):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)>: checks that the two
    references describe the same linear map (up to transposition)."""
    x, w, _ = case.arrays(np.float64)
    kw = case.kwargs()
    kw.pop("padding_mode")
    y_shape = conv2d_ref(x, w, **kw).shape
    y = np.random.default_rng(case.seed + 1).standard_normal(y_shape)
    sh, sw = (case.stride, case.stride) if isinstance(case.stride, int) else case.stride
    (pt, _), (pl, _) = case.pads
    OH, OW = case.out_hw
    dh, dw = (case.dilation,) * 2 if isinstance(case.dilation, int) else case.dilation
    op = (case.H - ((OH - 1) * sh - 2 * pt + dh * (case.kh - 1) + 1),
          case.W - ((OW - 1) * sw - 2 * pl + dw * (case.kw - 1) + 1))
    xt = conv_transpose2d_ref(y, w, stride=case.stride, padding=case.padding, output_padding=op,
                              groups=case.groups, dilation=case.dilation)
    assert xt.shape == x.shape
    lhs = np.vdot(conv2d_ref(x, w, **kw), y)
    rhs = np.vdot(x, xt)
    scale = np.vdot(conv2d_ref(np.abs(x), np.abs(w), **kw), np.abs(y))
    assert abs(lhs - rhs) <= 1e-12 * max(scale, 1.0)


# ---------------------------------------------------------------------------
# The tolerance helper can pass and can fail
# ---------------------------------------------------------------------------

def _float32_sequential_conv(x, w, b, stride):
    """conv2d (padding 0, groups 1) summed tap by tap in float32 arithmetic."""
    N, C, H, W = x.shape
    K, _, kh, kw = w.shape
    OH, OW = (H - kh) // stride + 1, (W - kw) // stride + 1
    out = np.broadcast_to(b[None, :, None, None], (N, K, OH, OW)).astype(np.float32)
    for c in range(C):
        for i in range(kh):
            for j in range(kw):
                patch = x[:, c, i:i + stride * (OH - 1) + 1:stride,
                          j:j + stride * (OW - 1) + 1:stride]
                out += w[None, :, c, i, j, None, None] * patch[:, None]
    assert out.dtype == np.float32
    return out


def test_tolerance_accepts_float32_arithmetic_and_rejects_a_small_error():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 9, 9)).astype(np.float32)
    w = rng.standard_normal((5, 6, 3, 3)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    kw = dict(stride=2, padding=0, dilation=1, groups=1)
    n = 6 * 3 * 3
    ref = conv2d_ref(x, w, b, **kw)
    tol = tolerance(np.float32, n, x, w, b, **kw)
    # A float32 evaluation (sequential order, unlike the reference) passes...
    f32 = _float32_sequential_conv(x, w, b, 2)
    assert_within(f32, ref, tol)
    # ...and does have rounding error (the check is not vacuous).
    assert np.abs(f32 - ref).max() > 0
    # An error of 1e-4 relative to the bound on one element is caught.
    bad = ref.astype(np.float32)
    bad[1, 4, 2, 3] += 1e-4 * tol[1, 4, 2, 3] / error_factor(np.float32, n)
    with pytest.raises(AssertionError, match="outside tolerance"):
        assert_within(bad, ref, tol)
    nan = ref.copy()
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(AssertionError):
        assert_within(nan, ref, tol)


@pytest.mark.parametrize("dtype, n, lo, hi", [
    (np.float32, 27, 1e-6, 1e-5),
    (np.float32, 1, 1e-7, 1e-6),
    (np.float64, 27, 1e-15, 1e-13),
])
def test_error_factor_magnitudes(dtype, n, lo, hi):
    assert lo < error_factor(dtype, n) < hi
