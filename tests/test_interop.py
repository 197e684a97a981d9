"""Array objects other than NumPy/CuPy arrays: CPU torch tensors (through
DLPack, no copy) and objects with only ``__array__``; the result is a NumPy
array.  Python scalars and lists stay TypeErrors (tests/test_errors.py)."""

import os

import numpy as np
import pytest

import fastconv
from reference import assert_within, conv2d_ref, conv_transpose2d_ref, tolerance

if os.environ.get("FASTCONV_REQUIRE_TORCH"):  # set by .ci/run: no torch must fail, not skip
    import torch
else:
    torch = pytest.importorskip("torch")

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


def arrays(dtype, shapes=((2, 4, 7, 8), (6, 2, 3, 3), (6,))):
    rng = np.random.default_rng(11)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_tensors_in_numpy_out(dtype):
    x, w, b = arrays(dtype)
    tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))
    y = fastconv.conv2d(tx, tw, tb, stride=2, padding=1, groups=2)
    assert type(y) is np.ndarray and y.dtype == dtype
    kw = dict(stride=2, padding=1, groups=2)
    assert_within(y, conv2d_ref(x, w, b, **kw), tolerance(dtype, 18, x, w, b, **kw))
    # Same bits as the NumPy call: the tensors were read, not approximated.
    np.testing.assert_array_equal(y, fastconv.conv2d(x, w, b, **kw))


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_tensors_transposed(dtype):
    x, w, b = arrays(dtype, ((2, 4, 5, 6), (4, 3, 3, 3), (6,)))
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    y = fastconv.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w),
                                  torch.from_numpy(b), **kw)
    assert type(y) is np.ndarray
    assert_within(y, conv_transpose2d_ref(x, w, b, **kw),
                  tolerance(dtype, 2 * 9, x, w, b, transposed=True, **kw))


def test_mixing_torch_and_numpy_and_non_contiguous_tensors():
    x, w, b = arrays(np.float32)
    tx = torch.from_numpy(x).permute(0, 1, 3, 2)          # strided view
    y = fastconv.conv2d(tx, w, torch.from_numpy(b), groups=2)
    np.testing.assert_array_equal(
        y, fastconv.conv2d(np.ascontiguousarray(x.transpose(0, 1, 3, 2)), w, b, groups=2))


def test_dlpack_shares_memory_and_leaves_input_alone():
    x, w, _ = arrays(np.float32)
    tx = torch.from_numpy(x.copy())
    assert np.shares_memory(fastconv._dispatch.as_array(tx, "input", "conv2d"), tx.numpy())
    before = tx.clone()
    fastconv.conv2d(tx, torch.from_numpy(w), groups=2)
    assert torch.equal(tx, before)


def test_tensor_that_requires_grad_is_a_clear_type_error():
    x, w, _ = arrays(np.float32)
    tx = torch.from_numpy(x).requires_grad_()
    with pytest.raises(TypeError, match="argument 'input' .*could not be converted"):
        fastconv.conv2d(tx, w, groups=2)


def test_torch_dtypes_fastconv_lacks_are_type_errors():
    x, w, _ = arrays(np.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        fastconv.conv2d(torch.from_numpy(x).half(), torch.from_numpy(w).half(), groups=2)
    with pytest.raises(TypeError, match="float32 or float64"):
        fastconv.conv2d(torch.from_numpy(x).to(torch.int64), w, groups=2)


def test_dtype_mismatch_between_tensor_and_array():
    x, w, _ = arrays(np.float32)
    with pytest.raises(fastconv.ConvError, match="should be the same"):
        fastconv.conv2d(torch.from_numpy(x).double(), w, groups=2)


def test_object_with_only_array_interface():
    class Wrapped:
        def __init__(self, a):
            self.a = a

        def __array__(self, dtype=None, copy=None):
            return self.a

    x, w, b = arrays(np.float64)
    y = fastconv.conv2d(Wrapped(x), Wrapped(w), Wrapped(b), groups=2)
    np.testing.assert_array_equal(y, fastconv.conv2d(x, w, b, groups=2))


@pytest.mark.parametrize("bad", [1.0, 3, [1.0, 2.0], [[[[1.0]]]], "x", None])
def test_scalars_and_lists_still_raise_type_error(bad):
    w = np.ones((1, 1, 1, 1))
    with pytest.raises(TypeError):
        fastconv.conv2d(bad, w)


@pytest.mark.parametrize("which", ["input", "weight", "bias"])
@pytest.mark.parametrize("op", ["conv2d", "conv_transpose2d"])
def test_masked_arrays_are_refused(op, which):
    # A MaskedArray is an ndarray whose data holds whatever sits under the mask:
    # using it would ignore the mask silently (torch refuses it as not a Tensor).
    # Refused even after a plain call of the same shapes filled the plan cache.
    f = getattr(fastconv, op)
    args = dict(input=np.ones((1, 2, 5, 5)), weight=np.ones((2, 2, 3, 3)), bias=np.ones(2))
    f(*args.values())
    args[which] = np.ma.masked_array(args[which], mask=np.zeros(args[which].shape, bool))
    with pytest.raises(TypeError, match=f"argument '{which}' is a numpy.ma.MaskedArray"):
        f(*args.values())
