"""Shared fixtures: hypothesis profiles, the array-namespace fixture ``xp``,
the SIMD-level fixture ``level``.

Profiles: "ci" (default) keeps the whole suite to a few minutes on two cores;
"long" is for a soak run: ``HYPOTHESIS_PROFILE=long pytest tests``.
"""

import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# The helpers (reference.py, strategies.py) are plain modules next to the
# tests; make them importable whatever pytest's import mode is.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

settings.register_profile(
    "ci", max_examples=40, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "long", max_examples=5000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
# `pytest --hypothesis-profile=long` has already chosen a profile by the time this
# file is imported; only pick the default (or $HYPOTHESIS_PROFILE) when it has not.
if getattr(settings, "_current_profile", "default") == "default":
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _cupy_or_reason():
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install
        return None, f"cupy is not importable ({type(exc).__name__}: {exc})"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return None, f"cupy has no usable GPU ({type(exc).__name__}: {exc})"
    if n < 1:
        return None, "cupy found no GPU"
    return cupy, None


def pytest_report_header(config):
    """Say up front which GPU checks can run here (their skips say it again)."""
    import glob
    import shutil
    nvcc = shutil.which("nvcc") or next(iter(sorted(glob.glob("/usr/local/cuda*/bin/nvcc"))),
                                        None)
    cxx = shutil.which("g++")
    cupy, reason = _cupy_or_reason()
    return [
        "fastconv CUDA checks: compile gate "
        + (f"with {nvcc}" if nvcc else "SKIPPED (no nvcc)")
        + "; CPU emulation " + (f"with {cxx}" if cxx else "SKIPPED (no g++)")
        + "; GPU tests " + ("on " + cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
                            if cupy is not None else f"SKIPPED ({reason})"),
    ]


@pytest.fixture(params=["numpy", "cupy"])
def xp(request):
    """The array namespace a test body runs on; cupy skips without a GPU."""
    if request.param == "numpy":
        return np
    cupy, reason = _cupy_or_reason()
    if cupy is None:
        pytest.skip(reason)
    return cupy


def to_xp(xp, a):
    """NumPy array (or None) -> array of namespace xp, same dtype and values."""
    return None if a is None else xp.asarray(a)


def to_numpy(a):
    """Array of any supported namespace -> numpy.ndarray."""
    if a is None or isinstance(a, np.ndarray):
        return a
    if hasattr(a, "get"):  # cupy.ndarray
        return a.get()
    return np.asarray(a)


def is_c_contiguous(a):
    return bool(a.flags.c_contiguous)


# ---------------------------------------------------------------------------
# Memory layouts: same values, different strides/flags (NumPy only)
# ---------------------------------------------------------------------------

def _sliced(a):
    """Every other element of a larger buffer along the last two axes."""
    if a.ndim < 2:
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        big[..., ::2] = a
        return big[..., ::2]
    big = np.zeros(a.shape[:-2] + (2 * a.shape[-2] + 1, 3 * a.shape[-1]), a.dtype)
    view = big[..., 1::2, ::3]
    view[...] = a
    return view


def _negative(a):
    """Negative strides on every axis."""
    flip = (slice(None, None, -1),) * a.ndim
    return np.ascontiguousarray(a[flip])[flip]


def _channels_last(a):
    """NHWC memory seen as NCHW (a permuted, non-contiguous view)."""
    if a.ndim < 3:
        return a.copy()
    order = tuple(range(a.ndim - 3)) + (a.ndim - 2, a.ndim - 1, a.ndim - 3)
    back = np.argsort(order)
    return np.ascontiguousarray(a.transpose(order)).transpose(back)


def _readonly(a):
    a = a.copy()
    a.setflags(write=False)
    return a


def _unaligned(a):
    """C-contiguous data at an odd byte address (np.ascontiguousarray keeps it as is)."""
    buf = np.empty(a.nbytes + 1, np.uint8)[1:]
    view = buf.view(a.dtype).reshape(a.shape)
    view[...] = a
    assert not view.flags.aligned or a.size == 0
    return view


LAYOUTS = {
    "sliced": _sliced,
    "fortran": np.asfortranarray,
    "negative-strides": _negative,
    "channels-last": _channels_last,
    "read-only": _readonly,
    "unaligned": _unaligned,
}


def relayout(name, a):
    """Array with a's values in layout `name` (None stays None)."""
    if a is None:
        return None
    out = LAYOUTS[name](a)
    assert out.dtype == a.dtype and np.array_equal(out, a)
    return out


def snapshot(*arrays):
    """Copies plus strides/flags, to check later that nothing was modified."""
    return [None if a is None else (a.copy(), a.strides, a.flags.writeable) for a in arrays]


def assert_unmodified(snap, *arrays):
    for s, a in zip(snap, arrays):
        if a is None:
            continue
        copy, strides, writeable = s
        assert a.strides == strides and a.flags.writeable == writeable
        np.testing.assert_array_equal(a, copy)
        assert a.tobytes() == copy.tobytes()  # bitwise, -0.0 and NaN payloads included


def assert_bitwise_equal(a, b, what="output"):
    a, b = np.ascontiguousarray(to_numpy(a)), np.ascontiguousarray(to_numpy(b))
    assert a.shape == b.shape and a.dtype == b.dtype, (
        f"{what}: {a.shape} {a.dtype} vs {b.shape} {b.dtype}")
    bits = np.dtype(f"u{a.dtype.itemsize}")
    differ = a.view(bits) != b.view(bits)
    if differ.any():
        first = tuple(int(i) for i in np.argwhere(differ)[0])
        raise AssertionError(
            f"{what}: not bitwise equal, {int(differ.sum())} of {a.size} elements differ; "
            f"first at {first}: {a[first]!r} vs {b[first]!r}; "
            f"max |diff| {np.max(np.abs(a.astype(np.float64) - b)):.3e}")


def algorithms(op):
    """("auto",) + the algorithm names fastconv implements for `op`
    (``fastconv.ALGORITHMS`` maps each op to its names)."""
    import fastconv
    return ("auto",) + tuple(fastconv.ALGORITHMS[op])


def _isa_levels():
    from fastconv import _cpu
    return [lvl for lvl in ("generic", "avx2", "avx512") if _cpu.isa_supported(lvl)]


@pytest.fixture(params=_isa_levels())
def level(request):
    """Each SIMD level this CPU runs, switched in for the test (the kernels are
    compiled for every level from one source and chosen at run time)."""
    from fastconv import _cpu
    before = _cpu.get_isa()
    _cpu.set_isa(request.param)
    yield request.param
    _cpu.set_isa(before)


def random_arrays(x_shape, w_shape, bias_len, dtype, seed):
    """x, w and a bias of bias_len values, standard normal in dtype, drawn in that order."""
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
    return x, w, rng.standard_normal(bias_len).astype(dtype)


def conv_arrays(xs, ws, dtype, bias=True, seed=0):
    """random_arrays for a conv2d weight ws, its bias None unless bias."""
    x, w, b = random_arrays(xs, ws, ws[0], dtype, seed)
    return x, w, b if bias else None


# Data that takes a Winograd transform outside its error bound (Note
# [Winograd F(2x2, 3x3)] in _kernels_impl.h), so the call must give the
# implicit GEMM's bits: special values, an input whose transform overflows
# where the direct sums do not, products below the normal range, subnormal
# weights whose sums the direct algorithms compute exactly.
WINOGRAD_POISONS = ["inf", "-inf", "nan", "inf-weight", "huge", "tiny-input",
                    "subnormal-weight"]


def winograd_poison(x, w, kind, weight_at):
    """Poison x (one image, at least 3 channels of 6x6) and w in place; an
    infinite weight goes to w[weight_at]."""
    info = np.finfo(x.dtype)
    if kind in ("inf", "-inf", "nan"):
        x[0, 2, 4, 5] = float(kind)
    elif kind == "inf-weight":
        w[weight_at] = np.inf
    elif kind == "huge":                   # the input transform overflows, direct does not
        x[0, 1, 2:4, 3:5] = info.max * 0.75   # d1 + d2 of a tile row overflows
        w[:] = np.abs(w) * 1e-3
    elif kind == "tiny-input":             # products would fall below the normal range
        x *= info.tiny * 8
    else:                                  # subnormal weights: sums computed exactly
        w[:] = 0
        w[0, 0, :2, :] = info.smallest_subnormal
        x[:] = 1
