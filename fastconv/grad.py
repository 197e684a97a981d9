"""Gradients of conv2d and conv_transpose2d, as ``torch.nn.grad``.

``conv2d_input`` / ``conv2d_weight`` take ``torch.nn.grad``'s arguments in its
order; ``conv_transpose2d_input`` / ``conv_transpose2d_weight`` mirror
:func:`fastconv.conv_transpose2d` (``..., stride, padding, output_padding,
groups, dilation``).  Every gradient is one call of a forward op, so it runs
on the forward kernels of whichever backend the arrays belong to:

- conv2d, d/d input:  a conv_transpose2d of grad_output with the same weight
  (Note [grad input as transposed conv]);
- conv2d, d/d weight: a conv2d of the input, with batch and channel axes
  swapped, by grad_output used as the kernel (Note [grad weight as conv]);
- conv_transpose2d, d/d input: a conv2d of grad_output with the same weight
  (conv_transpose2d is conv2d's adjoint);
- conv_transpose2d, d/d weight: conv2d's weight gradient with the roles of
  input and grad_output swapped.

Beyond torch 2.13 (whose ``conv2d_input`` needs the whole 4-D ``input_size``
and a batched ``grad_output``): unbatched arrays ([C, H, W] with a 3-D
``input_size``), an ``input_size`` of (H, W) only (batch and channels are
then read off grad_output and weight), and conv2d's padding forms 'same',
'valid' and ((top, bottom), (left, right)).
"""

import numpy as np

from ._api import conv2d, conv_transpose2d
from ._params import ConvError, _index, conv2d_params, conv_transpose2d_params

__all__ = ["conv2d_input", "conv2d_weight", "conv_transpose2d_input",
           "conv_transpose2d_weight"]


def _shape(s):
    return "[" + ", ".join(str(d) for d in s) + "]"


def _check_array(a, name, op):
    if not hasattr(a, "shape") or not hasattr(a, "dtype"):
        raise TypeError(f"{op}(): argument '{name}' must be an array, not {type(a).__name__}")


def _check_same_dtype(op, a, a_name, b, b_name):
    if a.dtype != b.dtype:
        raise ConvError(
            f"{op}(): expected {a_name} and {b_name} to have the same dtype, but got "
            f"{a_name}.dtype={a.dtype} and {b_name}.dtype={b.dtype}")


def _size(size, name, op):
    if isinstance(size, (str, bytes)) or not hasattr(size, "__len__"):
        raise TypeError(
            f"{op}(): {name} must be a tuple of ints, not {type(size).__name__}")
    return tuple(_index(s, name) for s in size)


def _check_grad_output(op, grad_output, expected, given):
    if tuple(grad_output.shape) != tuple(expected):
        raise ConvError(
            f"{op}(): given {given}, expected grad_output of size {_shape(expected)}, but got "
            f"grad_output of size {_shape(grad_output.shape)} instead")


def _zeros(like, shape):
    """Zeros in like's array library and dtype."""
    if isinstance(like, np.ndarray):
        return np.zeros(shape, like.dtype)
    import cupy
    return cupy.zeros(shape, like.dtype)


def _batched(a):
    return a if a.ndim == 4 else a.reshape((1,) + tuple(a.shape))


def _full_input_size(input_size, grad_output, C, op):
    """input_size as (N, C, H, W) / (C, H, W), given whole or as (H, W)."""
    if len(input_size) == 2:
        if grad_output.ndim == 4:
            return (grad_output.shape[0], C) + input_size
        return (C,) + input_size
    if len(input_size) != grad_output.ndim:
        raise ConvError(
            f"{op}(): expected input_size to have {grad_output.ndim} elements (as "
            f"grad_output, of size {_shape(grad_output.shape)}) or 2 (height and width), but "
            f"got input_size={list(input_size)}")
    return input_size


# Note [grad input as transposed conv]: conv2d reads input row
# h = oh*sh - pt + i*dh for output row oh and tap i; conv_transpose2d with
# padding p writes output row h' = ih*sh - p + i*dh, i.e. h = h' + (p - pt)
# seen from the conv's input.  With p = min(pt, pb) the transposed conv starts
# at input row pt - p >= 0 and, with output_padding
# op = max(0, H + pt - p - ((OH - 1)*sh - 2p + dh*(kh - 1) + 1)) (< sh, as
# H + pt + pb - dh*(kh - 1) - 1 = (OH - 1)*sh + r with 0 <= r < sh), covers all
# H rows; the rows outside [pt - p, pt - p + H) are cropped.  With symmetric
# padding (torch's only kind) the crop is empty and no copy is made.

