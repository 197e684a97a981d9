"""Many Python threads at once; the GIL released while computing; Ctrl-C."""

import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import fastconv
from fastconv._bench import cpu_snapshot, foreign_load, wait_for_quiet


def _jobs(rng, n):
    jobs = []
    for i in range(n):
        op = ("conv2d", "conv_transpose2d")[i % 2]
        x = rng.standard_normal((2, 8, 11 + i % 5, 13)).astype(np.float32)
        jobs.append((op, x))
    return jobs


W2D = np.random.default_rng(0).standard_normal((12, 4, 3, 3)).astype(np.float32)
WT = np.random.default_rng(1).standard_normal((8, 6, 3, 3)).astype(np.float32)
B = np.random.default_rng(2).standard_normal(12).astype(np.float32)


def _call(op, x, out=None, threads=None):
    if op == "conv2d":
        return fastconv.conv2d(x, W2D, B, padding=1, groups=2, out=out, num_threads=threads)
    return fastconv.conv_transpose2d(x, WT, B, stride=2, padding=1, output_padding=1,
                                     groups=2, out=out, num_threads=threads)


@pytest.mark.parametrize("threads", [1, None])
def test_many_python_threads_give_the_single_threaded_bits(threads):
    jobs = _jobs(np.random.default_rng(5), 24)
    expected = [_call(op, x, threads=1) for op, x in jobs]
    outs = [np.empty_like(e) for e in expected]
    results = [None] * len(jobs)
    errors = []
    barrier = threading.Barrier(8)

    def worker(k):
        try:
            barrier.wait()
            for _ in range(3):
                for i in range(k, len(jobs), 8):
                    op, x = jobs[i]
                    use_out = i % 3 == 0
                    r = _call(op, x, out=outs[i] if use_out else None, threads=threads)
                    assert (r is outs[i]) == use_out
                    results[i] = r.copy()
        except BaseException as e:   # surfaced below
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    for r, e in zip(results, expected):
        np.testing.assert_array_equal(r, e)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores to overlap")
def test_gil_is_released_while_computing(record_property):
    """Two Python threads running 1-thread convolutions overlap in time.

    Measured two ways in the same trials:
    - concurrency: the two threads' CPU time (time.thread_time) over the wall
      time they took together.  With the GIL held during the computation one
      thread waits while the other computes, so this stays near 1; released, it
      approaches 2.  A core the host slows down slows both numerator and
      denominator alike, so this holds on a contended host too.
    - speedup: the wall time of the same work run one call after the other,
      over the two threads' wall time (must exceed 1; on this shared host it
      varies with how fast each core happens to be, so up to five trials run and
      the first that shows both counts).
    """
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 32, 96, 96)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)

    def job(cpu=None, k=0):
        c0 = time.thread_time()
        for _ in range(4):
            fastconv.conv2d(x, w, padding=1, num_threads=1)
        if cpu is not None:
            cpu[k] = time.thread_time() - c0

    def overlapped(concurrency, speedup):
        return concurrency > 1.5 and speedup > 1.0

    job()   # warm-up
    # Only trials during which other processes left both cores to us count: on this
    # shared 2-core machine someone's build kept 1-1.7 cores busy for minutes.
    # Before each trial we wait (as `fastconv bench` does) for the machine to go idle.
    trials, busy = [], []
    deadline = time.perf_counter() + 120
    while len(trials) < 5 and time.perf_counter() < deadline:
        wait_for_quiet(max(0.0, min(20.0, deadline - time.perf_counter())))
        start = cpu_snapshot()
        t0 = time.perf_counter()
        job()
        job()
        serial = time.perf_counter() - t0
        cpu = [0.0, 0.0]
        ts = [threading.Thread(target=job, args=(cpu, k)) for k in range(2)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        parallel = time.perf_counter() - t0
        other = foreign_load(start, cpu_snapshot())   # None off Linux: trust the trial
        if other is not None and other > 0.3:
            busy.append(other)
            continue
        trials.append((sum(cpu) / parallel, serial / parallel))
        if overlapped(*trials[-1]):
            break
    if not trials:
        pytest.skip(f"other processes kept {min(busy):.1f}-{max(busy):.1f} cores busy in "
                    f"all {len(busy)} trials: no overlap measurable")
    # The best trial (one that shows both, else the most concurrent): a fresh-clone CI
    # run saw concurrency above 1.5 with a wall speedup of 0.67x in its only trial,
    # the host having slowed the parallel half.  Both figures must come from one trial.
    concurrency, speedup = max(trials, key=lambda t: (overlapped(*t), t))
    record_property("gil_concurrency", round(concurrency, 2))
    record_property("gil_speedup", round(speedup, 2))
    print(f"two threads: concurrency {concurrency:.2f}, wall speedup {speedup:.2f}x")
    # A lock around each call, standing in for a held GIL, measured concurrency
    # 0.96 here (its wall "speedup" anywhere from 0.9x to 3.3x: the serial half
    # of a trial is as exposed to the host's slowdowns); the real thing 1.6-2.0,
    # with speedups of 1.1-2.2x (November 2026).
    assert concurrency > 1.5, (
        f"two threads ran {concurrency:.2f} CPU-seconds per second: they did not overlap "
        f"(speedup {speedup:.2f}x)")
    assert speedup > 1.0, f"two threads slower ({speedup:.2f}x) than one after the other"


INTERRUPT = textwrap.dedent("""
    import os, signal, sys, threading, time
    import numpy as np
    import fastconv
    alg, op = sys.argv[1:]
    # About 300 GFLOP either way: a second or more on 2 cores (the 80-GFLOP calls
    # of before finished within 0.3 s once the kernels got faster).
    x = np.ones((1, 1024, 128, 128), np.float32)
    if op == "conv2d":
        w = np.ones((1024, 1024, 3, 3), np.float32)
        call = lambda: fastconv.conv2d(x, w, padding=1, algorithm=alg)
    else:
        w = np.ones((1024, 512, 4, 4), np.float32)
        call = lambda: fastconv.conv_transpose2d(x, w, stride=2, padding=1, algorithm=alg)
    threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    t0 = time.perf_counter()
    try:
        call()
        print("finished", time.perf_counter() - t0 - 0.3)
    except KeyboardInterrupt:
        print("interrupted", time.perf_counter() - t0 - 0.3)
    y = fastconv.conv2d(np.ones((1, 2, 5, 5), np.float32), np.ones((3, 2, 3, 3), np.float32))
    print(float(y.sum()))
""")


@pytest.mark.parametrize("alg,op", [("implicit", "conv2d"), ("gemm", "conv2d"),
                                    ("implicit", "conv_transpose2d"),
                                    ("gemm", "conv_transpose2d")])
def test_ctrl_c_stops_a_long_call_within_a_second(alg, op):
    """Note [interruptible]: SIGINT during a multi-second call raises
    KeyboardInterrupt promptly, and the next call is unaffected."""
    out = subprocess.run([sys.executable, "-c", INTERRUPT, alg, op], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    state, delay = lines[0].split()
    assert state == "interrupted", out.stdout
    assert float(delay) < 1.0, f"took {float(delay):.2f} s to stop after Ctrl-C"
    assert float(lines[1]) == 3 * 9 * 18.0   # 3x3x3 outputs of 18, then summed
