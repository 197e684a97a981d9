"""Packing by vector gathers (Note [gathered B] in _kernels_base.h) vs plain copies.

On output grids narrower than a threshold a gemm task packs its B rows with
vector gathers through a table of offsets instead of copying runs, and the
transposed conv packs every stride phase's weights in one pass of gathers
(of permutes on AVX-512 where each phase has four taps).  Both copy
the same values, so each case below must give the same bits either way, and
both must agree with the float64 reference; every SIMD level is run, since
each has its own gather.
"""

import numpy as np
import pytest

import fastconv
from fastconv import _cpu
from conftest import random_arrays
from reference import (assert_within, conv2d_ref, conv_transpose2d_loops, conv_transpose2d_ref,
                       reduction_length, tolerance)


CONV = [  # (x shape, w shape, kwargs): narrow grids, borders, several images per block
    ((20, 6, 3, 3), (7, 6, 3, 3), dict(padding=1)),
    ((3, 8, 9, 13), (16, 4, 3, 3), dict(stride=2, padding=(2, 1), groups=2)),
    ((2, 5, 7, 7), (9, 5, 3, 2), dict(dilation=(2, 3), padding=(1, 3))),
    ((4, 3, 6, 5), (5, 3, 3, 3), dict(padding=2, padding_mode="reflect")),
    ((2, 4, 5, 8), (6, 4, 2, 3), dict(stride=(1, 2), padding="valid")),
    ((1, 300, 4, 4), (10, 300, 3, 3), dict(padding=1)),     # reduction past one KC block
    ((9, 7, 3, 63), (3, 7, 1, 1), dict()),                  # grid 63 wide: gathers
    ((2, 7, 3, 64), (3, 7, 1, 1), dict()),                  # 64 wide: copies without runs
    ((2, 5, 3, 159), (3, 5, 1, 1), dict()),                 # 159 wide: gathers with runs
    ((1, 5, 3, 160), (3, 5, 1, 1), dict()),                 # 160 wide: copies (by default)
    ((2, 3, 5, 140), (4, 3, 3, 3), dict(stride=(1, 2))),   # 70 wide, strided: gathers
    # stride 2 with borders, grid rows across vectors
    ((2, 5, 33, 35), (6, 5, 3, 3), dict(stride=2, padding=1)),
    ((1, 4, 40, 64), (8, 4, 5, 5), dict(stride=2, padding=(2, 3))),
    ((3, 3, 9, 9), (5, 3, 2, 4), dict(stride=(2, 3), padding=(1, 2))),
    # lanes 2 values apart at column stride 3 (padding between): no stride-2 run
    ((1, 4, 4, 2), (9, 4, 1, 4), dict(stride=(2, 3), padding=(1, 5), dilation=(1, 2))),
    # tiles across images (runs of lanes), reductions past one KC block
    ((5, 40, 7, 7), (24, 40, 3, 3), dict(padding=1)),
    ((3, 260, 7, 7), (20, 260, 1, 1), dict()),
    ((6, 300, 5, 3), (9, 300, 1, 1), dict()),
]
TRANSPOSED = [
    ((16, 32, 4, 4), (32, 8, 4, 4), dict(stride=2, padding=1)),
    ((3, 6, 5, 7), (6, 5, 3, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ((2, 4, 3, 2), (4, 3, 2, 2), dict(stride=2)),
    ((5, 3, 4, 3), (3, 4, 3, 4), dict(stride=(3, 2), padding=(2, 1), dilation=(1, 2))),
    ((2, 40, 3, 3), (40, 3, 1, 2), dict(stride=3)),        # phases without taps
    ((1, 33, 1, 1), (33, 7, 2, 2), dict(stride=4, output_padding=2)),   # 1x1 input
    # phase grids a vector wide and wider
    ((3, 8, 16, 16), (8, 8, 4, 4), dict(stride=2, padding=1)),
    ((2, 6, 8, 21), (6, 4, 4, 4), dict(stride=2, padding=2)),
    # four taps a phase, packed by permutes (pack_phases4): channel counts past
    # a multiple of four, groups, other paddings, taps of an 8-value kernel
    ((2, 10, 5, 6), (10, 7, 4, 4), dict(stride=2, groups=2)),
    ((1, 13, 3, 3), (13, 5, 4, 4), dict(stride=2, padding=3, output_padding=1)),
    ((2, 9, 4, 5), (9, 3, 4, 2), dict(stride=(2, 1), padding=(1, 0))),
    # one tap a phase, packed by transposes (pack_phases1): channel and row
    # blocks past a multiple of the vector, nine phases with groups, a 1x2
    ((2, 37, 5, 6), (37, 21, 2, 2), dict(stride=2)),
    ((1, 20, 4, 3), (20, 6, 3, 3), dict(stride=3, groups=2)),
    ((2, 17, 3, 4), (17, 18, 1, 2), dict(stride=(1, 2))),
]


def both_ways(fn):
    """fn() with gathers on every grid width, then with them off (the transposed
    conv's weights then packed phase by phase with scalar copies).  The gathered
    result is also made with every vector a gather (Note [gather runs] and Note
    [gather windows] off) and must be the same bits: a run's masked load and a
    window's permuted loads copy what the gather would; so must it be without
    the stride-2 runs' prefetch (Note [gather prefetch]).  The transposed conv's
    border classes (which sum in another order) stay off."""
    old = _cpu._set_gather_pw(1 << 30)
    old_runs = _cpu._set_gather_runs(0)
    old_windows = _cpu._set_gather_windows(0)
    old_pf = _cpu._set_gather_pf(1)
    old_classes = _cpu._set_transposed_classes(0)
    try:
        all_gathers = fn()
        _cpu._set_gather_runs(1)
        _cpu._set_gather_windows(3)
        gathered = fn()
        _cpu._set_gather_windows(1)
        one_window = fn()
        _cpu._set_gather_windows(3)
        _cpu._set_gather_pf(0)
        unfetched = fn()
        _cpu._set_gather_pw(0)
        copied = fn()
    finally:
        _cpu._set_gather_pw(old)
        _cpu._set_gather_runs(old_runs)
        _cpu._set_gather_windows(old_windows)
        _cpu._set_gather_pf(old_pf)
        _cpu._set_transposed_classes(old_classes)
    np.testing.assert_array_equal(gathered, all_gathers)
    np.testing.assert_array_equal(gathered, one_window)
    np.testing.assert_array_equal(gathered, unfetched)
    return gathered, copied


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CONV)))
def test_conv2d_gemm_gathered_b(level, dtype, case):
    xs, ws, kw = CONV[case]
    x, w, b = random_arrays(xs, ws, ws[0], dtype, seed=case)
    gathered, copied = both_ways(lambda: fastconv.conv2d(x, w, b, algorithm="gemm", **kw))
    np.testing.assert_array_equal(gathered, copied)
    tol = tolerance(dtype, reduction_length(w), x, w, b, **kw)
    assert_within(gathered, conv2d_ref(x, w, b, **kw), tol, what=f"{level} gathered")
    # The default thresholds too, one thread and two alike.
    y1 = fastconv.conv2d(x, w, b, algorithm="gemm", num_threads=1, **kw)
    np.testing.assert_array_equal(y1, fastconv.conv2d(x, w, b, algorithm="gemm",
                                                      num_threads=2, **kw))
    np.testing.assert_array_equal(y1, gathered)


