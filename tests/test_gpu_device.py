"""Backend-independent properties, one body for NumPy and CuPy (the `xp`
fixture; the CuPy cases skip without a GPU), plus the GPU-only rules."""

import numpy as np
import pytest

import fastconv
from conftest import assert_bitwise_equal, to_numpy, to_xp
from reference import assert_within, conv2d_ref, conv_transpose2d_ref, tolerance

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


def data(dtype, xs=(2, 6, 9, 11), ws=(8, 3, 3, 3), K=8, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype),
            rng.standard_normal(K).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_repeated_calls_are_bitwise_equal(xp, dtype):
    x, w, b = (to_xp(xp, a) for a in data(dtype))
    assert_bitwise_equal(fastconv.conv2d(x, w, b, padding=1, groups=2),
                         fastconv.conv2d(x, w, b, padding=1, groups=2))
    xt, wt, bt = (to_xp(xp, a) for a in data(dtype, ws=(6, 4, 4, 4), K=8))
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    assert_bitwise_equal(fastconv.conv_transpose2d(xt, wt, bt, **kw),
                         fastconv.conv_transpose2d(xt, wt, bt, **kw))


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_views_and_unbatched(xp, dtype):
    x, w, b = data(dtype)
    xv = to_xp(xp, np.ascontiguousarray(x.transpose(0, 1, 3, 2))).transpose(0, 1, 3, 2)
    kw = dict(padding=(1, 2), stride=(1, 2), dilation=(2, 1), groups=2,
              padding_mode="reflect")
    w3 = np.ascontiguousarray(w[:, :3])
    y = fastconv.conv2d(xv, to_xp(xp, w3), to_xp(xp, b), **kw)
    assert type(y) is type(xv)
    assert_within(to_numpy(y), conv2d_ref(x, w3, b, **kw),
                  tolerance(dtype, 27, x, w3, b, **kw))
    y1 = fastconv.conv2d(to_xp(xp, x[1]), to_xp(xp, w3), None, **kw)
    assert y1.shape == y.shape[1:]
    assert_within(to_numpy(y1), conv2d_ref(x[1], w3, None, **kw),
                  tolerance(dtype, 27, x[1], w3, None, **kw))


def test_transposed_large_stride_and_dilation(xp):
    x, w, b = data(np.float64, xs=(1, 4, 3, 4), ws=(4, 2, 3, 2), K=4)
    kw = dict(stride=(3, 4), padding=(1, 0), output_padding=(2, 1), groups=2,
              dilation=(2, 5))
    y = fastconv.conv_transpose2d(to_xp(xp, x), to_xp(xp, w), to_xp(xp, b), **kw)
    assert_within(to_numpy(y), conv_transpose2d_ref(x, w, b, **kw),
                  tolerance(np.float64, 2 * 6, x, w, b, transposed=True, **kw))


def _cupy_only(xp):
    if xp is np:
        pytest.skip("a CuPy-only rule")
    return xp


def test_mixing_numpy_and_cupy_raises(xp):
    cp = _cupy_only(xp)
    x, w, b = data(np.float32)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        fastconv.conv2d(cp.asarray(x), w[:, :3], groups=2)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        fastconv.conv2d(cp.asarray(x), cp.asarray(w[:, :3]), b, groups=2)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        fastconv.conv2d(cp.asarray(x), cp.asarray(w[:, :3]), groups=2,
                        out=np.empty((2, 8, 7, 9), np.float32))


def test_cupy_out_checked_and_filled(xp):
    cp = _cupy_only(xp)
    x, w, b = (cp.asarray(a) for a in data(np.float32))
    out = cp.full((2, 8, 7, 9), cp.nan, dtype=cp.float32)
    assert fastconv.conv2d(x, w[:, :3], b, groups=2, out=out) is out
    assert_bitwise_equal(out, fastconv.conv2d(x, w[:, :3], b, groups=2))
    with pytest.raises(ValueError, match="expected shape"):
        fastconv.conv2d(x, w[:, :3], b, groups=2, out=cp.empty((2, 8, 7, 8), cp.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        fastconv.conv2d(x, w[:, :3], b, groups=2,
                        out=cp.empty((2, 8, 9, 7), cp.float32).transpose(0, 1, 3, 2))
    with pytest.raises(ValueError, match="overlap"):
        fastconv.conv2d(x, cp.asarray(np.ones((6, 1, 1, 1), np.float32)), groups=6, out=x)


def test_runs_on_the_arrays_device_and_current_stream(xp):
    cp = _cupy_only(xp)
    x, w, b = (cp.asarray(a) for a in data(np.float32))
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        y = fastconv.conv2d(x, w[:, :3], b, groups=2)
    stream.synchronize()
    assert_bitwise_equal(y, fastconv.conv2d(x, w[:, :3], b, groups=2))
