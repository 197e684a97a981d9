"""Winograd F(2x2, 3x3): error bound, fallbacks, determinism, every SIMD level.

Its results are not bitwise those of the other algorithms (it rounds
differently), so they are held to their own worst-case bound,
reference.winograd_tolerance, computed from the transforms' magnitudes in
float64.  Where the data would leave that bound (values near the underflow
threshold, overflow, Inf/NaN) the backend recomputes with the implicit GEMM:
then the result must be bitwise the implicit one.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fastconv
from fastconv import _cpu
from conftest import WINOGRAD_POISONS, assert_bitwise_equal, conv_arrays as arrays, winograd_poison
from reference import assert_within, conv2d_ref, conv_padding, winograd_tolerance

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


def run_winograd(x, w, b, padding=0, groups=1, padding_mode="zeros", dilation=1,
                 num_threads=None):
    """The backend entry itself: (output, True if Winograd ran, False if it fell back)."""
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    (pt, pb), (pl, pr) = conv_padding(padding, (3, 3), (dh, dw))
    x4 = x if x.ndim == 4 else x[None]
    OH, OW = x4.shape[2] + pt + pb - 2 * dh, x4.shape[3] + pl + pr - 2 * dw
    y = np.full((x4.shape[0], w.shape[0], OH, OW), np.nan, x.dtype)
    ran = _cpu.conv2d_winograd(x4, w, b, y, groups, dh, dw, pt, pb, pl, pr, padding_mode,
                               num_threads)
    return (y if x.ndim == 4 else y[0]), ran


# (x shape, w shape, kwargs): odd and even output sizes (partial tiles), one
# tile, many tile rows, channel counts that leave partial MR panels, groups,
# every padding mode, asymmetric padding, several images.
CASES = {
    "small": ((1, 4, 8, 9), (5, 4, 3, 3), dict(padding=1)),
    "valid-odd": ((2, 3, 7, 7), (17, 3, 3, 3), dict()),
    "one-output": ((1, 2, 3, 3), (3, 2, 3, 3), dict()),
    "one-tile-row": ((1, 6, 2, 30), (9, 6, 3, 3), dict(padding=1)),
    "asymmetric": ((1, 16, 13, 11), (16, 16, 3, 3), dict(padding=((2, 1), (0, 3)))),
    "same": ((3, 8, 10, 6), (12, 8, 3, 3), dict(padding="same")),
    "reflect": ((2, 8, 10, 10), (16, 8, 3, 3), dict(padding=1, padding_mode="reflect")),
    "replicate": ((1, 5, 9, 12), (7, 5, 3, 3), dict(padding=(2, 1), padding_mode="replicate")),
    "circular": ((1, 8, 6, 5), (16, 8, 3, 3), dict(padding=((2, 2), (1, 1)),
                                                   padding_mode="circular")),
    "groups": ((2, 12, 10, 10), (18, 4, 3, 3), dict(padding=1, groups=3)),
    "many-channels": ((1, 67, 12, 20), (37, 67, 3, 3), dict(padding=1)),
    "wide": ((1, 3, 5, 130), (8, 3, 3, 3), dict(padding=1)),
    # dilation: d x d output phases, each an undilated Winograd problem
    "dilation-2": ((2, 6, 13, 14), (10, 6, 3, 3), dict(padding=2, dilation=2)),
    "dilation-3x2": ((1, 5, 17, 11), (9, 5, 3, 3), dict(padding=(3, 1), dilation=(3, 2))),
    "dilation-4-valid": ((1, 4, 12, 19), (8, 4, 3, 3), dict(dilation=4)),
    "dilation-2-reflect": ((1, 8, 9, 10), (8, 8, 3, 3), dict(padding=2, dilation=2,
                                                              padding_mode="reflect")),
    # fewer output rows than the dilation: an output phase with no tiles at all
    # (a hypothesis example; the reference's bound once failed on it)
    "dilation-empty-phase": ((1, 2, 1, 1), (4, 1, 3, 3), dict(padding=2, dilation=(2, 1),
                                                              groups=2)),
}


@pytest.fixture(params=["bands", "panels"])
def tasks(request):
    """Both task layouts (Note [Winograd panels]), whatever the rule would pick:
    bands of tile blocks over transformed weights made up front, or panel tasks
    over a shared transformed input (ungrouped calls; grouped ones keep bands)."""
    old = _cpu._set_winograd_panels(0 if request.param == "bands" else 1)
    yield request.param
    _cpu._set_winograd_panels(old)


def _torch_padding(kw):
    """reference kwargs -> (padding for run_winograd and conv2d_ref)."""
    return {k: v for k, v in kw.items()}


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_within_the_winograd_bound(case, dtype, bias, tasks):
    xs, ws, kw = CASES[case]
    x, w, b = arrays(xs, ws, dtype, bias, seed=len(case))
    y, ran = run_winograd(x, w, b, **kw)
    assert ran, "fell back to the implicit GEMM on ordinary data"
    assert_within(y, conv2d_ref(x, w, b, **kw), winograd_tolerance(dtype, x, w, b, **kw),
                  what=f"winograd {case}")


def test_the_bound_is_tight_enough_to_catch_a_wrong_tap():
    # A test that cannot fail is a defect: one weight off by one ulp-scale
    # fraction of its size must break the bound somewhere.
    x, w, b = arrays((1, 8, 12, 12), (8, 8, 3, 3), np.float32, seed=3)
    y, _ = run_winograd(x, w, b, padding=1)
    w2 = w.copy()
    w2[3, 5, 2, 1] *= 1.001
    with pytest.raises(AssertionError):
        assert_within(y, conv2d_ref(x, w2, b, padding=1),
                      winograd_tolerance(np.float32, x, w2, b, padding=1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_public_algorithm_and_auto(dtype):
    x, w, b = arrays((2, 32, 28, 28), (32, 32, 3, 3), dtype, seed=5)   # 32 x 392 tiles
    assert fastconv.choose_algorithm(x.shape, w.shape, padding=1) is fastconv.Algorithm.WINOGRAD
    ref = conv2d_ref(x, w, b, padding=1)
    tol = winograd_tolerance(dtype, x, w, b, padding=1)
    y_auto = fastconv.conv2d(x, w, b, padding=1)
    y_wino = fastconv.conv2d(x, w, b, padding=1, algorithm="winograd")
    assert_within(y_auto, ref, tol)
    assert_bitwise_equal(y_auto, y_wino)
    # unbatched input runs the same tiles
    assert_bitwise_equal(fastconv.conv2d(x[1], w, b, padding=1, algorithm="winograd"),
                         fastconv.conv2d(x[1:], w, b, padding=1, algorithm="winograd")[0])


@pytest.mark.parametrize("kw,shape", [
    (dict(stride=2, padding=1), (8, 4, 3, 3)),
    (dict(stride=(1, 2), dilation=2, padding=2), (8, 4, 3, 3)),
    (dict(padding=2), (8, 4, 5, 5)),
    (dict(padding=(0, 1)), (8, 4, 1, 3)),
], ids=["stride", "stride-dilation", "5x5", "1x3"])
def test_where_it_does_not_apply_winograd_is_the_implicit_gemm(kw, shape):
    x, w, b = arrays((2, 4, 11, 10), shape, np.float32, seed=7)
    assert_bitwise_equal(fastconv.conv2d(x, w, b, algorithm="winograd", **kw),
                         fastconv.conv2d(x, w, b, algorithm="implicit", **kw))


def _implicit(x, w, b, **kw):
    return fastconv.conv2d(x, w, b, algorithm="implicit", **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("poison", WINOGRAD_POISONS)
def test_data_outside_the_bound_falls_back_to_the_implicit_gemm(poison, dtype, tasks):
    x, w, b = arrays((1, 6, 9, 10), (8, 6, 3, 3), dtype, seed=11)
    winograd_poison(x, w, poison, weight_at=(3, 1, 0, 2))
    y, ran = run_winograd(x, w, b, padding=1)
    assert not ran
    assert_bitwise_equal(y, _implicit(x, w, b, padding=1))
    assert_bitwise_equal(fastconv.conv2d(x, w, b, padding=1, algorithm="winograd"), y)


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_bits_for_any_thread_count_and_band(dtype, tasks):
    x, w, b = arrays((3, 24, 29, 26), (20, 24, 3, 3), dtype, seed=13)
    y1, _ = run_winograd(x, w, b, padding=1, num_threads=1)
    for t in (2, 3, 5):
        assert_bitwise_equal(run_winograd(x, w, b, padding=1, num_threads=t)[0], y1)
    # The phase-split copy made in bands of images / tile rows (small budget).
    for budget in (40_000, 4_000, 1):
        old = _cpu._set_implicit_copy_bytes(budget)
        try:
            y, ran = run_winograd(x, w, b, padding=1, num_threads=2)
        finally:
            _cpu._set_implicit_copy_bytes(old)
        assert ran
        assert_bitwise_equal(y, y1, what=f"budget {budget}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["small", "asymmetric", "groups", "many-channels",
                                  "dilation-3x2"])
def test_every_simd_level(level, case, dtype, tasks):
    xs, ws, kw = CASES[case]
    x, w, b = arrays(xs, ws, dtype, seed=17)
    y, ran = run_winograd(x, w, b, **kw)
    assert ran
    assert_within(y, conv2d_ref(x, w, b, **kw), winograd_tolerance(dtype, x, w, b, **kw),
                  what=f"winograd {level}")
    assert_bitwise_equal(run_winograd(x, w, b, num_threads=1, **kw)[0], y)


def test_benchmark_mode_never_swaps_winograd_for_another_rounding():
    x, w, b = arrays((2, 16, 24, 24), (16, 16, 3, 3), np.float32, seed=19)
    ref = fastconv.conv2d(x, w, b, padding=1)
    fastconv.benchmark_mode(True)
    try:
        tuned = fastconv.conv2d(x, w, b, padding=1)
    finally:
        fastconv.benchmark_mode(False)
    assert_bitwise_equal(tuned, ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_only_valid_tiles_decide_the_fallback(dtype, tasks):
    # The last input column tiny, the rest ordinary: only the junk tile column
    # past the output (which no output reads) sees nothing but tiny values.
    # Which junk lanes a task computes depends on the thread count, so they
    # must not flag the call: Winograd runs, the same bits for any thread count.
    x, w, b = arrays((2, 6, 12, 16), (8, 6, 3, 3), dtype, seed=23)
    x[..., -1] = np.finfo(dtype).tiny * 4
    y1, ran = run_winograd(x, w, b, padding=1, num_threads=1)
    assert ran
    for t in (2, 3, 7):
        y, ran = run_winograd(x, w, b, padding=1, num_threads=t)
        assert ran
        assert_bitwise_equal(y, y1)
    assert_within(y1, conv2d_ref(x, w, b, padding=1),
                  winograd_tolerance(dtype, x, w, b, padding=1))


# Note [Winograd panels]: panel tasks compute every value with the same
# operations in the same order as the band tasks.  Shapes with a partial panel
# (K not a multiple of 8), grids whose last chunk is one, two or three vectors
# (7x7, 14x14, 20x20 tiles), a batch, dilation and one tile, at 1-3 threads
# into NaN-filled outputs.
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,kw", [
    ((1, 32, 14, 14), (37, 32, 3, 3), dict(padding=1)),
    ((1, 16, 26, 27), (64, 16, 3, 3), dict(padding=1)),
    ((1, 24, 40, 37), (8, 24, 3, 3), dict(padding=1)),
    ((3, 8, 9, 11), (20, 8, 3, 3), dict(padding=(1, 2))),
    ((2, 9, 13, 12), (11, 9, 3, 3), dict(padding=2, dilation=2)),
    ((1, 5, 3, 3), (3, 5, 3, 3), dict()),
], ids=["partial-panel", "two-vector-tail", "one-panel", "batch", "dilated", "one-tile"])
def test_panel_tasks_give_the_bits_of_band_tasks(xs, ws, kw, dtype):
    x, w, b = arrays(xs, ws, dtype, seed=29)
    for bias in (b, None):
        old = _cpu._set_winograd_panels(0)
        try:
            bands, ran = run_winograd(x, w, bias, num_threads=2, **kw)
            assert ran
            _cpu._set_winograd_panels(1)
            for t in (1, 2, 3):
                panels, ran = run_winograd(x, w, bias, num_threads=t, **kw)
                assert ran
                assert_bitwise_equal(panels, bands, what=f"{t} threads")
        finally:
            _cpu._set_winograd_panels(old)
    assert_within(panels, conv2d_ref(x, w, None, **kw),
                  winograd_tolerance(dtype, x, w, None, **kw))


# Note [Winograd chunks]: transformed weights past the budget go in chunks of
# output channels (multiples of 16), each computed exactly as unchunked.
# Budgets giving chunks of 16 and 32 channels (a short last chunk of 40 or
# 33), one too small for 16 channels (the whole call by the implicit GEMM),
# with a batch, dilation, a bias and without.
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dilation", [(((2, 8, 9, 10), (40, 8, 3, 3)), 1),
                                            (((1, 5, 11, 11), (33, 5, 3, 3)), 2)],
                         ids=["batch", "dilated"])
def test_weight_chunks_give_the_same_bits(shape, dilation, dtype):
    from fastconv import _cpu
    xs, ws = shape
    x, w, b = arrays(xs, ws, dtype, seed=9)
    C, item = ws[1], np.dtype(dtype).itemsize
    kw = dict(padding=dilation, dilation=dilation, algorithm="winograd")
    for bias in (b, None):
        whole = fastconv.conv2d(x, w, bias, **kw)
        implicit = fastconv.conv2d(x, w, bias, padding=dilation, dilation=dilation,
                                   algorithm="implicit")
        assert not np.array_equal(whole, implicit)      # Winograd rounds differently
        for budget, same_as in ((16 * 16 * C * item, whole), (16 * 32 * C * item + 5, whole),
                                (16 * 16 * C * item - 1, implicit)):
            old = _cpu._set_winograd_weight_bytes(budget)
            try:
                out = np.full((xs[0], ws[0]) + whole.shape[2:], np.nan, dtype)
                fastconv.conv2d(x, w, bias, out=out, **kw)
            finally:
                _cpu._set_winograd_weight_bytes(old)
            assert_bitwise_equal(out, same_as)


def test_grouped_weights_over_the_budget_run_the_implicit_gemm():
    """Chunks are one group's output channels; a grouped layer whose transformed
    weights pass the budget runs the implicit GEMM, though one group would fit."""
    from fastconv import _cpu
    x, w, b = arrays((1, 8, 9, 9), (40, 4, 3, 3), np.float32, seed=3)
    kw = dict(padding=1, groups=2)
    old = _cpu._set_winograd_weight_bytes(16 * 4 * 4 * 30)   # 20 channels a group: 5120 B
    try:
        got = fastconv.conv2d(x, w, b, algorithm="winograd", **kw)
    finally:
        _cpu._set_winograd_weight_bytes(old)
    assert_bitwise_equal(got, fastconv.conv2d(x, w, b, algorithm="implicit", **kw))
    assert not np.array_equal(got, fastconv.conv2d(x, w, b, algorithm="winograd", **kw))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 40), st.integers(1, 80), st.integers(1, 20),
       st.integers(1, 20), st.integers(1, 3), st.integers(1, 3),
       st.sampled_from(["zeros", "reflect", "replicate", "circular"]), st.booleans(),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2**32 - 1))
def test_panels_and_bands_agree_on_random_shapes(N, C, K, H, W, dh, dw, mode, bias, dtype,
                                                 seed):
    """Note [Winograd panels], fuzzed: any ungrouped shape, dilation and padding
    mode gives bitwise the band tasks' result (and the same fallback decision)
    at 1 and 2 threads, within the Winograd bound."""
    ph, pw = min(dh, H - 1) if mode != "zeros" else dh, min(dw, W - 1) if mode != "zeros" else dw
    assume(H + 2 * ph - 2 * dh > 0 and W + 2 * pw - 2 * dw > 0)
    x, w, b = arrays((N, C, H, W), (K, C, 3, 3), dtype, bias, seed=seed)
    kw = dict(padding=(ph, pw), dilation=(dh, dw), padding_mode=mode)
    old = _cpu._set_winograd_panels(0)
    try:
        bands, ran = run_winograd(x, w, b, num_threads=2, **kw)
        _cpu._set_winograd_panels(1)
        for t in (1, 2):
            panels, ran_p = run_winograd(x, w, b, num_threads=t, **kw)
            assert ran_p == ran
            assert_bitwise_equal(panels, bands, what=f"{t} threads")
    finally:
        _cpu._set_winograd_panels(old)
    assert_within(bands, conv2d_ref(x, w, b, **kw), winograd_tolerance(dtype, x, w, b, **kw))


# Note [dense Winograd lanes]: on small maps the lanes run over the band's
# tiles, image after image and output phase after phase, each patch gathered;
# every tile is computed with the grid's operations in the grid's order.  Maps
# of 1 to 6 tiles a side, a batch, dilation (16 and 36 phases of unequal
# tiles; dilations that differ by axis; phases with no tile), groups, padding
# that differs by side, bands of images and of tile rows, weight chunks, panel
# tasks, 1-3 threads.
DENSE = [
    ((1, 16, 33, 33), (24, 16, 3, 3), dict(padding=6, dilation=6)),
    ((2, 8, 20, 26), (8, 4, 3, 3), dict(padding=(5, 3), dilation=(5, 3), groups=2)),
    ((1, 8, 9, 30), (8, 8, 3, 3), dict(padding=(7, 12), dilation=(7, 12))),
    ((1, 8, 9, 5), (8, 8, 3, 3), dict(padding=7, dilation=7)),
    ((16, 32, 4, 4), (40, 32, 3, 3), dict(padding=1)),
    ((5, 16, 2, 2), (8, 16, 3, 3), dict(padding=1)),
    ((3, 24, 7, 5), (20, 24, 3, 3), dict(padding=(1, 0))),
    ((2, 16, 17, 15), (12, 16, 3, 3), dict(padding=4, dilation=4)),
    ((4, 64, 8, 8), (48, 32, 3, 3), dict(padding=1, groups=2)),
    ((7, 8, 6, 6), (9, 8, 3, 3), dict(padding=2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,kw", DENSE)
def test_dense_lanes_give_the_bits_of_the_grid(xs, ws, kw, dtype):
    x, w, b = arrays(xs, ws, dtype, seed=41)
    C, item = ws[1], np.dtype(dtype).itemsize
    old = _cpu._set_winograd_dense(0)
    old_panels = _cpu._set_winograd_panels(0)
    try:
        grid, ran = run_winograd(x, w, b, num_threads=2, **kw)
        assert ran and not _cpu._winograd_dense_used()
        _cpu._set_winograd_dense(1)
        for panels in (0, 1):
            _cpu._set_winograd_panels(panels)
            for t in (1, 2, 3):
                out, ran = run_winograd(x, w, b, num_threads=t, **kw)
                assert ran and _cpu._winograd_dense_used()
                assert_bitwise_equal(out, grid, what=f"panels {panels}, {t} threads")
        _cpu._set_winograd_panels(0)
        # one image a band, and weight chunks of 16 output channels (grouped
        # chunks run the implicit GEMM)
        budgets = [("bands", _cpu._set_implicit_copy_bytes, 1)]
        if kw.get("groups", 1) == 1:
            budgets.append(("chunks", _cpu._set_winograd_weight_bytes, 16 * 16 * C * item))
        for what, setter, budget in budgets:
            before = setter(budget)
            try:
                out, ran = run_winograd(x, w, b, num_threads=2, **kw)
            finally:
                setter(before)
            assert ran
            assert_bitwise_equal(out, grid, what=what)
    finally:
        _cpu._set_winograd_dense(old)
        _cpu._set_winograd_panels(old_panels)
    assert_within(grid, conv2d_ref(x, w, b, **kw), winograd_tolerance(dtype, x, w, b, **kw))


@pytest.mark.parametrize("shape,d", [((16, 64, 4, 4), 1), ((8, 64, 8, 8), 1), ((1, 64, 14, 14), 1),
                                     ((2, 64, 7, 7), 1), ((1, 64, 28, 28), 1), ((1, 64, 9, 9), 1),
                                     ((3, 64, 5, 5), 1), ((1, 64, 2, 2), 1), ((1, 64, 33, 33), 6),
                                     ((1, 64, 33, 33), 2), ((1, 64, 65, 65), 12),
                                     ((2, 64, 17, 17), 4), ((1, 64, 64, 64), 2)])
def test_dense_rule_matches_the_backend(shape, d):
    """_dispatch._winograd_dense says what the backend does (float32)."""
    from fastconv import _dispatch
    from fastconv._params import conv2d_params
    x, w, b = arrays(shape, (64, 64, 3, 3), np.float32, bias=False)
    run_winograd(x, w, None, padding=d, dilation=d)
    p = conv2d_params(x.shape, w.shape, None, 1, d, d, 1, "zeros")
    assert _dispatch._winograd_dense(p) == _cpu._winograd_dense_used()


# Note [unreached outputs] (_cpu.pyx): with zero padding wider than the kernel
# reaches, the outer rows and columns read only padding: exactly the bias (as
# in torch), not the tiles' rounding noise.  Which ones: where the reference
# of all-ones arrays is 0.  Dilation, padding by side, groups, the panel tasks.
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("panels", [0, 1])
@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 8, 9, 10), (6, 8, 3, 3), dict(padding=3)),
    ((1, 8, 11, 9), (8, 4, 3, 3), dict(padding=(5, 2), dilation=2, groups=2)),
    ((1, 4, 6, 6), (4, 4, 3, 3), dict(padding=(1, 4))),
])
def test_unreached_outputs_are_the_bias(xs, ws, kw, panels, bias, dtype):
    x, w, b = arrays(xs, ws, dtype, bias, seed=5)
    x *= 1e3      # noise ~ eps * 1e3 * taps where it is not cleared
    old = _cpu._set_winograd_panels(panels)
    try:
        y, ran = run_winograd(x, w, b, **kw)
    finally:
        _cpu._set_winograd_panels(old)
    assert ran
    unreached = conv2d_ref(np.ones(x.shape), np.ones(w.shape), None, **kw) == 0
    assert unreached.any()
    want = np.broadcast_to((np.zeros(ws[0]) if b is None else b)[None, :, None, None], y.shape)
    np.testing.assert_array_equal(y[unreached], want[unreached].astype(dtype))
    assert_within(y, conv2d_ref(x, w, b, **kw), winograd_tolerance(dtype, x, w, b, **kw))
