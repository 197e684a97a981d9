"""fastconv.conv2d against the float64 reference, every algorithm, both dtypes."""

import numpy as np
import pytest
from hypothesis import given, settings

import fastconv
from conftest import (LAYOUTS, algorithms, assert_bitwise_equal, assert_unmodified, relayout,
                      snapshot, to_numpy, to_xp)
from reference import assert_within, conv2d_ref, tolerance, winograd_tolerance
from strategies import MEDIUM, Conv2dCase, conv2d_cases, dtypes

ALGORITHMS = algorithms("conv2d")
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


def conv2d(case, x, w, b, **extra):
    return fastconv.conv2d(x, w, b, **case.kwargs(), **extra)


def check(case, dtype, x, w, b, out, algorithm=None):
    """Shape, dtype, layout and values of `out` against the reference.

    The bound is the worst-case rounding bound of a sum in (channel, tap) order;
    for algorithm='winograd', which either runs Winograd (rounding through its
    transforms, README) or, where it does not apply, the implicit GEMM, the
    larger of that and Winograd's own bound (reference.winograd_tolerance; the
    Winograd path alone is held to that bound in tests/test_winograd.py).  A
    hypothesis example (1x2x1x1 input, groups 2, dilation (2, 1), padding 2)
    came to 1.06 times the first bound while inside Winograd's.  Winograd runs
    at stride 1 as the output shows it: a stride along an axis with a single
    output is no stride (a 3x1 input, stride (1, 2), dilation (2, 1), padding 1:
    1.08 times the first bound)."""
    out = to_numpy(out)
    assert out.shape == case.out_shape
    assert out.dtype == np.dtype(dtype)
    assert out.flags.c_contiguous
    ref = conv2d_ref(x, w, b, **case.kwargs())
    tol = tolerance(dtype, case.reduction_len, x, w, b, **case.kwargs())
    kw = case.kwargs()
    kw.pop("stride", None)
    if algorithm == "winograd" and w.shape[2:] == (3, 3) and conv2d_ref(x, w, b, **kw).shape == ref.shape:
        tol = np.maximum(tol, winograd_tolerance(dtype, x, w, b, **kw))
    assert_within(out, ref, tol)


def C(**kw):
    base = dict(N=2, C=3, H=8, W=9, K=4, kh=3, kw=3, seed=len(kw))
    base.update(kw)
    return Conv2dCase(**base)


FEATURES = {
    "basic-3x3": C(),
    "no-bias": C(bias=False),
    "stride-2": C(stride=2),
    "stride-(2,1)": C(stride=(2, 1)),
    "stride-list-[1,3]": C(stride=[1, 3]),
    "stride-np.int64": C(stride=np.int64(2)),
    "padding-1": C(padding=1),
    "padding-(2,0)": C(padding=(2, 0)),
    "padding-asymmetric": C(padding=((1, 0), (2, 3))),
    "padding-same-3x5": C(kh=3, kw=5, padding="same"),
    "padding-same-even-dilated": C(kh=4, kw=2, dilation=(1, 3), padding="same"),
    "padding-valid": C(padding="valid"),
    "dilation-2": C(dilation=2, padding=2),
    "dilation-(2,3)-stride-2": C(H=13, W=14, dilation=(2, 3), stride=2, padding=(1, 2)),
    "groups-2": C(C=4, K=6, groups=2),
    "groups-3-Cg-2-Kg-3": C(C=6, K=9, groups=3, padding=1),
    "depthwise": C(C=5, K=5, groups=5, padding=1),
    "channel-multiplier-2": C(C=3, K=6, groups=3, padding=1),
    "channel-multiplier-3-stride-2": C(C=4, K=12, groups=4, stride=2, padding=1),
    "reflect": C(H=5, W=6, padding=((2, 1), (1, 3)), padding_mode="reflect"),
    "reflect-same-even": C(kh=4, kw=4, padding="same", padding_mode="reflect"),
    "replicate-larger-than-input": C(H=3, W=4, padding=((5, 4), (0, 6)),
                                     padding_mode="replicate"),
    "circular": C(H=3, W=5, padding=((3, 1), (0, 5)), padding_mode="circular"),
    "circular-groups-stride": C(C=4, K=6, groups=2, stride=2, padding=2,
                                padding_mode="circular"),
    "1x1-image-1x1-kernel": C(H=1, W=1, kh=1, kw=1),
    "1x1-image-3x3-padded": C(H=1, W=1, padding=1),
    "kernel-equals-input": C(H=5, W=4, kh=5, kw=4),
    "stride-greater-than-kernel": C(H=13, W=12, kh=2, kw=2, stride=5),
    "K-13": C(K=13, padding=1),
    "C-9-K-17": C(C=9, K=17),
    "OW-201": C(N=1, H=3, W=203),
    "OW-large-stride-3": C(N=1, H=4, W=100, stride=(1, 3), padding=(0, 1)),
    "kernel-1x7": C(kh=1, kw=7, padding=(0, 3)),
    "kernel-7x1": C(kh=7, kw=1),
    "pointwise-C-37": C(C=37, K=19, kh=1, kw=1),
    "pointwise-stride-2": C(C=8, K=8, kh=1, kw=1, stride=2),
    "7x7-stride-2": C(C=3, K=8, H=20, W=21, kh=7, kw=7, stride=2, padding=3),
    "9x9-kernel-on-1x1-image": C(H=1, W=1, kh=9, kw=9, padding=4),
    "stride-larger-than-input": C(H=3, W=4, stride=10, padding=1),
    "dilation-larger-than-input": C(H=2, W=2, kh=2, kw=2, dilation=5, padding=2),
    "depthwise-64-multiplier-2": C(N=1, C=64, K=128, groups=64, H=5, W=6, padding=1),
    "reduction-1152": C(N=1, C=128, K=24, H=4, W=5),
    "unbatched": C(N=None),
    "unbatched-groups-reflect": C(N=None, C=4, K=4, groups=2, padding=1,
                                  padding_mode="reflect"),
    "zero-size-batch": C(N=0),
    "zero-size-batch-grouped": C(N=0, C=4, K=8, groups=4, padding="same"),
}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(FEATURES.values()), ids=list(FEATURES))
def test_features(xp, case, dtype, algorithm):
    x, w, b = case.arrays(dtype)
    snap = snapshot(x, w, b)
    out = conv2d(case, to_xp(xp, x), to_xp(xp, w), to_xp(xp, b), algorithm=algorithm)
    assert type(out) is type(to_xp(xp, x))
    check(case, dtype, x, w, b, out, algorithm)
    assert_unmodified(snap, x, w, b)


