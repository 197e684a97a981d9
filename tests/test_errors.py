"""Invalid calls raise the right exception type, with torch's words where torch has them.

The expected texts were taken from torch 2.13.0 (CPU) by running each call on
torch.nn.functional.conv2d / conv_transpose2d (padding modes: F.pad and
nn.Conv2d); each test asserts a distinctive substring.
"""

import re

import numpy as np
import pytest

import fastconv
from fastconv import ConvError

ARG_ERRORS = (ValueError, RuntimeError)  # ConvError is both
f64 = np.float64


def z(*shape, dtype=f64):
    return np.zeros(shape, dtype=dtype)


def conv2d(x=None, w=None, b=None, **kw):
    x = z(1, 4, 8, 8) if x is None else x
    w = z(6, 4, 3, 3) if w is None else w
    return fastconv.conv2d(x, w, b, **kw)


def convt(x=None, w=None, b=None, **kw):
    x = z(1, 4, 5, 5) if x is None else x
    w = z(4, 3, 3, 3) if w is None else w
    return fastconv.conv_transpose2d(x, w, b, **kw)


def case(id, fn, exc=ARG_ERRORS, match=None):
    return pytest.param(fn, exc, match, id=id)


# (call, exception type(s), torch substring or None)
CONV2D_CASES = [
    # --- ranks
    case("input-2d", lambda: conv2d(x=z(4, 8)),
         match="Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of "
               "size: [4, 8]"),
    case("input-5d", lambda: conv2d(x=z(1, 1, 4, 8, 8)),
         match="Expected 3D (unbatched) or 4D (batched) input to conv2d"),
    case("input-0d", lambda: conv2d(x=np.float64(1.0)), (TypeError,) + ARG_ERRORS),
    case("weight-2d", lambda: conv2d(w=z(6, 4))),
    case("weight-3d", lambda: conv2d(w=z(6, 4, 3))),
    case("weight-5d", lambda: conv2d(w=z(6, 4, 3, 3, 1))),
    # --- channels and groups
    case("channels-mismatch-groups-2", lambda: conv2d(w=z(8, 3, 3, 3), groups=2),
         match="Given groups=2, weight of size [8, 3, 3, 3], expected input[1, 4, 8, 8] to "
               "have 6 channels, but got 4 channels instead"),
    case("channels-mismatch", lambda: conv2d(w=z(6, 3, 3, 3)),
         match="expected input[1, 4, 8, 8] to have 3 channels, but got 4 channels instead"),
    case("channels-mismatch-unbatched", lambda: conv2d(x=z(4, 8, 8), w=z(8, 3, 3, 3), groups=2),
         match="to have 6 channels, but got 4 channels instead"),
    case("channels-mismatch-zero-batch", lambda: conv2d(x=z(0, 3, 8, 8), w=z(8, 4, 3, 3)),
         match="to have 4 channels, but got 3 channels instead"),
    case("groups-not-dividing-K", lambda: conv2d(w=z(3, 2, 3, 3), groups=2),
         match="expected weight to be divisible by 2 at dimension 0"),
    case("groups-not-dividing-C", lambda: conv2d(x=z(1, 3, 8, 8), w=z(4, 1, 3, 3), groups=2),
         match="to have 2 channels, but got 3 channels instead"),
    case("groups-0", lambda: conv2d(w=z(6, 4, 3, 3), groups=0),
         match="non-positive groups is not supported"),
    case("groups-negative", lambda: conv2d(w=z(6, 4, 3, 3), groups=-1),
         match="non-positive groups is not supported"),
    case("weight-K-0", lambda: conv2d(w=z(0, 4, 3, 3)),
         match="expected weight to be at least 1 at dimension 0"),
    case("kernel-height-0", lambda: conv2d(w=z(6, 4, 0, 3)),
         match="kernel size should be greater than zero"),
    # --- stride / padding / dilation values
    case("stride-0", lambda: conv2d(stride=0), match="non-positive stride is not supported"),
    case("stride-negative", lambda: conv2d(stride=(1, -1)),
         match="non-positive stride is not supported"),
    case("padding-negative", lambda: conv2d(padding=-1),
         match="negative padding is not supported"),
    case("padding-pair-negative", lambda: conv2d(padding=(0, -1)),
         match="negative padding is not supported"),
    case("padding-nested-negative", lambda: conv2d(padding=((0, 0), (-1, 2)))),
    case("dilation-0", lambda: conv2d(dilation=0), match="dilation should be greater than zero"),
    case("dilation-negative", lambda: conv2d(dilation=(1, -1)),
         match="dilation should be greater than zero"),
    case("kernel-larger-than-input", lambda: conv2d(x=z(1, 4, 2, 2)),
         match="Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). "
               "Kernel size can't be greater than actual input size"),
    case("kernel-larger-than-input-unbatched", lambda: conv2d(x=z(4, 2, 9)),
         match="Kernel size can't be greater than actual input size"),
    case("dilated-kernel-larger-than-input", lambda: conv2d(x=z(1, 4, 4, 4), dilation=2),
         match="Calculated padded input size per channel: (4 x 4). Kernel size: (5 x 5)."),
    case("kernel-larger-than-padded-width",
         lambda: conv2d(x=z(1, 4, 8, 1), padding=((0, 0), (1, 0))),
         match="Kernel size can't be greater than actual input size"),
    case("zero-height-input", lambda: conv2d(x=z(1, 4, 0, 8), w=z(6, 4, 1, 1), padding=1),
         match="Only zero batch or zero channel inputs are supported"),
    # --- bias
    case("bias-wrong-length", lambda: conv2d(b=z(5)),
         match="Given weight of size [6, 4, 3, 3], expected bias to be 1-dimensional with 6 "
               "elements, but got bias of size [5] instead"),
    case("bias-2d", lambda: conv2d(b=z(6, 1)),
         match="expected bias to be 1-dimensional with 6 elements, but got bias of size [6, 1]"),
    case("bias-0d", lambda: conv2d(b=np.float64(0.0)), (TypeError,) + ARG_ERRORS),
    # --- dtypes
    case("mixed-input-weight", lambda: conv2d(w=z(6, 4, 3, 3, dtype=np.float32)), ConvError),
    case("mixed-bias", lambda: conv2d(b=z(6, dtype=np.float32)), ConvError),
    case("mixed-input-float32", lambda: conv2d(x=z(1, 4, 8, 8, dtype=np.float32)), ConvError),
    case("int64-arrays", lambda: conv2d(x=z(1, 4, 8, 8, dtype=np.int64),
                                        w=z(6, 4, 3, 3, dtype=np.int64)), TypeError),
    case("int32-weight", lambda: conv2d(x=z(1, 4, 8, 8, dtype=np.int32),
                                        w=z(6, 4, 3, 3, dtype=np.int32)), TypeError),
    case("uint8", lambda: conv2d(x=z(1, 4, 8, 8, dtype=np.uint8),
                                 w=z(6, 4, 3, 3, dtype=np.uint8)), TypeError),
    case("bool", lambda: conv2d(x=z(1, 4, 8, 8, dtype=bool), w=z(6, 4, 3, 3, dtype=bool)),
         TypeError),
    case("complex128", lambda: conv2d(x=z(1, 4, 8, 8, dtype=np.complex128),
                                      w=z(6, 4, 3, 3, dtype=np.complex128)), TypeError),
    case("complex64", lambda: conv2d(x=z(1, 4, 8, 8, dtype=np.complex64),
                                     w=z(6, 4, 3, 3, dtype=np.complex64)), TypeError),
    case("object", lambda: conv2d(x=z(1, 4, 8, 8).astype(object),
                                  w=z(6, 4, 3, 3).astype(object)), TypeError),
    case("int-bias-only", lambda: conv2d(b=z(6, dtype=np.int64)), (TypeError, ConvError)),
    # --- argument types
    case("list-input", lambda: conv2d(x=z(1, 4, 8, 8).tolist()), TypeError),
    case("list-weight", lambda: conv2d(w=z(6, 4, 3, 3).tolist()), TypeError),
    case("list-bias", lambda: conv2d(b=[0.0] * 6), TypeError),
    case("float-input-scalar", lambda: conv2d(x=1.0), TypeError),
    case("stride-float", lambda: conv2d(stride=2.5), TypeError),
    case("stride-float-integral", lambda: conv2d(stride=2.0), TypeError),
    case("stride-pair-with-float", lambda: conv2d(stride=(1, 1.5)), TypeError),
    case("stride-string", lambda: conv2d(stride="2"), TypeError),
    case("padding-float", lambda: conv2d(padding=1.0), TypeError),
    case("dilation-float", lambda: conv2d(dilation=1.5), TypeError),
    case("groups-float", lambda: conv2d(w=z(6, 2, 3, 3), groups=2.0), TypeError),
    case("stride-3-items", lambda: conv2d(stride=[1, 1, 1]),
         match="expected stride to be a single integer value or a list of 2 values to match "
               "the convolution dimensions, but got stride=[1, 1, 1]"),
    case("stride-empty", lambda: conv2d(stride=()),
         match="expected stride to be a single integer value or a list of 2 values"),
    case("padding-3-items", lambda: conv2d(padding=[1, 1, 1]),
         match="expected padding to be a single integer value or a list of 2 values"),
    case("dilation-3-items", lambda: conv2d(dilation=(1, 1, 1)),
         match="expected dilation to be a single integer value or a list of 2 values"),
    case("padding-bad-string", lambda: conv2d(padding="full"),
         match="Invalid padding string: 'full'"),
    case("padding-uppercase-string", lambda: conv2d(padding="SAME"),
         match="Invalid padding string: 'SAME'"),
    case("padding-same-stride-2", lambda: conv2d(padding="same", stride=2),
         match="padding='same' is not supported for strided convolutions"),
    case("padding-same-stride-(1,2)", lambda: conv2d(padding="same", stride=(1, 2)),
         match="padding='same' is not supported for strided convolutions"),
    # --- padding modes
    case("padding-mode-invalid", lambda: conv2d(padding=1, padding_mode="mirror"),
         match="padding_mode must be one of"),
    case("padding-mode-torch-spelling-constant", lambda: conv2d(padding=1,
                                                                padding_mode="constant"),
         match="padding_mode must be one of"),
    case("reflect-padding-equal-to-size", lambda: conv2d(x=z(1, 4, 3, 8), padding=(3, 0),
                                                         padding_mode="reflect"),
         match="Padding size should be less than the corresponding input dimension"),
    case("reflect-padding-bottom-only", lambda: conv2d(x=z(1, 4, 8, 2),
                                                       padding=((0, 0), (0, 2)),
                                                       padding_mode="reflect"),
         match="Padding size should be less than the corresponding input dimension"),
    case("circular-padding-larger-than-size", lambda: conv2d(x=z(1, 4, 3, 8),
                                                             padding=((4, 0), (1, 1)),
                                                             padding_mode="circular"),
         match="Padding value causes wrapping around more than once."),
    # --- fastconv's own options
    case("num_threads-0", lambda: conv2d(num_threads=0), ValueError),
    case("num_threads-negative", lambda: conv2d(num_threads=-2), ValueError),
    case("num_threads-float", lambda: conv2d(num_threads=1.5), TypeError),
    case("algorithm-unknown", lambda: conv2d(algorithm="fft-please"), ValueError),
]