@pytest.mark.parametrize("algorithm", ["gemm", "implicit"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(TRANSPOSED)))
def test_conv_transpose2d_gathered_packing(level, dtype, case, algorithm):
    xs, ws, kw = TRANSPOSED[case]
    groups = kw.get("groups", 1)
    x, w, b = random_arrays(xs, ws, ws[1] * groups, dtype, seed=50 + case)
    gathered, copied = both_ways(
        lambda: fastconv.conv_transpose2d(x, w, b, algorithm=algorithm, **kw))
    np.testing.assert_array_equal(gathered, copied)
    tol = tolerance(dtype, reduction_length(w, transposed=True, groups=groups), x, w, b,
                    transposed=True, **kw)
    assert_within(gathered, conv_transpose2d_ref(x, w, b, **kw), tol,
                  what=f"{level} gathered")


def test_gathered_b_keeps_nan():
    """A gather copies values bit for bit: a NaN in x reaches the outputs whose window holds it."""
    x = np.zeros((3, 2, 4, 4), np.float32)
    x[1, 1, 2, 3] = np.nan
    w = np.zeros((1, 2, 3, 3), np.float32)
    w[0, 1, 1, 1] = 1.0
    gathered, copied = both_ways(lambda: fastconv.conv2d(x, w, padding=1, algorithm="gemm"))
    expected = np.isnan(conv2d_ref(x, w, padding=1))
    assert expected.sum() == 6      # rows 1-3 x columns 2-3 of image 1
    np.testing.assert_array_equal(np.isnan(gathered), expected)
    np.testing.assert_array_equal(gathered, copied)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", range(len(TRANSPOSED)))