def test_algorithms_listed():
    # One entry per op: the names `algorithm=` accepts besides 'auto'.
    assert set(fastconv.ALGORITHMS) == {"conv2d", "conv_transpose2d"}
    for op, names in fastconv.ALGORITHMS.items():
        assert names and all(isinstance(a, str) for a in names), (op, names)
        assert "auto" not in names
        assert {fastconv.Algorithm(a) for a in names} <= set(fastconv.Algorithm)


def test_unknown_or_unimplemented_algorithm_raises():
    x = np.zeros((1, 2, 5, 5), np.float32)
    w = np.zeros((3, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match="algorithm must be"):
        fastconv.conv2d(x, w, algorithm="winograd-please")
    missing = [a.value for a in fastconv.Algorithm
               if a.value not in fastconv.ALGORITHMS["conv_transpose2d"]]
    for name in missing:
        with pytest.raises(NotImplementedError, match="supports"):
            fastconv.conv_transpose2d(x, w.transpose(1, 0, 2, 3), algorithm=name)


def test_show_config_runs(capsys):
    fastconv.show_config()


def test_default_arguments_match_reference():
    x, w, b = C(padding=0).arrays(np.float64)
    assert_within(fastconv.conv2d(x, w), conv2d_ref(x, w),
                  tolerance(np.float64, 27, x, w))
    assert_within(fastconv.conv2d(x, w, b), conv2d_ref(x, w, b),
                  tolerance(np.float64, 27, x, w, b))


def test_positional_arguments_in_torch_order():
    case = C(C=4, K=6, groups=2, H=12, W=12)
    x, w, b = case.arrays(np.float64)
    # conv2d(input, weight, bias, stride, padding, dilation, groups)
    out = fastconv.conv2d(x, w, b, (2, 1), (1, 2), (1, 2), 2)
    ref = conv2d_ref(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    assert_within(out, ref, tolerance(np.float64, 18, x, w, b, stride=(2, 1), padding=(1, 2),
                                      dilation=(1, 2), groups=2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_keyword_names_are_torchs(dtype):
    case = C(padding=1)
    x, w, b = case.arrays(dtype)
    out = fastconv.conv2d(input=x, weight=w, bias=b, stride=1, padding=1, dilation=1, groups=1)
    check(case, dtype, x, w, b, out)


@pytest.mark.parametrize("dtype", DTYPES)
def test_unbatched_equals_batched(dtype):
    case = C(N=None, C=4, K=6, groups=2, padding=1)
    x, w, b = case.arrays(dtype)
    out = fastconv.conv2d(x, w, b, **case.kwargs())
    assert out.ndim == 3
    assert_bitwise_equal(out, fastconv.conv2d(x[None], w, b, **case.kwargs())[0])


def test_output_is_new_array():
    case = C(kh=1, kw=1)  # a 1x1 conv is where returning a view would be tempting
    x, w, b = case.arrays(np.float32)
    out = fastconv.conv2d(x, w, b)
    assert not np.shares_memory(out, x) and not np.shares_memory(out, w)
    assert out.flags.owndata or out.base is not None
    assert out.flags.writeable


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_nonfinite_values_propagate(dtype, algorithm):
    """IEEE semantics, like torch: inf*0 is NaN, NaN spreads to every output
    whose window holds it (an implementation may not skip zero weights)."""
    case = C(N=2, C=4, K=6, groups=2, H=9, W=10, padding=1, stride=(1, 2))
    x, w, b = case.arrays(dtype)
    x[0, 1, 4, 4] = np.nan
    x[1, 2, 0, 7] = np.inf
    x[1, 3, 8, 0] = -np.inf
    w[3, 1] = 0.0  # inf * 0 -> NaN for output channel 3
    out = conv2d(case, x, w, b, algorithm=algorithm)
    ref = conv2d_ref(x, w, b, **case.kwargs())
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_array_equal(np.isposinf(out), np.isposinf(ref))
    np.testing.assert_array_equal(np.isneginf(out), np.isneginf(ref))
    assert np.isnan(ref).any() and np.isinf(ref).any()
    finite = np.isfinite(ref)
    xf = np.where(np.isfinite(x), x, 0)
    tol = tolerance(dtype, case.reduction_len, xf, w, b, **case.kwargs())
    assert_within(np.where(finite, out, 0), np.where(finite, ref, 0), tol)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_subnormals_are_not_flushed(dtype, algorithm):
    # torch keeps subnormals (torch.set_flush_denormal is off by default).
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.full((1, 2, 4, 4), 3 * tiny, dtype)
    w = np.ones((1, 2, 1, 1), dtype)
    out = fastconv.conv2d(x, w, algorithm=algorithm)
    np.testing.assert_array_equal(out, np.full((1, 1, 4, 4), 6 * tiny, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_native_byte_order_is_right_or_rejected(dtype):
    case = C(padding=1)
    x, w, b = case.arrays(dtype)
    swapped = [a.astype(a.dtype.newbyteorder()) for a in (x, w, b)]
    try:
        out = fastconv.conv2d(*swapped, **case.kwargs())
    except (TypeError, ValueError):
        return  # rejecting is fine; silently reading swapped bytes is not
    out = np.asarray(out, dtype=dtype)
    check(case, dtype, x, w, b, out)


# ---------------------------------------------------------------------------
# Memory layouts and read-only inputs: bitwise equal to contiguous inputs
# ---------------------------------------------------------------------------

LAYOUT_CASES = {
    "grouped-3x3": C(N=2, C=4, H=11, W=13, K=6, groups=2, padding=1, stride=(1, 2)),
    "pointwise": C(N=2, C=5, H=6, W=7, K=3, kh=1, kw=1),
}


@pytest.mark.parametrize("target", ["x", "w", "b", "all"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(LAYOUT_CASES.values()), ids=list(LAYOUT_CASES))
def test_layouts_bitwise_equal(case, dtype, algorithm, layout, target):
    x, w, b = case.arrays(dtype)
    expected = conv2d(case, x, w, b, algorithm=algorithm)
    args = {"x": x, "w": w, "b": b}
    for name in (["x", "w", "b"] if target == "all" else [target]):
        args[name] = relayout(layout, args[name])
    snap = snapshot(args["x"], args["w"], args["b"])
    out = conv2d(case, args["x"], args["w"], args["b"], algorithm=algorithm)
    assert out.flags.c_contiguous and out.dtype == np.dtype(dtype)
    assert_bitwise_equal(out, expected)
    assert_unmodified(snap, args["x"], args["w"], args["b"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_broadcast_zero_stride_input(dtype):
    case = C(N=3, padding=1)
    x, w, b = case.arrays(dtype)
    xb = np.broadcast_to(x[:1], x.shape)  # zero stride along N, read-only
    out = conv2d(case, xb, w, b)
    check(case, dtype, np.ascontiguousarray(xb), w, b, out)
    assert_bitwise_equal(out[0], out[2])


# ---------------------------------------------------------------------------
# out=
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [C(padding=1, C=4, K=6, groups=2), C(N=None, stride=2),
                                  C(N=0)], ids=["batched", "unbatched", "zero-batch"])
def test_out_argument(case, dtype, algorithm):
    x, w, b = case.arrays(dtype)
    expected = conv2d(case, x, w, b, algorithm=algorithm)
    out = np.full(case.out_shape, np.nan, dtype=dtype)  # every element must be written
    result = conv2d(case, x, w, b, out=out, algorithm=algorithm)
    assert result is out
    assert_bitwise_equal(out, expected)
    # reuse of the same buffer overwrites (does not accumulate)
    conv2d(case, x, w, b, out=out, algorithm=algorithm)
    assert_bitwise_equal(out, expected)


def test_out_argument_xp(xp):
    case = C(padding=1)
    x, w, b = case.arrays(np.float32)
    out = xp.zeros(case.out_shape, dtype=np.float32)
    result = conv2d(case, to_xp(xp, x), to_xp(xp, w), to_xp(xp, b), out=out)
    assert result is out
    check(case, np.float32, x, w, b, out)


# ---------------------------------------------------------------------------
# Properties (hypothesis)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(case=conv2d_cases(), dtype=dtypes)
def test_matches_reference(algorithm, case, dtype):
    x, w, b = case.arrays(dtype)
    check(case, dtype, x, w, b, conv2d(case, x, w, b, algorithm=algorithm), algorithm)



@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(case=conv2d_cases(**MEDIUM), dtype=dtypes)
@settings(max_examples=15)
def test_matches_reference_medium_shapes(algorithm, case, dtype):
    x, w, b = case.arrays(dtype)
    check(case, dtype, x, w, b, conv2d(case, x, w, b, algorithm=algorithm), algorithm)

@given(case=conv2d_cases(padding_forms=("int", "pair", "nested", "valid"), max_kernel=5,
                         max_stride=4, max_extra=9, bias=False))
def test_output_size_formula(case):
    # Written out independently of reference.conv_padding.
    p = case.padding
    if p == "valid":
        (pt, pb), (pl, pr) = (0, 0), (0, 0)
    elif isinstance(p, int):
        (pt, pb), (pl, pr) = (p, p), (p, p)
    elif isinstance(p[0], (tuple, list)):
        (pt, pb), (pl, pr) = p
    else:
        (pt, pb), (pl, pr) = (p[0], p[0]), (p[1], p[1])
    sh, sw = (case.stride, case.stride) if isinstance(case.stride, int) else case.stride
    dh, dw = (case.dilation, case.dilation) if isinstance(case.dilation, int) else case.dilation
    OH = (case.H + pt + pb - dh * (case.kh - 1) - 1) // sh + 1
    OW = (case.W + pl + pr - dw * (case.kw - 1) - 1) // sw + 1
    x, w, b = case.arrays(np.float64)
    out = conv2d(case, x, w, b)
    assert out.shape[-2:] == (OH, OW)
    assert out.shape[:-2] == (() if case.N is None else (case.N,)) + (case.K,)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(case=conv2d_cases(stride_one=True, padding_forms=("same",), max_kernel=6), dtype=dtypes)
def test_same_padding_keeps_size(algorithm, case, dtype):
    x, w, b = case.arrays(dtype)
    out = conv2d(case, x, w, b, algorithm=algorithm)
    assert out.shape[-2:] == (case.H, case.W)
    check(case, dtype, x, w, b, out, algorithm)


@given(case=conv2d_cases(), dtype=dtypes)
def test_groups_equal_split_and_concatenate(case, dtype):
    x, w, b = case.arrays(dtype)
    G, C_g, K_g = case.groups, case.C // case.groups, case.K // case.groups
    full = conv2d(case, x, w, b)
    parts = []
    for g in range(G):
        sub = case.replace(C=C_g, K=K_g, groups=1)
        parts.append(conv2d(sub, x[..., g * C_g:(g + 1) * C_g, :, :],
                            w[g * K_g:(g + 1) * K_g],
                            None if b is None else b[g * K_g:(g + 1) * K_g]))
    split = np.concatenate(parts, axis=-3)
    # Both are within `tol` of the exact result, so within 2*tol of each other.
    tol = tolerance(dtype, case.reduction_len, x, w, b, **case.kwargs())
    assert_within(full, split.astype(np.float64), 2 * tol, what="groups vs split")
    check(case, dtype, x, w, b, full)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(case=conv2d_cases(max_extra=12), dtype=dtypes)
def test_one_and_two_threads_bitwise_equal(algorithm, case, dtype):
    x, w, b = case.arrays(dtype)
    one = conv2d(case, x, w, b, algorithm=algorithm, num_threads=1)
    two = conv2d(case, x, w, b, algorithm=algorithm, num_threads=2)
    assert_bitwise_equal(one, two)


@pytest.mark.parametrize("budget", [1, 2000, 20000])
@pytest.mark.parametrize("stride,dilation,mode", [(1, 1, "zeros"), (2, 1, "reflect"),
                                                 (1, 2, "circular"), (3, 2, "replicate")])
def test_implicit_bands_give_the_same_bits(budget, stride, dilation, mode):
    """The implicit GEMM copies its padded input in bands under a byte budget;
    any band size must give exactly the one-band result (and the reference)."""
    from fastconv import _cpu
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 17, 13))
    w = rng.standard_normal((9, 4, 3, 3))
    b = rng.standard_normal(9)
    kw = dict(stride=stride, padding=2, dilation=dilation, padding_mode=mode)
    whole = fastconv.conv2d(x, w, b, algorithm="implicit", **kw)
    old = _cpu._set_implicit_copy_bytes(budget)
    try:
        banded = fastconv.conv2d(x, w, b, algorithm="implicit", **kw)
    finally:
        _cpu._set_implicit_copy_bytes(old)
    np.testing.assert_array_equal(banded, whole)
    np.testing.assert_array_equal(whole, fastconv.conv2d(x, w, b, algorithm="gemm", **kw))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lean_bands_give_the_same_bits(dtype):
    """Note [lean bands]: a layer with few multiply-adds per copied value
    (grouped, few outputs a group, stride 2) copies whole images a band under
    its own budget; any such band gives the one-band bits.  Layers with more
    multiply-adds keep all images in one band."""
    from fastconv import _cpu
    rng = np.random.default_rng(9)
    x = rng.standard_normal((5, 12, 21, 19)).astype(dtype)
    lean = rng.standard_normal((12, 4, 3, 3)).astype(dtype)       # 4 outputs a group: 9
    wide = rng.standard_normal((32, 12, 3, 3)).astype(dtype)      # 32 outputs: 72
    kw = dict(stride=2, padding=1)
    whole = fastconv.conv2d(x, lean, None, groups=3, algorithm="implicit", **kw)
    assert _cpu._implicit_images_per_band() == 5
    image = 12 * 24 * 22 * np.dtype(dtype).itemsize    # its padded copy: 4 phases of 12 x 11
    for budget, nimg in ((1, (1,)), (2 * image + 100, (2, 3, 4))):
        old = _cpu._set_implicit_lean_copy_bytes(budget)
        try:
            banded = fastconv.conv2d(x, lean, None, groups=3, algorithm="implicit", **kw)
            assert _cpu._implicit_images_per_band() in nimg
            np.testing.assert_array_equal(banded, whole)
            fastconv.conv2d(x, wide, None, algorithm="implicit", **kw)   # 108 each: not lean
            assert _cpu._implicit_images_per_band() == 5
        finally:
            _cpu._set_implicit_lean_copy_bytes(old)
    np.testing.assert_array_equal(
        whole, fastconv.conv2d(x, lean, None, groups=3, algorithm="gemm", **kw))
    assert_within(whole, conv2d_ref(x, lean, None, groups=3, **kw),
                  tolerance(dtype, 4 * 9, x, lean, None, groups=3, **kw))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [
    dict(stride=2, padding=1),
    dict(stride=(3, 2), padding=(2, 0), dilation=(1, 2)),
    dict(stride=1, padding=2, dilation=2, padding_mode="reflect"),
    dict(stride=2, padding=(1, 3), padding_mode="circular"),
    dict(stride=(1, 2), padding=1, padding_mode="replicate"),
])
def test_group_copies_give_the_same_bits(dtype, kw):
    """Note [group copies]: (image, group) tasks that copy their own group's
    padded planes give the shared copy's bits, at any thread count; the rule
    takes them for one image with enough groups for the threads."""
    from fastconv import _cpu
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 24, 23, 18)).astype(dtype)
    w = rng.standard_normal((40, 3, 3, 3)).astype(dtype)           # 8 groups, 5 outputs each
    b = rng.standard_normal(40).astype(dtype)
    old = _cpu._set_group_copies(0)
    try:
        shared = fastconv.conv2d(x, w, b, groups=8, algorithm="implicit", **kw)
        assert not _cpu._group_copies_used()
        _cpu._set_group_copies(1)
        for threads in (1, 2):
            own = fastconv.conv2d(x, w, b, groups=8, algorithm="implicit", num_threads=threads,
                                  **kw)
            assert _cpu._group_copies_used()
            np.testing.assert_array_equal(own, shared)
        _cpu._set_group_copies(-1)
        for n, threads, used in ((1, 1, True), (1, 2, True), (3, 1, False), (1, 3, False)):
            fastconv.conv2d(x[:n], w, b, groups=8, algorithm="implicit", num_threads=threads,
                            **kw)
            assert _cpu._group_copies_used() == used, (n, threads)
    finally:
        _cpu._set_group_copies(old)
    np.testing.assert_array_equal(
        shared, fastconv.conv2d(x, w, b, groups=8, algorithm="gemm", **kw))
    assert_within(shared, conv2d_ref(x, w, b, groups=8, **kw),
                  tolerance(dtype, 3 * 9, x, w, b, groups=8, **kw))


def test_group_copies_only_within_their_budget():
    """Note [group copies]: a group whose padded copy passes GROUP_COPY_BYTES
    keeps the shared copy."""
    from fastconv import _cpu
    rng = np.random.default_rng(13)
    x = rng.standard_normal((1, 64, 130, 130)).astype(np.float32)   # 16 channels a group: 1.1 MB
    w = rng.standard_normal((4, 16, 3, 3)).astype(np.float32)
    y = fastconv.conv2d(x, w, None, groups=4, padding=1, algorithm="implicit", num_threads=1)
    assert not _cpu._group_copies_used()
    fastconv.conv2d(x[:, :, :40, :40], w, None, groups=4, padding=1, algorithm="implicit",
                    num_threads=1)
    assert _cpu._group_copies_used()
    np.testing.assert_array_equal(y, fastconv.conv2d(x, w, None, groups=4, padding=1,
                                                     algorithm="gemm"))


@pytest.mark.parametrize("mode", ["zeros", "reflect"])
def test_tall_tap_extents_run_the_gemm(mode):
    """Note [tall tap extents]: a band that would copy over TALL_EXTENT_COPIES
    rows per output row (a dilation far taller than the band's budget allows)
    runs the GEMM instead: the same bits; at a dilation of 2, the bands."""
    from fastconv import _cpu
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 2, 300, 4))
    w = rng.standard_normal((3, 2, 3, 2))
    kw = dict(padding=(1, 1), dilation=(140, 1), padding_mode=mode)
    old = _cpu._set_implicit_copy_bytes(1)      # one output row a band
    try:
        for d, tall in ((140, True), (2, False)):
            kw["dilation"] = (d, 1)
            got = fastconv.conv2d(x, w, None, algorithm="implicit", **kw)
            assert _cpu._tall_extent_used() is tall
            np.testing.assert_array_equal(got, fastconv.conv2d(x, w, None, algorithm="gemm",
                                                               **kw))
            assert_within(got, conv2d_ref(x, w, None, **kw),
                          tolerance(np.float64, 2 * 6, x, w, None, **kw))
    finally:
        _cpu._set_implicit_copy_bytes(old)


ROW_CHUNK_CASES = [  # (x shape, w shape, kwargs): output widths that end in each kind of piece
    ((1, 3, 40, 224), (64, 3, 7, 7), dict(stride=2, padding=3)),    # 112: 48 + 32 + 32
    ((2, 3, 9, 98), (10, 3, 3, 3), dict(padding=1)),                 # 98: 48 + 32 + 18
    ((1, 5, 7, 130), (9, 5, 3, 2), dict(dilation=(2, 3), padding=(1, 3))),
    ((1, 4, 6, 49), (8, 4, 1, 2), dict(padding=(0, 1))),             # 50: 32 + 18
    ((2, 2, 5, 48), (17, 2, 3, 3), dict(padding=(1, 1))),            # 48: one piece
    ((1, 6, 8, 100), (12, 3, 3, 3), dict(stride=(2, 1), padding=1, groups=2)),
    ((1, 2, 4, 18), (3, 2, 3, 3), dict(padding=(0, 1))),             # 18: 16 + 2 (one vector)
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(ROW_CHUNK_CASES)))
def test_implicit_row_chunks_give_the_same_bits(level, dtype, case):
    """Note [row chunks]: the implicit GEMM's pixel chunks follow output rows on
    wide outputs; forced on for every width, its results must equal the chunks
    along the grid bit for bit (and the reference), at every SIMD level."""
    from fastconv import _cpu
    from conftest import random_arrays
    xs, ws, kw = ROW_CHUNK_CASES[case]
    x, w, b = random_arrays(xs, ws, ws[0], dtype, seed=90 + case)
    shape = fastconv.conv2d(x, w, b, **kw).shape

    def run(threads):     # into NaNs, so an output left unwritten shows
        y = np.full(shape, np.nan, dtype)
        return fastconv.conv2d(x, w, b, algorithm="implicit", num_threads=threads, out=y, **kw)

    results = []
    for min_ow in (1 << 30, 1):        # never, then always
        old = _cpu._set_implicit_row_chunks(min_ow)
        try:
            results.append([run(t) for t in (1, 2)])
        finally:
            _cpu._set_implicit_row_chunks(old)
    (grid1, grid2), (rows1, rows2) = results
    for y in (grid2, rows1, rows2):
        assert_bitwise_equal(y, grid1)
    tol = tolerance(dtype, ws[1] * ws[2] * ws[3], x, w, b, **kw)
    assert_within(rows1, conv2d_ref(x, w, b, **kw), tol, what=f"{level} row chunks")