def _check(fn, exc, match):
    with pytest.raises(exc) as info:
        fn()
    if match is not None:
        assert re.search(re.escape(match), str(info.value)), (
            f"message {str(info.value)!r} does not contain torch's {match!r}")
    return info.value


@pytest.mark.parametrize("fn, exc, match", CONV2D_CASES)
def test_conv2d_invalid(fn, exc, match):
    _check(fn, exc, match)


CONVT_CASES = [
    case("input-2d", lambda: convt(x=z(4, 5)),
         match="Expected 3D (unbatched) or 4D (batched) input to conv_transpose2d, but got "
               "input of size: [4, 5]"),
    case("input-5d", lambda: convt(x=z(1, 1, 4, 5, 5))),
    case("weight-3d", lambda: convt(w=z(4, 3, 3))),
    case("weight-5d", lambda: convt(w=z(4, 3, 3, 3, 1))),
    case("channels-mismatch", lambda: convt(w=z(6, 3, 3, 3)),
         match="Given transposed=1, weight of size [6, 3, 3, 3], expected input[1, 4, 5, 5] to "
               "have 6 channels, but got 4 channels instead"),
    case("channels-mismatch-groups", lambda: convt(w=z(6, 3, 3, 3), groups=2),
         match="expected input[1, 4, 5, 5] to have 6 channels, but got 4 channels instead"),
    case("groups-not-dividing-C", lambda: convt(x=z(1, 3, 5, 5), w=z(3, 3, 3, 3), groups=2),
         match="expected weight to be divisible by 2 at dimension 0"),
    case("groups-0", lambda: convt(groups=0), match="non-positive groups is not supported"),
    case("stride-0", lambda: convt(stride=0), match="non-positive stride is not supported"),
    case("dilation-0", lambda: convt(dilation=0), match="dilation should be greater than zero"),
    case("padding-negative", lambda: convt(padding=-1),
         match="negative padding is not supported"),
    case("output-padding-negative", lambda: convt(output_padding=-1, stride=2),
         match="negative output_padding is not supported"),
    case("output-padding-equal-stride", lambda: convt(stride=2, output_padding=2),
         match="output padding must be smaller than either stride or dilation, but got "
               "output_padding_height: 2 output_padding_width: 2 stride_height: 2 "
               "stride_width: 2 dilation_height: 1 dilation_width: 1"),
    case("output-padding-1-stride-1", lambda: convt(output_padding=1),
         match="output padding must be smaller than either stride or dilation"),
    case("output-padding-one-axis", lambda: convt(stride=(2, 1), output_padding=(1, 1)),
         match="output padding must be smaller than either stride or dilation"),
    case("output-padding-equal-dilation", lambda: convt(dilation=(2, 3), output_padding=(1, 3)),
         match="output padding must be smaller than either stride or dilation"),
    case("output-padding-3-items", lambda: convt(output_padding=(0, 0, 0)),
         match="expected output_padding to be a single integer value or a list of 2 values"),
    case("output-too-small", lambda: convt(x=z(1, 4, 1, 1), w=z(4, 3, 1, 1), padding=1),
         match="Given input size per channel: (1 x 1). Calculated output size per channel: "
               "(-1 x -1). Output size is too small"),
    case("output-size-zero", lambda: convt(x=z(1, 4, 2, 2), w=z(4, 3, 1, 1), padding=1),
         match="Output size is too small"),
    case("output-too-small-zero-batch", lambda: convt(x=z(0, 4, 1, 1), w=z(4, 3, 1, 1),
                                                      padding=1)),
    case("zero-height-input", lambda: convt(x=z(1, 4, 0, 5)),
         match="Only zero batch or zero channel inputs are supported"),
    case("bias-wrong-length", lambda: convt(b=z(4)),
         match="Given transposed=1, weight of size [4, 3, 3, 3], expected bias to be "
               "1-dimensional with 3 elements, but got bias of size [4] instead"),
    case("padding-string-same", lambda: convt(padding="same"), (TypeError, ValueError)),
    case("padding-string-valid", lambda: convt(padding="valid"), (TypeError, ValueError)),
    case("padding-mode-reflect", lambda: convt(padding_mode="reflect"), (TypeError, ValueError)),
    case("mixed-dtypes", lambda: convt(w=z(4, 3, 3, 3, dtype=np.float32)), ConvError),
    case("mixed-bias", lambda: convt(b=z(3, dtype=np.float32)), ConvError),
    case("int-arrays", lambda: convt(x=z(1, 4, 5, 5, dtype=np.int64),
                                     w=z(4, 3, 3, 3, dtype=np.int64)), TypeError),
    case("complex-arrays", lambda: convt(x=z(1, 4, 5, 5, dtype=np.complex128),
                                         w=z(4, 3, 3, 3, dtype=np.complex128)), TypeError),
    case("bool-arrays", lambda: convt(x=z(1, 4, 5, 5, dtype=bool), w=z(4, 3, 3, 3, dtype=bool)),
         TypeError),
    case("list-input", lambda: convt(x=z(1, 4, 5, 5).tolist()), TypeError),
    case("stride-float", lambda: convt(stride=2.5), TypeError),
    case("output-padding-float", lambda: convt(stride=2, output_padding=0.5), TypeError),
    case("stride-3-items", lambda: convt(stride=(1, 1, 1)),
         match="expected stride to be a single integer value or a list of 2 values"),
    case("num_threads-0", lambda: convt(num_threads=0), ValueError),
    case("algorithm-unknown", lambda: convt(algorithm="winograd-please"), ValueError),
]