def _transposed_adjoint(grad_output, weight, H, W, sh, sw, pt, pb, pl, pr, dh, dw, G):
    kh, kw = weight.shape[2:]
    OH, OW = grad_output.shape[-2:]
    p_h, p_w = min(pt, pb), min(pl, pr)
    full_h = (OH - 1) * sh - 2 * p_h + dh * (kh - 1) + 1
    full_w = (OW - 1) * sw - 2 * p_w + dw * (kw - 1) + 1
    op_h = max(0, H + pt - p_h - full_h)
    op_w = max(0, W + pl - p_w - full_w)
    gx = conv_transpose2d(grad_output, weight, None, (sh, sw), (p_h, p_w), (op_h, op_w), G,
                          (dh, dw))
    top, left = pt - p_h, pl - p_w
    if (top, left) != (0, 0) or gx.shape[-2:] != (H, W):
        gx = gx[..., top:top + H, left:left + W].copy()
    return gx


# Note [grad weight as conv]: for group g,
#   gw[g*K_g + k, c, i, j] = sum_{n, oh, ow} gy[n, g*K_g + k, oh, ow]
#                            * x[n, g*C_g + c, i*dh - pt + oh*sh, j*dw - pl + ow*sw]
# is a conv2d of x' [C_g, G*N, H, W] (x'[c, g*N + n] = x[n, g*C_g + c]) with
# the kernel gy' [K, N, OH, OW] (gy'[k, n] = gy[n, k]), groups G, stride
# (dh, dw), dilation (sh, sw) and the forward padding: the roles of stride and
# dilation swap.  It yields [C_g, K, kh + r//dh, kw + ...] (r as in Note [grad
# input as transposed conv]); the first kh x kw taps are the gradient.  A
# grad_output smaller than the conv's output (the transposed conv's weight
# gradient, where output_padding may exceed the stride) is the same as one
# padded with zeros, so it needs no special case.

