"""torch as the oracle: values and shapes on random valid calls, and on random
invalid calls (valid ones mutated) the verdict: raise where torch raises,
return (the right values) where torch returns.

Seeded: case i of a sweep is built from numpy.random.default_rng(i), so a
failing id like ``[conv2d-137]`` is reproducible on its own.
"""

import os

import numpy as np
import pytest

if os.environ.get("FASTCONV_REQUIRE_TORCH"):  # set by .ci/run: no torch must fail, not skip
    import torch
else:
    torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import fastconv  # noqa: E402
from conftest import algorithms  # noqa: E402
from reference import assert_within, tolerance  # noqa: E402
from strategies import random_conv2d_case, random_conv_transpose2d_case  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    # torch warns about its own internal copy for 'same' with even kernels
    "ignore:Using padding='same' with even kernel lengths:UserWarning")

# per op; raise for a soak run: FASTCONV_PARITY_CASES=5000 pytest tests/test_torch_parity.py
N_VALID = N_INVALID = int(os.environ.get("FASTCONV_PARITY_CASES", "320"))
BAD_CALL = (ValueError, TypeError, RuntimeError)  # NotImplementedError is a RuntimeError


def _t(a):
    return None if a is None else torch.from_numpy(np.ascontiguousarray(a))


def _nested(padding):
    return (not isinstance(padding, (str, int, np.integer)) and len(padding) == 2
            and isinstance(padding[0], (tuple, list)))


def torch_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """torch with nn.Conv2d semantics: F.conv2d for zeros padding, the module
    itself (F.pad then conv) for the other modes; the nested
    ((top, bottom), (left, right)) extension as F.pad + conv."""
    tx, tw, tb = _t(x), _t(w), _t(b)
    if _nested(padding):
        (pt, pb), (pl, pr) = padding
        mode = "constant" if padding_mode == "zeros" else padding_mode
        return F.conv2d(F.pad(tx, (pl, pr, pt, pb), mode=mode), tw, tb, stride, 0, dilation,
                        groups)
    if padding_mode == "zeros":
        return F.conv2d(tx, tw, tb, stride, padding, dilation, groups)
    kernel = tuple(tw.shape[2:]) if tw.ndim == 4 else 1
    m = torch.nn.Conv2d(tw.shape[1] * groups, tw.shape[0], kernel, stride, padding, dilation,
                        groups, bias=tb is not None, padding_mode=padding_mode, dtype=tw.dtype)
    with torch.no_grad():
        m.weight = torch.nn.Parameter(tw, requires_grad=False)
        if tb is not None:
            m.bias = torch.nn.Parameter(tb, requires_grad=False)
        return m(tx)


def torch_conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                           dilation=1):
    return F.conv_transpose2d(_t(x), _t(w), _t(b), stride, padding, output_padding, groups,
                              dilation)


OPS = {
    "conv2d": (fastconv.conv2d, torch_conv2d, random_conv2d_case, False),
    "conv_transpose2d": (fastconv.conv_transpose2d, torch_conv_transpose2d,
                         random_conv_transpose2d_case, True),
}


