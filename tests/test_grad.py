"""fastconv.grad: gradients of conv2d / conv_transpose2d.

Checked three ways: (1) against the full Jacobian of the float64 reference
(tests/reference.py) on tiny shapes -- no torch needed; (2) the adjoint
identities <conv(x, w), g> == <x, grad_input(g)> == <w, grad_weight(x, g)>
as a hypothesis property; (3) against torch autograd and torch.nn.grad in
float64 (rtol = atol = 1e-10) when torch is installed.

Seeded: case i is built from numpy.random.default_rng(i).
"""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from fastconv import grad as fg
from conftest import to_numpy, to_xp
from reference import conv2d_ref, conv_transpose2d_ref

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

U64 = 2.0 ** -53


# ---------------------------------------------------------------------------
# Random valid cases
# ---------------------------------------------------------------------------

def _case(rng, transposed, tiny=False, batched=True):
    """A valid call: dict(x, w, gy, kwargs); the kwargs in the forward op's names."""
    G = int(rng.integers(1, 4))
    C_g, K_g = int(rng.integers(1, 3 if tiny else 4)), int(rng.integers(1, 3 if tiny else 4))
    kh, kw = (int(k) for k in rng.integers(1, 4, 2))
    sh, sw = (int(s) for s in rng.integers(1, 4, 2))
    dh, dw = (int(d) for d in rng.integers(1, 3, 2))
    N = int(rng.integers(1, 3))
    hmax = 6 if tiny else 10
    if transposed:
        # padding <= d*(k-1)/2 keeps the output non-empty for any input size
        ph, pw = (int(rng.integers(0, (k - 1) * d // 2 + 1)) for k, d in ((kh, dh), (kw, dw)))
        oph, opw = (int(rng.integers(0, max(s, d))) for s, d in ((sh, dh), (sw, dw)))
        H, W = (int(v) for v in rng.integers(1, hmax // 2 + 1, 2))
        kwargs = dict(stride=(sh, sw), padding=(ph, pw), output_padding=(oph, opw), groups=G,
                      dilation=(dh, dw))
        w_shape = (G * C_g, K_g, kh, kw)
        fwd = conv_transpose2d_ref
    else:
        form = rng.integers(4)
        if form == 0:
            padding = int(rng.integers(0, 3))
        elif form == 1:
            padding = tuple(int(p) for p in rng.integers(0, 3, 2))
        elif form == 2:   # fastconv's extension: ((top, bottom), (left, right))
            padding = tuple(tuple(int(p) for p in rng.integers(0, 3, 2)) for _ in range(2))
        else:
            padding = "valid"
        pts = ((padding, padding),) * 2 if isinstance(padding, int) else padding
        if isinstance(padding, tuple) and isinstance(padding[0], int):
            pts = ((padding[0],) * 2, (padding[1],) * 2)
        if padding == "valid":
            pts = ((0, 0), (0, 0))
        if form == 3 and rng.integers(2):   # 'same' needs stride 1
            padding, sh, sw = "same", 1, 1
        ekh, ekw = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        H = int(rng.integers(max(1, ekh - sum(pts[0])), max(1, ekh - sum(pts[0])) + hmax))
        W = int(rng.integers(max(1, ekw - sum(pts[1])), max(1, ekw - sum(pts[1])) + hmax))
        kwargs = dict(stride=(sh, sw), padding=padding, dilation=(dh, dw), groups=G)
        w_shape = (G * K_g, C_g, kh, kw)
        fwd = conv2d_ref
    x_shape = (N, G * C_g, H, W) if batched else (G * C_g, H, W)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    y = fwd(x, w, None, **kwargs)
    gy = rng.standard_normal(y.shape)
    return dict(x=x, w=w, gy=gy, kwargs=kwargs, transposed=transposed)


def _grads(c, xp=np):
    """fastconv's (grad input, grad weight) for a case, as NumPy arrays."""
    x, w, gy = to_xp(xp, c["x"]), to_xp(xp, c["w"]), to_xp(xp, c["gy"])
    if c["transposed"]:
        gx = fg.conv_transpose2d_input(x.shape, w, gy, **c["kwargs"])
        gw = fg.conv_transpose2d_weight(x, w.shape, gy, **c["kwargs"])
    else:
        gx = fg.conv2d_input(x.shape, w, gy, **c["kwargs"])
        gw = fg.conv2d_weight(x, w.shape, gy, **c["kwargs"])
    assert type(gx) is type(x) and type(gw) is type(x)
    assert gx.dtype == x.dtype and gw.dtype == x.dtype
    return to_numpy(gx), to_numpy(gw)


# ---------------------------------------------------------------------------
# (1) Against the reference's Jacobian (no torch)
# ---------------------------------------------------------------------------

def _jacobian_grads(c):
    """Exact (to float64) gradients from the reference: the forward op is
    linear in x and in w, so its Jacobian's rows are the reference applied to
    basis arrays (batched, one basis element per batch entry)."""
    fwd = conv_transpose2d_ref if c["transposed"] else conv2d_ref
    x, w, gy = c["x"], c["w"], c["gy"]
    batched = x.ndim == 4
    x4, gy4 = (x, gy) if batched else (x[None], gy[None])
    # d/dx: one sample's input -> its output; the same for every sample.
    n_x = x4[0].size
    basis = np.eye(n_x).reshape((n_x,) + x4.shape[1:])
    J = fwd(basis, w, None, **c["kwargs"]).reshape(n_x, -1)            # [n_x, out]
    g = gy4.reshape(gy4.shape[0], -1)                                  # [N, out]
    gx = (g @ J.T).reshape(x4.shape)
    gx_abs = (np.abs(g) @ np.abs(J).T).reshape(x4.shape)
    # d/dw: the output for each weight basis element, all samples.
    n_w = w.size
    gw, gw_abs = np.empty(n_w), np.empty(n_w)
    for e in range(n_w):
        we = np.zeros(n_w)
        we[e] = 1.0
        ye = fwd(x4, we.reshape(w.shape), None, **c["kwargs"]).ravel()
        gw[e] = ye @ gy4.ravel()
        gw_abs[e] = np.abs(ye) @ np.abs(gy4.ravel())
    gw, gw_abs = gw.reshape(w.shape), gw_abs.reshape(w.shape)
    if not batched:
        gx, gx_abs = gx[0], gx_abs[0]
    return gx, gx_abs, gw, gw_abs, gy4[0].size * gy4.shape[0]


def _assert_close_to(got, exact, abs_sum, n, what):
    """|got - exact| <= 4 (n + 1) u sum|terms|: a worst-case float64 summation
    bound for n terms (the kernels and the reference sum in different orders)."""
    tol = 4 * (n + 1) * U64 * abs_sum
    err = np.abs(got - exact)
    assert got.shape == exact.shape, what
    assert np.all(err <= tol), (
        f"{what}: max |err| {err.max():.3e}, worst err/tol "
        f"{np.max(err / np.maximum(tol, 1e-300)):.3g}")


@pytest.mark.parametrize("transposed", [False, True], ids=["conv2d", "conv_transpose2d"])
@pytest.mark.parametrize("seed", range(24))
def test_grads_match_reference_jacobian(xp, transposed, seed):
    rng = np.random.default_rng(seed)
    c = _case(rng, transposed, tiny=True, batched=seed % 4 != 3)
    gx, gw = _grads(c, xp)
    ex, ex_abs, ew, ew_abs, n = _jacobian_grads(c)
    _assert_close_to(gx, ex, ex_abs, n, "grad input")
    _assert_close_to(gw, ew, ew_abs, n, "grad weight")


# ---------------------------------------------------------------------------
# (2) Adjoint identities (no torch), hypothesis-driven
# ---------------------------------------------------------------------------

@given(seed=st.integers(0, 2**32 - 1), transposed=st.booleans(), batched=st.booleans())
def test_adjoint_identities(seed, transposed, batched):
    """<f(x, w), g> == <x, grad_input(g)> == <w, grad_weight(x, g)> for the
    bilinear forward op f (evaluated by fastconv itself)."""
    rng = np.random.default_rng(seed)
    c = _case(rng, transposed, batched=batched)
    x, w, gy = c["x"], c["w"], c["gy"]
    f = fastconv.conv_transpose2d if transposed else fastconv.conv2d
    y = f(x, w, None, **c["kwargs"])
    gx, gw = _grads(c)
    lhs = np.vdot(y, gy)
    scale = np.vdot(np.abs(f(np.abs(x), np.abs(w), None, **c["kwargs"])), np.abs(gy))
    n = y.size + w[0].size * x.shape[-2] * x.shape[-1]
    tol = 4 * n * U64 * scale
    assert abs(np.vdot(x, gx) - lhs) <= tol
    assert abs(np.vdot(w, gw) - lhs) <= tol


# ---------------------------------------------------------------------------
# (3) Against torch (float64, rtol = atol = 1e-10)
# ---------------------------------------------------------------------------

def _torch_autograd(c):
    import torch.nn.functional as F
    tx = torch.tensor(c["x"], requires_grad=True)
    tw = torch.tensor(c["w"], requires_grad=True)
    f = F.conv_transpose2d if c["transposed"] else F.conv2d
    kwargs = dict(c["kwargs"])
    if isinstance(kwargs.get("padding"), tuple) and isinstance(kwargs["padding"][0], tuple):
        (pt, pb), (pl, pr) = kwargs.pop("padding")   # our nested form: F.pad, then conv
        y = f(F.pad(tx, (pl, pr, pt, pb)), tw, None, padding=0, **kwargs)
    else:
        y = f(tx, tw, None, **kwargs)
    y.backward(torch.tensor(c["gy"]))
    return tx.grad.numpy(), tw.grad.numpy()


def _close(got, expected, what):
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10, err_msg=what)


@needs_torch
@pytest.mark.parametrize("transposed", [False, True], ids=["conv2d", "conv_transpose2d"])
@pytest.mark.parametrize("seed", range(60))
def test_grads_match_torch_autograd(transposed, seed):
    rng = np.random.default_rng(1000 + seed)
    c = _case(rng, transposed, batched=seed % 5 != 4)
    gx, gw = _grads(c)
    tgx, tgw = _torch_autograd(c)
    _close(gx, tgx, "grad input")
    _close(gw, tgw, "grad weight")


@needs_torch
@pytest.mark.parametrize("seed", range(30))
def test_conv2d_grads_match_torch_nn_grad(seed):
    """torch.nn.grad takes int/pair padding and batched arrays only."""
    rng = np.random.default_rng(2000 + seed)
    c = _case(rng, False)
    while not isinstance(c["kwargs"]["padding"], int) and not (
            isinstance(c["kwargs"]["padding"], tuple)
            and isinstance(c["kwargs"]["padding"][0], int)):
        c = _case(rng, False)
    x, w, gy, kw = c["x"], c["w"], c["gy"], c["kwargs"]
    tx, tw, tgy = (torch.tensor(a) for a in (x, w, gy))
    args = (kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    _close(fg.conv2d_input(x.shape, w, gy, *args),
           torch.nn.grad.conv2d_input(x.shape, tw, tgy, *args).numpy(), "conv2d_input")
    _close(fg.conv2d_weight(x, w.shape, gy, *args),
           torch.nn.grad.conv2d_weight(tx, w.shape, tgy, *args).numpy(), "conv2d_weight")


@needs_torch
@pytest.mark.parametrize("kernel", [(1, 1), (2, 2), (3, 4), (4, 3)])
@pytest.mark.parametrize("dilation", [1, 2])
def test_same_padding_matches_torch_autograd(kernel, dilation):
    """'same' with even kernels pads one more at the bottom/right: the
    asymmetric path of Note [grad input as transposed conv]."""
    rng = np.random.default_rng(sum(kernel) * 10 + dilation)
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((6, 2, *kernel))
    gy = rng.standard_normal((2, 6, 7, 6))
    c = dict(x=x, w=w, gy=gy, transposed=False,
             kwargs=dict(stride=1, padding="same", dilation=dilation, groups=2))
    gx, gw = _grads(c)
    tgx, tgw = _torch_autograd(c)
    _close(gx, tgx, "grad input")
    _close(gw, tgw, "grad weight")


# ---------------------------------------------------------------------------
# Forms of the arguments, float32, empty sizes
# ---------------------------------------------------------------------------

def test_input_size_forms_agree():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 2, 3, 3))
    gy = fastconv.conv2d(x, w, None, 2, 1, 1, 2)
    full = fg.conv2d_input((2, 4, 9, 8), w, gy, 2, 1, 1, 2)
    assert full.shape == (2, 4, 9, 8)
    np.testing.assert_array_equal(fg.conv2d_input((9, 8), w, gy, 2, 1, 1, 2), full)
    np.testing.assert_array_equal(fg.conv2d_input([9, 8], w, gy, 2, 1, 1, 2), full)
    # 9 and 8 rows give the same output size at stride 2: input_size decides.
    assert fg.conv2d_input((2, 4, 10, 8), w, gy, 2, 1, 1, 2).shape == (2, 4, 10, 8)
    # unbatched
    np.testing.assert_array_equal(fg.conv2d_input((4, 9, 8), w, gy[0], 2, 1, 1, 2), full[0])
    wt = rng.standard_normal((4, 3, 3, 3))
    gyt = fastconv.conv_transpose2d(x, wt, None, 2, 1, 1, 2, 1)
    full = fg.conv_transpose2d_input(x.shape, wt, gyt, 2, 1, 1, 2, 1)
    np.testing.assert_array_equal(fg.conv_transpose2d_input((9, 8), wt, gyt, 2, 1, 1, 2, 1), full)


@pytest.mark.parametrize("transposed", [False, True], ids=["conv2d", "conv_transpose2d"])
def test_float32_close_to_float64(transposed):
    rng = np.random.default_rng(7)
    c = _case(rng, transposed)
    gx64, gw64 = _grads(c)
    c32 = {k: (v.astype(np.float32) if isinstance(v, np.ndarray) else v) for k, v in c.items()}
    gx32, gw32 = _grads(c32)
    assert gx32.dtype == np.float32 and gw32.dtype == np.float32
    for a, b in ((gx32, gx64), (gw32, gw64)):
        # a few hundred float32 products per element at most
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


def test_empty_batch_gives_zeros():
    w = np.ones((4, 3, 3, 3))
    x = np.ones((0, 3, 5, 5))
    gy = np.ones((0, 4, 3, 3))
    assert fg.conv2d_input((0, 3, 5, 5), w, gy).shape == (0, 3, 5, 5)
    gw = fg.conv2d_weight(x, (4, 3, 3, 3), gy)
    assert gw.shape == (4, 3, 3, 3) and not gw.any()
    wt = np.ones((3, 4, 3, 3))
    gyt = np.ones((0, 4, 7, 7))
    gw = fg.conv_transpose2d_weight(x, (3, 4, 3, 3), gyt)
    assert gw.shape == (3, 4, 3, 3) and not gw.any()
    assert fg.conv_transpose2d_input((0, 3, 5, 5), wt, gyt).shape == (0, 3, 5, 5)


def test_inputs_are_not_modified():
    rng = np.random.default_rng(3)
    c = _case(rng, False)
    before = {k: c[k].copy() for k in ("x", "w", "gy")}
    _grads(c)
    for k, v in before.items():
        np.testing.assert_array_equal(c[k], v)


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

def test_errors():
    w = np.ones((4, 3, 3, 3))
    gy = np.ones((2, 4, 6, 6))
    x = np.ones((2, 3, 8, 8))
    with pytest.raises(fastconv.ConvError, match=r"expected grad_output of size \[2, 4, 5, 5\], "
                       r"but got grad_output of size \[2, 4, 6, 6\] instead"):
        fg.conv2d_input((2, 3, 7, 7), w, gy)
    with pytest.raises(fastconv.ConvError, match=r"expected grad_output of size \[2, 4, 7, 7\]"):
        fg.conv2d_weight(x, (4, 3, 2, 2), gy)
    with pytest.raises(fastconv.ConvError, match="to have 12 channels, but got 3"):
        fg.conv2d_weight(x, (4, 3, 3, 3), gy, groups=4)
    with pytest.raises(fastconv.ConvError, match="input_size to have 4 elements"):
        fg.conv2d_input((1, 2, 3, 8, 8), w, gy)
    with pytest.raises(fastconv.ConvError, match="both be batched"):
        fg.conv2d_weight(x[0], (4, 3, 3, 3), gy)
    with pytest.raises(fastconv.ConvError, match="same dtype"):
        fg.conv2d_input(x.shape, w.astype(np.float32), gy)
    with pytest.raises(fastconv.ConvError, match="same dtype"):
        fg.conv_transpose2d_weight(x, (3, 4, 3, 3), gy.astype(np.float32))
    with pytest.raises(TypeError, match="'grad_output' must be an array"):
        fg.conv2d_input(x.shape, w, gy.tolist())
    with pytest.raises(TypeError, match="input_size must be a tuple of ints"):
        fg.conv2d_input(8, w, gy)
    with pytest.raises(TypeError, match="input_size"):
        fg.conv2d_input((2, 3, 8.0, 8), w, gy)
    with pytest.raises(fastconv.ConvError, match="Expected 4D weight"):
        fg.conv2d_input(x.shape, w[0], gy)
    with pytest.raises(fastconv.ConvError, match="not supported for strided"):
        fg.conv2d_input(x.shape, w, gy, stride=2, padding="same")
    wt = np.ones((3, 4, 3, 3))
    with pytest.raises(fastconv.ConvError, match=r"expected grad_output of size \[2, 4, 10, 10\]"):
        fg.conv_transpose2d_input(x.shape, wt, gy)
    with pytest.raises(fastconv.ConvError, match="output padding must be smaller"):
        fg.conv_transpose2d_input(x.shape, wt, np.ones((2, 4, 11, 11)), output_padding=1)
    with pytest.raises(TypeError):
        fg.conv_transpose2d_weight(x, (3, 4, 3, 3), np.ones((2, 4, 10, 10)), padding="same")
