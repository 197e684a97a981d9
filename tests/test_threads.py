"""Results do not depend on the thread count: bitwise equal for 1, 2, 3 threads.

Shapes are large enough that every parallel loop has more than three chunks
(N*K*OH rows, K/G blocks, ...), and sized oddly so the split is uneven.
"""

import numpy as np
import pytest

import fastconv
from conftest import algorithms, assert_bitwise_equal
from reference import assert_within, conv2d_ref, conv_transpose2d_ref, tolerance
from strategies import Conv2dCase, ConvTranspose2dCase

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
THREADS = (1, 2, 3)

CONV_CASES = {
    "dense-3x3": Conv2dCase(N=3, C=7, H=19, W=23, K=13, kh=3, kw=3, padding=1),
    "grouped-strided": Conv2dCase(N=2, C=6, H=21, W=17, K=9, kh=3, kw=2, groups=3,
                                  stride=2, dilation=(1, 2), padding=((1, 2), (0, 1))),
    "depthwise-reflect": Conv2dCase(N=1, C=11, H=17, W=33, K=11, kh=3, kw=3, groups=11,
                                    padding=1, padding_mode="reflect"),
    "pointwise": Conv2dCase(N=5, C=19, H=9, W=11, K=21, kh=1, kw=1),
    "single-image-wide": Conv2dCase(N=1, C=2, H=3, W=131, K=3, kh=3, kw=5),
}

CONVT_CASES = {
    "dense-stride-2": ConvTranspose2dCase(N=3, C=7, H=9, W=11, K=13, kh=3, kw=3, stride=2,
                                          padding=1, output_padding=1),
    "grouped-dilated": ConvTranspose2dCase(N=2, C=6, H=10, W=7, K=9, kh=3, kw=2, groups=3,
                                           stride=(1, 3), dilation=(2, 1), padding=(1, 0),
                                           output_padding=(1, 2)),
    "4x4-stride-2": ConvTranspose2dCase(N=1, C=8, H=12, W=13, K=5, kh=4, kw=4, stride=2,
                                        padding=1),
}


def _run_all(fn, case, x, w, b, algorithm):
    outs = {t: fn(x, w, b, **case.kwargs(), algorithm=algorithm, num_threads=t)
            for t in THREADS}
    outs[None] = fn(x, w, b, **case.kwargs(), algorithm=algorithm, num_threads=None)
    return outs


@pytest.mark.parametrize("algorithm", algorithms("conv2d"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CONV_CASES.values()), ids=list(CONV_CASES))
def test_conv2d_thread_count_invariance(case, dtype, algorithm):
    x, w, b = case.arrays(dtype)
    outs = _run_all(fastconv.conv2d, case, x, w, b, algorithm)
    for t, out in outs.items():
        assert_bitwise_equal(out, outs[1], what=f"num_threads={t} vs 1")
    # and the common answer is right
    assert_within(outs[1], conv2d_ref(x, w, b, **case.kwargs()),
                  tolerance(dtype, case.reduction_len, x, w, b, **case.kwargs()))


@pytest.mark.parametrize("algorithm", algorithms("conv_transpose2d"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CONVT_CASES.values()), ids=list(CONVT_CASES))
def test_conv_transpose2d_thread_count_invariance(case, dtype, algorithm):
    x, w, b = case.arrays(dtype)
    outs = _run_all(fastconv.conv_transpose2d, case, x, w, b, algorithm)
    for t, out in outs.items():
        assert_bitwise_equal(out, outs[1], what=f"num_threads={t} vs 1")
    assert_within(outs[1], conv_transpose2d_ref(x, w, b, **case.kwargs()),
                  tolerance(dtype, case.reduction_len, x, w, b, transposed=True,
                            **case.kwargs()))


@pytest.mark.parametrize("op, algorithm", [(op, a) for op in ("conv2d", "conv_transpose2d")
                                           for a in algorithms(op)])
def test_more_threads_than_work(op, algorithm):
    # 1 output row, 1 channel: most threads have nothing to do.
    x = np.random.default_rng(0).standard_normal((1, 1, 3, 3)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((1, 1, 3, 3)).astype(np.float32)
    fn = getattr(fastconv, op)
    assert_bitwise_equal(fn(x, w, algorithm=algorithm, num_threads=16),
                         fn(x, w, algorithm=algorithm, num_threads=1))


def test_repeated_calls_are_deterministic():
    case = CONV_CASES["dense-3x3"]
    x, w, b = case.arrays(np.float32)
    first = fastconv.conv2d(x, w, b, **case.kwargs())
    for _ in range(3):
        assert_bitwise_equal(fastconv.conv2d(x, w, b, **case.kwargs()), first)