def test_gemm_task_order_keeps_the_bits(case, threads):
    """Note [gemm task order]: a transposed conv's gemm tasks go phase by phase,
    or pixel block by pixel block (every phase of a block in turn) where a phase's
    weights are big; the same tasks either way, so the same bits, every output
    written (a NaN-filled out shows a task left out)."""
    xs, ws, kw = TRANSPOSED[case]
    groups = kw.get("groups", 1)
    x, w, b = random_arrays(xs, ws, ws[1] * groups, np.float32, seed=90 + case)
    got = []
    for resident in (0, 1 << 40):
        old = _cpu._set_gemm_resident_a_bytes(resident)
        try:
            y = fastconv.conv_transpose2d(x, w, b, algorithm="gemm", num_threads=threads, **kw)
            out = np.full_like(y, np.nan)
            fastconv.conv_transpose2d(x, w, b, algorithm="gemm", num_threads=threads, out=out,
                                      **kw)
        finally:
            _cpu._set_gemm_resident_a_bytes(old)
        np.testing.assert_array_equal(out, y)
        got.append(y)
    np.testing.assert_array_equal(got[0], got[1])
    tol = tolerance(np.float32, reduction_length(w, transposed=True, groups=groups), x, w, b,
                    transposed=True, **kw)
    assert_within(got[0], conv_transpose2d_ref(x, w, b, **kw), tol, what="blocks first")


@pytest.mark.parametrize("algorithm", ["gemm", "implicit"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(TRANSPOSED)))
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_conv_transpose2d_packing_flags_nonfinite_weights(level, dtype, case, algorithm):
    """Each way of packing (gathers, permutes, copies) sees an Inf or NaN weight
    anywhere in w and sends the call to Note [transposed non-finite weights]'s
    path, which never multiplies the padding: the same bits every way, and
    NaN only where the scatter definition has NaN."""
    xs, ws, kw = TRANSPOSED[case]
    groups = kw.get("groups", 1)
    x, w, b = random_arrays(xs, ws, ws[1] * groups, dtype, seed=80 + case)
    rng = np.random.default_rng(case)
    for value in (np.inf, np.nan):
        wv = w.copy()
        wv[tuple(int(rng.integers(0, n)) for n in ws)] = value   # some tap of some row
        gathered, copied = both_ways(
            lambda: fastconv.conv_transpose2d(x, wv, b, algorithm=algorithm, **kw))
        np.testing.assert_array_equal(gathered, copied)
        want = conv_transpose2d_loops(x, wv, b, **kw)
        np.testing.assert_array_equal(np.isnan(gathered), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(gathered), np.isinf(want))


