"""Independent float64 NumPy reference for conv2d / conv_transpose2d.

Never imports fastconv: everything here (padding rules included) is written
again from torch's documented semantics, so a shared misunderstanding cannot
make fastconv agree with itself.

Two layers:

* ``conv2d_ref`` / ``conv_transpose2d_ref``: vectorised (np.pad + strided,
  dilated window view + einsum per group; the transposed conv via zero
  insertion + padding d*(k-1)-p + flipped, in/out-swapped weight).
* ``conv2d_loops`` / ``conv_transpose2d_loops``: the textbook definitions as
  nested Python loops (the transposed one as a scatter), used only to check
  the layer above on tiny shapes (tests/test_reference.py).

Legend: N, C, H, W input; K output channels; kh, kw kernel; OH, OW output;
G groups; C_g = C // G, K_g = K // G; sh, sw stride; dh, dw dilation;
oph, opw output padding; pt, pb, pl, pr padding top/bottom/left/right.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

# torch padding_mode -> numpy.pad mode (torch 'reflect' does not repeat the
# edge, like numpy's 'reflect'; 'replicate' is 'edge'; 'circular' is 'wrap').
_NP_PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


# ---------------------------------------------------------------------------
# Parameter parsing (independent of fastconv)
# ---------------------------------------------------------------------------

def pair(v):
    """int, 1- or 2-sequence of ints -> (a, b) of Python ints.

    torch expands a 1-sequence like an int: F.conv2d(..., stride=(2,))."""
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    t = tuple(int(i) for i in v)
    if len(t) == 1:
        t = t * 2
    if len(t) != 2:
        raise ValueError(f"expected an int or a pair, got {v!r}")
    return t


def conv_padding(padding, kernel_hw, dilation=1):
    """Padding argument of conv2d -> ((pt, pb), (pl, pr)).

    'same' follows torch (ATen _convolution_mode): per axis total = d*(k-1),
    left = total // 2, right = total - left (the odd extra goes bottom/right).
    """
    kh, kw = kernel_hw
    dh, dw = pair(dilation)
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            out = []
            for d, k in ((dh, kh), (dw, kw)):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))
            return tuple(out)
        raise ValueError(f"bad padding string {padding!r}")
    if isinstance(padding, (int, np.integer)):
        p = int(padding)
        return (p, p), (p, p)
    items = tuple(padding)
    if len(items) == 2 and all(isinstance(i, (tuple, list)) for i in items):
        return pair(items[0]), pair(items[1])
    ph, pw = pair(items)
    return (ph, ph), (pw, pw)


def transposed_padding(padding):
    """Padding argument of conv_transpose2d -> ((pt, pb), (pl, pr)).

    torch only has symmetric int/pair; the nested form is accepted here so the
    reference (and the loops) can describe the general case."""
    return conv_padding(padding, (1, 1))


def conv2d_output_hw(H, W, kernel_hw, stride, pads, dilation):
    """torch's formula: floor((H + pt + pb - d*(k-1) - 1) / s) + 1."""
    (pt, pb), (pl, pr) = pads
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    kh, kw = kernel_hw
    OH = (H + pt + pb - dh * (kh - 1) - 1) // sh + 1
    OW = (W + pl + pr - dw * (kw - 1) - 1) // sw + 1
    return OH, OW


def conv_transpose2d_output_hw(H, W, kernel_hw, stride, pads, output_padding, dilation):
    """torch's formula: (H - 1)*s - pt - pb + d*(k-1) + op + 1."""
    (pt, pb), (pl, pr) = pads
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    oph, opw = pair(output_padding)
    kh, kw = kernel_hw
    OH = (H - 1) * sh - pt - pb + dh * (kh - 1) + oph + 1
    OW = (W - 1) * sw - pl - pr + dw * (kw - 1) + opw + 1
    return OH, OW


# ---------------------------------------------------------------------------
# Vectorised reference
# ---------------------------------------------------------------------------

