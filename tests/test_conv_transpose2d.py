"""fastconv.conv_transpose2d against the float64 reference, every algorithm, both dtypes."""

import numpy as np
import pytest
from hypothesis import given, settings

import fastconv
from conftest import (LAYOUTS, algorithms, assert_bitwise_equal, assert_unmodified, relayout,
                      snapshot, to_numpy, to_xp)
from reference import (UNIT_ROUNDOFF, assert_within, conv2d_ref, conv_transpose2d_loops,
                       conv_transpose2d_ref, error_factor, pair, tolerance,
                       winograd_transposed_tolerance)
from strategies import MEDIUM, ConvTranspose2dCase, conv2d_cases, conv_transpose2d_cases, dtypes

ALGORITHMS = algorithms("conv_transpose2d")
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


def conv_transpose2d(case, x, w, b, **extra):
    return fastconv.conv_transpose2d(x, w, b, **case.kwargs(), **extra)


def check(case, dtype, x, w, b, out, algorithm=None):
    """Shape, dtype, layout and values of `out` against the reference, within
    the rounding bound of a sum in (channel, tap) order; for
    algorithm='winograd', which runs Winograd F(3x3, 2x2) on ungrouped,
    undilated 4x4 stride-2 layers and the implicit GEMM elsewhere, within the
    larger of that and Winograd's own bound (the Winograd path alone is held
    to that bound in tests/test_winograd_transposed.py)."""
    out = to_numpy(out)
    assert out.shape == case.out_shape
    assert out.dtype == np.dtype(dtype)
    assert out.flags.c_contiguous
    ref = conv_transpose2d_ref(x, w, b, **case.kwargs())
    tol = tolerance(dtype, case.reduction_len, x, w, b, transposed=True, **case.kwargs())
    kw = case.kwargs()
    if (algorithm == "winograd" and w.shape[2:] == (4, 4) and kw.get("groups", 1) == 1
            and pair(kw.get("stride", 1)) == (2, 2) and pair(kw.get("dilation", 1)) == (1, 1)):
        tol = np.maximum(tol, winograd_transposed_tolerance(
            dtype, x, w, b, padding=kw.get("padding", 0),
            output_padding=kw.get("output_padding", 0)))
    assert_within(out, ref, tol)


def T(**kw):
    base = dict(N=2, C=4, H=5, W=6, K=3, kh=3, kw=3, seed=len(kw) + 100)
    base.update(kw)
    return ConvTranspose2dCase(**base)