@pytest.mark.parametrize("fn, exc, match", CONVT_CASES)
def test_conv_transpose2d_invalid(fn, exc, match):
    _check(fn, exc, match)


def test_conv_error_is_runtime_and_value_error():
    assert issubclass(ConvError, RuntimeError) and issubclass(ConvError, ValueError)
    err = _check(lambda: conv2d(w=z(6, 3, 3, 3)), ConvError, None)
    assert isinstance(err, RuntimeError) and isinstance(err, ValueError)


# ---------------------------------------------------------------------------
# out=
# ---------------------------------------------------------------------------

def _readonly(a):
    a.setflags(write=False)
    return a


def _conv_args(dtype=f64):
    x = np.ones((2, 4, 6, 6), dtype)
    w = np.ones((4, 4, 1, 1), dtype)  # 1x1, K == C: output shape == input shape
    return x, w


OUT_CASES = [
    case("wrong-shape", lambda x, w: np.empty((2, 4, 6, 5)), ARG_ERRORS),
    case("wrong-ndim", lambda x, w: np.empty((8, 6, 6)), ARG_ERRORS),
    case("wrong-dtype", lambda x, w: np.empty((2, 4, 6, 6), np.float32), (TypeError, ValueError)),
    case("int-dtype", lambda x, w: np.empty((2, 4, 6, 6), np.int64), (TypeError, ValueError)),
    case("non-contiguous", lambda x, w: np.empty((2, 4, 6, 12))[..., ::2], ValueError),
    case("fortran", lambda x, w: np.asfortranarray(np.empty((2, 4, 6, 6))), ValueError),
    case("read-only", lambda x, w: _readonly(np.empty((2, 4, 6, 6))), ValueError),
    case("list", lambda x, w: np.empty((2, 4, 6, 6)).tolist(), TypeError),
    case("is-the-input", lambda x, w: x, ConvError),
]