VECTOR_TILES = [  # batched GEMMs whose chunks cross images between vectors
    ((16, 40, 8, 8), (24, 40, 1, 1), dict()),                    # 64-pixel planes
    ((5, 300, 4, 4), (13, 300, 1, 1), dict()),                   # past one KC block
    ((3, 20, 8, 8), (10, 20, 3, 3), dict(padding=1)),            # a 3x3's gathered B
    ((4, 9, 16, 16), (9, 9, 3, 3), dict(stride=2, padding=1)),   # 8x8 outputs, groups
    ((6, 8, 4, 8), (12, 4, 1, 1), dict(groups=2)),               # 32-pixel planes
    ((3, 6, 7, 7), (8, 6, 1, 1), dict()),                        # 49: vectors cross too
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(VECTOR_TILES)))
def test_vector_wise_tiles_keep_the_bits(level, dtype, case, threads):
    """Note [vector-wise tiles]: a full tile whose vectors each land on
    consecutive outputs is written vector by vector; through the staging tile
    (switched off) the same bits, and every output written (a NaN-filled out)."""
    xs, ws, kw = VECTOR_TILES[case]
    x, w, b = random_arrays(xs, ws, ws[0], dtype, seed=150 + case)
    got = []
    for on in (1, 0):
        old = _cpu._set_vector_tiles(on)
        try:
            y = fastconv.conv2d(x, w, b, algorithm="gemm", num_threads=threads, **kw)
            out = np.full_like(y, np.nan)
            fastconv.conv2d(x, w, b, algorithm="gemm", num_threads=threads, out=out, **kw)
        finally:
            _cpu._set_vector_tiles(old)
        np.testing.assert_array_equal(out, y)
        got.append(y)
    np.testing.assert_array_equal(got[0], got[1])
    tol = tolerance(dtype, reduction_length(w), x, w, b, **kw)
    assert_within(got[0], conv2d_ref(x, w, b, **kw), tol, what=f"{level} vector-wise tiles")


STAGE_ROWS = [  # transposed GEMMs whose stride-2 phase rows are a vector wide or more
    ((2, 8, 20, 24), (8, 6, 4, 4), dict(stride=2, padding=1)),               # 24 wide
    ((1, 6, 9, 41), (6, 5, 3, 3), dict(stride=2, padding=1, output_padding=1)),  # 41, 40
    ((3, 5, 6, 17), (5, 4, 2, 2), dict(stride=2)),                           # 17: a tail
    ((1, 4, 3, 70), (4, 2, 3, 3), dict(stride=(1, 2), padding=(0, 1))),     # rows at stride 1
    ((2, 12, 4, 33), (12, 9, 4, 4), dict(stride=2, padding=2, groups=3)),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(STAGE_ROWS)))
def test_stage_write_out_by_masked_stores_keeps_the_bits(level, dtype, case, threads):
    """A gemm task writes a transposed conv's stride-2 phase rows of 16+ values
    out of its stage by masked stores of every other value: the values the
    one-at-a-time copy writes (switched off), and every output written (a
    NaN-filled out)."""
    xs, ws, kw = STAGE_ROWS[case]
    groups = kw.get("groups", 1)
    x, w, b = random_arrays(xs, ws, ws[1] * groups, dtype, seed=170 + case)
    got = []
    for on in (1, 0):
        old = _cpu._set_stage_store2(on)
        try:
            out = np.full(fastconv.conv_transpose2d(x, w, b, algorithm="gemm", **kw).shape,
                          np.nan, dtype)
            fastconv.conv_transpose2d(x, w, b, algorithm="gemm", num_threads=threads, out=out,
                                      **kw)
        finally:
            _cpu._set_stage_store2(old)
        got.append(out)
    np.testing.assert_array_equal(got[0], got[1])
    tol = tolerance(dtype, reduction_length(w, transposed=True, groups=groups), x, w, b,
                    transposed=True, **kw)
    assert_within(got[0], conv_transpose2d_ref(x, w, b, **kw), tol,
                  what=f"{level} stage write-out")