FEATURES = {
    "basic-3x3": T(),
    "no-bias": T(bias=False),
    "stride-2": T(stride=2),
    "stride-(2,3)-output_padding-(1,2)": T(stride=(2, 3), output_padding=(1, 2)),
    "stride-list-[3,1]": T(stride=[3, 1], output_padding=[2, 0]),
    "stride-np.int64": T(stride=np.int64(2), output_padding=np.int64(1)),
    "padding-1": T(padding=1),
    "padding-(2,0)": T(padding=(2, 0)),
    "padding-beyond-kernel-crops": T(kh=1, kw=2, stride=3, padding=(1, 2)),
    "dilation-2": T(dilation=2, padding=1),
    "dilation-(2,3)-stride-2-op": T(dilation=(2, 3), stride=2, padding=(1, 2),
                                    output_padding=(1, 2)),
    "output_padding-from-dilation": T(stride=1, dilation=3, output_padding=2),
    "groups-2": T(C=4, K=6, groups=2, stride=2, padding=1, output_padding=1),
    "groups-3-Cg-2-Kg-3": T(C=6, K=9, groups=3),
    "depthwise": T(C=5, K=5, groups=5, stride=2),
    "channel-multiplier-2": T(C=3, K=6, groups=3, stride=2, padding=1, output_padding=1),
    "1x1-image": T(H=1, W=1),
    "1x1-image-stride-3": T(H=1, W=1, stride=3, output_padding=2),
    # Note [one-pixel transposed conv]: one GEMM of the images and the weights
    "1x1-image-4x4": T(N=3, C=10, K=7, H=1, W=1, kh=4, kw=4),
    "1x1-image-groups-dilation-padding": T(C=6, K=9, groups=3, H=1, W=1, kh=3, kw=4,
                                           dilation=(2, 3), padding=(1, 2),
                                           output_padding=(1, 0)),
    "1x1-image-padding-leaves-one-tap": T(H=1, W=1, kh=5, kw=5, padding=2),
    "1x1-image-depthwise": T(C=4, K=8, groups=4, H=1, W=1, kh=2, kw=3, stride=2),
    "pointwise-stride-2": T(kh=1, kw=1, stride=2, output_padding=1),
    "kernel-equals-input": T(H=3, W=3, kh=3, kw=3, padding=2),
    "stride-greater-than-kernel": T(kh=2, kw=2, stride=5, output_padding=4),
    "K-13": T(K=13, stride=2),
    "C-9-K-17": T(C=9, K=17),
    "OW-203": T(N=1, H=2, W=101, stride=2),
    "4x4-stride-2-padding-1": T(C=6, K=5, H=7, W=7, kh=4, kw=4, stride=2, padding=1),
    "kernel-7x1": T(kh=7, kw=1, padding=(3, 0)),
    "stride-larger-than-input": T(H=2, W=2, stride=7, output_padding=3),
    "channel-multiplier-depthwise-16": T(N=1, C=16, K=48, groups=16, stride=2, padding=1),
    "reduction-1152": T(N=1, C=128, K=5, H=3, W=4),
    "unbatched": T(N=None, stride=2, output_padding=1),
    "unbatched-groups": T(N=None, C=4, K=6, groups=2, dilation=2),
    "zero-size-batch": T(N=0),
    "zero-size-batch-grouped-strided": T(N=0, C=4, K=8, groups=2, stride=2, output_padding=1),
}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(FEATURES.values()), ids=list(FEATURES))
def test_features(xp, case, dtype, algorithm):
    x, w, b = case.arrays(dtype)
    snap = snapshot(x, w, b)
    out = conv_transpose2d(case, to_xp(xp, x), to_xp(xp, w), to_xp(xp, b), algorithm=algorithm)
    assert type(out) is type(to_xp(xp, x))
    check(case, dtype, x, w, b, out, algorithm)
    assert_unmodified(snap, x, w, b)


def test_positional_arguments_in_torch_order():
    # conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation)
    case = T(C=4, K=6, groups=2, stride=(2, 1), padding=(1, 0), output_padding=(1, 0),
             dilation=(1, 2))
    x, w, b = case.arrays(np.float64)
    out = fastconv.conv_transpose2d(x, w, b, (2, 1), (1, 0), (1, 0), 2, (1, 2))
    check(case, np.float64, x, w, b, out)


@pytest.mark.parametrize("dtype", DTYPES)
def test_unbatched_equals_batched(dtype):
    case = T(N=None, C=4, K=6, groups=2, stride=2, padding=1)
    x, w, b = case.arrays(dtype)
    out = conv_transpose2d(case, x, w, b)
    assert out.ndim == 3
    assert_bitwise_equal(out, conv_transpose2d(case, x[None], w, b)[0])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_nonfinite_values_propagate(dtype, algorithm):
    case = T(N=2, C=4, K=6, groups=2, H=5, W=6, stride=2, padding=1, output_padding=1)
    x, w, b = case.arrays(dtype)
    x[0, 1, 2, 2] = np.nan
    x[1, 2, 0, 5] = np.inf
    w[2, 1] = 0.0  # input channel 2 (inf) meets zero weights -> NaN in output channel 4
    out = conv_transpose2d(case, x, w, b, algorithm=algorithm)
    ref = conv_transpose2d_ref(x, w, b, **case.kwargs())
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(ref))
    assert np.isnan(ref).any() and np.isinf(ref).any()
    finite = np.isfinite(ref)
    xf = np.where(np.isfinite(x), x, 0)
    tol = tolerance(dtype, case.reduction_len, xf, w, b, transposed=True, **case.kwargs())
    assert_within(np.where(finite, out, 0), np.where(finite, ref, 0), tol)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_subnormals_are_not_flushed(dtype, algorithm):
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.full((1, 2, 3, 3), 3 * tiny, dtype)
    w = np.ones((2, 1, 1, 1), dtype)
    out = fastconv.conv_transpose2d(x, w, algorithm=algorithm)
    np.testing.assert_array_equal(out, np.full((1, 1, 3, 3), 6 * tiny, dtype))


