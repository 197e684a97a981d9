"""Hostile but legal or nearly legal arguments: an exception or the right answer, never a crash."""

import numpy as np
import pytest

import fastconv
from reference import conv2d_ref, conv_transpose2d_ref

X = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
W3 = np.arange(9, dtype=np.float64).reshape(1, 1, 3, 3) - 4


@pytest.mark.parametrize("n", [1, 3, 1000, 10**6, 2**40])
def test_any_thread_count_is_safe_and_gives_the_same_bits(n):
    # A team of a million OpenMP threads once crashed the process; requests are capped.
    np.testing.assert_array_equal(fastconv.conv2d(X, W3, num_threads=n),
                                  fastconv.conv2d(X, W3, num_threads=1))


def test_a_huge_thread_setting_is_capped_like_a_huge_request():
    # set_num_threads(2**31 - 1) was taken as the team size of every later call,
    # whose per-thread workspace then raised MemoryError (found by fuzzing).
    from fastconv import _cpu
    old, omp = _cpu.setting(), _cpu.max_threads()
    x = np.random.default_rng(0).standard_normal((1, 8, 32, 32))
    w = np.random.default_rng(1).standard_normal((8, 8, 3, 3))
    try:
        fastconv.set_num_threads(2**31 - 1)
        y = fastconv.conv2d(x, w, padding=1)
        assert 1 <= _cpu.last_num_threads() <= 1 << 16
    finally:
        _cpu.set_default_threads(old or 0)
        _cpu.omp_set_num_threads(omp)
    np.testing.assert_array_equal(y, fastconv.conv2d(x, w, padding=1, num_threads=1))


def test_strides_beyond_the_input_behave_like_torch():
    # One output pixel: the stride cannot matter, however large.
    for s in (5, 2**31, 2**62):
        y = fastconv.conv2d(X, W3, stride=s)
        np.testing.assert_allclose(y, conv2d_ref(X, W3, stride=1)[:, :, :1, :1])


def test_dilation_of_a_one_tap_kernel_cannot_matter():
    w1 = np.full((1, 1, 1, 1), 2.0)
    np.testing.assert_array_equal(fastconv.conv2d(X, w1, dilation=2**50), 2 * X)


def test_transposed_stride_on_a_single_input_pixel():
    x1 = np.ones((1, 1, 1, 1))
    for s, op in ((2**30, 0), (2**30, 5), (7, 3)):
        y = fastconv.conv_transpose2d(x1, W3, stride=s, output_padding=op)
        ref = conv_transpose2d_ref(x1, W3, stride=min(s, 8), output_padding=op)
        np.testing.assert_allclose(y, ref)


@pytest.mark.parametrize("kwargs", [dict(stride=2**100), dict(padding=2**64), dict(dilation=-2**70)])
def test_integers_past_int64_are_rejected(kwargs):
    with pytest.raises(fastconv.ConvError, match="64-bit"):
        fastconv.conv2d(X, W3, **kwargs)


@pytest.mark.parametrize("call", [
    lambda: fastconv.conv2d(X, W3, padding=2**40),
    lambda: fastconv.conv2d(X, W3, padding=100_000, padding_mode="replicate"),
    lambda: fastconv.conv_transpose2d(X, W3, stride=2**20),
    lambda: fastconv.conv2d(np.broadcast_to(np.float32(1), (2**20, 1, 2**10, 2**10)),
                            W3.astype(np.float32)),
], ids=["padding-2^40", "replicate-1e5", "transposed-stride-2^20", "broadcast-4TiB"])
def test_outputs_larger_than_memory_raise_before_computing(call):
    # MemoryError naming the size, or ConvError where a padded axis passes 2**31.
    with pytest.raises((MemoryError, fastconv.ConvError), match="bytes|2\\*\\*31"):
        call()


def test_transposed_arguments_past_int32_are_rejected():
    # torch's transposed kernels take them as 32-bit ints; 2**40 wraps there.
    with pytest.raises(fastconv.ConvError, match="below 2\\*\\*31"):
        fastconv.conv_transpose2d(np.ones((1, 1, 1, 1)), W3, stride=2**40)