CHANNEL_LANE_CASES = [  # (x shape, w shape, kwargs): every tile kind, partial channel blocks
    ((1, 64, 7, 7), (64, 64, 3, 3), dict(padding=1)),               # two-row tiles + a half
    ((3, 20, 6, 5), (37, 20, 3, 3), dict(padding=1)),                # even rows; 37 channels
    ((2, 9, 4, 30), (69, 3, 3, 3), dict(padding=1, groups=3)),      # 30 = 14 + 14 + 2
    ((1, 40, 9, 17), (5, 40, 2, 3), dict(padding=(1, 0))),          # 15 = 14 + 1; 5 channels
    ((2, 18, 5, 24), (33, 18, 3, 3), dict(padding=1, dilation=2)),  # 24 = 14 + 10
    ((1, 16, 12, 11), (48, 16, 3, 3), dict(stride=2, padding=1)),   # phase-split copy
    ((2, 12, 10, 13), (40, 12, 5, 5), dict(padding=2, padding_mode="reflect")),
    ((1, 7, 1, 1), (35, 7, 1, 1), dict()),                          # reduction under a vector
    ((2, 300, 3, 2), (18, 300, 1, 1), dict()),                      # OW 2, OH 3
    ((1, 24, 17, 17), (40, 24, 7, 1), dict(padding=(3, 0))),        # tiles along the grid
    ((2, 20, 9, 17), (36, 20, 3, 3), dict(padding=1)),              # the same, junk columns
    ((3, 30, 7, 7), (40, 30, 3, 3), dict(padding=1)),               # reduction blocks 256 + 14
    ((1, 40, 30, 30), (33, 40, 3, 3), dict(padding=1)),             # tiles past the stage
    ((1, 32, 50, 50), (32, 32, 3, 3), dict(padding=1)),             # three bands of tiles
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CHANNEL_LANE_CASES)))
def test_channel_lanes_give_the_same_bits(level, dtype, case):
    """Note [channel lanes]: the implicit GEMM's tiles with output channels in the
    lanes, forced on, give the pixel-lane tiles' bits (and the reference's
    values) at every SIMD level and thread count, into NaN-filled outputs, with
    infinities and NaNs in the input too; so does a padded copy made in bands."""
    from fastconv import _cpu
    from conftest import random_arrays
    xs, ws, kw = CHANNEL_LANE_CASES[case]
    x, w, b = random_arrays(xs, ws, ws[0], dtype, seed=120 + case)
    shape = fastconv.conv2d(x, w, b, **kw).shape

    def run(xin, mode, threads, bias=b):
        old = _cpu._set_channel_lanes(mode)
        try:
            return fastconv.conv2d(xin, w, bias, algorithm="implicit", num_threads=threads,
                                   out=np.full(shape, np.nan, dtype), **kw)
        finally:
            _cpu._set_channel_lanes(old)

    pixel = run(x, 0, 1)
    for threads in (1, 2, 3):
        assert_bitwise_equal(run(x, 1, threads), pixel)
    assert_bitwise_equal(run(x, 1, 2, None), run(x, 0, 2, None))
    tol = tolerance(dtype, ws[1] * ws[2] * ws[3], x, w, b, **kw)
    assert_within(run(x, 1, 2), conv2d_ref(x, w, b, **kw), tol, what=f"{level} channel lanes")
    odd = x.copy()
    odd.flat[::7] = np.inf
    odd.flat[3::11] = -np.inf
    odd.flat[5::13] = np.nan
    # The same bits where a fused multiply-add passes NaNs on; SSE2's separate
    # add passes on the NaN of whichever operand the compiler put first.
    if level == "generic":
        np.testing.assert_array_equal(run(odd, 1, 2), run(odd, 0, 2))
    else:
        assert_bitwise_equal(run(odd, 1, 2), run(odd, 0, 2))
    old = _cpu._set_implicit_copy_bytes(1)      # one image and a few rows a band
    try:
        assert_bitwise_equal(run(x, 1, 2), pixel)
    finally:
        _cpu._set_implicit_copy_bytes(old)


