"""Argument parsing and shape checks shared by every backend (stdlib only).

Everything a user passes is normalised here, once, into a frozen dataclass of
ints (`ConvParams`).  Messages follow PyTorch's wording where PyTorch has one
(ATen `ConvUtils.h` / `Convolution.cpp`, `torch/nn/modules/conv.py`).

Index legend (used across fastconv):
    N, C, H, W    input batch, channels, height, width
    K             output channels;  G groups;  C_g = C // G;  K_g = K // G
    kh, kw        kernel height, width
    OH, OW        output height, width
    sh, sw        stride;  dh, dw dilation;  oph, opw output padding
    pt, pb, pl, pr  padding top, bottom, left, right
"""

import operator
from dataclasses import dataclass

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class ConvError(RuntimeError, ValueError):
    """Bad argument or shape.

    Derives from RuntimeError (what torch raises) and ValueError (what NumPy
    code expects), so either ``except`` clause catches it.
    """


def _index(v, name):
    # bool is an int subclass; torch rejects it, and so do we.
    if isinstance(v, bool):
        raise TypeError(f"{name} must be an int or a tuple of ints, but got bool")
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError(
            f"{name} must be an int or a tuple of ints, but got "
            f"{type(v).__name__} ({v!r})") from None
    if not -2**63 <= i < 2**63:
        raise ConvError(f"{name} value {i} does not fit in a 64-bit integer")
    return i


def pair(v, name):
    """An int or a sequence of 1 or 2 ints -> (int, int), torch's broadcasting."""
    if isinstance(v, (str, bytes)):
        raise TypeError(f"{name} must be an int or a tuple of ints, but got {v!r}")
    try:
        items = tuple(v)
    except TypeError:
        x = _index(v, name)
        return (x, x)
    if len(items) == 1:
        x = _index(items[0], name)
        return (x, x)
    if len(items) != 2:
        raise ConvError(
            f"expected {name} to be a single integer value or a list of 2 values "
            f"to match the convolution dimensions, but got {name}={list(items)}")
    return (_index(items[0], name), _index(items[1], name))


def _shape(s):
    return "[" + ", ".join(str(d) for d in s) + "]"


def is_nested_padding(padding):
    """Whether padding has the ((top, bottom), (left, right)) form."""
    if isinstance(padding, str):
        return False
    try:
        items = tuple(padding)
    except TypeError:
        return False
    return len(items) == 2 and all(
        not isinstance(i, (str, bytes)) and hasattr(i, "__len__") for i in items)


