"""Winograd F(3x3, 2x2) on the output phases of a 4x4, stride-2
conv_transpose2d (Note [transposed Winograd] in fastconv/_kernels_impl.h):
error bound, fallbacks, determinism, every SIMD level, dispatch.

Its results round differently from the other algorithms', so they are held to
their own worst-case bound, reference.winograd_transposed_tolerance, from the
transforms' magnitudes in float64 (tiles placed independently of the kernel's
code).  Where the data would leave that bound the backend recomputes with the
implicit GEMM: then the result must be bitwise the implicit one.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fastconv
from fastconv import _cpu
from conftest import WINOGRAD_POISONS, assert_bitwise_equal, winograd_poison
from reference import (assert_within, conv_transpose2d_output_hw, conv_transpose2d_ref, pair,
                       winograd_transposed_tolerance)

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


def arrays(N, C, K, H, W, dtype, bias=True, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((C, K, 4, 4)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype) if bias else None
    return x, w, b


def run(x, w, b, padding=1, output_padding=0, num_threads=None):
    """The backend entry itself: (output in a NaN-filled array, True if Winograd ran)."""
    (ph, pw), (oph, opw) = pair(padding), pair(output_padding)
    OH, OW = conv_transpose2d_output_hw(x.shape[2], x.shape[3], (4, 4), (2, 2),
                                        ((ph, ph), (pw, pw)), (oph, opw), (1, 1))
    y = np.full((x.shape[0], w.shape[1], OH, OW), np.nan, x.dtype)
    ran = _cpu.conv_transpose2d_winograd(x, w, b, y, ph, pw, num_threads)
    return y, ran


def check(y, x, w, b, padding=1, output_padding=0, what="winograd"):
    kw = dict(padding=padding, output_padding=output_padding)
    assert_within(y, conv_transpose2d_ref(x, w, b, stride=2, **kw),
                  winograd_transposed_tolerance(y.dtype, x, w, b, **kw), what=what)


# (N, C, K, H, W, padding, output_padding): every padding parity per axis
# (odd: the second phase's tiles start one output early), paddings past the
# kernel's reach (the patches start inside the input), output_padding,
# one input pixel, partial tiles and lane vectors, channel counts off the
# vector and panel widths, a grid of more than one 48-lane chunk, a batch.
CASES = {
    "dcgan-like": (2, 16, 8, 8, 8, 1, 0),
    "padding-0": (1, 5, 3, 7, 9, 0, 0),
    "padding-2": (2, 17, 9, 6, 5, 2, 0),
    "padding-3-op-1": (1, 16, 33, 7, 9, 3, 1),
    "padding-(1,2)-op-(1,0)": (1, 4, 3, 5, 11, (1, 2), (1, 0)),
    "padding-(0,3)-op-(0,1)": (1, 3, 6, 6, 4, (0, 3), (0, 1)),
    "padding-(4,5)-op-1": (1, 5, 4, 6, 7, (4, 5), 1),   # rows start inside the input
    # no junk column / row (the last tiles' third outputs all fall outside):
    # the batch's grids follow each other lane by lane
    "compact-batch": (3, 8, 8, 16, 16, 1, 0),
    "compact-rows-only": (2, 8, 7, 16, 8, 1, 0),
    "compact-padding-0": (3, 5, 6, 4, 7, 0, 0),
    "one-pixel": (1, 4, 3, 1, 1, 1, 0),
    "one-row": (2, 6, 5, 1, 13, 1, 0),
    "wide-grid": (1, 3, 4, 9, 70, 1, 0),
    "many-channels": (1, 67, 37, 5, 6, 1, 1),
    "odd-K": (3, 20, 13, 11, 13, 1, 1),
}


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_within_the_winograd_bound(case, dtype, bias):
    N, C, K, H, W, p, op = CASES[case]
    x, w, b = arrays(N, C, K, H, W, dtype, bias, seed=3)
    y, ran = run(x, w, b, p, op)
    assert ran
    check(y, x, w, b, p, op, what=f"winograd {case}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 24, 20, 13, 11), (5, 24, 20, 16, 16)],
                         ids=["junk-column", "compact"])
def test_same_bits_for_any_thread_count_band_and_channel_chunk(dtype, shape):
    x, w, b = arrays(*shape, dtype, seed=13)
    y1, ran = run(x, w, b, num_threads=1)
    assert ran
    for t in (2, 3, 5):
        assert_bitwise_equal(run(x, w, b, num_threads=t)[0], y1, what=f"{t} threads")
    # The phase-split copy made in bands of images / tile rows (small budgets),
    # and output channels in chunks of transformed weights (Note [Winograd chunks]).
    for hook, value in [(_cpu._set_implicit_copy_bytes, 40_000),
                        (_cpu._set_implicit_copy_bytes, 4_000),
                        (_cpu._set_implicit_copy_bytes, 1),
                        (_cpu._set_winograd_weight_bytes, 64 * 24 * 8 * 7),
                        (_cpu._set_winograd_weight_bytes, 1)]:
        old = hook(value)
        try:
            y, ran = run(x, w, b, num_threads=2)
        finally:
            hook(old)
        assert ran
        assert_bitwise_equal(y, y1, what=f"{hook.__name__}({value})")
    check(y1, x, w, b)


def _implicit(x, w, b, padding=1):
    return fastconv.conv_transpose2d(x, w, b, stride=2, padding=padding, algorithm="implicit")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("poison", WINOGRAD_POISONS)
def test_data_outside_the_bound_falls_back_to_the_implicit_gemm(poison, dtype):
    x, w, b = arrays(1, 6, 8, 9, 10, dtype, seed=11)
    winograd_poison(x, w, poison, weight_at=(1, 3, 0, 2))
    y, ran = run(x, w, b)
    assert not ran
    assert_bitwise_equal(y, _implicit(x, w, b))
    assert_bitwise_equal(fastconv.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                   algorithm="winograd"), y)


@pytest.mark.parametrize("dtype", DTYPES)
def test_only_valid_tiles_decide_the_fallback(dtype):
    # The last input column tiny, the rest ordinary.  Which junk lanes (the
    # grid pitch's extra column, a chunk's tail) a task computes depends on
    # the thread count; only real tiles may decide the fallback, so every
    # thread count decides alike and gives the same bits.
    x, w, b = arrays(2, 6, 8, 12, 16, dtype, seed=23)
    x[..., -1] = np.finfo(dtype).tiny * 4
    y1, ran1 = run(x, w, b, num_threads=1)
    for t in (2, 3, 7):
        y, ran = run(x, w, b, num_threads=t)
        assert ran == ran1
        assert_bitwise_equal(y, y1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["dcgan-like", "padding-(1,2)-op-(1,0)", "many-channels",
                                  "wide-grid"])
def test_every_simd_level(level, case, dtype):
    N, C, K, H, W, p, op = CASES[case]
    x, w, b = arrays(N, C, K, H, W, dtype, seed=17)
    y, ran = run(x, w, b, p, op)
    assert ran
    check(y, x, w, b, p, op, what=f"winograd {level}")
    assert_bitwise_equal(run(x, w, b, p, op, num_threads=1)[0], y)


def test_the_public_functions_run_it():
    x, w, b = arrays(2, 16, 8, 8, 8, np.float32, seed=5)
    y, ran = run(x, w, b, 1, 1)
    assert ran
    got = fastconv.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1,
                                    algorithm="winograd")
    assert_bitwise_equal(got, y)
    # unbatched, and the layer
    assert_bitwise_equal(fastconv.conv_transpose2d(x[1], w, b, stride=2, padding=1,
                                                   output_padding=1, algorithm="winograd"), y[1])


@pytest.mark.parametrize("kw,wshape", [
    (dict(stride=2, padding=1), (8, 6, 3, 3)),              # 3x3 kernel
    (dict(stride=1, padding=1), (8, 6, 4, 4)),              # stride 1
    (dict(stride=2, padding=1, groups=2), (8, 3, 4, 4)),    # grouped
    (dict(stride=2, padding=3, dilation=2), (8, 6, 4, 4)),  # dilated
    (dict(stride=(2, 1), padding=1), (8, 6, 4, 4)),
], ids=["3x3", "stride-1", "groups", "dilation", "stride-(2,1)"])
def test_where_it_does_not_apply_winograd_is_the_implicit_gemm(kw, wshape):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 8, 7, 6)).astype(np.float32)
    w = rng.standard_normal(wshape).astype(np.float32)
    assert_bitwise_equal(fastconv.conv_transpose2d(x, w, algorithm="winograd", **kw),
                         fastconv.conv_transpose2d(x, w, algorithm="implicit", **kw))


def test_auto_runs_it_where_the_rule_says():
    """'auto' gives Winograd's bits where choose_algorithm says WINOGRAD."""
    x, w, b = arrays(2, 64, 64, 16, 16, np.float32, seed=9)
    assert fastconv.choose_algorithm(x.shape, w.shape, stride=2, padding=1,
                                     transposed=True) is fastconv.Algorithm.WINOGRAD
    y, ran = run(x, w, b)
    assert ran
    assert_bitwise_equal(fastconv.conv_transpose2d(x, w, b, stride=2, padding=1), y)
    fastconv.benchmark_mode(True)
    try:
        assert_bitwise_equal(fastconv.conv_transpose2d(x, w, b, stride=2, padding=1), y)
    finally:
        fastconv.benchmark_mode(False)


