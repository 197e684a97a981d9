"""Time fastconv against its peers on the benchmark workload, in one process.

    python -m fastconv bench [--threads 1,2] [--cases id1,id2] [--peers torch,numpy,scipy]
                             [--json out.json] [--plot out.png] [--repeat R] [--min-time S]
                             [--quick]
    python benchmarks/compare.py ...   (the same, same options)

The workload is fastconv/bench_shapes.json (package data). A progress bar goes to stderr,
the tables to stdout; --plot draws the speedups as a bar chart (needs matplotlib).

Method (see shared/notes/cpu_torch_baseline.md for why each step is there):
- per case and thread count, every implementation is called once untimed (compilation, first
  touch of memory, thread pools) and its result checked against torch (numpy if no torch);
- then R rounds; in each round every implementation runs one block of back-to-back calls,
  the order rotating from round to round, so slow drifts of the machine hit all alike;
- the statistic is the median of all single-call times (time.perf_counter);
- between blocks we wait for this process's own worker threads to stop spinning (OpenBLAS
  spins ~0.13 s after a call), so one implementation's idle pool doesn't slow the next;
- contention gate: this is a 2-vCPU VM whose cores the host sometimes halves for seconds.
  Before and after each block a short probe runs on as many threads as the block uses; a block
  whose probe rate falls below 85% of the best rate seen is retried (up to 3 times, then kept
  and counted in the summary line). '~' marks a row whose round medians are > 1.5x apart;
- other processes on this machine (someone's test run) slow 2-thread timings 10-50x: before
  each case we wait (up to --max-wait s) for them to go idle, and mark '!' a case during
  which they still kept more than 0.2 cores busy.

Columns: ms per call for fastconv and each peer; fastconv GFLOP/s (2 * multiply-adds) and its
% of the machine's GEMM peak (numpy matmul on all cores, measured once, or --peak); ratios peer
ms / fastconv ms (> 1: fastconv faster) with their geometric means; the algorithm fastconv's
'auto' picks (if fastconv.choose_algorithm exists); the correctness check.
"""

import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import threading
import time

import numpy as np

from . import _bench_peers as peers

SHAPES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_shapes.json")
SUBJECT = "fastconv"
RATIO_PEERS = ("torch", "numpy")  # peers that get a ratio column
OTHER_LOAD_MARK = 0.2  # cores kept busy by other processes that earn a case a '!'


# --------------------------------------------------------------------------- contention gate