# ---------------------------------------------------------------------------
# Memory layouts
# ---------------------------------------------------------------------------

LAYOUT_CASES = {
    "grouped-strided": T(N=2, C=4, H=7, W=9, K=6, groups=2, stride=(2, 3), padding=1,
                         output_padding=(1, 2)),
    "pointwise": T(N=2, C=5, H=6, W=7, K=3, kh=1, kw=1),
}


@pytest.mark.parametrize("target", ["x", "w", "b", "all"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(LAYOUT_CASES.values()), ids=list(LAYOUT_CASES))
def test_layouts_bitwise_equal(case, dtype, algorithm, layout, target):
    x, w, b = case.arrays(dtype)
    expected = conv_transpose2d(case, x, w, b, algorithm=algorithm)
    args = {"x": x, "w": w, "b": b}
    for name in (["x", "w", "b"] if target == "all" else [target]):
        args[name] = relayout(layout, args[name])
    snap = snapshot(args["x"], args["w"], args["b"])
    out = conv_transpose2d(case, args["x"], args["w"], args["b"], algorithm=algorithm)
    assert out.flags.c_contiguous and out.dtype == np.dtype(dtype)
    assert_bitwise_equal(out, expected)
    assert_unmodified(snap, args["x"], args["w"], args["b"])


# ---------------------------------------------------------------------------
# out=
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [T(C=4, K=6, groups=2, stride=2, output_padding=1),
                                  T(N=None, padding=1), T(N=0, stride=2)],
                         ids=["batched", "unbatched", "zero-batch"])
def test_out_argument(case, dtype, algorithm):
    x, w, b = case.arrays(dtype)
    expected = conv_transpose2d(case, x, w, b, algorithm=algorithm)
    # NaN-filled: a scatter implementation must zero `out` itself before accumulating.
    out = np.full(case.out_shape, np.nan, dtype=dtype)
    result = conv_transpose2d(case, x, w, b, out=out, algorithm=algorithm)
    assert result is out
    assert_bitwise_equal(out, expected)
    conv_transpose2d(case, x, w, b, out=out, algorithm=algorithm)
    assert_bitwise_equal(out, expected)


def test_out_argument_xp(xp):
    case = T(stride=2)
    x, w, b = case.arrays(np.float32)
    out = xp.full(case.out_shape, np.nan, dtype=np.float32)
    result = conv_transpose2d(case, to_xp(xp, x), to_xp(xp, w), to_xp(xp, b), out=out)
    assert result is out
    check(case, np.float32, x, w, b, out)


# ---------------------------------------------------------------------------
# Properties (hypothesis)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(case=conv_transpose2d_cases(), dtype=dtypes)
def test_matches_reference(algorithm, case, dtype):
    x, w, b = case.arrays(dtype)
    check(case, dtype, x, w, b, conv_transpose2d(case, x, w, b, algorithm=algorithm), algorithm)



@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(case=conv_transpose2d_cases(**MEDIUM), dtype=dtypes)
@settings(max_examples=15)
def test_matches_reference_medium_shapes(algorithm, case, dtype):
    x, w, b = case.arrays(dtype)
    check(case, dtype, x, w, b, conv_transpose2d(case, x, w, b, algorithm=algorithm), algorithm)