# Note [transposed border classes] (with Note [batch lanes] where a batch has
# more than one image): conv_transpose2d phases split by their in-bounds taps.
CLASSES = [  # (x shape, w shape, kwargs)
    ((16, 512, 4, 4), (512, 8, 4, 4), dict(stride=2, padding=1)),       # DCGAN's 4x4 maps
    ((3, 40, 8, 8), (40, 12, 4, 4), dict(stride=2, padding=1)),          # 8x8, a batch of 3
    ((1, 33, 4, 5), (33, 9, 4, 4), dict(stride=2, padding=1)),           # one image
    ((5, 34, 7, 7), (34, 10, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((4, 20, 5, 4), (20, 6, 5, 3), dict(stride=(3, 2), padding=(1, 0), groups=2)),
    ((6, 18, 3, 6), (18, 5, 3, 3), dict(stride=1, padding=0)),           # one phase, 9 taps
    ((2, 16, 2, 2), (16, 7, 2, 2), dict(dilation=5, output_padding=(1, 0), stride=2)),
    ((3, 12, 2, 3), (12, 4, 2, 3), dict(dilation=(5, 2))),               # rows with no tap
    ((2, 300, 4, 4), (300, 9, 4, 4), dict(stride=2, padding=1)),         # two KC blocks a tap
    ((14, 8, 12, 12), (8, 4, 7, 7), dict()),   # 49 taps: blocks past the gather table
    ((3, 8, 1, 3), (8, 3, 2, 2), dict(stride=3, groups=2)),   # an empty phase, two groups
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CLASSES)))
def test_transposed_border_classes(level, dtype, case, threads):
    """Each class sums only its in-bounds taps, in the phase GEMM's order: the
    phase GEMM's bits (its other terms are w * 0), every output written (a
    NaN-filled out; a class with no tap gets the bias), the same bits with
    the images innermost or not (the same sums, lanes in another order) and
    for one thread and two, within the float bound of the float64 reference;
    and, with 16-lane vectors, the gemm path takes them by itself for the
    DCGAN layer only (the vectors' lanes they save)."""
    xs, ws, kw = CLASSES[case]
    groups = kw.get("groups", 1)
    x, w, b = random_arrays(xs, ws, ws[1] * groups, dtype, seed=190 + case)
    tol = tolerance(dtype, reduction_length(w, transposed=True, groups=groups), x, w, b,
                    transposed=True, **kw)
    ref = conv_transpose2d_ref(x, w, b, **kw)
    shape = ref.shape
    got = []
    old, old_lanes = _cpu._set_transposed_classes(1), _cpu._set_batch_lanes(1)
    try:
        for lanes in (1, 0):
            _cpu._set_batch_lanes(lanes)
            out = np.full(shape, np.nan, dtype)
            fastconv.conv_transpose2d(x, w, b, algorithm="gemm", num_threads=threads, out=out,
                                      **kw)
            got.append(out)
        one = fastconv.conv_transpose2d(x, w, b, algorithm="gemm", num_threads=1, **kw)
        assert _cpu._transposed_classes_used()
        _cpu._set_transposed_classes(0)
        full = fastconv.conv_transpose2d(x, w, b, algorithm="gemm", num_threads=threads, **kw)
    finally:
        _cpu._set_transposed_classes(old)
        _cpu._set_batch_lanes(old_lanes)
    np.testing.assert_array_equal(got[0], got[1])
    np.testing.assert_array_equal(got[0], one)
    np.testing.assert_array_equal(got[0], full)
    assert_within(got[0], ref, tol, what=f"{level} classes")
    if level == "avx512" and dtype == np.float32:
        fastconv.conv_transpose2d(x, w, b, algorithm="gemm", **kw)
        assert _cpu._transposed_classes_used() == (case == 0)


@pytest.mark.parametrize("narrow", [0, 1])
def test_transposed_border_classes_take_larger_batches_where_fmas_are_narrow(narrow):
    """Note [transposed border classes]: 'auto' takes them on DCGAN's 4x4 maps
    for up to 16 images, or 64 on CPUs with narrow FMAs (Note [narrow FMA]),
    at AVX-512 float32 (the vector lanes they save); the same bits either way."""
    if _cpu.get_isa() != "avx512":
        pytest.skip("the rule counts 16-lane vectors")
    kw = dict(stride=2, padding=1)
    rng = np.random.default_rng(201)
    w = rng.standard_normal((512, 2, 4, 4)).astype(np.float32)
    old = _cpu._set_narrow_fma(narrow)
    try:
        for n in (16, 32, 64, 80):      # whole vectors of images: the saving holds
            x = rng.standard_normal((n, 512, 4, 4)).astype(np.float32)
            got = fastconv.conv_transpose2d(x, w, algorithm="gemm", **kw)
            assert _cpu._transposed_classes_used() == (n <= (64 if narrow else 16)), n
            if n in (32, 80):
                before = _cpu._set_transposed_classes(0)
                try:
                    np.testing.assert_array_equal(
                        got, fastconv.conv_transpose2d(x, w, algorithm="gemm", **kw))
                finally:
                    _cpu._set_transposed_classes(before)
    finally:
        _cpu._set_narrow_fma(old)