def _as_f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def _pad_or_crop(x, top, bottom, left, right, mode="zeros"):
    """Pad the last two axes (negative amounts crop)."""
    H, W = x.shape[-2:]
    x = x[..., max(0, -top):H - max(0, -bottom), max(0, -left):W - max(0, -right)]
    widths = [(0, 0)] * (x.ndim - 2) + [(max(0, top), max(0, bottom)),
                                        (max(0, left), max(0, right))]
    return np.pad(x, widths, mode=_NP_PAD_MODE[mode])


def conv2d_ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1,
               padding_mode="zeros"):
    """float64 conv2d with torch.nn.Conv2d semantics (cross-correlation)."""
    x, w, b = _as_f64(x), _as_f64(w), _as_f64(b)
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    N, C, H, W = x.shape
    K, C_g, kh, kw = w.shape
    G = int(groups)
    if C != C_g * G or K % G:
        raise ValueError("reference: inconsistent channels/groups")
    K_g = K // G
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    (pt, pb), (pl, pr) = conv_padding(padding, (kh, kw), (dh, dw))
    xp = _pad_or_crop(x, pt, pb, pl, pr, padding_mode)
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1  # dilated kernel extent
    # [N, C, Hp-eh+1, Wp-ew+1, eh, ew] -> stride the positions, dilate the taps.
    win = sliding_window_view(xp, (eh, ew), axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    OH, OW = win.shape[2:4]
    out = np.empty((N, K, OH, OW))
    for g in range(G):
        out[:, g * K_g:(g + 1) * K_g] = np.einsum(
            "nchwij,kcij->nkhw", win[:, g * C_g:(g + 1) * C_g], w[g * K_g:(g + 1) * K_g],
            optimize=True)
    if b is not None:
        out += b[None, :, None, None]
    return out[0] if unbatched else out


def conv_transpose2d_ref(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """float64 conv_transpose2d (torch argument order) as a plain conv2d:
    insert s-1 zeros between inputs, pad d*(k-1)-p on each side (plus the
    output padding at the bottom/right; negative amounts crop), then correlate
    with the spatially flipped weight whose in/out channels are swapped per
    group, stride 1, same dilation."""
    x, w, b = _as_f64(x), _as_f64(w), _as_f64(b)
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    N, C, H, W = x.shape
    Cw, K_g, kh, kw = w.shape
    G = int(groups)
    if C != Cw or C % G:
        raise ValueError("reference: inconsistent channels/groups")
    C_g, K = C // G, K_g * G
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    oph, opw = pair(output_padding)
    (pt, pb), (pl, pr) = transposed_padding(padding)
    z = np.zeros((N, C, (H - 1) * sh + 1, (W - 1) * sw + 1))
    z[:, :, ::sh, ::sw] = x
    z = _pad_or_crop(z, dh * (kh - 1) - pt, dh * (kh - 1) - pb + oph,
                     dw * (kw - 1) - pl, dw * (kw - 1) - pr + opw)
    # w[g*C_g + c, k, i, j] -> wc[g*K_g + k, c, kh-1-i, kw-1-j]
    wc = (w.reshape(G, C_g, K_g, kh, kw).transpose(0, 2, 1, 3, 4)
          .reshape(K, C_g, kh, kw)[:, :, ::-1, ::-1])
    out = conv2d_ref(z, wc, b, stride=1, padding=0, dilation=(dh, dw), groups=G)
    return out[0] if unbatched else out


# ---------------------------------------------------------------------------
# Nested-loop definitions (tiny shapes only)
# ---------------------------------------------------------------------------

def _source_index(i, n, mode):
    """Index into an axis of length n for padded position i (None = zero)."""
    if 0 <= i < n:
        return i
    if mode == "zeros":
        return None
    if mode == "replicate":
        return min(max(i, 0), n - 1)
    if mode == "circular":
        return i % n
    if mode == "reflect":  # mirror about the edge sample, edge not repeated
        period = 2 * (n - 1)
        if period == 0:
            return 0
        i = i % period
        return i if i < n else period - i
    raise ValueError(mode)


def conv2d_loops(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """out[n, k, oh, ow] = b[k] + sum_{c, i, j} w[k, c, i, j] *
    xpad[n, g*C_g + c, oh*sh - pt + i*dh, ow*sw - pl + j*dw], g = k // K_g."""
    x, w, b = _as_f64(x), _as_f64(w), _as_f64(b)
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    N, C, H, W = x.shape
    K, C_g, kh, kw = w.shape
    K_g = K // groups
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    (pt, pb), (pl, pr) = conv_padding(padding, (kh, kw), (dh, dw))
    OH = (H + pt + pb - dh * (kh - 1) - 1) // sh + 1
    OW = (W + pl + pr - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((N, K, OH, OW))
    for n in range(N):
        for k in range(K):
            g = k // K_g
            for oh in range(OH):
                for ow in range(OW):
                    s = 0.0 if b is None else b[k]
                    for c in range(C_g):
                        for i in range(kh):
                            ih = _source_index(oh * sh - pt + i * dh, H, padding_mode)
                            if ih is None:
                                continue
                            for j in range(kw):
                                iw = _source_index(ow * sw - pl + j * dw, W, padding_mode)
                                if iw is None:
                                    continue
                                s += w[k, c, i, j] * x[n, g * C_g + c, ih, iw]
                    out[n, k, oh, ow] = s
    return out[0] if unbatched else out


def conv_transpose2d_loops(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                           dilation=1):
    """Scatter definition: every input x[n, c, h, v] adds x * w[c, k, i, j]
    to out[n, g*K_g + k, h*sh - pt + i*dh, v*sw - pl + j*dw] (dropped when
    outside), g = c // C_g."""
    x, w, b = _as_f64(x), _as_f64(w), _as_f64(b)
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    N, C, H, W = x.shape
    _, K_g, kh, kw = w.shape
    C_g = C // groups
    K = K_g * groups
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    oph, opw = pair(output_padding)
    (pt, pb), (pl, pr) = transposed_padding(padding)
    OH = (H - 1) * sh - pt - pb + dh * (kh - 1) + oph + 1
    OW = (W - 1) * sw - pl - pr + dw * (kw - 1) + opw + 1
    out = np.zeros((N, K, OH, OW))
    for n in range(N):
        for c in range(C):
            g = c // C_g
            for h in range(H):
                for v in range(W):
                    for k in range(K_g):
                        for i in range(kh):
                            oh = h * sh - pt + i * dh
                            if not 0 <= oh < OH:
                                continue
                            for j in range(kw):
                                ow = v * sw - pl + j * dw
                                if 0 <= ow < OW:
                                    out[n, g * K_g + k, oh, ow] += x[n, c, h, v] * w[c, k, i, j]
    if b is not None:
        out += b[None, :, None, None]
    return out[0] if unbatched else out


# ---------------------------------------------------------------------------
# Tolerances
# ---------------------------------------------------------------------------

# One table, per dtype: the unit roundoff u of the working precision.
#
# How the tolerance was chosen. Each output element is a dot product of
# length n = C_g*kh*kw plus a bias. Whatever the summation order or blocking
# (im2col+GEMM, direct loops, FMA or not, any thread split), the standard
# floating-point bound (Higham, "Accuracy and Stability", eq. 3.5) gives
#     |fl(y) - y| <= gamma_{n+1} * (sum |x_i||w_i| + |b|),  gamma_m = m*u/(1 - m*u).
# We compute that right-hand side with the reference itself (conv of |x|
# with |w|, plus |b|), so the bound is per element: it stays tight where the
# output is small through cancellation, where a plain rtol would be
# meaningless. Terms added:
#   * fastconv's own error:            (n + 1) * u[dtype]
#   * the float64 reference's error,
#     and the rounding of the bound:   2 * (n + 1) * u[float64]
# and a factor 1.01 covers the 1/(1 - m*u) in gamma. For float32 with n = 27
# this is 1.7e-6 * bound (about the "1e-5 * sum|x||w|" used elsewhere); for
# float64 it is ~1e-14 * bound, tighter than 1e-12 while still a proven
# bound. Padded values (zeros, reflected or replicated samples) and zeros
# inserted by the transposed conv are exact, so they add nothing.
# This is a worst-case bound: it is never "tuned" to make something pass. An
# algorithm that exceeds it (Winograd, FFT) does not compute the convolution
# to working precision.
UNIT_ROUNDOFF = {
    np.dtype(np.float32): 2.0 ** -24,
    np.dtype(np.float64): 2.0 ** -53,
}


def reduction_length(w, transposed=False, groups=1):
    """n = C_g*kh*kw: products summed into one output element.

    conv2d weight is [K, C_g, kh, kw]; conv_transpose2d weight is
    [C, K_g, kh, kw] and each output sums over C_g = C // groups inputs."""
    w = np.asarray(w)
    if transposed:
        return (w.shape[0] // groups) * w.shape[2] * w.shape[3]
    return w.shape[1] * w.shape[2] * w.shape[3]


def error_factor(dtype, reduction_len):
    """Relative-to-bound factor from the table above."""
    n = int(reduction_len)
    u = UNIT_ROUNDOFF[np.dtype(dtype)]
    u64 = UNIT_ROUNDOFF[np.dtype(np.float64)]
    return 1.01 * ((n + 1) * u + 2 * (n + 1) * u64)


def tolerance(dtype, reduction_len, x, w, b=None, *, transposed=False, **params):
    """Per-element absolute tolerance array: error_factor * conv(|x|, |w|) + |b|.

    params are the call's stride/padding/dilation/groups (and padding_mode or
    output_padding), passed to the reference as given."""
    ax = np.abs(_as_f64(x))
    aw = np.abs(_as_f64(w))
    ab = None if b is None else np.abs(_as_f64(b))
    ref = conv_transpose2d_ref if transposed else conv2d_ref
    bound = ref(ax, aw, ab, **params)
    return error_factor(dtype, reduction_len) * bound


def assert_within(actual, expected, tol, what="output"):
    """|actual - expected| <= tol elementwise; NaN/inf and shape mismatches fail."""
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape} != expected {expected.shape}")
    err = np.abs(actual.astype(np.float64) - expected)
    ok = err <= tol  # NaN compares False, so NaN in actual fails
    if not ok.all():
        bad = np.argwhere(~ok)
        first = tuple(int(i) for i in bad[0])
        ratio = np.max(np.where(ok, 0.0, err / np.maximum(tol, np.finfo(np.float64).tiny)))
        raise AssertionError(
            f"{what}: {len(bad)} of {err.size} elements outside tolerance; first at {first}: "
            f"got {actual[first]!r}, expected {expected[first]!r}, |err| {err[first]:.3e} > "
            f"tol {np.broadcast_to(tol, err.shape)[first]:.3e}; worst err/tol {ratio:.3g}")


# ---------------------------------------------------------------------------
# Error bound of Winograd F(2x2, 3x3) (Lavin and Gray, 2016)
# ---------------------------------------------------------------------------

# y = A^T [sum_c (G g G^T) (.) (B^T d B)] A per 2x2 output tile, d its 4x4 input patch.
WINO_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
WINO_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
WINO_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)


def winograd_magnitude(x, w, b=None, padding=0, groups=1, padding_mode="zeros", dilation=1):
    """|A^T| [sum_c (|G||g||G^T|) (.) (|B^T||d||B|)] |A| + |b| per output element:
    what every rounded operation of a 3x3, stride-1 Winograd F(2x2, 3x3)
    convolution is relative to (tiles anchored at even output rows/columns).
    It is >= conv(|x|, |w|) + |b| (the transforms' signs only cancel)."""
    x, w, b = np.abs(_as_f64(x)), np.abs(_as_f64(w)), None if b is None else np.abs(_as_f64(b))
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    N, C, H, W = x.shape
    K, C_g, kh, kw = w.shape
    assert (kh, kw) == (3, 3)
    G = int(groups)
    K_g = K // G
    dh, dw = pair(dilation)
    (pt, pb), (pl, pr) = conv_padding(padding, (3, 3), (dh, dw))
    xp = _pad_or_crop(x, pt, pb, pl, pr, padding_mode)
    OH, OW = xp.shape[2] - 2 * dh, xp.shape[3] - 2 * dw
    if (dh, dw) != (1, 1):
        # d x d output phases, each an undilated problem on every d-th row/column
        out = np.zeros((N, K, OH, OW))
        for p in range(min(dh, OH)):        # a phase without outputs has no tiles
            for q in range(min(dw, OW)):
                sub = xp[:, :, p::dh, q::dw][:, :, :-(-(OH - p) // dh) + 2,
                                               :-(-(OW - q) // dw) + 2]
                out[:, :, p::dh, q::dw] = winograd_magnitude(sub, w, None, groups=groups)
        if b is not None:
            out = out + b[None, :, None, None]
        return out[0] if unbatched else out
    TH, TW = -(-OH // 2), -(-OW // 2)
    xp = np.pad(xp, [(0, 0), (0, 0), (0, 2 * TH + 2 - xp.shape[2]), (0, 2 * TW + 2 - xp.shape[3])])
    d = sliding_window_view(xp, (4, 4), axis=(2, 3))[:, :, ::2, ::2]     # [N, C, TH, TW, 4, 4]
    bt, g_, at = np.abs(WINO_BT), np.abs(WINO_G), np.abs(WINO_AT)
    V = np.einsum("ai,nctwij,bj->nctwab", bt, d, bt, optimize=True)
    U = np.einsum("ai,kcij,bj->kcab", g_, w, g_, optimize=True)
    out = np.empty((N, K, TH, 2, TW, 2))
    for g in range(G):
        M = np.einsum("nctwab,kcab->nktwab", V[:, g * C_g:(g + 1) * C_g],
                      U[g * K_g:(g + 1) * K_g], optimize=True)
        out[:, g * K_g:(g + 1) * K_g] = np.einsum("ra,sb,nktwab->nktrws", at, at, M,
                                                  optimize=True)
    out = out.reshape(N, K, 2 * TH, 2 * TW)[:, :, :OH, :OW]
    if b is not None:
        out = out + b[None, :, None, None]
    return out[0] if unbatched else out


def winograd_tolerance(dtype, x, w, b=None, **params):
    """Per-element bound for a Winograd F(2x2, 3x3) result in `dtype`:
    1.01*((C_g + 12) u + 2(n+1) u64) * winograd_magnitude.  C_g - 1 for the
    channel sum (fused multiply-adds), 1 for each product, 2 for the input
    transform, 4 for the weight transform, 4 for the output transform, 1 for
    the bias; the float64 reference's own error is within 2(n+1) u64 of
    conv(|x|, |w|) <= the magnitude."""
    C_g = np.asarray(w).shape[1]
    u = UNIT_ROUNDOFF[np.dtype(dtype)]
    u64 = UNIT_ROUNDOFF[np.dtype(np.float64)]
    n = C_g * 9
    return 1.01 * ((C_g + 12) * u + 2 * (n + 1) * u64) * winograd_magnitude(x, w, b, **params)


# Winograd F(3x3, 2x2) on the output phases of a 4x4, stride-2 conv_transpose2d
# (Note [transposed Winograd] in fastconv/_kernels_impl.h): per phase and axis,
# y = A^T [(G g) * (B^T d)] over a 4-value input patch d and the phase's two
# kernel taps g.
WINO_T_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
WINO_T_G = np.array([[1, 0], [0.5, 0.5], [0.5, -0.5], [0, -1]], dtype=np.float64)
WINO_T_AT = np.array([[1, 1, 1, 0], [0, 1, -1, 0], [0, 1, 1, 1]], dtype=np.float64)


def winograd_transposed_magnitude(x, w, b=None, padding=0, output_padding=0):
    """|A^T| [sum_c (|G||g||G^T|) (.) (|B^T||d||B|)] |A| + |b| per output element
    of a 4x4, stride-2 conv_transpose2d computed by Winograd F(3x3, 2x2) per
    output phase.  Along an axis with padding p, output o = 2m + r (phase r)
    is sum_j x[m + e - 1 + j] * w[f + 2 - 2j] over j = 0, 1, with
    e = (r + p) // 2 and f = (r + p) % 2; its tile holds m = 3t + c .. 3t + c + 2
    with c = p // 2 - e, and the tile's patch is x[3t + p // 2 - 1 ..
    3t + p // 2 + 2] (zero outside x)."""
    x, w = np.abs(_as_f64(x)), np.abs(_as_f64(w))
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    N, C, H, W = x.shape
    assert w.shape[0] == C and w.shape[2:] == (4, 4)
    K = w.shape[1]
    (ph, pw), (oph, opw) = pair(padding), pair(output_padding)
    OH, OW = 2 * (H - 1) - 2 * ph + 4 + oph, 2 * (W - 1) - 2 * pw + 4 + opw
    TH = max(-(-((OH + 1) // 2) // 3), -(-(OH // 2 + (ph + 1) // 2 - ph // 2) // 3))
    TW = max(-(-((OW + 1) // 2) // 3), -(-(OW // 2 + (pw + 1) // 2 - pw // 2) // 3))
    # patch rows: input rows 3t + ph//2 - 1 + i, i < 4 (zero outside)
    xp = np.zeros((N, C, 3 * TH + 1, 3 * TW + 1))
    r0, c0 = ph // 2 - 1, pw // 2 - 1
    for i in range(xp.shape[2]):
        if 0 <= i + r0 < H:
            for j in range(xp.shape[3]):
                if 0 <= j + c0 < W:
                    xp[:, :, i, j] = x[:, :, i + r0, j + c0]
    d = sliding_window_view(xp, (4, 4), axis=(2, 3))[:, :, ::3, ::3]   # [N, C, TH, TW, 4, 4]
    bt, g_, at = np.abs(WINO_T_BT), np.abs(WINO_T_G), np.abs(WINO_T_AT)
    V = np.einsum("ai,nctwij,bj->nctwab", bt, d, bt, optimize=True)
    out = np.zeros((N, K, OH, OW))
    for r in range(2):
        e, f = (r + ph) // 2, (r + ph) % 2
        c = ph // 2 - e
        for s in range(2):
            e2, f2 = (s + pw) // 2, (s + pw) % 2
            c2 = pw // 2 - e2
            g = w[:, :, [f + 2, f]][:, :, :, [f2 + 2, f2]]          # [C, K, 2, 2]
            U = np.einsum("ai,ckij,bj->ckab", g_, g, g_, optimize=True)
            M = np.einsum("nctwab,ckab->nktwab", V, U, optimize=True)
            Y = np.einsum("ia,jb,nktwab->nktiwj", at, at, M, optimize=True)
            Y = Y.reshape(N, K, 3 * TH, 3 * TW)     # phase outputs m = c + (3t + i)
            for m in range(3 * TH):
                o = 2 * (m + c) + r
                if not 0 <= o < OH:
                    continue
                cols = 2 * (np.arange(3 * TW) + c2) + s
                keep = (cols >= 0) & (cols < OW)
                out[:, :, o, cols[keep]] = Y[:, :, m, keep]
    if b is not None:
        out = out + np.abs(_as_f64(b))[None, :, None, None]
    return out[0] if unbatched else out


def winograd_transposed_tolerance(dtype, x, w, b=None, **params):
    """Per-element bound for the transposed Winograd result in `dtype`, as
    winograd_tolerance: C - 1 for the channel sum, 1 for each product, 2 for
    the input transform, 4 for the weight transform, 4 for the output
    transform, 1 for the bias; the float64 reference's own error within
    2(n+1) u64 of conv(|x|, |w|), n = 4 C taps an output."""
    C = np.asarray(w).shape[0]
    u = UNIT_ROUNDOFF[np.dtype(dtype)]
    u64 = UNIT_ROUNDOFF[np.dtype(np.float64)]
    n = C * 4
    return 1.01 * ((C + 12) * u + 2 * (n + 1) * u64) * winograd_transposed_magnitude(
        x, w, b, **params)
