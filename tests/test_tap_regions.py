"""Note [padding-only taps] (_cpu.pyx): the GEMM split into regions whose
kernel windows leave out the taps that only meet zero padding.

A region's sums are the full GEMM's without the terms w * 0, in the same
order, so the split must give the full GEMM's bits (a zero's sign aside, which
assert_bitwise_equal does not see) for every split, copy budget and thread
count; the full GEMM is itself held to the float64 reference.
"""

import numpy as np
import pytest

import fastconv
from fastconv import _cpu
from conftest import assert_bitwise_equal, conv_arrays as arrays
from reference import assert_within, conv2d_ref, reduction_length, tolerance

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]

# (input shape, weight shape, conv2d keywords)
CASES = [
    # ASPP-like: dilation and padding past the map, only some taps ever in bounds
    ((1, 16, 12, 12), (24, 16, 3, 3), dict(padding=8, dilation=8)),
    ((2, 8, 9, 11), (20, 8, 3, 3), dict(padding=(6, 4), dilation=(6, 4))),
    # a small map with a large kernel and padding, odd channel counts, batches
    ((3, 5, 4, 5), (7, 5, 5, 5), dict(padding=4)),
    ((2, 6, 6, 3), (10, 3, 3, 2), dict(padding="same", dilation=(2, 3), groups=2)),
    # strides, rectangular kernels, asymmetric padding ('same' with an even kernel)
    ((2, 4, 13, 10), (10, 4, 4, 2), dict(padding="same")),
    ((1, 12, 15, 14), (16, 12, 3, 5), dict(stride=(2, 3), padding=(5, 6), dilation=(3, 2))),
    # outputs that see no input at all: they get the bias
    ((2, 3, 3, 3), (5, 3, 3, 3), dict(padding=5)),
    ((1, 4, 2, 7), (6, 4, 1, 3), dict(stride=(1, 2), padding=(3, 2))),
]


class hooks:
    """Set the Note's test hooks for a block; restore them after."""

    def __init__(self, mode, split=-1, copy_bytes=None):
        self.mode, self.split, self.copy_bytes = mode, split, copy_bytes

    def __enter__(self):
        self.old = (_cpu._set_tap_regions(self.mode), _cpu._set_tap_region_split(self.split),
                    _cpu._set_tap_region_copy_bytes(self.copy_bytes)
                    if self.copy_bytes is not None else None)

    def __exit__(self, *exc):
        _cpu._set_tap_regions(self.old[0])
        _cpu._set_tap_region_split(self.old[1])
        if self.old[2] is not None:
            _cpu._set_tap_region_copy_bytes(self.old[2])