@settings(max_examples=80, deadline=None)
@given(conv2d_cases(max_groups=2, max_cg=24, max_kg=40, max_extra=24, max_kernel=5), dtypes)
def test_channel_lanes_agree_on_random_shapes(case, dtype):
    """Note [channel lanes], fuzzed: any shape, stride, dilation, groups and
    padding mode gives the pixel-lane tiles' bits at 1 and 2 threads."""
    from fastconv import _cpu
    x, w, b = case.arrays(dtype)
    kw = case.kwargs()

    def run(mode, threads):
        old = _cpu._set_channel_lanes(mode)
        try:
            return fastconv.conv2d(x, w, b, algorithm="implicit", num_threads=threads, **kw)
        finally:
            _cpu._set_channel_lanes(old)
    pixel = run(0, 2)
    for threads in (1, 2):
        assert_bitwise_equal(run(1, threads), pixel, what=f"{threads} threads")


CHANNEL_LANE_REMAINDER_CASES = [  # (x shape, w shape, kwargs): K_g past whole channel blocks
    ((1, 24, 19, 19), (40, 24, 5, 5), dict(padding=2)),              # 8 left over
    ((2, 20, 9, 17), (74, 10, 3, 3), dict(padding=1, groups=2)),     # odd K_g: offsets a group
    ((1, 16, 12, 11), (57, 16, 3, 3), dict(stride=2, padding=1)),    # 25 left: the rule keeps it
    ((3, 12, 10, 13), (95, 12, 3, 3), dict(padding=2, dilation=2)),  # 31 left, three images
    ((1, 18, 8, 8), (70, 18, 3, 3), dict(padding=1, padding_mode="reflect")),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CHANNEL_LANE_REMAINDER_CASES)))