@pytest.mark.parametrize("make_out, exc, match", OUT_CASES)
def test_conv2d_bad_out(make_out, exc, match):
    x, w = _conv_args()
    x0 = x.copy()
    out = make_out(x, w)
    with pytest.raises(exc):
        fastconv.conv2d(x, w, out=out)
    np.testing.assert_array_equal(x, x0)


def test_conv2d_out_overlapping_input():
    buf = np.ones(2 * 4 * 6 * 6 + 10)
    x = buf[:2 * 4 * 6 * 6].reshape(2, 4, 6, 6)
    out = buf[10:].reshape(2, 4, 6, 6)  # C-contiguous, right shape, shares memory with x
    w = np.ones((4, 4, 1, 1))
    with pytest.raises(ConvError):
        fastconv.conv2d(x, w, out=out)


def test_conv2d_out_overlapping_weight_or_bias():
    # output (1, 2, 1, 1) overlapping the bias / weight buffers
    buf = np.ones(40)
    x = np.ones((1, 3, 2, 2))
    w = buf[:24].reshape(2, 3, 2, 2)
    with pytest.raises(ConvError):
        fastconv.conv2d(x, w, out=buf[22:24].reshape(1, 2, 1, 1))
    b = buf[30:32]
    with pytest.raises(ConvError):
        fastconv.conv2d(x, np.ones((2, 3, 2, 2)), b, out=buf[30:32].reshape(1, 2, 1, 1))


