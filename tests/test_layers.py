"""fastconv.Conv2d / ConvTranspose2d against torch.nn's layers.

Loaded with a torch module's state dict, a layer gives torch's output to the
float tolerance of tests/reference.py, for every constructor option; the
constructor's attributes, repr, checks and messages, and the default
initialisation's distribution, are torch's.  The torch-free parts (init
statistics, state dicts, caching, .to) run without torch.

Seeded: case i is built from numpy.random.default_rng(i).
"""

import math
import os
import re

import numpy as np
import pytest

import fastconv
from fastconv import Conv2d, ConvTranspose2d
from conftest import _cupy_or_reason, to_numpy
from reference import assert_within, conv2d_ref, conv_transpose2d_ref, tolerance

if os.environ.get("FASTCONV_REQUIRE_TORCH"):  # set by .ci/run: no torch must fail, not skip
    import torch
else:
    try:
        import torch
    except ImportError:
        torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
pytestmark = pytest.mark.filterwarnings(
    # torch warns about its own internal copy for 'same' with even kernels
    "ignore:Using padding='same' with even kernel lengths:UserWarning")

_TORCH_DTYPE = {np.float32: "float32", np.float64: "float64"}


def _torch_layer(cls_name, *args, dtype=np.float32, **kwargs):
    return getattr(torch.nn, cls_name)(*args, dtype=getattr(torch, _TORCH_DTYPE[dtype]),
                                       **kwargs)


def _sd(m):
    return {k: v.detach().numpy() for k, v in m.state_dict().items()}


# ---------------------------------------------------------------------------
# Random constructor calls
# ---------------------------------------------------------------------------

def _conv2d_args(rng):
    G = int(rng.integers(1, 4))
    kernel = int(rng.integers(1, 5)) if rng.integers(2) else tuple(
        int(k) for k in rng.integers(1, 5, 2))
    dilation = int(rng.integers(1, 3)) if rng.integers(2) else tuple(
        int(d) for d in rng.integers(1, 3, 2))
    form = int(rng.integers(4))
    stride = 1 if form == 3 else (int(rng.integers(1, 4)) if rng.integers(2) else tuple(
        int(s) for s in rng.integers(1, 4, 2)))
    padding = [int(rng.integers(0, 3)), tuple(int(p) for p in rng.integers(0, 3, 2)), "valid",
               "same"][form]
    mode = ["zeros", "reflect", "replicate", "circular"][int(rng.integers(4))]
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=G,
                  bias=bool(rng.integers(2)), padding_mode=mode)
    return (G * int(rng.integers(1, 4)), G * int(rng.integers(1, 4)), kernel), kwargs