def _reduction_len(w, groups, transposed):
    if transposed:
        return (w.shape[0] // groups) * w.shape[2] * w.shape[3]
    return w.shape[1] * w.shape[2] * w.shape[3]


def _compare(op, x, w, b, kwargs, result, expected):
    """fastconv and torch are each within `tol` of exact: within 2*tol of each other."""
    transposed = OPS[op][3]
    result = np.asarray(result)
    expected = expected.detach().numpy()
    assert result.shape == expected.shape
    assert result.dtype == expected.dtype
    tol = tolerance(x.dtype, _reduction_len(w, kwargs["groups"], transposed), x, w, b,
                    transposed=transposed, **kwargs)
    assert_within(result, expected.astype(np.float64), 2 * tol, what=f"{op} vs torch")


def _params(n):
    return [pytest.param(op, i, id=f"{op}-{i}") for op in OPS for i in range(n)]


@pytest.mark.parametrize("op, seed", _params(N_VALID))
def test_valid_calls_match_torch(op, seed):
    ours, theirs, make_case, _ = OPS[op]
    rng = np.random.default_rng(seed)
    case = make_case(rng)
    algs = algorithms(op)
    algorithm = algs[seed % len(algs)]
    for dtype in (np.float64, np.float32):
        x, w, b = case.arrays(dtype)
        expected = theirs(x, w, b, **case.kwargs())
        assert tuple(expected.shape) == case.out_shape  # the strategies' formula agrees with torch
        result = ours(x, w, b, **case.kwargs(), algorithm=algorithm)
        _compare(op, x, w, b, case.kwargs(), result, expected)


# ---------------------------------------------------------------------------
# Invalid (and accidentally valid) calls, by mutation
# ---------------------------------------------------------------------------

def _change_axis(rng, a, axis, new):
    shape = list(a.shape)
    shape[axis] = new
    return rng.standard_normal(shape).astype(a.dtype)


def _bad_int(rng):
    return int(rng.choice([0, -1, -2]))


def _set_one(rng, value, new):
    """Replace one component of an int-or-pair argument."""
    a, b = (value, value) if isinstance(value, (int, np.integer)) else value
    return (new, b) if rng.integers(2) else (a, new)


def mutate(rng, op, case):
    """A random change to a valid case -> (name, x, w, b, kwargs); often invalid."""
    x, w, b = case.arrays(np.float64)
    kw = case.kwargs()
    transposed = op == "conv_transpose2d"
    zeros_plain = not transposed and kw["padding_mode"] == "zeros" and not _nested(kw["padding"])
    names = ["channels", "groups", "stride", "dilation", "shrink-input", "grow-kernel", "bias",
             "input-ndim", "weight-ndim", "dtype", "arg-length", "weight-K"]
    # Negative or string padding only where torch itself is the judge: with
    # padding_mode != 'zeros', torch's F.pad crops for negative amounts
    # (fastconv rejects them by design); our nested extension has no torch form.
    if transposed or zeros_plain:
        names += ["padding", "same-strided"] * (1 if transposed else 3)
    if transposed:
        names += ["output-padding", "output-padding", "padding-grow"]
    if not transposed and kw["padding_mode"] in ("reflect", "circular"):
        names += ["shrink-input", "shrink-input"]
    name = str(rng.choice(names))
    c_axis = x.ndim - 3
    if name == "channels":
        x = _change_axis(rng, x, c_axis, max(1, x.shape[c_axis] + int(rng.choice([-1, 1, 2]))))
    elif name == "groups":
        kw["groups"] = int(rng.choice([0, -1, 2, 3, 4, kw["groups"] + 1]))
    elif name == "stride":
        kw["stride"] = _set_one(rng, kw["stride"], int(rng.choice([0, -1, 2, 4])))
    elif name == "dilation":
        kw["dilation"] = _set_one(rng, kw["dilation"], int(rng.choice([0, -1, 3, 5])))
    elif name == "padding":
        p = kw["padding"]
        if isinstance(p, str):
            p = 0
        kw["padding"] = _set_one(rng, p, int(rng.choice([-1, -2, 5])))
    elif name == "same-strided":
        kw["padding"] = "same" if transposed or rng.integers(2) else "valid"
        kw["stride"] = int(rng.choice([1, 2]))
    elif name == "padding-grow":
        kw["padding"] = _set_one(rng, kw["padding"], int(rng.integers(2, 8)))
    elif name == "output-padding":
        kw["output_padding"] = _set_one(rng, kw["output_padding"], int(rng.integers(-1, 4)))
    elif name == "shrink-input":
        axis = x.ndim - int(rng.choice([1, 2]))
        x = _change_axis(rng, x, axis, int(rng.integers(1, x.shape[axis] + 1)))
    elif name == "grow-kernel":
        axis = int(rng.choice([2, 3]))
        w = _change_axis(rng, w, axis, w.shape[axis] + int(rng.integers(1, 6)))
    elif name == "bias":
        K = w.shape[1] * kw["groups"] if transposed else w.shape[0]
        b = rng.standard_normal(K + int(rng.choice([-1, 1]))) if K > 1 else np.zeros((K, 1))
    elif name == "input-ndim":
        if rng.integers(2):  # merge H and W
            x = x.reshape(x.shape[:-2] + (x.shape[-2] * x.shape[-1],))
        else:
            x = x[None, None]
    elif name == "weight-ndim":
        if rng.integers(2):
            w = w.reshape(w.shape[:-2] + (w.shape[-2] * w.shape[-1],))
        else:
            w = w[..., None]
    elif name == "dtype":
        which = int(rng.integers(3)) if b is not None else int(rng.integers(2))
        if which == 0:
            x = x.astype(np.float32)
        elif which == 1:
            w = w.astype(np.float32)
        else:
            b = b.astype(np.float32)
    elif name == "arg-length":
        # F.conv2d expands (1,) like an int and rejects (1, 1, 1). nn.Conv2d
        # (our oracle for padding_mode != 'zeros') mishandles (1,) in its
        # F.pad amounts, so only the 3-item form is judged there.
        key = str(rng.choice(["stride", "dilation"] +
                             (["padding"] if transposed or zeros_plain else []) +
                             (["output_padding"] if transposed else [])))
        plain = transposed or kw["padding_mode"] == "zeros"
        kw[key] = (1,) * (int(rng.choice([1, 3])) if plain else 3)
    elif name == "weight-K":
        axis = 1 if transposed else 0
        w = _change_axis(rng, w, axis, w.shape[axis] + 1)
    return name, x, w, b, kw


def _outcome(fn, *args, **kwargs):
    try:
        return True, fn(*args, **kwargs)
    except Exception as exc:  # the verdict is what matters; types are checked below
        return False, exc


@pytest.mark.parametrize("op, seed", _params(N_INVALID))
def test_mutated_calls_agree_with_torch(op, seed):
    ours, theirs, make_case, _ = OPS[op]
    rng = np.random.default_rng(10_000 + seed)
    case = make_case(rng)
    name, x, w, b, kw = mutate(rng, op, case)
    algs = algorithms(op)
    algorithm = algs[seed % len(algs)]
    torch_ok, expected = _outcome(theirs, x, w, b, **kw)
    ok, result = _outcome(ours, x, w, b, **kw, algorithm=algorithm)
    if name == "dtype":
        # fastconv's contract overrides torch here: one dtype for input, weight
        # and bias, ConvError otherwise. (torch 2.13's conv_transpose2d accepts a
        # float32 bias with float64 input and weight; its conv2d rejects it.)
        assert not ok and isinstance(result, fastconv.ConvError), (
            f"mixed dtypes {x.dtype}/{w.dtype}/{None if b is None else b.dtype}: {result!r}")
        return
    where = f"mutation {name!r}: x{x.shape} {x.dtype}, w{w.shape} {w.dtype}, " \
            f"b{None if b is None else b.shape}, {kw}"
    if not ok:
        assert isinstance(result, BAD_CALL), f"{where}: fastconv raised {result!r}"
    if torch_ok and not ok and x.ndim == 4 and x.shape[0] == 0:
        # torch skips some checks (output_padding, ...) on an empty batch;
        # fastconv may reject such a call if torch rejects it with N=1.
        probe_ok, _ = _outcome(theirs, np.zeros((1,) + x.shape[1:], x.dtype), w, b, **kw)
        if not probe_ok:
            return
    if torch_ok:
        assert ok, f"{where}: torch returns {tuple(expected.shape)} but fastconv raised " \
                   f"{type(result).__name__}: {result}"
        if expected.numel() == 0:   # e.g. dilation 0 on an empty input: shape only
            assert np.shape(result) == tuple(expected.shape), where
            return
        _compare(op, x, w, b, kw, result, expected)
    else:
        assert not ok, f"{where}: torch raised {type(expected).__name__}: {expected} " \
                       f"but fastconv returned shape {np.shape(result)}"