@given(case=conv_transpose2d_cases(max_kernel=5, max_stride=4, max_extra=9, bias=False))
def test_output_size_formula(case):
    def two(v):
        return (int(v), int(v)) if np.ndim(v) == 0 else tuple(v)
    (sh, sw), (ph, pw) = two(case.stride), two(case.padding)
    (oph, opw), (dh, dw) = two(case.output_padding), two(case.dilation)
    OH = (case.H - 1) * sh - 2 * ph + dh * (case.kh - 1) + oph + 1
    OW = (case.W - 1) * sw - 2 * pw + dw * (case.kw - 1) + opw + 1
    x, w, b = case.arrays(np.float64)
    out = conv_transpose2d(case, x, w, b)
    assert out.shape[-2:] == (OH, OW)
    assert out.shape[:-2] == (() if case.N is None else (case.N,)) + (case.K,)


def _algorithm_pairs():
    """(conv2d algorithm, conv_transpose2d algorithm), each name at least once."""
    a, t = algorithms("conv2d"), algorithms("conv_transpose2d")
    n = max(len(a), len(t))
    return [pytest.param(a[i % len(a)], t[i % len(t)], id=f"{a[i % len(a)]}-{t[i % len(t)]}")
            for i in range(n)]


@pytest.mark.parametrize("conv_algorithm, algorithm", _algorithm_pairs())
@given(case=conv2d_cases(padding_modes=("zeros",), padding_forms=("int", "pair"), bias=False,
                         max_extra=8),
       dtype=dtypes)