def _conv_transpose2d_args(rng):
    G = int(rng.integers(1, 4))
    kh, kw = (int(k) for k in rng.integers(1, 5, 2))
    sh, sw = (int(s) for s in rng.integers(1, 4, 2))
    dh, dw = (int(d) for d in rng.integers(1, 3, 2))
    kwargs = dict(
        stride=(sh, sw), padding=tuple(int(rng.integers(0, (k - 1) * d // 2 + 1))
                                       for k, d in ((kh, dh), (kw, dw))),
        output_padding=(int(rng.integers(0, max(sh, dh))), int(rng.integers(0, max(sw, dw)))),
        groups=G, bias=bool(rng.integers(2)), dilation=(dh, dw))
    return (G * int(rng.integers(1, 4)), G * int(rng.integers(1, 4)), (kh, kw)), kwargs


def _input_for(rng, layer, dtype, batched=True):
    """An input big enough for the layer (reflect padding needs H > padding)."""
    kh, kw = layer.kernel_size
    dh, dw = layer.dilation
    H = dh * (kh - 1) + 3 + int(rng.integers(0, 6))
    W = dw * (kw - 1) + 3 + int(rng.integers(0, 6))
    shape = (int(rng.integers(1, 3)), layer.in_channels, H, W)
    x = rng.standard_normal(shape if batched else shape[1:]).astype(dtype)
    return x


def _reduction_len(layer):
    w = layer.weight
    if layer.transposed:
        return (w.shape[0] // layer.groups) * w.shape[2] * w.shape[3]
    return w.shape[1] * w.shape[2] * w.shape[3]


def _tol(layer, x, output_padding=None):
    """Worst-case rounding bound of one implementation (reference.tolerance)."""
    w = np.asarray(layer.weight)
    b = None if layer.bias is None else np.asarray(layer.bias)
    if layer.transposed:
        op = layer.output_padding if output_padding is None else output_padding
        return tolerance(x.dtype, _reduction_len(layer), x, w, b, transposed=True,
                         stride=layer.stride, padding=layer.padding, output_padding=op,
                         groups=layer.groups, dilation=layer.dilation)
    return tolerance(x.dtype, _reduction_len(layer), x, w, b, stride=layer.stride,
                     padding=layer.padding, dilation=layer.dilation, groups=layer.groups,
                     padding_mode=layer.padding_mode)


# ---------------------------------------------------------------------------
# Acceptance 1: torch's outputs with torch's weights, every constructor option
# ---------------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(40))
def test_conv2d_with_torch_state_dict_matches_torch(seed, dtype):
    rng = np.random.default_rng(seed)
    args, kwargs = _conv2d_args(rng)
    theirs = _torch_layer("Conv2d", *args, dtype=dtype, **kwargs)
    ours = Conv2d(*args, **kwargs, dtype=dtype)
    ours.load_state_dict(_sd(theirs))
    x = _input_for(rng, ours, dtype, batched=seed % 5 != 4)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    got = ours(x)
    assert got.dtype == dtype and got.shape == expected.shape
    # each is within tol of the exact value: within 2 tol of each other
    assert_within(got, expected.astype(np.float64), 2 * _tol(ours, x), what=repr(ours))


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(30))
def test_conv_transpose2d_with_torch_state_dict_matches_torch(seed, dtype):
    rng = np.random.default_rng(seed)
    args, kwargs = _conv_transpose2d_args(rng)
    theirs = _torch_layer("ConvTranspose2d", *args, dtype=dtype, **kwargs)
    ours = ConvTranspose2d(*args, **kwargs, dtype=dtype)
    ours.load_state_dict(_sd(theirs))
    x = _input_for(rng, ours, dtype, batched=seed % 5 != 4)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    got = ours(x)
    assert got.dtype == dtype and got.shape == expected.shape
    assert_within(got, expected.astype(np.float64), 2 * _tol(ours, x), what=repr(ours))


@needs_torch
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("kernel, dilation", [((2, 2), 1), ((4, 3), 1), ((2, 4), 2),
                                              ((3, 3), (1, 2))])
def test_conv2d_same_padding_every_mode_matches_torch(mode, kernel, dilation):
    """'same' with even kernels pads one more at the bottom/right, before the
    conv for the non-zeros modes (torch's _reversed_padding_repeated_twice)."""
    rng = np.random.default_rng([len(mode), *kernel])   # not hash(): str hashes vary per process
    theirs = _torch_layer("Conv2d", 4, 6, kernel, padding="same", dilation=dilation,
                          padding_mode=mode, groups=2, dtype=np.float64)
    ours = Conv2d(4, 6, kernel, padding="same", dilation=dilation, padding_mode=mode,
                  groups=2, dtype=np.float64)
    assert ours._reversed_padding_repeated_twice == list(
        theirs._reversed_padding_repeated_twice)
    ours.load_state_dict(_sd(theirs))
    x = rng.standard_normal((2, 4, 7, 8))
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    got = ours(x)
    assert got.shape == (2, 6, 7, 8)
    assert_within(got, expected, 2 * _tol(ours, x))


@needs_torch
@pytest.mark.parametrize("seed", range(12))
def test_conv_transpose2d_output_size_matches_torch(seed):
    rng = np.random.default_rng(100 + seed)
    args, kwargs = _conv_transpose2d_args(rng)
    kwargs["output_padding"] = 0
    theirs = _torch_layer("ConvTranspose2d", *args, dtype=np.float64, **kwargs)
    ours = ConvTranspose2d(*args, **kwargs, dtype=np.float64)
    ours.load_state_dict(_sd(theirs))
    batched = seed % 3 != 2
    x = _input_for(rng, ours, np.float64, batched=batched)
    lo = [(x.shape[-2 + d] - 1) * ours.stride[d] - 2 * ours.padding[d]
          + ours.dilation[d] * (ours.kernel_size[d] - 1) + 1 for d in range(2)]
    size = [lo[d] + int(rng.integers(0, ours.stride[d])) for d in range(2)]
    lead = list(x.shape[:-3]) + [ours.out_channels] if rng.integers(2) else []
    output_size = lead + size
    expected = theirs(torch.from_numpy(x), output_size).detach().numpy()
    got = ours(x, output_size=output_size)
    assert got.shape == expected.shape and list(got.shape[-2:]) == size
    op = tuple(s - m for s, m in zip(size, lo))
    assert_within(got, expected, 2 * _tol(ours, x, op))


@needs_torch
@pytest.mark.parametrize("output_size", [[5], [1, 2, 3, 4, 5], [1, 1], [100, 100],
                                         [1, 4, 1, 9]])
def test_conv_transpose2d_output_size_errors_match_torch(output_size):
    theirs = torch.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1)
    ours = ConvTranspose2d(4, 3, 3, stride=2, padding=1)
    x = np.zeros((1, 4, 5, 5), np.float32)
    with pytest.raises(ValueError) as t:
        theirs(torch.from_numpy(x), output_size)
    with pytest.raises(ValueError) as o:
        ours(x, output_size=output_size)
    # torch ends its message with "(for an input of torch.Size([5, 5]))"
    assert str(o.value).split(" (for an input")[0] == str(t.value).split(" (for an input")[0]
    assert isinstance(o.value, RuntimeError)   # a ConvError


# ---------------------------------------------------------------------------
# Constructor: attributes, repr, checks and messages
# ---------------------------------------------------------------------------

_ATTRS = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
          "groups", "padding_mode", "output_padding", "transposed",
          "_reversed_padding_repeated_twice")