def parse_padding(padding, kh, kw, dh, dw, sh, sw):
    """padding -> ((pt, pb), (pl, pr)).

    Accepts an int, a pair, 'valid', 'same' (torch: stride 1 only; an odd
    total goes one extra on the bottom/right) and, as an extension,
    ((top, bottom), (left, right)).
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if sh != 1 or sw != 1:
                raise ConvError("padding='same' is not supported for strided convolutions")
            th, tw = dh * (kh - 1), dw * (kw - 1)
            return (th // 2, th - th // 2), (tw // 2, tw - tw // 2)
        raise ConvError(f"Invalid padding string: {padding!r}")
    try:
        items = tuple(padding)
    except TypeError:
        p = _index(padding, "padding")
        return (p, p), (p, p)
    if is_nested_padding(items):
        (pt, pb), (pl, pr) = (pair_exact(i, "padding") for i in items)
        return (pt, pb), (pl, pr)
    ph, pw = pair(items, "padding")
    return (ph, ph), (pw, pw)


def pair_exact(v, name):
    items = tuple(v)
    if len(items) != 2:
        raise ConvError(
            f"expected each entry of {name} to be a (before, after) pair, but got {list(items)}")
    return (_index(items[0], name), _index(items[1], name))


@dataclass(frozen=True)
class ConvParams:
    """A fully checked convolution problem, batched NCHW, in ints only."""
    transposed: bool
    N: int
    C: int
    H: int
    W: int
    K: int
    G: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pt: int
    pb: int
    pl: int
    pr: int
    oph: int
    opw: int
    OH: int
    OW: int
    padding_mode: str
    batched: bool

    @property
    def C_g(self):
        return self.C // self.G

    @property
    def K_g(self):
        return self.K // self.G

    @property
    def out_shape(self):
        if self.batched:
            return (self.N, self.K, self.OH, self.OW)
        return (self.K, self.OH, self.OW)

    @property
    def macs(self):
        """Multiply-adds of the convolution (no zero taps counted)."""
        if self.transposed:
            return self.N * self.C * self.H * self.W * self.K_g * self.kh * self.kw
        return self.N * self.K * self.OH * self.OW * self.C_g * self.kh * self.kw


def conv_output_size(size, k, s, p_before, p_after, d):
    """conv2d: floor((size + p_before + p_after - d*(k-1) - 1) / s) + 1."""
    return (size + p_before + p_after - d * (k - 1) - 1) // s + 1


def conv_transpose_output_size(size, k, s, p, op, d):
    """conv_transpose2d: (size - 1)*s - 2p + d*(k-1) + op + 1."""
    return (size - 1) * s - 2 * p + d * (k - 1) + op + 1


def _check_common(op, input_shape, weight_shape, bias_shape, groups, stride, dilation):
    if len(input_shape) not in (3, 4):
        raise ConvError(
            f"Expected 3D (unbatched) or 4D (batched) input to {op}, but got input of "
            f"size: {_shape(input_shape)}")
    if len(weight_shape) != 4:
        raise ConvError(
            f"Expected 4D weight to {op}, but got weight of size: {_shape(weight_shape)}")
    G = _index(groups, "groups")
    sh, sw = pair(stride, "stride")
    dh, dw = pair(dilation, "dilation")
    batched = len(input_shape) == 4
    N, C, H, W = input_shape if batched else (1,) + tuple(input_shape)
    if sh <= 0 or sw <= 0:
        raise ConvError("non-positive stride is not supported")
    if G <= 0:
        raise ConvError("non-positive groups is not supported")
    # Note [empty inputs]: torch sends an input with no elements down a shortcut
    # that skips the backend's own checks (dilation, output_padding, the output
    # size) and whose output has 0 channels when the weight is empty too.  We
    # follow it, so every call torch accepts, fastconv accepts with its shape.
    empty = N == 0 or C == 0
    return batched, N, C, H, W, G, sh, sw, dh, dw, empty


def _check_spatial_nonempty(input_shape, kh, kw, batched, empty, pads=None):
    """pads ((pt, pb), (pl, pr)): the nested-padding extension with zeros, defined
    as F.pad then a convolution, whose input is the padded one (Note [nested
    padding of an empty input])."""
    if kh <= 0 or kw <= 0:
        raise ConvError(
            f"kernel size should be greater than zero, but got kernel_height: {kh} "
            f"kernel_width: {kw}")
    shape4 = tuple(input_shape) if batched else (1,) + tuple(input_shape)
    if pads is not None:
        (pt, pb), (pl, pr) = pads
        shape4 = shape4[:2] + (shape4[2] + pt + pb, shape4[3] + pl + pr)
    if not empty and (shape4[2] == 0 or shape4[3] == 0):
        raise ConvError(
            "Only zero batch or zero channel inputs are supported, but got input shape: "
            f"{_shape(shape4)}")


def _check_bias(bias_shape, weight_shape, K, transposed):
    if bias_shape is None:
        return
    if len(bias_shape) != 1 or bias_shape[0] != K:
        prefix = "Given transposed=1, weight" if transposed else "Given weight"
        raise ConvError(
            f"{prefix} of size {_shape(weight_shape)}, expected bias to be 1-dimensional "
            f"with {K} elements, but got bias of size {_shape(bias_shape)} instead")


def _check_weight_groups(weight_shape, G):
    if weight_shape[0] < G:
        raise ConvError(
            f"Given groups={G}, expected weight to be at least {G} at dimension 0, but got "
            f"weight of size {_shape(weight_shape)} instead")
    if weight_shape[0] % G != 0:
        raise ConvError(
            f"Given groups={G}, expected weight to be divisible by {G} at dimension 0, but "
            f"got weight of size {_shape(weight_shape)} instead")


def _check_padding_mode(mode, pt, pb, pl, pr, shape4, input_shape):
    """Size rules of F.pad for the non-zero modes (torch's messages).  nn.Conv2d
    pads before it convolves, so these come first."""
    C, H, W = shape4[1], shape4[2], shape4[3]
    if mode in ("reflect", "replicate") and 0 in (C, H, W):
        raise ConvError(
            "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other "
            f"non-zero dimensions for input, but got: {_shape(input_shape)}")
    if mode == "reflect":
        nd = len(input_shape)       # torch names the dimension of the input as given
        for (a, b), size, dim, arg in (((pl, pr), W, nd - 1, 4), ((pt, pb), H, nd - 2, 6)):
            if a >= size or b >= size:
                raise ConvError(
                    f"Argument #{arg}: Padding size should be less than the corresponding "
                    f"input dimension, but got: padding ({a}, {b}) at dimension {dim} of "
                    f"input {_shape(input_shape)}")
    elif mode == "circular":
        if max(pt, pb) > H or max(pl, pr) > W:
            raise ConvError("Padding value causes wrapping around more than once.")


def conv2d_params(input_shape, weight_shape, bias_shape, stride, padding, dilation, groups,
                  padding_mode="zeros"):
    """Check a conv2d call the way torch does and return its ConvParams."""
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ConvError(
            f"padding_mode must be one of {set(PADDING_MODES)}, but got "
            f"padding_mode={padding_mode!r}")
    batched, N, C, H, W, G, sh, sw, dh, dw, empty = _check_common(
        "conv2d", input_shape, weight_shape, bias_shape, groups, stride, dilation)
    K, C_g, kh, kw = weight_shape
    (pt, pb), (pl, pr) = parse_padding(padding, kh, kw, dh, dw, sh, sw)
    if min(pt, pb, pl, pr) < 0:
        raise ConvError("negative padding is not supported")
    if padding_mode != "zeros":
        _check_padding_mode(padding_mode, pt, pb, pl, pr, (N, C, H, W), input_shape)
    # torch rejects a negative dilation always, a zero one only for non-empty input.
    if dh < 0 or dw < 0 or ((dh == 0 or dw == 0) and not empty):
        raise ConvError(f"dilation should be greater than zero, but got {[dh, dw]}")
    _check_weight_groups(weight_shape, G)
    shape4 = (N, C, H, W)
    if C != C_g * G:
        raise ConvError(
            f"Given groups={G}, weight of size {_shape(weight_shape)}, expected "
            f"input{_shape(shape4)} to have {C_g * G} channels, but got {C} channels instead")
    _check_bias(bias_shape, weight_shape, K, False)
    # Note [nested padding of an empty input]: the ((top, bottom), (left, right))
    # extension means F.pad, then conv2d with no padding (that is what the tests
    # compare with).  With zeros, an input with no rows or columns padded into
    # some is then a valid all-zero input; torch's own padding= forms reject it.
    nested = padding_mode == "zeros" and is_nested_padding(padding)
    _check_spatial_nonempty(input_shape, kh, kw, batched, empty,
                            ((pt, pb), (pl, pr)) if nested else None)
    PH, PW = H + pt + pb, W + pl + pr
    ekh, ekw = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if PH < ekh or PW < ekw:
        raise ConvError(
            f"Calculated padded input size per channel: ({PH} x {PW}). Kernel size: "
            f"({ekh} x {ekw}). Kernel size can't be greater than actual input size")
    OH = conv_output_size(H, kh, sh, pt, pb, dh)
    OW = conv_output_size(W, kw, sw, pl, pr, dw)
    if empty and C_g == 0:
        K = 0   # Note [empty inputs]
    return ConvParams(False, N, C, H, W, K, G, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, 0, 0,
                      OH, OW, padding_mode, batched)


def conv_transpose2d_params(input_shape, weight_shape, bias_shape, stride, padding,
                            output_padding, groups, dilation):
    """Check a conv_transpose2d call the way torch does and return its ConvParams."""
    if isinstance(padding, str):
        raise TypeError(
            f"conv_transpose2d(): argument 'padding' must be tuple of ints, not str "
            f"({padding!r})")
    batched, N, C, H, W, G, sh, sw, dh, dw, empty = _check_common(
        "conv_transpose2d", input_shape, weight_shape, bias_shape, groups, stride, dilation)
    ph, pw = pair(padding, "padding")
    oph, opw = pair(output_padding, "output_padding")
    Cw, K_g, kh, kw = weight_shape
    # torch's transposed kernels take these as 32-bit ints (a stride of 2**40
    # wraps to 0 there); reject what cannot be represented instead.
    if max(sh, sw, dh, dw, ph, pw, oph, opw) >= 2**31:
        raise ConvError(
            "conv_transpose2d: stride, padding, output_padding and dilation must be below "
            f"2**31, but got stride={[sh, sw]}, padding={[ph, pw]}, "
            f"output_padding={[oph, opw]}, dilation={[dh, dw]}")
    if ph < 0 or pw < 0:
        raise ConvError("negative padding is not supported")
    if oph < 0 or opw < 0:
        raise ConvError("negative output_padding is not supported")
    if dh < 0 or dw < 0 or ((dh == 0 or dw == 0) and not empty):
        raise ConvError(
            f"dilation should be greater than zero, but got dilation_height: {dh}, "
            f"dilation_width: {dw}")
    if not ((oph < sh or oph < dh) and (opw < sw or opw < dw)) and not empty:
        raise ConvError(
            "output padding must be smaller than either stride or dilation, but got "
            f"output_padding_height: {oph} output_padding_width: {opw} stride_height: {sh} "
            f"stride_width: {sw} dilation_height: {dh} dilation_width: {dw}")
    _check_weight_groups(weight_shape, G)
    if K_g == 0:
        raise ConvError(
            f"non-empty 2D or 4D weight tensor expected, but got: {_shape(weight_shape)}")
    shape4 = (N, C, H, W)
    if C != Cw:
        raise ConvError(
            f"Given transposed=1, weight of size {_shape(weight_shape)}, expected "
            f"input{_shape(shape4)} to have {Cw} channels, but got {C} channels instead")
    K = K_g * G
    _check_bias(bias_shape, weight_shape, K, True)
    _check_spatial_nonempty(input_shape, kh, kw, batched, empty)
    OH = conv_transpose_output_size(H, kh, sh, ph, oph, dh)
    OW = conv_transpose_output_size(W, kw, sw, pw, opw, dw)
    if empty and (OH < 0 or OW < 0):
        shape = [N, K, OH, OW] if batched else [K, OH, OW]
        i = shape.index(min(OH, OW))
        raise ConvError(f"invalid shape dimension {shape[i]} at index {i} of shape {shape}")
    if (OH <= 0 or OW <= 0) and not empty:
        raise ConvError(
            f"Given input size per channel: ({H} x {W}). Calculated output size per "
            f"channel: ({OH} x {OW}). Output size is too small")
    return ConvParams(True, N, C, H, W, K, G, kh, kw, sh, sw, dh, dw, ph, ph, pw, pw,
                      oph, opw, OH, OW, "zeros", batched)