def test_channel_lane_remainders_give_the_same_bits(level, dtype, case):
    """Note [channel lane remainders]: a group's channels past its last whole
    channel block run with pixel lanes; the same bits as a partly filled block
    and as pixel lanes throughout, at 1, 2 and 3 threads, into NaN-filled
    outputs (an output left unwritten shows), with and without a bias."""
    from fastconv import _cpu
    from conftest import random_arrays
    xs, ws, kw = CHANNEL_LANE_REMAINDER_CASES[case]
    x, w, b = random_arrays(xs, ws, ws[0], dtype, seed=150 + case)
    shape = fastconv.conv2d(x, w, b, **kw).shape
    G = kw.get("groups", 1)
    block = 2 * (64 if level == "avx512" else 32 if level == "avx2" else 16) // x.itemsize
    rem = ws[0] // G % block if ws[0] // G > block else 0

    def run(lanes, split, threads, bias=b):
        old = _cpu._set_channel_lanes(lanes), _cpu._set_channel_lanes_split(split)
        try:
            y = fastconv.conv2d(x, w, bias, algorithm="implicit", num_threads=threads,
                                out=np.full(shape, np.nan, dtype), **kw)
            assert _cpu._channel_lanes_split() == (rem if lanes == 1 and split == 1 else 0)
            return y
        finally:
            _cpu._set_channel_lanes(old[0])
            _cpu._set_channel_lanes_split(old[1])

    pixel = run(0, -1, 1)
    for threads in (1, 2, 3):
        assert_bitwise_equal(run(1, 1, threads), pixel, what=f"split, {threads} threads")
        assert_bitwise_equal(run(1, 0, threads), pixel, what=f"whole blocks, {threads} threads")
    assert_bitwise_equal(run(1, 1, 2, None), run(0, -1, 2, None), what="no bias")
    tol = tolerance(dtype, ws[1] * ws[2] * ws[3], x, w, b, **kw)
    assert_within(run(1, 1, 2), conv2d_ref(x, w, b, **kw), tol, what=f"{level} remainders")