@needs_torch
@pytest.mark.parametrize("seed", range(40))
def test_attributes_and_repr_match_torch(seed):
    rng = np.random.default_rng(seed)
    cls = "Conv2d" if seed % 2 else "ConvTranspose2d"
    args, kwargs = (_conv2d_args if seed % 2 else _conv_transpose2d_args)(rng)
    theirs = getattr(torch.nn, cls)(*args, **kwargs)
    ours = getattr(fastconv, cls)(*args, **kwargs)
    for name in _ATTRS:
        assert getattr(ours, name) == getattr(theirs, name), name
    assert repr(ours) == repr(theirs)
    for k, v in theirs.state_dict().items():
        assert getattr(ours, k).shape == tuple(v.shape)
        assert getattr(ours, k).dtype == np.float32
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_repr_examples():
    assert repr(Conv2d(3, 8, 3)) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))"
    assert repr(Conv2d(4, 8, (1, 2), padding="same", bias=False, groups=2,
                       padding_mode="circular")) == (
        "Conv2d(4, 8, kernel_size=(1, 2), stride=(1, 1), padding=same, groups=2, bias=False, "
        "padding_mode=circular)")
    assert repr(ConvTranspose2d(2, 3, 4, 2, 1, 1, dilation=2)) == (
        "ConvTranspose2d(2, 3, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), "
        "dilation=(2, 2), output_padding=(1, 1))")


# (class, args, kwargs): calls torch rejects at construction
_BAD_BOTH = [
    ("Conv2d", (4, 8, 3), dict(groups=0)),
    ("Conv2d", (4, 8, 3), dict(groups=-1)),
    ("Conv2d", (3, 8, 3), dict(groups=2)),
    ("Conv2d", (4, 9, 3), dict(groups=2)),
    ("Conv2d", (4, 8, 3), dict(padding="full")),
    ("Conv2d", (4, 8, 3), dict(padding="same", stride=2)),
    ("Conv2d", (4, 8, 3), dict(padding="same", stride=(1, 2))),
    ("Conv2d", (4, 8, 3), dict(padding_mode="zero")),
    ("ConvTranspose2d", (4, 8, 3), dict(padding_mode="reflect")),
    ("ConvTranspose2d", (3, 8, 3), dict(groups=2)),
    ("ConvTranspose2d", (4, 9, 3), dict(groups=2)),
]


@needs_torch
@pytest.mark.parametrize("cls, args, kwargs", _BAD_BOTH,
                         ids=[f"{c}-{k}" for c, _, k in _BAD_BOTH])