@pytest.mark.parametrize("make_out, exc, match", OUT_CASES)
def test_conv_transpose2d_bad_out(make_out, exc, match):
    x, w = _conv_args()
    with pytest.raises(exc):
        fastconv.conv_transpose2d(x, w, out=make_out(x, w))


def test_conv_transpose2d_out_overlapping_input():
    buf = np.ones(2 * 4 * 6 * 6 + 3)
    x = buf[3:].reshape(2, 4, 6, 6)
    out = buf[:-3].reshape(2, 4, 6, 6)
    with pytest.raises(ConvError):
        fastconv.conv_transpose2d(x, np.ones((4, 4, 1, 1)), out=out)


def test_unbatched_out_must_be_3d():
    x = np.ones((4, 6, 6))
    w = np.ones((4, 4, 1, 1))
    with pytest.raises(ARG_ERRORS):
        fastconv.conv2d(x, w, out=np.empty((1, 4, 6, 6)))


def test_plan_cache_never_hides_an_error():
    """Note [plan cache]: a cached int argument must not let an equal float through."""
    import fastconv._api as api
    x = np.zeros((1, 2, 6, 6), np.float32)
    w = np.zeros((3, 2, 3, 3), np.float32)
    fastconv.conv2d(x, w, stride=2, padding=(1, 1))          # cached
    assert any(k[0] == "conv2d" for k in api._PLANS)
    with pytest.raises(TypeError):
        fastconv.conv2d(x, w, stride=2.0, padding=(1, 1))
    with pytest.raises(TypeError):
        fastconv.conv2d(x, w, stride=2, padding=(1.0, 1))
    with pytest.raises(TypeError):
        fastconv.conv2d(x, w, stride=True, padding=(1, 1))
    # Unhashable arguments take the full path and still work.
    assert fastconv.conv2d(x, w, stride=[2, 2], padding=[1, 1]).shape == (1, 3, 3, 3)
    # A different dtype or shape is a different plan.
    with pytest.raises(fastconv.ConvError):
        fastconv.conv2d(x, w.astype(np.float64), stride=2, padding=(1, 1))
    with pytest.raises(fastconv.ConvError):
        fastconv.conv2d(np.zeros((1, 3, 6, 6), np.float32), w, stride=2, padding=(1, 1))


