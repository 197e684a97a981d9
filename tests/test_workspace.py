"""Note [workspace cache]: workspace blocks are kept between calls, bounded,
and no kernel reads workspace it has not written."""

import numpy as np
import pytest

import fastconv
from fastconv import _cpu
from conftest import random_arrays
from reference import (assert_within, conv2d_ref, conv_transpose2d_ref, reduction_length,
                       tolerance, winograd_transposed_tolerance)

# Every CPU algorithm, with workspaces both under and over the cache's smallest
# block (64 KB) and over 2 MB (huge-page blocks); padding modes that go through
# the padded copies' index maps; a dilation (Winograd's phases); several images.
CONV = [  # (x shape, w shape, kwargs, algorithm)
    ((2, 16, 30, 33), (24, 16, 3, 3), dict(padding=1), "implicit"),
    ((1, 64, 56, 56), (64, 64, 3, 3), dict(padding=1), "winograd"),
    ((1, 32, 40, 40), (32, 32, 3, 3), dict(padding=2, dilation=2), "winograd"),
    ((2, 24, 28, 31), (40, 24, 3, 3), dict(stride=2, padding=1), "gemm"),
    ((1, 128, 28, 28), (64, 128, 1, 1), dict(), "gemm"),
    ((1, 32, 57, 60), (32, 1, 7, 7), dict(padding=3, groups=32), "direct"),
    ((1, 64, 30, 30), (64, 4, 3, 3), dict(padding=1, groups=16), "direct"),
    ((1, 8, 20, 20), (16, 8, 3, 3), dict(padding=1, padding_mode="reflect"), "implicit"),
    ((1, 3, 224, 224), (64, 3, 7, 7), dict(stride=2, padding=3), "implicit"),
]
TRANSPOSED = [
    ((4, 64, 16, 16), (64, 32, 4, 4), dict(stride=2, padding=1), "gemm"),
    ((2, 32, 20, 20), (32, 3, 4, 4), dict(stride=2, padding=1), "implicit"),
    ((1, 64, 28, 28), (64, 32, 3, 3), dict(stride=2, padding=1, output_padding=1), "implicit"),
    # Note [transposed Winograd]: grids with and without a junk column and row
    # (without, the last tiles read the slack after each channel's images)
    ((4, 64, 16, 16), (64, 32, 4, 4), dict(stride=2, padding=1), "winograd"),
    ((2, 32, 13, 11), (32, 16, 4, 4), dict(stride=2, padding=1), "winograd"),
]


def _run(op, x, w, b, kw, alg, threads):
    f = fastconv.conv2d if op == "conv2d" else fastconv.conv_transpose2d
    return f(x, w, b, algorithm=alg, num_threads=threads, **kw)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", [("conv2d", c) for c in CONV]
                         + [("conv_transpose2d", c) for c in TRANSPOSED],
                         ids=lambda c: f"{c[0]}-{c[1][3]}-{c[1][0]}")
def test_poisoned_workspace_changes_nothing(case, threads):
    """Every block handed out full of zero bytes, then of 0xFF bytes (NaN, -1),
    fresh or taken back from the cache: the same bits every time."""
    op, (xs, ws, kw, alg) = case
    x, w, b = random_arrays(xs, ws, ws[0] if op == "conv2d" else ws[1], np.float32, seed=7)
    old_cache = _cpu._set_workspace_cache(0)
    old = _cpu._set_workspace_poison(0)
    try:
        fresh = _run(op, x, w, b, kw, alg, threads)
        _cpu._set_workspace_cache(old_cache)
        _cpu._set_workspace_poison(0xFF)
        for _ in range(2):      # the second call takes the first one's blocks back
            y = _run(op, x, w, b, kw, alg, threads)
            np.testing.assert_array_equal(y, fresh)
    finally:
        _cpu._set_workspace_poison(old)
        _cpu._set_workspace_cache(old_cache)
    t = op != "conv2d"
    ref = (conv_transpose2d_ref if t else conv2d_ref)(x, w, b, **kw)
    tol = tolerance(np.float32, reduction_length(w, transposed=t, groups=kw.get("groups", 1)),
                    x, w, b, transposed=t, **kw)
    if t and alg == "winograd":
        tol = np.maximum(tol, winograd_transposed_tolerance(np.float32, x, w, b,
                                                            padding=kw["padding"]))
    assert_within(fresh, ref, tol, what=f"{op} {alg}")


def test_cache_is_bounded_and_reused():
    limit = 8 << 20
    old = _cpu._set_workspace_cache(limit)
    try:
        assert _cpu._workspace_cached_bytes() <= limit
        x = np.ones((1, 64, 56, 56), np.float32)
        w = np.ones((64, 64, 3, 3), np.float32)
        fastconv.conv2d(x, w, padding=1, algorithm="winograd")
        held = _cpu._workspace_cached_bytes()
        assert 0 < held <= limit
        fastconv.conv2d(x, w, padding=1, algorithm="winograd")
        assert _cpu._workspace_cached_bytes() == held       # the same blocks came back
        for n in (8, 24, 40, 72, 100):   # many other sizes: still within the limit
            fastconv.conv2d(np.ones((1, 32, n, n), np.float32), w[:32, :32], padding=1,
                            algorithm="implicit")
            assert _cpu._workspace_cached_bytes() <= limit
        _cpu._set_workspace_cache(0)
        assert _cpu._workspace_cached_bytes() == 0
    finally:
        _cpu._set_workspace_cache(old)