def test_constructor_errors_match_torch(cls, args, kwargs):
    with pytest.raises(ValueError) as t:
        getattr(torch.nn, cls)(*args, **kwargs)
    with pytest.raises(ValueError) as o:
        getattr(fastconv, cls)(*args, **kwargs)
    assert _sets_sorted(str(o.value)) == _sets_sorted(str(t.value))


def _sets_sorted(message):
    """A message with each printed set's items sorted: a set of strings
    prints in an order that depends on the process's hash seed."""
    return re.sub(r"\{([^{}]*)\}",
                  lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", message)


@pytest.mark.parametrize("cls, args, kwargs, exc, match", [
    (Conv2d, (4, 8, 0), {}, ValueError, "kernel size should be greater than zero"),
    (Conv2d, (4, -8, 3), {}, ValueError, "must be non-negative, but got in_channels=4, "
     "out_channels=-8"),
    (Conv2d, (4, 8, (3, 3, 3)), {}, ValueError, "expected kernel_size to be a single integer"),
    (Conv2d, (4, 8, 2.5), {}, TypeError, "kernel_size must be an int"),
    (Conv2d, (4.0, 8, 3), {}, TypeError, "in_channels must be an int"),
    (Conv2d, (4, 8, 3), dict(stride=0), ValueError, "non-positive stride"),
    (Conv2d, (4, 8, 3), dict(dilation=0), ValueError, "dilation should be greater than zero"),
    (Conv2d, (4, 8, 3), dict(padding=-1), ValueError, "negative padding"),
    (Conv2d, (4, 8, 3), dict(dtype=np.int32), TypeError, "float32 or float64"),
    (Conv2d, (4, 8, 3), dict(dtype=np.float16), TypeError, "float32 or float64"),
    (Conv2d, (4, 8, 3), dict(device="tpu"), ValueError, "cpu, cuda device type"),
    (ConvTranspose2d, (4, 8, 3), dict(padding="same"), TypeError, "padding strings"),
    (ConvTranspose2d, (4, 8, 3), dict(output_padding=-1), ValueError,
     "negative output_padding"),
])
def test_constructor_errors(cls, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        cls(*args, **kwargs)


# ---------------------------------------------------------------------------
# Default initialisation
# ---------------------------------------------------------------------------

def _bound(layer):
    s = layer.weight.shape
    return 1 / math.sqrt(s[1] * s[2] * s[3])


# Kolmogorov-Smirnov critical value at alpha = 1e-3 (sqrt(-ln(alpha/2)/2) = 1.949).
_KS_1E3 = 1.949


def _ks_uniform(a, bound):
    """KS statistic times sqrt(n) of a against uniform(-bound, bound)."""
    a = np.sort(np.asarray(a, np.float64).ravel())
    n = a.size
    cdf = np.clip((a + bound) / (2 * bound), 0, 1)
    i = np.arange(1, n + 1)
    return max(np.max(i / n - cdf), np.max(cdf - (i - 1) / n)) * math.sqrt(n)


def _looks_uniform(a, bound):
    a = np.asarray(a, np.float64)
    return (np.max(np.abs(a)) <= bound and np.max(np.abs(a)) > bound * (1 - 20 / a.size)
            and _ks_uniform(a, bound) < _KS_1E3)


@pytest.mark.parametrize("cls, args, kwargs", [
    (Conv2d, (16, 64, 3), {}),                      # fan_in 16*9 = 144
    (Conv2d, (32, 64, (5, 3)), dict(groups=4)),     # fan_in 8*15 = 120
    (ConvTranspose2d, (64, 16, 3), {}),             # fan_in 16*9 (weight dim 1 = out)
    (ConvTranspose2d, (64, 32, 4), dict(groups=8)), # fan_in 4*16 = 64
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_default_init_distribution(cls, args, kwargs, dtype):
    """weight ~ U(+-1/sqrt(fan_in)), fan_in = weight.shape[1]*kh*kw (torch's
    kaiming_uniform_(a=sqrt(5))); bias ~ U(+-1/sqrt(fan_in))."""
    layer = cls(*args, **kwargs, dtype=dtype, rng=0)
    bound = _bound(layer)
    w = layer.weight
    assert w.dtype == dtype and w.size >= 4096
    assert _looks_uniform(w, bound), (np.abs(w).max(), bound, _ks_uniform(w, bound))
    # independent draws per layer, so the bias check pools 64 layers' biases
    biases = np.concatenate([cls(*args, **kwargs, dtype=dtype, rng=s).bias for s in range(64)])
    assert _looks_uniform(biases, bound)
    assert abs(np.mean(w)) < 4 * bound / math.sqrt(3 * w.size)   # 4 sigma


def test_uniformity_check_rejects_wrong_distributions():
    """The check above must be able to fail: a wrong bound, a wrong shape of
    distribution (normal of the same variance) and the transposed fan_in of
    the wrong axis are all rejected (seeded, so deterministic)."""
    rng = np.random.default_rng(0)
    n, bound = 20000, 1 / 12
    assert _looks_uniform(rng.uniform(-bound, bound, n), bound)
    assert not _looks_uniform(rng.uniform(-bound, bound, n) * 0.97, bound)
    assert not _looks_uniform(rng.uniform(-bound, bound, n), bound * 1.03)
    normal = np.clip(rng.normal(0, bound / math.sqrt(3), n), -bound, bound)
    assert not _looks_uniform(normal, bound)
    # ConvTranspose2d(64, 16, 3) with fan_in from the in_channels axis (64*9)
    assert not _looks_uniform(rng.uniform(-1 / 24, 1 / 24, n), 1 / 12)


@needs_torch
@pytest.mark.parametrize("cls, args, kwargs", [
    ("Conv2d", (16, 64, 3), {}),
    ("Conv2d", (6, 66, (2, 5)), dict(groups=3)),
    ("ConvTranspose2d", (64, 16, 3), {}),
    ("ConvTranspose2d", (96, 48, (3, 2)), dict(groups=8)),
])
def test_default_init_bound_is_torchs(cls, args, kwargs):
    """torch's own weights fill the same interval (the fan_in agrees)."""
    torch.manual_seed(0)
    theirs = getattr(torch.nn, cls)(*args, **kwargs)
    ours = getattr(fastconv, cls)(*args, **kwargs, rng=0)
    bound = _bound(ours)
    assert _looks_uniform(theirs.weight.detach().numpy(), bound)
    assert _looks_uniform(ours.weight, bound)


def test_rng_forms():
    a = Conv2d(3, 8, 3, rng=42)
    b = Conv2d(3, 8, 3, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a.weight, b.weight)
    np.testing.assert_array_equal(a.bias, b.bias)
    c = Conv2d(3, 8, 3, rng=43)
    assert not np.array_equal(a.weight, c.weight)
    d, e = Conv2d(3, 8, 3), Conv2d(3, 8, 3)        # fresh entropy
    assert not np.array_equal(d.weight, e.weight)
    g = np.random.default_rng(1)
    f1, f2 = Conv2d(3, 8, 3, rng=g), Conv2d(3, 8, 3, rng=g)   # the generator advances
    assert not np.array_equal(f1.weight, f2.weight)
    a64 = Conv2d(3, 8, 3, rng=42, dtype=np.float64)
    np.testing.assert_array_equal(a64.weight.astype(np.float32), a.weight)


def test_empty_channels():
    """in_channels=0: fan_in 0, bias zeros (torch's bound 0)."""
    layer = Conv2d(0, 4, 3, rng=0)
    assert layer.weight.shape == (4, 0, 3, 3)
    assert not layer.bias.any()


# ---------------------------------------------------------------------------
# Calls: reference values, caching, inputs untouched
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(8))
def test_calls_match_reference(xp, seed):
    rng = np.random.default_rng(seed)
    if seed % 2:
        args, kwargs = _conv_transpose2d_args(rng)
        layer = ConvTranspose2d(*args, **kwargs, dtype=np.float64, rng=seed)
    else:
        args, kwargs = _conv2d_args(rng)
        layer = Conv2d(*args, **kwargs, dtype=np.float64, rng=seed)
    x = _input_for(rng, layer, np.float64)
    w, b = layer.weight, layer.bias
    if layer.transposed:
        expected = conv_transpose2d_ref(x, w, b, layer.stride, layer.padding,
                                        layer.output_padding, layer.groups, layer.dilation)
    else:
        expected = conv2d_ref(x, w, b, layer.stride, layer.padding, layer.dilation,
                              layer.groups, layer.padding_mode)
    layer.to("cpu" if xp is np else "cuda")
    got = to_numpy(layer(xp.asarray(x)))
    assert_within(got, expected, _tol(layer.to("cpu"), x))


def test_weight_writes_and_replacement_take_effect():
    """Note [layer weight cache]: no stale prepared weights."""
    rng = np.random.default_rng(0)
    for layer in (Conv2d(4, 8, 3, rng=0), ConvTranspose2d(4, 8, 3, stride=2, rng=0)):
        x = rng.standard_normal((2, 4, 9, 9)).astype(np.float32)
        y0 = layer(x)
        layer.weight[...] *= 2             # in place
        layer.bias[...] *= 2
        np.testing.assert_allclose(layer(x), 2 * y0, rtol=1e-6, atol=1e-6)
        layer.weight[0, 0, 0, 0] += 1      # a single element
        assert not np.allclose(layer(x), 2 * y0)
        layer.weight = np.zeros_like(layer.weight)   # replaced
        layer.bias = None
        assert not layer(x).any()
        assert "bias=False" in repr(layer) and list(layer.state_dict()) == ["weight"]


def test_inputs_are_not_modified():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 4, 6, 6)).astype(np.float32)
    before = x.copy()
    for layer in (Conv2d(4, 4, 3, padding=1, padding_mode="reflect"),
                  ConvTranspose2d(4, 4, 3), Conv2d(4, 4, 2, padding="same")):
        layer(x)
        np.testing.assert_array_equal(x, before)


def test_call_errors_are_the_functional_ops():
    layer = Conv2d(4, 8, 3)
    with pytest.raises(fastconv.ConvError, match="to have 4 channels, but got 3"):
        layer(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(fastconv.ConvError, match=r"Input type \(float64\) and weight type"):
        layer(np.zeros((1, 4, 8, 8)))
    t = ConvTranspose2d(4, 8, 3, stride=2, output_padding=2)
    with pytest.raises(fastconv.ConvError, match="output padding must be smaller"):
        t(np.zeros((1, 4, 5, 5), np.float32))
    # output_size replaces output_padding, as in torch
    assert t(np.zeros((1, 4, 5, 5), np.float32), output_size=(12, 11)).shape == (1, 8, 12, 11)


# ---------------------------------------------------------------------------
# state_dict / load_state_dict
# ---------------------------------------------------------------------------

def test_state_dict_round_trip_copies_values_in():
    a, b = Conv2d(4, 8, 3, rng=1), Conv2d(4, 8, 3, rng=2)
    w_b = b.weight
    sd = {k: v.copy() for k, v in a.state_dict().items()}
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b.weight is w_b                        # copied into, not replaced
    np.testing.assert_array_equal(b.weight, a.weight)
    sd["weight"][...] = 0                         # later writes to the source stay out
    assert b.weight.any()
    assert a.state_dict()["weight"] is a.weight   # shares, as torch's does


def test_load_state_dict_casts_and_checks():
    layer = Conv2d(4, 8, 3, rng=0)
    sd64 = {k: v.astype(np.float64) for k, v in Conv2d(4, 8, 3, rng=1).state_dict().items()}
    layer.load_state_dict(sd64)
    assert layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.weight, sd64["weight"].astype(np.float32))
    before = layer.weight.copy()
    bad = {"weight": sd64["weight"][:, :, :2], "bias": sd64["bias"] + 1}
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with "
                       r"shape \(8, 4, 2, 3\) from checkpoint, the shape in current model is "
                       r"\(8, 4, 3, 3\)\."):
        layer.load_state_dict(bad)
    np.testing.assert_array_equal(layer.weight, before)   # nothing half-loaded
    assert not np.array_equal(layer.bias, bad["bias"].astype(np.float32))
    with pytest.raises(RuntimeError, match="cannot cast dtype complex128"):
        layer.load_state_dict({"weight": sd64["weight"] + 0j, "bias": sd64["bias"]})
    with pytest.raises(RuntimeError, match='While copying the parameter named "bias"'):
        layer.load_state_dict({"weight": sd64["weight"], "bias": 3})
    with pytest.raises(TypeError, match="dict-like"):
        layer.load_state_dict([("weight", sd64["weight"])])
    result = layer.load_state_dict({"weight": sd64["weight"], "extra": 1}, strict=False)
    assert result == (["bias"], ["extra"])