@pytest.mark.parametrize("x_shape,padding,message", [
    # torch 2.13.0's words (nn.Conv2d(4, 2, 1, padding_mode="reflect") on these
    # inputs): the width is Argument #4, the height #6, and the dimension and
    # shape are those of the input as given (found wrong for unbatched inputs
    # by fuzzing)
    ((4, 3, 1), (1, 1), "Argument #4: Padding size should be less than the corresponding "
     "input dimension, but got: padding (1, 1) at dimension 2 of input [4, 3, 1]"),
    ((1, 4, 3, 1), (1, 1), "Argument #4: Padding size should be less than the corresponding "
     "input dimension, but got: padding (1, 1) at dimension 3 of input [1, 4, 3, 1]"),
    ((2, 4, 1, 3), (1, 1), "Argument #6: Padding size should be less than the corresponding "
     "input dimension, but got: padding (1, 1) at dimension 2 of input [2, 4, 1, 3]"),
    ((4, 1, 3), (1, 1), "Argument #6: Padding size should be less than the corresponding "
     "input dimension, but got: padding (1, 1) at dimension 1 of input [4, 1, 3]"),
])
def test_reflect_padding_errors_name_the_input_as_given(x_shape, padding, message):
    with pytest.raises(ConvError) as e:
        fastconv.conv2d(z(*x_shape), z(2, 4, 1, 1), padding=padding, padding_mode="reflect")
    assert str(e.value) == message
    layer = fastconv.Conv2d(4, 2, 1, padding=padding, padding_mode="reflect")
    with pytest.raises(ConvError) as e:
        layer(z(*x_shape, dtype=np.float32))
    assert str(e.value) == message