@settings(max_examples=60, deadline=None)
@given(N=st.integers(1, 3), C=st.integers(1, 40), K=st.integers(1, 40),
       H=st.integers(1, 20), W=st.integers(1, 20), ph=st.integers(0, 5), pw=st.integers(0, 5),
       oph=st.integers(0, 1), opw=st.integers(0, 1), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_random_shapes_within_the_bound_at_any_thread_count(N, C, K, H, W, ph, pw, oph, opw,
                                                             dtype, seed):
    # torch's rules: output_padding below the stride, and a positive output size
    OH, OW = 2 * (H - 1) - 2 * ph + 4 + oph, 2 * (W - 1) - 2 * pw + 4 + opw
    assume(OH > 0 and OW > 0)
    x, w, b = arrays(N, C, K, H, W, dtype, seed=seed)
    y, ran = run(x, w, b, (ph, pw), (oph, opw), num_threads=1)
    assert ran
    check(y, x, w, b, (ph, pw), (oph, opw))
    assert_bitwise_equal(run(x, w, b, (ph, pw), (oph, opw), num_threads=3)[0], y)


# Note [unreached outputs] (_cpu.pyx): rows and columns of the output that no
# tap reaches (output padding past the last input row; padding 0 leaves none
# unreached at the top) are exactly the bias, as in torch, not the tiles'
# rounding noise.  Which ones: where the reference of all-ones arrays is 0.
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("padding,output_padding", [(0, 1), ((0, 1), (1, 0)), (1, 1),
                                                     ((2, 0), (1, 1)), (0, 0)])
def test_unreached_outputs_are_the_bias(padding, output_padding, bias, dtype):
    x, w, b = arrays(2, 8, 5, 7, 6, dtype, bias=bias, seed=3)
    x *= 1e3      # noise ~ eps * 1e3 * taps where it is not cleared
    y, ran = run(x, w, b, padding=padding, output_padding=output_padding)
    assert ran
    kw = dict(stride=2, padding=padding, output_padding=output_padding)
    hits = conv_transpose2d_ref(np.ones(x.shape), np.ones(w.shape), None, **kw)
    unreached = hits == 0
    want = np.broadcast_to((np.zeros(5) if b is None else b)[None, :, None, None], y.shape)
    np.testing.assert_array_equal(y[unreached], want[unreached].astype(dtype))
    assert unreached.any() == ((padding, output_padding) in [(0, 1), ((0, 1), (1, 0)),
                                                             ((2, 0), (1, 1))])
    check(y, x, w, b, padding=padding, output_padding=output_padding)