class ContentionGate:
    """Tells whether the machine currently gives us whole cores.

    Each of n threads runs np.correlate on a small, cache-resident array (GIL released, ~80 us
    a call) for probe_s seconds; the slowest thread's call rate is compared with the best
    rate seen so far in this process for n threads.
    """

    def __init__(self, probe_s=0.02, threshold=0.85, enabled=True):
        self.probe_s, self.threshold, self.enabled = probe_s, threshold, enabled
        self.best = {}
        self._a = np.random.default_rng(0).random(4096)
        self._k = np.random.default_rng(1).random(64)

    def _spin(self, rates, i):
        calls, t0 = 0, time.perf_counter()
        end = t0 + self.probe_s
        while time.perf_counter() < end:
            np.correlate(self._a, self._k, "valid")
            calls += 1
        rates[i] = calls / (time.perf_counter() - t0)

    def rate(self, nthreads):
        rates = [0.0] * nthreads
        workers = [threading.Thread(target=self._spin, args=(rates, i)) for i in range(nthreads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        return min(rates)

    def calibrate(self, nthreads, probes=5):
        for _ in range(probes):
            self.ok(nthreads)

    def ok(self, nthreads):
        if not self.enabled:
            return True
        r = self.rate(nthreads)
        self.best[nthreads] = max(self.best.get(nthreads, 0.0), r)
        return r >= self.threshold * self.best[nthreads]


def cpu_snapshot():
    """(machine busy CPU-seconds, this process's CPU-seconds, wall time); None off Linux.

    Busy includes steal: time the hypervisor gave this VM's vCPUs to someone else, which
    slows us as much as another process here does (and which /proc/stat reports apart).
    """
    try:
        with open("/proc/stat") as f:
            v = [int(t) for t in f.readline().split()[1:9]] + [0]   # steal: 8th, if any
    except OSError:
        return None
    busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")  # not idle/iowait
    return busy, time.process_time(), time.perf_counter()


def foreign_load(start, end):
    """Cores kept busy on average by other processes (or taken by the host) between two
    cpu_snapshot()s."""
    if start is None or end is None:
        return None
    busy, own, wall = (b - a for a, b in zip(start, end))
    return max(0.0, busy - own) / wall


def settle(max_wait=0.5, window=0.01):
    """Sleep until this process's own worker threads stop spinning (at most max_wait s).

    After a call, OpenBLAS keeps a worker spinning ~0.13 s here (OpenMP pools spin too):
    that steals a core from whatever runs next and fools the probe.
    """
    deadline = time.perf_counter() + max_wait
    while time.perf_counter() < deadline:
        cpu = time.process_time()  # all threads of this process
        time.sleep(window)
        if time.process_time() - cpu < 0.1 * window:
            return


# --------------------------------------------------------------------------- timing

def time_block(fn, calls):
    """Single-call times of `calls` back-to-back calls, after one untimed call.

    The untimed call absorbs the switch from the previous implementation (its thread pool
    waking up, caches refilled): the first call after a switch was up to 30x slower here.
    """
    fn()
    times = []
    gc.disable()  # timeit does the same: no collector pauses inside the block
    try:
        for _ in range(calls):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return times


def time_interleaved(fns, nthreads, min_time, rounds, gate, retries, min_calls=2):
    """Interleaved timing of the callables in `fns` (name -> fn() with no arguments).

    Returns name -> {"times": [...], "round_medians": [...], "calls": calls per block,
    "retries": blocks redone, "contended": blocks kept although the gate said contended}.
    """
    est = {}
    for name, fn in fns.items():  # best of 2 calls after the block's own untimed call
        est[name] = min(time_block(fn, 2))
    calls = {name: max(min_calls, math.ceil(min_time / rounds / max(est[name], 1e-7)))
             for name in fns}
    result = {name: {"times": [], "round_medians": [], "calls": calls[name], "contended": 0,
                     "retries": 0} for name in fns}
    names = list(fns)
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            for attempt in range(retries + 1):
                settle()
                clean = gate.ok(nthreads)
                times = time_block(fns[name], calls[name])
                settle()
                clean = gate.ok(nthreads) and clean
                if clean:
                    break
                if attempt < retries:
                    result[name]["retries"] += 1
            else:
                result[name]["contended"] += 1
            result[name]["times"] += times
            result[name]["round_medians"].append(statistics.median(times))
    return result


def measure_peak(dtype, nthreads, n=2048, calls=3):
    """Best single-call GFLOP/s of an n x n numpy matmul on nthreads BLAS threads.

    The best (not the median) because contention only ever makes a call slower.
    """
    peers.set_blas_threads(nthreads)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    a @ b  # warm-up: thread pool start, first touch of the output
    best = math.inf
    for _ in range(calls):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


# --------------------------------------------------------------------------- one case

def run_case(case, threads, inputs, reference, peer_fns, opts, gate):
    """Time fastconv and the peers on one case at one thread count; return a record.

    inputs: (x, w, b); reference: (name, result) that every result is checked against.
    """
    x, w, b = inputs
    tol = peers.tolerance(case)
    record = {
        "case": case["id"], "op": case.get("op", peers.CONV2D),
        "dtype": str(peers.geometry(case).dtype), "threads": threads,
        "gflop": peers.flops(case) / 1e9,
        "algorithm": peers.fastconv_algorithm(case, x, w),
        "check": {"reference": reference[0], "tolerance": tol, "rel_diff": {}, "errors": {}},
        "peers": {},
    }
    fns = {}
    impls = [(SUBJECT, peers.run_fastconv)] + [
        (name, fn) for name, fn in peer_fns.items() if peers.peer_supports(name, case)]
    for name, fn in impls:
        call = (lambda fn=fn: fn(case, x, w, threads, b=b))
        try:
            y = call()  # warm-up, and the one result that gets checked
        except Exception as exc:  # report and go on with the other implementations
            record["check"]["errors"][name] = f"{type(exc).__name__}: {exc}"
            continue
        record["check"]["rel_diff"][name] = peers.max_rel_diff(y, reference[1])
        fns[name] = call
    timed = time_interleaved(fns, threads, opts.min_time, opts.repeat, gate, opts.retries,
                             min_calls=opts.min_calls)
    for name, t in timed.items():
        record["peers"][name] = {
            "median_ms": 1e3 * statistics.median(t["times"]),
            "min_ms": 1e3 * min(t["times"]),
            "round_medians_ms": [1e3 * m for m in t["round_medians"]],
            "calls_per_round": t["calls"],
            "retried_blocks": t["retries"],
            "contended_blocks": t["contended"],
            "times_ms": [1e3 * s for s in t["times"]],
        }
    check = record["check"]
    check["ok"] = (SUBJECT in check["rel_diff"] and check["rel_diff"][SUBJECT] <= tol)
    check["peers_off"] = sorted(n for n, d in check["rel_diff"].items()
                                if n != SUBJECT and not d <= tol)
    return record


# --------------------------------------------------------------------------- report

def geomean(values):
    values = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def _noisy(p):
    """'~' when the rounds disagree: their medians more than 1.5x apart."""
    rm = p["round_medians_ms"]
    return len(rm) > 1 and max(rm) > 1.5 * min(rm)


def wait_for_quiet(max_wait, threshold=0.1, window=0.25):
    """Sleep until other processes leave the cores idle, for at most max_wait seconds.

    Other people's test runs on this machine slowed 2-thread timings 10-50x; the probe sees
    them too, but waiting for them to finish beats retrying. Returns their last load.
    """
    deadline = time.perf_counter() + max_wait
    while True:
        start = cpu_snapshot()
        time.sleep(window)
        load = foreign_load(start, cpu_snapshot())
        if load is None or load < threshold or time.perf_counter() >= deadline:
            return load


def contention_note(records):
    blocks = sum(len(p["round_medians_ms"]) for r in records for p in r["peers"].values())
    kept = sum(p["contended_blocks"] for r in records for p in r["peers"].values())
    if not kept:
        return "contention gate: every block ran on full-speed cores"
    return (f"contention gate: {kept} of {blocks} blocks still ran on slowed cores after "
            "retries; their ms are pessimistic, ratios less so (interleaved)")


def ratio(record, peer):
    p, s = record["peers"].get(peer), record["peers"].get(SUBJECT)
    return p["median_ms"] / s["median_ms"] if p and s else None


def check_text(record):
    c = record["check"]
    if SUBJECT in c["errors"]:
        return "ERROR " + c["errors"][SUBJECT][:60]
    d = c["rel_diff"].get(SUBJECT)
    text = f"ok {d:.0e}" if c["ok"] else f"MISMATCH {d:.1e} > {c['tolerance']:.0e}"
    extra = [f"{n} off" for n in c["peers_off"]] + [f"{n} error" for n in c["errors"]]
    return text + ("" if not extra else " (" + ", ".join(extra) + ")")


def format_table(records, peer_names, peak):
    cols = [SUBJECT] + list(peer_names)
    ratio_cols = [p for p in RATIO_PEERS if p in peer_names]
    header = (["case", "GFLOP"] + [f"{c} ms" for c in cols] + ["GFLOP/s", "%peak"]
              + [f"{p}/fc" for p in ratio_cols] + ["algo", "check"])
    rows = []
    for rec in records:
        busy = rec["other_load"] is not None and rec["other_load"] > OTHER_LOAD_MARK
        row = [rec["case"] + (" !" if busy else ""), f"{rec['gflop']:.3f}"]
        for c in cols:
            p = rec["peers"].get(c)
            row.append("-" if p is None else f"{p['median_ms']:.3f}" + ("~" if _noisy(p) else ""))
        s = rec["peers"].get(SUBJECT)
        gflops = rec["gflop"] / (s["median_ms"] / 1e3) if s else None
        pk = peak.get(rec["dtype"])
        row.append("-" if gflops is None else f"{gflops:.1f}")
        row.append("-" if gflops is None or not pk else f"{100 * gflops / pk:.0f}")
        for p in ratio_cols:
            r = ratio(rec, p)
            row.append("-" if r is None else f"{r:.2f}")
        row += [rec["algorithm"] or "-", check_text(rec)]
        rows.append(row)
    means = ["geomean", ""] + [""] * len(cols) + ["", ""]
    means += [f"{geomean([ratio(r, p) for r in records]) or 0:.2f}" for p in ratio_cols]
    rows.append(means + ["", ""])
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(str(v).ljust(wd) if i in (0, len(r) - 2, len(r) - 1)
                               else str(v).rjust(wd) for i, (v, wd) in enumerate(zip(r, widths)))
    out = [line(header), "-" * len(line(header))]
    out += [line(r) for r in rows[:-1]] + ["-" * len(line(header)), line(rows[-1])]
    return "\n".join(l.rstrip() for l in out)


def environment():
    """What the numbers depend on, for the JSON and the header."""
    info = {"python": platform.python_version(), "numpy": np.__version__,
            "machine": platform.machine(), "cpus": _ncpus(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE")}
    for mod in ("fastconv", "torch", "scipy", "threadpoolctl"):
        try:
            info[mod] = getattr(__import__(mod), "__version__", "?")
        except ImportError:
            info[mod] = None
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [f"{d.get('internal_api')} {d.get('version')} {d.get('architecture')}"
                        for d in threadpool_info() if d.get("user_api") == "blas"]
    except ImportError:
        pass
    return info


def _ncpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# --------------------------------------------------------------------------- progress, plot

class Progress:
    """A progress bar on stderr: redrawn in place on a terminal, one line per step
    otherwise (logs, CI)."""

    def __init__(self, total, width=30, file=None):
        self.total, self.width, self.i = total, width, 0
        self.file = file or sys.stderr
        self.tty = hasattr(self.file, "isatty") and self.file.isatty()

    def step(self, label):
        self.i += 1
        filled = self.width * (self.i - 1) // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        text = f"[{bar}] {self.i}/{self.total} {label}"
        if self.tty:
            print("\r" + text.ljust(self.width + 60)[:self.width + 60], end="",
                  file=self.file, flush=True)
        else:
            print(text, file=self.file, flush=True)

    def done(self):
        if self.tty:
            print("\r" + f"[{'#' * self.width}] {self.i}/{self.total} done".ljust(
                self.width + 60), file=self.file, flush=True)


def plot_speedups(records, peer_names, path):
    """Bar chart: for each case, peer ms / fastconv ms per ratio peer and thread count."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys(r["case"] for r in records))
    series = [(p, n) for n in dict.fromkeys(r["threads"] for r in records)
              for p in RATIO_PEERS if p in peer_names]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(cases) * max(len(series), 1)), 4.5))
    width = 0.8 / max(len(series), 1)
    for k, (peer, n) in enumerate(series):
        by_case = {r["case"]: ratio(r, peer) for r in records if r["threads"] == n}
        heights = [by_case.get(c) or 0.0 for c in cases]
        ax.bar([i + k * width for i in range(len(cases))], heights, width,
               label=f"vs {peer}, {n} thread{'s' if n > 1 else ''}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(cases))])
    ax.set_xticklabels(cases, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("speedup of fastconv (peer ms / fastconv ms)")
    ax.set_title("fastconv speedup over its peers (> 1: fastconv faster)")
    if series:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- main

def parse_args(argv, prog="python -m fastconv bench"):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    csv = lambda s: [v for v in s.split(",") if v]
    p.add_argument("--threads", type=lambda s: [int(v) for v in csv(s)], default=None,
                   help="comma-separated thread counts (default: all cores)")
    p.add_argument("--cases", type=csv, default=None, help="comma-separated case ids")
    p.add_argument("--peers", type=csv, default=None,
                   help="comma-separated peers among torch,numpy,scipy (default: all installed)")
    p.add_argument("--shapes", default=SHAPES,
                   help="workload file (default: fastconv/bench_shapes.json, shipped with "
                        "the package)")
    p.add_argument("--json", default=None, help="write every raw number to this file")
    p.add_argument("--plot", default=None,
                   help="draw the speedups (peer ms / fastconv ms) as a bar chart into this "
                        "image file (needs matplotlib)")
    p.add_argument("--repeat", type=int, default=None, help="interleaved rounds (default 3)")
    p.add_argument("--min-time", type=float, default=None,
                   help="timed seconds per implementation per case (default 0.2)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2 rounds, 0.03 s per implementation, no gate retries")
    p.add_argument("--peak", default=None,
                   help="machine GEMM peak in GFLOP/s, 'F32' or 'F32,F64', instead of measuring")
    p.add_argument("--no-gate", action="store_true", help="skip the contention probe")
    p.add_argument("--max-wait", type=float, default=None,
                   help="seconds to wait before each case for other processes to go idle "
                        "(default 30, --quick 5)")
    opts = p.parse_args(argv)
    quick = opts.quick
    opts.repeat = opts.repeat or (2 if quick else 3)
    opts.min_time = opts.min_time if opts.min_time is not None else (0.03 if quick else 0.2)
    opts.min_calls = 1 if quick else 2
    opts.retries = 0 if quick else 3
    opts.max_wait = opts.max_wait if opts.max_wait is not None else (5 if quick else 30)
    opts.threads = opts.threads or [_ncpus()]
    return opts


def load_cases(path, ids):
    with open(path) as f:
        cases = json.load(f)["cases"]
    if ids is None:
        return cases
    by_id = {c["id"]: c for c in cases}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise SystemExit(f"unknown case ids {unknown}; known: {', '.join(by_id)}")
    return [by_id[i] for i in ids]


def main(argv=None, prog="python -m fastconv bench"):
    opts = parse_args(argv, prog)
    cases = load_cases(opts.shapes, opts.cases)
    if opts.plot and not peers.importable("matplotlib"):  # say so before minutes of timing
        print("--plot needs matplotlib, which is not installed: pip install matplotlib "
              "(or pip install \"fastconv[bench]\")", file=sys.stderr)
        return 2
    try:
        import fastconv  # noqa: F401
    except ImportError as exc:
        print(f"cannot import fastconv: {exc}", file=sys.stderr)
        return 2
    try:
        peer_fns = peers.available_peers(opts.peers)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    missing = sorted(set(opts.peers or ()) - {n.split(".")[0] for n in peer_fns} - set(peer_fns))
    ncpu = _ncpus()
    gate = ContentionGate(probe_s=0.01 if opts.quick else 0.02, enabled=not opts.no_gate)
    for n in sorted(set(opts.threads) | {ncpu}):  # ncpu: for the peak measurement
        gate.calibrate(n)

    if opts.peak:
        given = [float(v) for v in opts.peak.split(",")]
        peak = dict(zip(("float32", "float64"), given))
        peak_note = f"peak given with --peak: {opts.peak} GFLOP/s"
    else:
        dtypes = sorted({str(peers.geometry(c).dtype) for c in cases} | {"float32"})
        peak = dict.fromkeys(dtypes, 0.0)
        for attempt in range(max(1, opts.retries) + 1):  # a peak taken while contended is low
            wait_for_quiet(opts.max_wait)
            peak = {dt: max(peak[dt], measure_peak(dt, ncpu)) for dt in dtypes}
            if gate.ok(ncpu):
                break
        peak_note = (f"peak measured: best of {3 * (attempt + 1)} numpy 2048x2048 matmuls on "
                     f"{ncpu} BLAS threads: "
                     + ", ".join(f"{dt} {v:.0f} GFLOP/s" for dt, v in peak.items()))

    # One reference per case: torch if installed (whether or not it is timed), else numpy.
    ref_name, ref_fn = (("torch", peers.run_torch) if peers.importable("torch")
                        else ("numpy", peers.run_numpy_im2col))

    env = environment()
    print(f"fastconv {env['fastconv']} | numpy {env['numpy']} | torch {env['torch']} | "
          f"scipy {env['scipy']} | {ncpu} cpus | BLAS: {'; '.join(env.get('blas', []))} | "
          f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}")
    print(peak_note + "; %peak is of the whole machine, so 1-thread rows top out near "
          f"{100 / ncpu:.0f}%")
    if missing:
        print(f"peers not installed, skipped: {', '.join(missing)}")
    if "numpy" in peer_fns and not peers.importable("threadpoolctl"):
        print("threadpoolctl not installed: NumPy's BLAS runs on its default thread count, "
              "not --threads (pip install threadpoolctl, or \"fastconv[bench]\")")
    print(f"median of single calls, {opts.repeat} interleaved rounds, >= {opts.min_time} s "
          f"per implementation; '~' = round medians > 1.5x apart; '!' = other processes "
          f"busy during the case; "
          f"check: max|fc - {ref_name}| / max|{ref_name}|\n")

    records = []
    progress = Progress(len(opts.threads) * len(cases))
    for n in opts.threads:
        table = []
        snap = cpu_snapshot()
        for case in cases:
            progress.step(f"{case['id']} ({n} thread{'s' if n > 1 else ''})")
            x, w, b = peers.make_inputs(case, seed=0)
            reference = (ref_name, ref_fn(case, x, w, n, b=b))
            wait_for_quiet(opts.max_wait)
            start = cpu_snapshot()
            rec = run_case(case, n, (x, w, b), reference, peer_fns, opts, gate)
            rec["other_load"] = foreign_load(start, cpu_snapshot())
            table.append(rec)
        progress.done()
        records += table
        print(f"threads = {n}")
        print(format_table(table, list(peer_fns), peak))
        if gate.enabled:
            print(contention_note(table))
        other = foreign_load(snap, cpu_snapshot())
        if other is not None and other > 0.1:
            print(f"WARNING: other processes kept {other:.1f} of {ncpu} cores busy meanwhile")
        slower = [f"{r['case']} ({ratio(r, 'numpy'):.2f})" for r in table
                  if ratio(r, "numpy") is not None and ratio(r, "numpy") < 1]
        if slower:
            print(f"fastconv SLOWER than numpy im2col: {', '.join(slower)}")
        bad = [r["case"] for r in table if not r["check"]["ok"]]
        if bad:
            print(f"!!! MISMATCH or ERROR in fastconv results: {', '.join(bad)}")
        print()

    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"environment": env, "peak_gflops": peak, "peak_note": peak_note,
                       "options": {k: v for k, v in vars(opts).items()},
                       "gate_best_rates": gate.best, "results": records}, f, indent=1)
        print(f"raw numbers written to {opts.json}")
    if opts.plot:
        plot_speedups(records, list(peer_fns), opts.plot)
        print(f"bar chart of speedups written to {opts.plot}")
    return 1 if any(not r["check"]["ok"] for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