@needs_torch
@pytest.mark.parametrize("sd_keys, strict", [
    (("weight",), True), (("weight", "bias", "running_mean"), True),
    (("bias", "foo"), True), (("weight", "bias"), True)])
def test_load_state_dict_messages_match_torch(sd_keys, strict):
    theirs = torch.nn.Conv2d(4, 8, 3)
    ours = Conv2d(4, 8, 3)
    full = {k: v.detach() for k, v in theirs.state_dict().items()}
    sd_t = {k: full.get(k, torch.zeros(3)) for k in sd_keys}
    if sd_keys == ("weight", "bias"):
        sd_t["bias"] = torch.zeros(7)              # size mismatch only
    sd_o = {k: v.numpy() for k, v in sd_t.items()}
    with pytest.raises(RuntimeError) as t:
        theirs.load_state_dict(sd_t, strict=strict)
    with pytest.raises(RuntimeError) as o:
        ours.load_state_dict(sd_o, strict=strict)
    # torch prints shapes as torch.Size([...]), fastconv as tuples
    expected = str(t.value).replace("torch.Size([", "(").replace("])", ")")
    expected = expected.replace("(7)", "(7,)").replace("(8)", "(8,)")
    assert str(o.value) == expected


@needs_torch
def test_torch_tensors_load_directly():
    theirs = torch.nn.ConvTranspose2d(4, 6, 3, groups=2, dtype=torch.float64)
    ours = ConvTranspose2d(4, 6, 3, groups=2, dtype=np.float64)
    ours.load_state_dict({k: v.detach() for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(ours.weight, theirs.weight.detach().numpy())
    assert isinstance(ours.weight, np.ndarray)


# ---------------------------------------------------------------------------
# .to(): dtype, device
# ---------------------------------------------------------------------------

def test_to_dtype():
    layer = Conv2d(4, 8, 3, rng=0)
    w32 = layer.weight.copy()
    assert layer.to(np.float64) is layer
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64
    np.testing.assert_array_equal(layer.weight, w32)
    layer.to("float32")
    assert layer.dtype == np.float32
    layer.to(dtype=np.float64)
    assert layer.dtype == np.float64
    layer.to("cpu")
    assert isinstance(layer.weight, np.ndarray)
    with pytest.raises(TypeError, match="float32 or float64"):
        layer.to(np.int64)
    with pytest.raises(ValueError, match="cpu, cuda device type"):
        layer.to("tpu")


def test_to_cuda_without_cupy_says_how_to_install():
    cupy, reason = _cupy_or_reason()
    if cupy is not None:
        pytest.skip("CuPy is installed")
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy imports (but has no GPU)")
    except ImportError:
        pass
    layer = Conv2d(4, 8, 3)
    w = layer.weight
    with pytest.raises(ImportError, match=r'pip install "fastconv\[gpu\]"'):
        layer.to("cuda")
    assert layer.weight is w                      # unchanged on failure
    with pytest.raises(ImportError, match=r'pip install "fastconv\[gpu\]"'):
        Conv2d(4, 8, 3, device="cuda")


def test_to_cuda_and_back():
    cupy, reason = _cupy_or_reason()
    if cupy is None:
        pytest.skip(reason)
    layer = ConvTranspose2d(4, 8, 3, rng=0)
    w = layer.weight.copy()
    assert layer.to("cuda") is layer
    assert isinstance(layer.weight, cupy.ndarray) and isinstance(layer.bias, cupy.ndarray)
    layer.to("cuda", np.float64)
    assert layer.weight.dtype == np.float64
    sd = {k: v.get() for k, v in layer.state_dict().items()}
    other = ConvTranspose2d(4, 8, 3, device="cuda", dtype=np.float64, rng=1)
    assert isinstance(other.weight, cupy.ndarray)
    other.load_state_dict(sd)                     # NumPy values into a CuPy layer
    assert isinstance(other.weight, cupy.ndarray)
    layer.to("cpu")
    assert isinstance(layer.weight, np.ndarray)
    np.testing.assert_array_equal(layer.weight, w.astype(np.float64))
    np.testing.assert_array_equal(other.weight.get(), layer.weight)