@pytest.mark.parametrize("K, split", [(40, 8), (56, 24), (60, 0), (63, 0), (64, 0), (96, 0)])
def test_channel_lane_remainder_rule(K, split):
    """Note [channel lane remainders]: with 32-channel blocks (float32, AVX-512),
    up to CHANNEL_LANES_SPLIT_MAX_REM = 24 channels past the last whole block go
    to pixel lanes; more fill the block well enough to stay."""
    from fastconv import _cpu
    if _cpu.get_isa() != "avx512":
        pytest.skip("channel lanes run on 64-byte vectors")
    rng = np.random.default_rng(K)
    x = rng.standard_normal((1, 64, 28, 28)).astype(np.float32)
    w = rng.standard_normal((K, 64, 3, 3)).astype(np.float32)
    fastconv.conv2d(x, w, padding=1, algorithm="implicit")
    assert _cpu._channel_lanes_used() == 1
    assert _cpu._channel_lanes_split() == split


@pytest.mark.parametrize("budget", [1, 3000])
@pytest.mark.parametrize("mode", ["zeros", "reflect", "circular"])
def test_implicit_row_chunks_in_bands(budget, mode):
    """Row chunks (Note [row chunks]) over a padded copy made in bands of a few
    output rows: the same bits as grid chunks over one band, every output written."""
    from fastconv import _cpu
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 21, 230))
    w = rng.standard_normal((10, 3, 5, 5))
    b = rng.standard_normal(10)
    kw = dict(stride=(2, 1), padding=2, dilation=(1, 2), padding_mode=mode)
    old_rows = _cpu._set_implicit_row_chunks(1 << 30)    # grid chunks, one band
    try:
        whole = fastconv.conv2d(x, w, b, algorithm="implicit", **kw)
    finally:
        _cpu._set_implicit_row_chunks(old_rows)
    old_rows = _cpu._set_implicit_row_chunks(1)
    old_bytes = _cpu._set_implicit_copy_bytes(budget)
    try:
        banded = fastconv.conv2d(x, w, b, algorithm="implicit", num_threads=2,
                                 out=np.full(whole.shape, np.nan), **kw)
    finally:
        _cpu._set_implicit_row_chunks(old_rows)
        _cpu._set_implicit_copy_bytes(old_bytes)
    assert_bitwise_equal(banded, whole)
    tol = tolerance(np.float64, 3 * 25, x, w, b, **kw)
    assert_within(banded, conv2d_ref(x, w, b, **kw), tol, what="banded row chunks")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_misaligned_out_is_filled_correctly(algorithm):
    # An `out` whose data is not aligned to its itemsize (a byte-offset view) is
    # legal NumPy; the kernels never load or store misaligned elements.
    case = C(padding=1)
    x, w, b = case.arrays(np.float32)
    expected = conv2d(case, x, w, b, algorithm=algorithm)
    raw = np.zeros(expected.nbytes + 1, np.uint8)
    out = raw[1:].view(np.float32).reshape(expected.shape)
    assert not out.flags.aligned and out.flags.c_contiguous
    assert conv2d(case, x, w, b, out=out, algorithm=algorithm) is out
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_flush_denormal_is_opt_in_and_restored(algorithm):
    """Off (torch's default): subnormals are computed exactly.  On: they count as
    zero, in the kernels' threads only, and the mode switches back off."""
    tiny = np.finfo(np.float32).smallest_subnormal
    x = np.full((1, 2, 5, 5), 3 * tiny, np.float32)
    w = np.ones((1, 2, 1, 1), np.float32)
    exact = np.full((1, 1, 5, 5), 6 * tiny, np.float32)
    np.testing.assert_array_equal(fastconv.conv2d(x, w, algorithm=algorithm), exact)
    if not fastconv.set_flush_denormal(True):
        pytest.skip("no flush-to-zero on this CPU")
    try:
        np.testing.assert_array_equal(fastconv.conv2d(x, w, algorithm=algorithm), 0 * exact)
        assert np.float32(3 * tiny) * np.float32(2) == 6 * tiny   # the caller's thread is untouched
    finally:
        fastconv.set_flush_denormal(False)
    np.testing.assert_array_equal(fastconv.conv2d(x, w, algorithm=algorithm), exact)


