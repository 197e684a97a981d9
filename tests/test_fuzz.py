"""Differential fuzzing against torch (marker ``fuzz``).

hypothesis builds a valid configuration of conv2d or conv_transpose2d
(tests/strategies.py) and then, most of the time, breaks it: the mutations of
test_torch_parity.py (channels, groups, stride, padding, dilation, output
padding, too-small input, wrong ndim, bias shape, mixed dtypes, argument
lengths) plus non-float arrays, zero-size dimensions, NaN/Inf values and absurd
sizes.  torch decides: where torch returns, fastconv must match it within the
float64-reference tolerance; where torch raises, fastconv must raise
ValueError, TypeError or RuntimeError (MemoryError for absurd sizes).
fastconv's own contract overrides torch in one place: arrays must be float32 or
float64 of one dtype (torch also runs integer and complex convolutions).

CI runs FUZZ_EXAMPLES per op; ``pytest -m fuzz --hypothesis-profile=long``
runs at least 5000.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_torch_parity import OPS, _compare, _outcome, mutate  # torch is required there
from strategies import conv2d_cases, conv_transpose2d_cases

import fastconv

pytestmark = [pytest.mark.fuzz, pytest.mark.filterwarnings(
    "ignore:Using padding='same' with even kernel lengths:UserWarning"),
    pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")]

FUZZ_EXAMPLES = max(300, settings.default.max_examples)
BAD_CALL = (ValueError, TypeError, RuntimeError)
CASES = {"conv2d": conv2d_cases(), "conv_transpose2d": conv_transpose2d_cases()}


def _extra_mutation(rng, x, w, b, kw):
    """Mutations beyond the parity sweep's; returns (name, x, w, b, kw)."""
    name = str(rng.choice(["int-array", "complex-array", "object-array", "bool-array",
                           "zero-dim", "nan-inf", "absurd-padding", "absurd-stride"]))
    if name == "int-array":
        x = (x * 4).astype(np.int64)
    elif name == "complex-array":
        w = w.astype(np.complex128)
    elif name == "object-array":
        x = x.astype(object)
    elif name == "bool-array":
        x = x > 0
    elif name == "zero-dim":
        arr = x if rng.integers(2) else w
        shape = list(arr.shape)
        shape[int(rng.integers(len(shape)))] = 0
        new = np.zeros(shape, arr.dtype)
        x, w = (new, w) if arr is x else (x, new)
    elif name == "nan-inf":
        x = x.copy()
        flat = x.reshape(-1)
        if flat.size:
            for _ in range(int(rng.integers(1, 4))):
                flat[int(rng.integers(flat.size))] = rng.choice([np.nan, np.inf, -np.inf])
    elif name == "absurd-padding":
        kw["padding"] = 2**35 if not isinstance(kw["padding"], str) else kw["padding"]
    elif name == "absurd-stride":
        kw["stride"] = 2**40
    return name, x, w, b, kw


def _fuzz_one(op, case, seed):
    ours, theirs, _, transposed = OPS[op]
    rng = np.random.default_rng(seed)
    roll = rng.random()
    if roll < 0.35:                      # valid as built
        x, w, b = case.arrays(np.float64 if rng.integers(2) else np.float32)
        name, kw = "valid", case.kwargs()
    elif roll < 0.75:
        name, x, w, b, kw = mutate(rng, op, case)
    else:
        x, w, b = case.arrays(np.float64)
        name, x, w, b, kw = _extra_mutation(rng, x, w, b, case.kwargs())
    where = (f"{op} {name}: x{x.shape} {x.dtype}, w{w.shape} {w.dtype}, "
             f"b{None if b is None else b.shape}, {kw}")
    ok, result = _outcome(ours, x, w, b, **kw)
    if name in ("int-array", "complex-array", "object-array", "bool-array"):
        assert not ok and isinstance(result, TypeError), f"{where}: {result!r}"
        return
    if name == "dtype":
        assert not ok and isinstance(result, fastconv.ConvError), f"{where}: {result!r}"
        return
    if name.startswith("absurd"):
        allowed = BAD_CALL + (MemoryError,)
        if not ok:
            assert isinstance(result, allowed), f"{where}: fastconv raised {result!r}"
            return
    torch_ok, expected = _outcome(theirs, x, w, b, **kw)
    if not torch_ok:
        assert not ok, f"{where}: torch raised {expected!r}, fastconv returned"
        assert isinstance(result, BAD_CALL + (MemoryError,)), f"{where}: {result!r}"
        return
    assert ok, f"{where}: torch returned {tuple(expected.shape)}, fastconv raised {result!r}"
    if expected.numel() == 0:    # nothing to compare but the shape (and torch's
        assert result.shape == tuple(expected.shape), where   # empty-input quirks)
        assert result.dtype == expected.detach().numpy().dtype, where
        return
    if name == "nan-inf":
        e = expected.detach().numpy()
        np.testing.assert_array_equal(np.isnan(result), np.isnan(e), err_msg=where)
        np.testing.assert_array_equal(np.isinf(result), np.isinf(e), err_msg=where)
        finite = np.isfinite(e)
        xf = np.where(np.isfinite(x), x, 0)
        _compare(op, xf, w, b, kw, np.where(finite, result, 0),
                 torch_like(np.where(finite, e, 0)))
        return
    _compare(op, x, w, b, kw, result, expected)


def torch_like(a):
    import torch
    return torch.from_numpy(a)


@settings(max_examples=FUZZ_EXAMPLES)
@given(case=CASES["conv2d"], seed=st.integers(0, 2**32 - 1))
def test_fuzz_conv2d(case, seed):
    _fuzz_one("conv2d", case, seed)


@settings(max_examples=FUZZ_EXAMPLES)
@given(case=CASES["conv_transpose2d"], seed=st.integers(0, 2**32 - 1))
def test_fuzz_conv_transpose2d(case, seed):
    _fuzz_one("conv_transpose2d", case, seed)
