"""conv2d / conv_transpose2d on dask arrays: lazy (map_blocks), same values as NumPy.

Skipped without dask (`pip install "fastconv[dask]"`; the `test` extra has it).
"""

import numpy as np
import pytest

import fastconv
from conftest import assert_bitwise_equal
from reference import assert_within, conv2d_ref, tolerance

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

RNG = np.random.default_rng(11)
X = RNG.standard_normal((64, 3, 20, 18)).astype(np.float32)     # 64 images
W = RNG.standard_normal((8, 3, 3, 3)).astype(np.float32)
B = RNG.standard_normal(8).astype(np.float32)
WT = RNG.standard_normal((3, 4, 4, 4)).astype(np.float32)
BT = RNG.standard_normal(4).astype(np.float32)


@pytest.fixture
def count_calls(monkeypatch):
    """Counts the NumPy calls the dask graph makes (one per block)."""
    import fastconv._api as api
    calls = []
    real = api._run

    def counting(op, input, *rest):
        if isinstance(input, np.ndarray):
            calls.append(input.shape)
        return real(op, input, *rest)

    monkeypatch.setattr(api, "_run", counting)
    return calls


def test_64_images_chunked_by_8_lazily_equal_numpy(count_calls):
    dx = da.from_array(X, chunks=(8, 3, 20, 18))
    y = fastconv.conv2d(dx, W, B, padding=1)
    assert isinstance(y, da.Array)
    assert count_calls == []                       # nothing computed yet
    assert y.shape == (64, 8, 20, 18) and y.dtype == np.float32
    assert y.chunks[0] == (8,) * 8
    got = y.compute(scheduler="sync")
    assert count_calls == [(8, 3, 20, 18)] * 8     # one call per chunk of 8 images
    assert isinstance(got, np.ndarray)
    assert_bitwise_equal(got, fastconv.conv2d(X, W, B, padding=1))
    assert_within(got, conv2d_ref(X, W, B, padding=1),
                  tolerance(np.float32, 27, X, W, B, padding=1))


def test_conv_transpose2d_lazily_equal_numpy(count_calls):
    expected = fastconv.conv_transpose2d(X, WT, BT, 2, 1, 1)
    count_calls.clear()
    dx = da.from_array(X, chunks=(8, 3, 20, 18))
    y = fastconv.conv_transpose2d(dx, WT, BT, 2, 1, 1)
    assert isinstance(y, da.Array) and count_calls == []
    assert y.shape == expected.shape
    assert_bitwise_equal(y.compute(scheduler="threads"), expected)
    assert count_calls == [(8, 3, 20, 18)] * 8


def test_spatial_and_channel_chunks_are_merged():
    dx = da.from_array(X, chunks=(10, 1, 7, 5))     # uneven batch chunks, split C, H, W
    y = fastconv.conv2d(dx, W, B, stride=2, padding=((1, 0), (2, 1)), dilation=(1, 2),
                        padding_mode="zeros")
    assert y.chunks[0] == (10, 10, 10, 10, 10, 10, 4)
    assert all(len(c) == 1 for c in y.chunks[1:])
    expected = fastconv.conv2d(X, W, B, stride=2, padding=((1, 0), (2, 1)), dilation=(1, 2))
    assert_bitwise_equal(y.compute(), expected)


@pytest.mark.parametrize("mode", ["reflect", "circular"])
def test_padding_modes_and_groups(mode):
    x = RNG.standard_normal((6, 4, 9, 9))
    w = RNG.standard_normal((6, 2, 3, 3))
    y = fastconv.conv2d(da.from_array(x, chunks=(4, 4, 9, 9)), w, None, 1, 1, 1, 2,
                        padding_mode=mode)
    assert_bitwise_equal(y.compute(), fastconv.conv2d(x, w, None, 1, 1, 1, 2,
                                                      padding_mode=mode))


def test_unbatched_input():
    y = fastconv.conv2d(da.from_array(X[0], chunks=(1, 10, 10)), W, padding="same")
    assert y.shape == (8, 20, 18)
    assert_bitwise_equal(y.compute(), fastconv.conv2d(X[0], W, padding="same"))


def test_dask_weight_is_computed_once():
    y = fastconv.conv2d(da.from_array(X, chunks=8), da.from_array(W), da.from_array(B))
    assert_bitwise_equal(y.compute(), fastconv.conv2d(X, W, B))


def test_errors_are_raised_eagerly():
    dx = da.from_array(X, chunks=8)
    with pytest.raises(fastconv.ConvError, match=r"expected input\[64, 3, 20, 18\] to have "
                                                 r"6 channels, but got 3 channels"):
        fastconv.conv2d(dx, np.ones((8, 6, 3, 3), np.float32))
    with pytest.raises(fastconv.ConvError, match="should be the same"):
        fastconv.conv2d(dx, W.astype(np.float64))
    with pytest.raises(TypeError, match="float32 or float64"):
        fastconv.conv2d(dx.astype(np.int32), W)
    with pytest.raises(TypeError, match="out= is not supported for a dask array"):
        fastconv.conv2d(dx, W, out=np.empty((64, 8, 18, 16), np.float32))
    with pytest.raises(fastconv.ConvError, match="num_threads must be a positive int"):
        fastconv.conv2d(dx, W, num_threads=0)


def test_unknown_chunk_sizes_are_rejected_with_advice():
    dx = da.from_array(X, chunks=8)
    dx = dx[dx[:, 0, 0, 0] > 0]          # boolean indexing: batch size unknown
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        fastconv.conv2d(dx, W)
    dx = dx.compute_chunk_sizes()
    assert_bitwise_equal(fastconv.conv2d(dx, W).compute(),
                         fastconv.conv2d(X[X[:, 0, 0, 0] > 0], W))


def test_num_threads_and_algorithm_reach_the_blocks():
    dx = da.from_array(X, chunks=16)
    for alg in fastconv.ALGORITHMS["conv2d"]:
        y = fastconv.conv2d(dx, W, B, padding=1, num_threads=1, algorithm=alg)
        assert_bitwise_equal(y.compute(), fastconv.conv2d(X, W, B, padding=1, algorithm=alg))


def test_graph_is_deterministic_and_distinct():
    dx = da.from_array(X, chunks=8)
    a, b = fastconv.conv2d(dx, W), fastconv.conv2d(dx, W)
    c = fastconv.conv2d(dx, W, padding=1)
    assert a.name == b.name          # same inputs, same key: dask may share the work
    assert a.name != c.name
    assert dask.compute(a, c)[1].shape == (64, 8, 20, 18)
