"""Results do not depend on the thread count: bitwise equal for 1, 2, 3 threads;
and the thread setting (set_num_threads, OMP_NUM_THREADS, threadpoolctl).

Shapes are large enough that every parallel loop has more than three chunks
(N*K*OH rows, K/G blocks, ...), and sized oddly so the split is uneven.
"""

import json
import os
import subprocess
import sys
import textwrap

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


# ------------------------------------------------------------------ thread setting
# Note [thread setting] (fastconv/_cpu.pyx): per-call num_threads > an OpenMP
# limit in the calling thread (threadpoolctl) > set_num_threads > OMP_NUM_THREADS.
# _cpu.last_num_threads() is the team size the latest kernel call asked OpenMP for.

from fastconv import _cpu  # noqa: E402

# Large enough to be shared (THRESHOLDS["SINGLE_THREAD_MACS"]): 8*8*9*30*30 MACs.
_X = np.random.default_rng(3).standard_normal((1, 8, 32, 32)).astype(np.float32)
_W = np.random.default_rng(4).standard_normal((8, 8, 3, 3)).astype(np.float32)


def _threads_used(**kw):
    fastconv.conv2d(_X, _W, **kw)
    return _cpu.last_num_threads()


@pytest.fixture
def restore_threads():
    omp = _cpu.max_threads()
    yield
    _cpu.set_default_threads(0)
    _cpu.omp_set_num_threads(omp)


needs_openmp = pytest.mark.skipif(not _cpu.openmp_enabled(), reason="built without OpenMP")


@needs_openmp
def test_set_num_threads_takes_effect_after_earlier_calls(restore_threads):
    # The plan cache (fastconv/_api.py) must not freeze the count of the first call.
    default = _threads_used()
    assert default == _cpu.max_threads() == fastconv.get_num_threads()
    for n in (3, 1, 2, 5):
        fastconv.set_num_threads(n)
        assert fastconv.get_num_threads() == n
        assert _threads_used() == n
    assert _threads_used(num_threads=4) == 4      # the call's own argument wins
    assert _threads_used() == 5


@needs_openmp
@pytest.mark.parametrize("tuned", [False, True])
def test_set_num_threads_with_benchmark_mode(restore_threads, tuned):
    old = fastconv.benchmark_mode(tuned)
    try:
        fastconv.set_num_threads(1)
        assert _threads_used() == 1
        fastconv.set_num_threads(3)
        assert _threads_used() == 3
    finally:
        fastconv.benchmark_mode(old)


def test_small_problems_stay_on_one_thread(restore_threads):
    fastconv.set_num_threads(3)
    fastconv.conv2d(np.ones((1, 1, 8, 8), np.float32), np.ones((1, 1, 3, 3), np.float32))
    assert _cpu.last_num_threads() == 1


@pytest.mark.parametrize("bad, exc, match", [
    (0, ValueError, "positive number of threads, but got 0"),
    (-2, ValueError, "positive number of threads, but got -2"),
    (2**40, ValueError, "more than OpenMP can count"),
    (2.0, TypeError, "must be int, not float"),
    ("2", TypeError, "must be int, not str"),
    (None, TypeError, "must be int, not NoneType"),
    (True, TypeError, "must be int, not bool"),
])
def test_set_num_threads_rejects(bad, exc, match, restore_threads):
    before = fastconv.get_num_threads()
    with pytest.raises(exc, match=match):
        fastconv.set_num_threads(bad)
    assert fastconv.get_num_threads() == before


def test_set_num_threads_accepts_numpy_ints(restore_threads):
    fastconv.set_num_threads(np.int64(2))
    assert _cpu.setting() == 2


@needs_openmp
def test_threadpool_limits_limits_fastconv(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    fastconv.set_num_threads(3)
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fastconv.get_num_threads() == 1
        assert _threads_used() == 1
        assert _threads_used(num_threads=2) == 2   # an explicit request still wins
    assert _threads_used() == 3                     # the limit lifted: the setting again
    with threadpoolctl.threadpool_limits(2, user_api="openmp"):
        assert _threads_used() == 2
    with threadpoolctl.threadpool_limits(8, user_api="openmp"):
        assert _threads_used() == 3                 # a limit never raises the setting


def _python(code, **env):
    e = dict(os.environ, **env)
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, env=e, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


@needs_openmp
def test_threadpoolctl_sees_fastconvs_openmp_runtime():
    pytest.importorskip("threadpoolctl")
    # A process that loads nothing else with OpenMP (numpy's BLAS is user_api 'blas'):
    # every OpenMP runtime threadpoolctl finds there was loaded by fastconv._cpu.
    out = _python("""
        import json, threadpoolctl
        before = threadpoolctl.threadpool_info()
        import fastconv, fastconv._cpu
        after = threadpoolctl.threadpool_info()
        print(json.dumps([d for d in after if d not in before and d["user_api"] == "openmp"]))
    """, OMP_NUM_THREADS="3")
    found = json.loads(out)
    assert len(found) == 1, found
    assert found[0]["internal_api"] in ("openmp", "libgomp", "intel", "libomp"), found
    assert found[0]["prefix"] in ("libgomp", "libomp", "libiomp"), found
    assert found[0]["num_threads"] == 3


@needs_openmp
def test_omp_num_threads_is_the_default():
    out = _python("""
        import numpy as np, fastconv
        from fastconv import _cpu
        x = np.ones((1, 8, 32, 32), np.float32); w = np.ones((8, 8, 3, 3), np.float32)
        fastconv.conv2d(x, w)
        print(fastconv.get_num_threads(), _cpu.last_num_threads())
    """, OMP_NUM_THREADS="3")
    assert out.split() == ["3", "3"]