@pytest.mark.parametrize("xshape,pad", [
    ((1, 1, 1, 0), ((0, 0), (0, 2))),
    ((2, 3, 0, 4), ((1, 2), (0, 0))),
    ((3, 0, 0), ((2, 1), (1, 1))),                      # unbatched, no rows or columns
])
def test_nested_padding_fills_an_empty_input(xshape, pad):
    """Note [nested padding of an empty input]: ((top, bottom), (left, right)) is
    F.pad then conv2d, so zeros padded around an input with no rows or columns
    make a valid all-zero input (torch's own padding= forms reject it, as we do)."""
    C = xshape[-3]
    x = np.zeros(xshape)
    w = np.arange(2 * C * 1 * 2, dtype=np.float64).reshape(2, C, 1, 2) + 1
    b = np.array([0.5, -1.5])
    y = fastconv.conv2d(x, w, b, padding=pad)
    assert_within(y, conv2d_ref(x, w, b, padding=pad), 0.0)
    w[1, 0, 0, 0] = np.inf              # 0 * inf: NaN, as a convolution of the zeros gives
    y = fastconv.conv2d(x, w, b, padding=pad)
    assert np.isnan(y[..., 1, :, :]).all() and not np.isnan(y[..., 0, :, :]).any()
    with pytest.raises(fastconv.ConvError, match="Only zero batch or zero channel"):
        fastconv.conv2d(x, w, b, padding=0)
    with pytest.raises(fastconv.ConvError, match="Only zero batch or zero channel"):
        fastconv.conv2d(np.zeros((1, C, 0, 0)), w, b, padding=((0, 0), (3, 3)))
