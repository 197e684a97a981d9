"""Inputs past 2**31 elements (marker ``large``, not run by default or in CI).

They need ~10 GB of memory and a minute:  python -m pytest tests -m large
"""

import numpy as np
import pytest

import fastconv

pytestmark = pytest.mark.large

SHAPE = (2, 1, 32768, 32769)      # 2,147,549,184 elements > 2**31


@pytest.fixture(scope="module")
def big():
    x = np.empty(SHAPE, np.float32)
    # Row r of image n holds n*100000 + r + column/1e5 -- cheap, and every
    # element is distinct enough to catch a 32-bit wrap of an offset.
    x[...] = (np.arange(SHAPE[2], dtype=np.float32)[:, None]
              + np.arange(SHAPE[3], dtype=np.float32)[None, :] * np.float32(1e-5))
    x[1] += np.float32(100000)
    assert x.size > 2**31
    return x


@pytest.mark.parametrize("algorithm", fastconv.ALGORITHMS["conv2d"])
def test_strided_1x1_over_more_than_2_31_elements(big, algorithm):
    w = np.full((1, 1, 1, 1), 2.0, np.float32)
    y = fastconv.conv2d(big, w, np.array([1.0], np.float32), stride=8, algorithm=algorithm)
    assert y.shape == (2, 1, 4096, 4097)
    np.testing.assert_array_equal(y, 2 * big[:, :, ::8, ::8] + 1)


def test_transposed_into_more_than_2_31_elements():
    x = np.ones((2, 1, 16384, 16385), np.float32)
    w = np.ones((1, 1, 2, 2), np.float32)
    y = fastconv.conv_transpose2d(x, w, stride=2)
    assert y.size > 2**31
    assert y[1, 0, -1, -1] == 1 and y[0, 0, 0, 0] == 1 and float(y[1].sum()) == y[1].size