def gemm(x, w, b, num_threads=2, **kw):
    return fastconv.conv2d(x, w, b, algorithm="gemm", num_threads=num_threads, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,kw", CASES)
def test_regions_give_the_bits_of_the_full_gemm(xs, ws, kw, dtype):
    x, w, b = arrays(xs, ws, dtype, bias=xs[0] != 1, seed=7)
    x0, w0 = x.copy(), w.copy()
    with hooks(0):
        full = gemm(x, w, b, **kw)
        assert not _cpu._tap_regions_used()
    assert_within(full, conv2d_ref(x, w, b, **kw),
                  tolerance(dtype, reduction_length(w, groups=kw.get("groups", 1)), x, w, b,
                            **kw))
    item = np.dtype(dtype).itemsize
    one_window = ws[0] * ws[1] * ws[2] * ws[3] * item    # every window alone fits
    ran = 0
    for split in (0, 1, 2):
        for copy_bytes in (1 << 24, one_window):
            with hooks(1, split, copy_bytes):
                for t in (1, 2, 3):
                    out = gemm(x, w, b, num_threads=t, **kw)
                    if not _cpu._tap_regions_used():
                        break       # this split skips no tap: the full GEMM ran
                    ran += 1
                    assert_bitwise_equal(out, full,
                                         what=f"split {split}, {copy_bytes} B, {t} threads")
    assert ran
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_outputs_that_see_only_padding_get_the_bias(dtype):
    x, w, b = arrays((2, 3, 3, 3), (4, 3, 3, 3), dtype, seed=3)
    with hooks(1):
        out = gemm(x, w, b, padding=6)
        assert _cpu._tap_regions_used()
        no_bias = gemm(x, w, None, padding=6)
    # output (i, j) sees input rows i - 6 ... i - 4: none for i < 4 or i > 8
    np.testing.assert_array_equal(out[:, :, :4], np.broadcast_to(b[:, None, None], (2, 4, 4, 13)))
    np.testing.assert_array_equal(out[:, :, :, 9:], np.broadcast_to(b[:, None, None],
                                                                      (2, 4, 13, 4)))
    assert not no_bias[:, :, :4].any() and not no_bias[:, :, :, 9:].any()
    assert_within(out, conv2d_ref(x, w, b, padding=6),
                  tolerance(dtype, reduction_length(w), x, w, b, padding=6))


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_nonfinite_weights_keep_the_full_gemm(bad):
    """Inf * 0 is NaN: a non-finite weight on a tap that only ever meets the
    padding still makes NaN there, as in torch, so the split does not run."""
    x, w, b = arrays((1, 4, 6, 6), (5, 4, 3, 3), np.float32, seed=5)
    kw = dict(padding=6, dilation=6)        # only the centre tap meets the input
    w[2, 1, 0, 0] = bad
    for mode in (-1, 1):
        with hooks(mode):
            out = gemm(x, w, b, **kw)
            assert not _cpu._tap_regions_used()
        ref = conv2d_ref(x, w, b, **kw)
        np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
        assert np.isnan(out[:, 2]).all() and not np.isnan(np.delete(out, 2, axis=1)).any()


def test_random_shapes_give_the_bits_of_the_full_gemm():
    rng = np.random.default_rng(11)
    ran = 0
    for _ in range(80):
        G = int(rng.choice([1, 1, 2, 3]))
        kh, kw = (int(v) for v in rng.integers(1, 6, 2))
        H, W = (int(v) for v in rng.integers(1, 12, 2))
        sh, sw, dh, dw = (int(v) for v in rng.integers(1, 4, 4))
        ph, pw = (int(v) for v in rng.integers(0, 10, 2))
        OH = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        OW = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        if OH < 1 or OW < 1:
            continue
        dtype = [np.float32, np.float64][int(rng.integers(2))]
        Cg, Kg, N = int(rng.integers(1, 5)), int(rng.integers(1, 12)), int(rng.integers(1, 3))
        x, w, b = arrays((N, G * Cg, H, W), (G * Kg, Cg, kh, kw), dtype,
                         bias=bool(rng.integers(2)), seed=int(rng.integers(1 << 30)))
        kwargs = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=G)
        with hooks(0):
            full = gemm(x, w, b, **kwargs)
        with hooks(1, copy_bytes=int(rng.choice([1 << 24, 2048]))):
            out = gemm(x, w, b, **kwargs)
            ran += _cpu._tap_regions_used()
        assert_bitwise_equal(out, full, what=str(kwargs))
    assert ran > 30


def test_the_rule_runs_the_split_where_it_pays():
    # ASPP at dilation 18 on a 28x28 map: 67% of the multiply-adds meet only padding
    kw = dict(padding=18, dilation=18)
    x, w, b = arrays((1, 128, 28, 28), (64, 128, 3, 3), np.float32)
    assert fastconv.choose_algorithm(x.shape, w.shape, **kw).value == "gemm"
    with hooks(-1):
        out = fastconv.conv2d(x, w, b, **kw)
        assert _cpu._tap_regions_used()
        # no padding, or too little saved for the copies: the full GEMM
        for xs, ws, kw2 in [((1, 64, 14, 14), (32, 64, 3, 3), dict(dilation=2)),
                            ((16, 64, 2, 2), (64, 64, 3, 3), dict(padding=1)),
                            ((1, 64, 14, 14), (32, 64, 3, 3), dict(padding=12, dilation=12)),
                            ((1, 64, 30, 30), (32, 64, 3, 3), dict(padding=2, dilation=2))]:
            x2, w2, b2 = arrays(xs, ws, np.float32)
            gemm(x2, w2, b2, **kw2)
            assert not _cpu._tap_regions_used(), kw2
    assert_within(out, conv2d_ref(x, w, b, **kw),
                  tolerance(np.float32, reduction_length(w), x, w, b, **kw))


def test_gain_model():
    # (N, C_g, K, H, W, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW, itemsize)
    aspp = (1, 2048, 256, 28, 28, 3, 3, 1, 1, 36, 36, 36, 36, 28, 28, 4)
    assert _cpu.tap_region_gain(*aspp) > 0.8
    unpadded = (1, 64, 64, 28, 28, 3, 3, 1, 1, 2, 2, 0, 0, 24, 24, 4)
    assert _cpu.tap_region_gain(*unpadded) == 0
    resnet = (1, 64, 64, 56, 56, 3, 3, 1, 1, 1, 1, 1, 1, 56, 56, 4)
    assert _cpu.tap_region_gain(*resnet) == 0