def test_adjoint_of_conv2d(conv_algorithm, algorithm, case, dtype):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> with the same stride,
    padding, dilation, groups; output_padding makes the shapes match."""
    x, w, _ = case.arrays(dtype)
    kw = case.kwargs()
    kw.pop("padding_mode")
    Ax = to_numpy(fastconv.conv2d(x, w, **kw, algorithm=conv_algorithm))
    y = np.random.default_rng(case.seed + 1).standard_normal(Ax.shape).astype(dtype)
    (sh, sw), (dh, dw) = [(v, v) if np.ndim(v) == 0 else tuple(v)
                          for v in (case.stride, case.dilation)]
    (pt, _), (pl, _) = case.pads
    OH, OW = case.out_hw
    op = (case.H - ((OH - 1) * sh - 2 * pt + dh * (case.kh - 1) + 1),
          case.W - ((OW - 1) * sw - 2 * pl + dw * (case.kw - 1) + 1))
    assert all(0 <= o < s for o, s in zip(op, (sh, sw)))
    ATy = to_numpy(fastconv.conv_transpose2d(y, w, None, case.stride, case.padding, op,
                                             case.groups, case.dilation, algorithm=algorithm))
    assert ATy.shape == x.shape and ATy.dtype == np.dtype(dtype)
    lhs = np.vdot(Ax.astype(np.float64), y.astype(np.float64))
    rhs = np.vdot(x.astype(np.float64), ATy.astype(np.float64))
    # Error budget: each conv output element is within error_factor * (|x| conv |w|)
    # (reduction lengths C_g*kh*kw and K_g*kh*kw), summed against |y| / |x|
    # this gives factor * S with S = <|x| conv |w|, |y|>; plus the float64 dots.
    S = np.vdot(conv2d_ref(np.abs(x), np.abs(w), **kw), np.abs(y.astype(np.float64)))
    n1 = (case.C // case.groups) * case.kh * case.kw
    n2 = (case.K // case.groups) * case.kh * case.kw
    m = max(x.size, y.size)
    budget = (error_factor(dtype, n1) + error_factor(dtype, n2)
              + 2.02 * m * UNIT_ROUNDOFF[np.dtype(np.float64)]) * S
    assert abs(lhs - rhs) <= budget, (lhs, rhs, budget)


@given(case=conv_transpose2d_cases(), dtype=dtypes)
def test_groups_equal_split_and_concatenate(case, dtype):
    x, w, b = case.arrays(dtype)
    G, C_g, K_g = case.groups, case.C // case.groups, case.K // case.groups
    full = conv_transpose2d(case, x, w, b)
    parts = []
    for g in range(G):
        sub = case.replace(C=C_g, K=K_g, groups=1)
        parts.append(conv_transpose2d(sub, x[..., g * C_g:(g + 1) * C_g, :, :],
                                      w[g * C_g:(g + 1) * C_g],
                                      None if b is None else b[g * K_g:(g + 1) * K_g]))
    split = np.concatenate(parts, axis=-3)
    tol = tolerance(dtype, case.reduction_len, x, w, b, transposed=True, **case.kwargs())
    assert_within(full, split.astype(np.float64), 2 * tol, what="groups vs split")
    check(case, dtype, x, w, b, full)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(case=conv_transpose2d_cases(max_extra=10), dtype=dtypes)
def test_one_and_two_threads_bitwise_equal(algorithm, case, dtype):
    x, w, b = case.arrays(dtype)
    one = conv_transpose2d(case, x, w, b, algorithm=algorithm, num_threads=1)
    two = conv_transpose2d(case, x, w, b, algorithm=algorithm, num_threads=2)
    assert_bitwise_equal(one, two)


@pytest.mark.parametrize("budget", [1, 3000, 40000])
@pytest.mark.parametrize("stride,dilation,padding,output_padding",
                         [(2, 1, 1, 1), (3, 2, 0, 2), (1, 1, 2, 0), (2, 3, 4, 1)])
def test_implicit_bands_give_the_same_bits(budget, stride, dilation, padding, output_padding):
    """The transposed implicit GEMM pads its input in bands under a byte budget;
    every band size gives exactly the one-band result."""
    from fastconv import _cpu
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 6, 9, 7))
    w = rng.standard_normal((6, 5, 3, 4))
    b = rng.standard_normal(10)
    kw = dict(stride=stride, padding=padding, output_padding=output_padding, groups=2,
              dilation=dilation)
    whole = fastconv.conv_transpose2d(x, w, b, algorithm="implicit", **kw)
    old = _cpu._set_implicit_copy_bytes(budget)
    try:
        banded = fastconv.conv_transpose2d(x, w, b, algorithm="implicit", **kw)
    finally:
        _cpu._set_implicit_copy_bytes(old)
    np.testing.assert_array_equal(banded, whole)
    np.testing.assert_array_equal(whole, fastconv.conv_transpose2d(x, w, b, algorithm="gemm", **kw))


def test_tall_tap_extents_run_the_gemm():
    """Note [tall tap extents]: where each band of output rows would copy the
    kernel's whole dilated extent again (quadratic: a dilation of 80000 rows ran
    for minutes), the implicit GEMM (and the direct path, which gives dilated
    layers to it) runs the GEMM: the same bits.  Not with the extent a small
    multiple of the band."""
    from fastconv import _cpu
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 2, 5, 2)).astype(np.float32)
    w = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    kw = dict(stride=(1, 3), padding=(5, 17), output_padding=(0, 8), groups=2,
              dilation=(80000, 16))
    want = fastconv.conv_transpose2d(x, w, b, algorithm="gemm", **kw)
    assert want.shape == (2, 2, 159995, 10)
    for algorithm in ("implicit", "direct"):
        got = fastconv.conv_transpose2d(x, w, b, algorithm=algorithm, **kw)
        assert _cpu._tall_extent_used()
        np.testing.assert_array_equal(got, want)
    kw = dict(stride=2, padding=1, dilation=3)
    x = rng.standard_normal((1, 3, 40, 6))
    w = rng.standard_normal((3, 4, 3, 3))
    want = fastconv.conv_transpose2d(x, w, None, algorithm="gemm", **kw)
    old = _cpu._set_implicit_copy_bytes(1)      # one row a band, extent 3 rows
    try:
        got = fastconv.conv_transpose2d(x, w, None, algorithm="implicit", **kw)
        assert not _cpu._tall_extent_used()
        np.testing.assert_array_equal(got, want)
        got = fastconv.conv_transpose2d(x, w, None, algorithm="implicit",
                                        **dict(kw, dilation=(130, 1)))
        assert _cpu._tall_extent_used()
        np.testing.assert_array_equal(got, fastconv.conv_transpose2d(
            x, w, None, algorithm="gemm", **dict(kw, dilation=(130, 1))))
    finally:
        _cpu._set_implicit_copy_bytes(old)
    kw["dilation"] = (130, 1)
    assert_within(got, conv_transpose2d_ref(x, w, None, **kw),
                  tolerance(np.float64, 3 * 9, x, w, None, transposed=True, **kw))


# Note [transposed direct]: depthwise transposed layers run each stride phase
# as a conv2d on the input read backwards; the taps add up in the implicit
# kernel's order, so the bits are the same.  Strides 1 to 4, kernels 1 to 5,
# padding beyond the kernel (phases with no taps or no input rows), output
# padding, channel multipliers, odd sizes, a batch.
DEPTHWISE = [
    T(N=1, C=16, K=16, groups=16, H=9, W=11, kh=4, kw=4, stride=2, padding=1),
    T(N=2, C=6, K=12, groups=6, H=7, W=9, kh=3, kw=3, stride=2, padding=1, output_padding=1),
    T(N=1, C=5, K=5, groups=5, H=5, W=6, kh=5, kw=5, stride=3, padding=2, output_padding=2),
    T(N=1, C=4, K=12, groups=4, H=6, W=6, kh=2, kw=2, stride=2),
    T(N=1, C=3, K=3, groups=3, H=4, W=5, kh=3, kw=3, stride=1, padding=1),
    T(N=1, C=3, K=3, groups=3, H=4, W=4, kh=1, kw=1, stride=3),
    T(N=1, C=2, K=2, groups=2, H=5, W=5, kh=3, kw=3, stride=4, output_padding=3),
    T(N=1, C=4, K=4, groups=4, H=6, W=7, kh=4, kw=2, stride=(2, 3), padding=(3, 1)),
    T(N=3, C=8, K=8, groups=8, H=1, W=13, kh=4, kw=4, stride=2, padding=1),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", DEPTHWISE)
def test_depthwise_direct_matches_implicit_bitwise(case, dtype, threads):
    x, w, b = case.arrays(dtype)
    for bias in (b, None):
        want = conv_transpose2d(case, x, w, bias, algorithm="implicit", num_threads=threads)
        got = conv_transpose2d(case, x, w, bias, algorithm="direct", num_threads=threads)
        np.testing.assert_array_equal(got, want)
        out = np.full_like(want, np.nan)     # every output written, phase by phase
        conv_transpose2d(case, x, w, bias, algorithm="direct", num_threads=threads, out=out)
        np.testing.assert_array_equal(out, want)
    check(case, dtype, x, w, b, conv_transpose2d(case, x, w, b, algorithm="direct"))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_depthwise_direct_nonfinite_like_implicit():
    case = DEPTHWISE[1]
    x, w, b = case.arrays(np.float32)
    x[0, 1, 2, 2] = np.nan
    x[1, 2, 0, 5] = np.inf
    w[3, 0] = 0.0
    x[1, 3, 4, 4] = np.inf       # meets channel 3's zero weights: NaN
    want = conv_transpose2d(case, x, w, b, algorithm="implicit")
    got = conv_transpose2d(case, x, w, b, algorithm="direct")
    np.testing.assert_array_equal(got, want)
    assert np.isnan(want).any() and np.isinf(want).any()


def test_depthwise_direct_in_blocks_of_images_and_channels():
    """Past the copy budget the phases run image by image, a block of channels
    at a time: the same bits."""
    from fastconv import _cpu
    case = T(N=3, C=6, K=12, groups=6, H=9, W=10, kh=4, kw=4, stride=2, padding=1)
    x, w, b = case.arrays(np.float32)
    want = conv_transpose2d(case, x, w, b, algorithm="implicit")
    old = _cpu._set_implicit_copy_bytes(4 * (2 * 90 + 2 * 100) * 2)   # two channels a block
    try:
        got = conv_transpose2d(case, x, w, b, algorithm="direct")
    finally:
        _cpu._set_implicit_copy_bytes(old)
    np.testing.assert_array_equal(got, want)


# Note [phase-inner tasks]: the implicit GEMM's tasks numbered phase-inner or
# phase-major compute the same outputs: the same bits, and both as GEMM's.
# Strides 1 to 3 (one phase, phases with and without taps), groups, a batch,
# more output channels than one panel block, a grid of several blocks.
PHASE_ORDER = [
    T(N=1, C=8, K=4, H=30, W=29, kh=3, kw=3, stride=2, padding=1, output_padding=1),
    T(N=3, C=6, K=10, groups=2, H=9, W=11, kh=4, kw=4, stride=2, padding=1),
    T(N=2, C=5, K=70, H=6, W=7, kh=3, kw=3, stride=3, output_padding=2),
    T(N=1, C=4, K=9, H=12, W=10, kh=3, kw=3, stride=1, padding=1),
    T(N=1, C=3, K=16, H=8, W=9, kh=2, kw=5, stride=(3, 2), padding=(0, 2), dilation=(1, 2)),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", PHASE_ORDER)
def test_phase_inner_and_phase_major_tasks_give_the_same_bits(case, dtype, threads):
    from fastconv import _cpu
    x, w, b = case.arrays(dtype)
    got = {}
    for mode in (0, 1):
        old = _cpu._set_phase_inner(mode)
        try:
            out = np.full(case.out_shape, np.nan, dtype)     # every output written
            conv_transpose2d(case, x, w, b, algorithm="implicit", num_threads=threads, out=out)
        finally:
            _cpu._set_phase_inner(old)
        got[mode] = out
    np.testing.assert_array_equal(got[1], got[0])
    np.testing.assert_array_equal(
        got[1], conv_transpose2d(case, x, w, b, algorithm="gemm", num_threads=threads))
    check(case, dtype, x, w, b, got[1])


# Note [one-pixel transposed conv]: a 1x1 input runs as one GEMM per chunk of
# images; every chunk size and thread count gives the same bits, every output
# is written (those no tap reaches hold the bias), and no padding value is
# multiplied: an infinite weight gives what torch's scatter gives.
ONE_PIXEL = [
    T(N=7, C=12, K=5, H=1, W=1, kh=4, kw=4),
    T(N=5, C=6, K=8, groups=2, H=1, W=1, kh=3, kw=5, stride=2, padding=(1, 3),
      output_padding=1, dilation=(1, 2)),
    T(N=4, C=3, K=2, H=1, W=1, kh=2, kw=2, stride=4, output_padding=(3, 2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ONE_PIXEL)
def test_one_pixel_image_chunks_and_threads_give_the_same_bits(case, dtype):
    from fastconv import _cpu
    x, w, b = case.arrays(dtype)
    whole = conv_transpose2d(case, x, w, b, algorithm="gemm", num_threads=1)
    check(case, dtype, x, w, b, whole)
    assert fastconv.choose_algorithm(x.shape, w.shape, transposed=True,
                                     **case.kwargs()).value == "gemm"
    z_image = case.out_shape[1] * w.shape[2] * w.shape[3] * x.itemsize  # Z of one image
    for budget in (z_image, 2 * z_image):   # one image a chunk, then two (the last one)
        old = _cpu._set_transposed_pixel_z_bytes(budget)
        try:
            for threads in (1, 2, 3):
                out = np.full(case.out_shape, np.nan, dtype)
                conv_transpose2d(case, x, w, b, algorithm="gemm", num_threads=threads, out=out)
                np.testing.assert_array_equal(out, whole)
        finally:
            _cpu._set_transposed_pixel_z_bytes(old)
    # One image's Z over the budget: the phase GEMM, whose bits are implicit's.
    old = _cpu._set_transposed_pixel_z_bytes(z_image - 1)
    try:
        phases = conv_transpose2d(case, x, w, b, algorithm="gemm")
    finally:
        _cpu._set_transposed_pixel_z_bytes(old)
    np.testing.assert_array_equal(phases, conv_transpose2d(case, x, w, b, algorithm="implicit"))
    check(case, dtype, x, w, b, phases)


def check_like_scatter(case, dtype, x, w, b, out):
    """NaN and +-Inf exactly where the scatter definition (torch's) has them,
    the finite values within the rounding bound of the finite weights."""
    want = conv_transpose2d_loops(x, w, b, **case.kwargs())
    np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(out), np.isposinf(want))
    np.testing.assert_array_equal(np.isneginf(out), np.isneginf(want))
    assert np.isfinite(want).any() and np.isnan(want).any() and np.isinf(want).any()
    finite = np.isfinite(want)
    tol = tolerance(dtype, case.reduction_len, x, np.where(np.isfinite(w), w, 0), b,
                    transposed=True, **case.kwargs())
    assert_within(np.where(finite, out, 0), np.where(finite, want, 0), tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_one_pixel_image_nonfinite_weights_like_torch(dtype):
    case = T(N=2, C=3, K=2, H=1, W=1, kh=3, kw=3, padding=1)
    x, w, b = case.arrays(dtype)
    w[0, 1, 0, 0] = np.inf
    w[1, 0, 2, 1] = np.nan
    x[1, 2] = 0.0
    w[2, 0, 1, 1] = -np.inf    # meets x = 0 in image 1: NaN there, -inf in image 0
    out = conv_transpose2d(case, x, w, b, algorithm="gemm")
    check_like_scatter(case, dtype, x, w, b, out)


# Note [transposed non-finite weights]: an Inf or NaN weight multiplies only
# the input's own values, as in torch's scatter, never the padding's zeros
# (whose products would be NaN): checked against the scatter definition on
# every algorithm, with a tap that reaches past every edge.
NONFINITE_WEIGHTS = [
    T(N=2, C=4, K=3, H=5, W=6, stride=2, padding=1, output_padding=1),
    T(N=2, C=6, K=5, H=7, W=7, kh=4, kw=4, stride=2, padding=1),         # Winograd's shape
    T(N=2, C=6, K=9, groups=3, H=5, W=6, kh=3, kw=2, dilation=(2, 3), padding=(2, 1)),
    T(N=2, C=4, K=8, groups=4, H=5, W=5, stride=2, padding=1),           # depthwise: DIRECT
    T(N=1, C=3, K=4, H=6, W=6, kh=3, kw=3, padding=2),                   # taps cropped too
]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", NONFINITE_WEIGHTS)
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_nonfinite_weights_meet_only_input_values(case, dtype, algorithm):
    x, w, b = case.arrays(dtype)
    w[0, 0, 0, 0] = np.inf
    w[-1, -1, -1, -1] = np.nan
    w[1, 0, 1, 1] = -np.inf
    x[0, 1, 2, 2] = 0.0        # 0 * -inf: NaN where torch forms that product
    snap = snapshot(x, w, b)
    out = conv_transpose2d(case, x, w, b, algorithm=algorithm)
    check_like_scatter(case, dtype, x, w, b, out)
    for threads in (1, 2, 3):
        np.testing.assert_array_equal(
            conv_transpose2d(case, x, w, b, algorithm=algorithm, num_threads=threads), out)
    assert_unmodified(snap, x, w, b)