def _weight_by_conv(x, gy, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw, G):
    x, gy = _batched(x), _batched(gy)
    N, C, H, W = x.shape
    K = gy.shape[1]
    C_g = C // G
    if N == 0 or C_g == 0 or K == 0 or gy.shape[2] == 0 or gy.shape[3] == 0:
        return _zeros(gy, (K, C_g, kh, kw))
    xs = x.reshape(N, G, C_g, H, W).transpose(2, 1, 0, 3, 4).reshape(C_g, G * N, H, W)
    ks = gy.transpose(1, 0, 2, 3)
    out = conv2d(xs, ks, None, (dh, dw), ((pt, pb), (pl, pr)), (sh, sw), G)
    return out[:, :, :kh, :kw].transpose(1, 0, 2, 3).copy()


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of :func:`fastconv.conv2d` with respect to its input, as
    ``torch.nn.grad.conv2d_input``.

    Parameters
    ----------
    input_size : tuple of ints
        Shape of the input: (N, C, H, W) (torch's form), (C, H, W) for an
        unbatched grad_output, or just (H, W).
    weight : ndarray [K, C // groups, kh, kw]
    grad_output : ndarray [N, K, OH, OW] (or [K, OH, OW])
    stride, padding, dilation, groups : as for :func:`fastconv.conv2d`
        (padding also 'same', 'valid' or ((top, bottom), (left, right))).

    Returns
    -------
    ndarray of shape input_size (whole): ``conv_transpose2d`` of grad_output,
    with the output padding that gives back the input's size.
    """
    op = "conv2d_input"
    _check_array(weight, "weight", op)
    _check_array(grad_output, "grad_output", op)
    _check_same_dtype(op, grad_output, "grad_output", weight, "weight")
    input_size = _size(input_size, "input_size", op)
    if len(weight.shape) != 4:
        raise ConvError(
            f"Expected 4D weight to {op}, but got weight of size {_shape(weight.shape)}")
    G = _index(groups, "groups")
    input_size = _full_input_size(input_size, grad_output,
                                  weight.shape[1] * G if G > 0 else 0, op)
    p = conv2d_params(input_size, tuple(weight.shape), None, stride, padding, dilation,
                      groups)
    _check_grad_output(op, grad_output, p.out_shape,
                       f"input_size={list(input_size)} and weight of size "
                       f"{_shape(weight.shape)}")
    if p.N == 0 or p.C == 0 or p.K == 0:
        return _zeros(grad_output, input_size)
    return _transposed_adjoint(grad_output, weight, p.H, p.W, p.sh, p.sw, p.pt, p.pb, p.pl,
                               p.pr, p.dh, p.dw, p.G)


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of :func:`fastconv.conv2d` with respect to its weight, as
    ``torch.nn.grad.conv2d_weight``.

    Parameters
    ----------
    input : ndarray [N, C, H, W] (or [C, H, W])
    weight_size : tuple of 4 ints, (K, C // groups, kh, kw)
    grad_output : ndarray [N, K, OH, OW] (or [K, OH, OW])
    stride, padding, dilation, groups : as for :func:`fastconv.conv2d`

    Returns
    -------
    ndarray of shape weight_size: a conv2d of the input (batch and channel
    axes swapped) by grad_output, see Note [grad weight as conv].
    """
    op = "conv2d_weight"
    _check_array(input, "input", op)
    _check_array(grad_output, "grad_output", op)
    _check_same_dtype(op, input, "input", grad_output, "grad_output")
    weight_size = _size(weight_size, "weight_size", op)
    if input.ndim != grad_output.ndim:
        raise ConvError(
            f"{op}(): expected input and grad_output to both be batched (4-D) or both "
            f"unbatched (3-D), but got input of size {_shape(input.shape)} and grad_output of "
            f"size {_shape(grad_output.shape)}")
    p = conv2d_params(tuple(input.shape), weight_size, None, stride, padding, dilation, groups)
    _check_grad_output(op, grad_output, p.out_shape,
                       f"input of size {_shape(input.shape)} and weight_size="
                       f"{list(weight_size)}")
    return _weight_by_conv(input, grad_output, p.kh, p.kw, p.sh, p.sw, p.pt, p.pb, p.pl, p.pr,
                           p.dh, p.dw, p.G)


def conv_transpose2d_input(input_size, weight, grad_output, stride=1, padding=0,
                           output_padding=0, groups=1, dilation=1):
    """Gradient of :func:`fastconv.conv_transpose2d` with respect to its input.

    Arguments mirror the forward op's (note ``output_padding, groups,
    dilation``), with `input_size` in place of the input as in
    :func:`conv2d_input`.

    Parameters
    ----------
    input_size : tuple of ints, (N, C, H, W), (C, H, W) unbatched, or (H, W)
    weight : ndarray [C, K // groups, kh, kw]
    grad_output : ndarray [N, K, OH, OW] (or [K, OH, OW])

    Returns
    -------
    ndarray of shape input_size: ``conv2d`` of grad_output with the same
    weight, stride, padding, dilation and groups (conv2d is the adjoint).
    """
    op = "conv_transpose2d_input"
    _check_array(weight, "weight", op)
    _check_array(grad_output, "grad_output", op)
    _check_same_dtype(op, grad_output, "grad_output", weight, "weight")
    input_size = _size(input_size, "input_size", op)
    if len(weight.shape) != 4:
        raise ConvError(
            f"Expected 4D weight to {op}, but got weight of size {_shape(weight.shape)}")
    input_size = _full_input_size(input_size, grad_output, weight.shape[0], op)
    p = conv_transpose2d_params(input_size, tuple(weight.shape), None, stride, padding,
                                output_padding, groups, dilation)
    _check_grad_output(op, grad_output, p.out_shape,
                       f"input_size={list(input_size)} and weight of size "
                       f"{_shape(weight.shape)}")
    if p.N == 0 or p.C == 0 or p.K == 0:
        return _zeros(grad_output, input_size)
    gx = conv2d(grad_output, weight, None, (p.sh, p.sw), (p.pt, p.pl), (p.dh, p.dw), p.G)
    # An output_padding >= stride (allowed when below the dilation) leaves rows
    # the conv2d counts as one more output: they are not part of the input.
    if gx.shape[-2:] != (p.H, p.W):
        gx = gx[..., :p.H, :p.W].copy()
    return gx


def conv_transpose2d_weight(input, weight_size, grad_output, stride=1, padding=0,
                            output_padding=0, groups=1, dilation=1):
    """Gradient of :func:`fastconv.conv_transpose2d` with respect to its weight.

    Arguments mirror the forward op's (note ``output_padding, groups,
    dilation``), with `weight_size` in place of the weight as in
    :func:`conv2d_weight`.

    Parameters
    ----------
    input : ndarray [N, C, H, W] (or [C, H, W])
    weight_size : tuple of 4 ints, (C, K // groups, kh, kw)
    grad_output : ndarray [N, K, OH, OW] (or [K, OH, OW])

    Returns
    -------
    ndarray of shape weight_size: conv2d's weight gradient with grad_output
    as the conv's input and `input` as its output gradient.
    """
    op = "conv_transpose2d_weight"
    _check_array(input, "input", op)
    _check_array(grad_output, "grad_output", op)
    _check_same_dtype(op, input, "input", grad_output, "grad_output")
    weight_size = _size(weight_size, "weight_size", op)
    if input.ndim != grad_output.ndim:
        raise ConvError(
            f"{op}(): expected input and grad_output to both be batched (4-D) or both "
            f"unbatched (3-D), but got input of size {_shape(input.shape)} and grad_output of "
            f"size {_shape(grad_output.shape)}")
    p = conv_transpose2d_params(tuple(input.shape), weight_size, None, stride, padding,
                                output_padding, groups, dilation)
    _check_grad_output(op, grad_output, p.out_shape,
                       f"input of size {_shape(input.shape)} and weight_size="
                       f"{list(weight_size)}")
    # conv2d(grad_output, w) has C = weight_size[0] output channels: the
    # weight gradient of that conv is [C, K_g, kh, kw], the transposed weight.
    return _weight_by_conv(grad_output, input, p.kh, p.kw, p.sh, p.sw, p.pt, p.pb, p.pl,
                           p.pr, p.dh, p.dw, p.G)


