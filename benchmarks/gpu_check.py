"""One prepared GPU check for fastconv's CUDA backend (a single device call, < 5 min).

    python benchmarks/gpu_check.py            # everything, table last
    python benchmarks/gpu_check.py --dry-run  # the plan and the cases, no GPU needed

Steps, each with a time budget, each reporting and never stopping the next:
  1. the device (name, SMs, compute capability), CuPy / torch / driver versions;
  2. the GPU test bodies: pytest on the `xp`-parametrised tests, cupy only;
  3. correctness on the reference workload (benchmarks/shapes.json): fastconv
     against torch float64 on the GPU within the worst-case rounding bound of
     tests/reference.py, against torch strict fp32, and run-to-run bitwise
     determinism;
  4. compute-sanitizer memcheck and racecheck on a few small cases that cover
     every kernel (this script re-run with --sanitize-workload);
  5. copy bandwidth (the roofline denominator), then timings with CUDA events
     (warm-up first, median) of fastconv vs torch cuDNN with allow_tf32=False
     and with torch's default, on every case; the table comes last;
  6. kernel times without the host: fastconv's launches (as fastconv._gpu.run
     makes them) and torch's strict-fp32 call, each 20 times in a CUDA graph,
     per case; with --sweep-splits also every number of parts of the split
     reduction (Note [split reduction]) for the implicit-GEMM cases.

Needs CuPy and a CUDA build of torch on the device; without torch, steps 3 and
5 compare with nothing and say so.  Run with e.g. `timeout 300`.
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

BUDGET_S = {"tests": 90, "sanitizer": 70, "timing_per_impl_s": 0.15}


# ---------------------------------------------------------------------------
# Pure parts (tested in tests/test_gpu_check_script.py without a GPU)
# ---------------------------------------------------------------------------

def load_cases(path=os.path.join(HERE, "shapes.json")):
    with open(path) as f:
        return json.load(f)["cases"]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def call_kwargs(case):
    """Keyword arguments of the case's call (torch's and fastconv's names)."""
    kw = dict(stride=case.get("stride", 1), padding=case.get("padding", 0),
              dilation=case.get("dilation", 1), groups=case.get("groups", 1))
    if case["op"] == "conv_transpose2d":
        kw["output_padding"] = case.get("output_padding", 0)
    return kw


def shapes(case):
    """(input shape, weight shape) of a case."""
    kh, kw = case["kernel"]
    g = case.get("groups", 1)
    x = (case["N"], case["C"], case["H"], case["W"])
    if case["op"] == "conv2d":
        return x, (case["K"], case["C"] // g, kh, kw)
    return x, (case["C"], case["K"] // g, kh, kw)


def output_hw(case):
    kh, kw = case["kernel"]
    (sh, sw), (dh, dw) = _pair(case.get("stride", 1)), _pair(case.get("dilation", 1))
    ph, pw = _pair(case.get("padding", 0))
    if case["op"] == "conv2d":
        return ((case["H"] + 2 * ph - dh * (kh - 1) - 1) // sh + 1,
                (case["W"] + 2 * pw - dw * (kw - 1) - 1) // sw + 1)
    oph, opw = _pair(case.get("output_padding", 0))
    return ((case["H"] - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1,
            (case["W"] - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1)


def flops(case):
    """2 * multiply-adds (no zero taps counted)."""
    kh, kw = case["kernel"]
    g = case.get("groups", 1)
    if case["op"] == "conv2d":
        OH, OW = output_hw(case)
        return 2 * case["N"] * case["K"] * OH * OW * (case["C"] // g) * kh * kw
    return 2 * case["N"] * case["C"] * case["H"] * case["W"] * (case["K"] // g) * kh * kw


def min_bytes(case):
    """Bytes a kernel must move at least: input + weight + output once."""
    x, w = shapes(case)
    OH, OW = output_hw(case)
    item = 8 if case.get("dtype") == "float64" else 4
    return item * (math.prod(x) + math.prod(w) + case["N"] * case["K"] * OH * OW)


def is_depthwise(case):
    return case["op"] == "conv2d" and case.get("groups", 1) == case["C"] > 1


def geomean(values):
    values = [v for v in values if v and v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


def format_table(records, copy_gbs=None):
    """records: dicts with id, op, ms (fastconv), strict_ms, tf32_ms, gflops, gbs."""
    head = (f"{'case':26} {'fastconv ms':>11} {'cuDNN strict':>12} {'cuDNN dflt':>10} "
            f"{'x strict':>8} {'x dflt':>7} {'TFLOP/s':>8} {'GB/s':>7}")
    lines = [head, "-" * len(head)]

    def f(v, fmt):
        return format(v, fmt) if v is not None and math.isfinite(v) else "-"

    for r in records:
        xs = r["strict_ms"] / r["ms"] if r.get("strict_ms") and r.get("ms") else None
        xd = r["tf32_ms"] / r["ms"] if r.get("tf32_ms") and r.get("ms") else None
        r["x_strict"], r["x_tf32"] = xs, xd
        lines.append(f"{r['id']:26} {f(r.get('ms'), '11.4f')} {f(r.get('strict_ms'), '12.4f')} "
                     f"{f(r.get('tf32_ms'), '10.4f')} {f(xs, '8.2f')} {f(xd, '7.2f')} "
                     f"{f(r.get('tflops'), '8.2f')} {f(r.get('gbs'), '7.0f')}")
    lines.append("-" * len(head))
    lines.append(f"geomean speed vs cuDNN strict fp32: "
                 f"{geomean([r['x_strict'] for r in records]):.3f}x (target >= 0.8, goal 1.0); "
                 f"vs torch default: {geomean([r['x_tf32'] for r in records]):.3f}x")
    dw = [r["x_strict"] for r in records if r.get("depthwise")]
    if dw:
        lines.append(f"depthwise geomean vs cuDNN strict: {geomean(dw):.3f}x (target >= 1.5)")
    if copy_gbs:
        lines.append(f"copy bandwidth {copy_gbs:.0f} GB/s; memory-bound (depthwise) kernels "
                     "reach " + ", ".join(f"{r['id']} {100 * r['gbs'] / copy_gbs:.0f}%"
                                          for r in records if r.get("depthwise") and r.get("gbs"))
                     + " (target >= 70%)")
    lines.append("x > 1: fastconv faster.  'strict': torch.backends.cudnn.allow_tf32 = False; "
                 "'dflt': torch's default (TF32 on).")
    return "\n".join(lines)


# Small problems that run every kernel (both implicit GEMMs in both tiles, the
# direct conv2d, the transposed gather, the split reduction's second pass) with
# every padding mode, for compute-sanitizer.
SANITIZE_CASES = [
    ("conv2d", (2, 3, 9, 10), (70, 3, 3, 3), dict(padding=1)),               # igemm wide
    ("conv2d", (1, 4, 7, 9), (20, 2, 3, 3), dict(padding=2, groups=2, stride=2,
                                                 padding_mode="reflect")),   # igemm narrow
    ("conv2d", (2, 6, 11, 8), (6, 1, 3, 3), dict(padding=1, groups=6,
                                                  padding_mode="circular")),  # direct
    ("conv2d", (1, 3, 6, 6), (4, 3, 2, 2), dict(padding="same",
                                                 padding_mode="replicate")),  # direct
    ("conv_transpose2d", (2, 4, 5, 6), (4, 3, 4, 4), dict(stride=2, padding=1,
                                                          output_padding=1, groups=2)),
    ("conv_transpose2d", (1, 6, 3, 4), (6, 5, 3, 3), dict(stride=3, dilation=2)),
    ("conv_transpose2d", (1, 4, 5, 5), (4, 12, 3, 3), dict(stride=2, padding=1,
                                                           output_padding=1)),  # igemm narrow
    ("conv_transpose2d", (2, 3, 4, 4), (3, 70, 2, 2), dict(stride=2)),          # igemm wide
    # One tile, 36 steps of 16 taps; 4 phases of 16 steps: split into parts
    # on any current GPU (Note [split reduction]).
    ("conv2d", (1, 64, 5, 5), (64, 64, 3, 3), dict(padding=1)),
    ("conv_transpose2d", (1, 64, 3, 3), (64, 64, 4, 4), dict(stride=2, padding=1)),
]


# ---------------------------------------------------------------------------
# GPU parts
# ---------------------------------------------------------------------------

def log(msg=""):
    print(msg, flush=True)


def step_environment(cp, torch):
    dev = cp.cuda.Device()
    attrs = dev.attributes
    props = cp.cuda.runtime.getDeviceProperties(dev.id)
    log(f"device: {props['name'].decode()}  SMs {attrs['MultiProcessorCount']} "
        f"(132 = H100 SXM, 114 = PCIe)  cc {dev.compute_capability}  "
        f"driver {cp.cuda.runtime.driverGetVersion()}  runtime {cp.cuda.runtime.runtimeGetVersion()}")
    if torch is None:
        log(f"cupy {cp.__version__}; no CUDA torch")
    else:
        log(f"cupy {cp.__version__}; torch {torch.__version__} (cuda {torch.version.cuda}, "
            f"cudnn {torch.backends.cudnn.version()})")


def step_tests():
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "cupy",
           os.path.join(ROOT, "tests", "test_conv2d.py"),
           os.path.join(ROOT, "tests", "test_conv_transpose2d.py"),
           os.path.join(ROOT, "tests", "test_gpu_device.py")]
    log("$ " + " ".join(cmd))
    try:
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                           timeout=BUDGET_S["tests"])
        log(r.stdout[-3000:] + r.stderr[-2000:])
        log(f"pytest exit code {r.returncode}")
    except subprocess.TimeoutExpired:
        log(f"pytest: over its {BUDGET_S['tests']} s budget, stopped")


def make_arrays(cp, case, dtype, seed=0):
    rs = cp.random.RandomState(seed)
    xs, ws = shapes(case)
    x = rs.standard_normal(xs).astype(dtype)
    w = rs.standard_normal(ws).astype(dtype)
    b = rs.standard_normal(case["K"]).astype(dtype)
    return x, w, b


def torch_call(torch, case):
    F = torch.nn.functional
    kw = call_kwargs(case)
    if case["op"] == "conv2d":
        return lambda x, w, b: F.conv2d(x, w, b, kw["stride"], kw["padding"], kw["dilation"],
                                        kw["groups"])
    return lambda x, w, b: F.conv_transpose2d(x, w, b, kw["stride"], kw["padding"],
                                              kw["output_padding"], kw["groups"],
                                              kw["dilation"])


def fastconv_call(case):
    import fastconv
    kw = call_kwargs(case)
    if case["op"] == "conv2d":
        kw.pop("output_padding", None)
        return lambda x, w, b: fastconv.conv2d(x, w, b, **kw)
    return lambda x, w, b: fastconv.conv_transpose2d(x, w, b, **kw)


def step_correctness(cp, torch, cases):
    from reference import error_factor
    bad = 0
    for case in cases:
        dtype = case.get("dtype", "float32")
        x, w, b = make_arrays(cp, case, dtype)
        f = fastconv_call(case)
        y = f(x, w, b)
        y2 = f(x, w, b)
        deterministic = bool(cp.array_equal(y.view(f"u{y.dtype.itemsize}"),
                                            y2.view(f"u{y.dtype.itemsize}")))
        line = f"{case['id']:26} deterministic {deterministic}"
        if torch is not None:
            t = torch_call(torch, case)
            tx, tw, tb = (torch.from_dlpack(a) for a in (x, w, b))
            ref = t(tx.double(), tw.double(), tb.double())
            bound = t(tx.double().abs(), tw.double().abs(), tb.double().abs())
            kh, kw = case["kernel"]
            g = case.get("groups", 1)
            n = (case["C"] // g) * kh * kw
            err = (torch.from_dlpack(y).double() - ref).abs()
            ratio = float((err / (error_factor(dtype, n) * bound).clamp_min(1e-300)).max())
            torch.backends.cudnn.allow_tf32 = False
            strict = t(tx, tw, tb)
            torch.backends.cudnn.allow_tf32 = True
            d = float((torch.from_dlpack(y).double() - strict.double()).abs().max())
            ok = ratio <= 1.0 and deterministic
            bad += not ok
            line += (f"  worst err/bound vs float64 {ratio:.3g} ({'ok' if ratio <= 1 else 'FAIL'})"
                     f"  max|fastconv - torch strict| {d:.3g}")
        log(line)
    log(f"correctness: {bad} case(s) failed" if torch is not None else
        "correctness: no CUDA torch, only determinism checked")


def sanitize_workload():
    import cupy as cp
    import numpy as np
    import fastconv
    from reference import assert_within, conv2d_ref, conv_transpose2d_ref, tolerance
    for op, xs, ws, kw in SANITIZE_CASES:
        for dtype in (np.float32, np.float64):
            rng = np.random.default_rng(0)
            x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
            K = ws[0] if op == "conv2d" else ws[1] * kw.get("groups", 1)
            b = rng.standard_normal(K).astype(dtype)
            f = getattr(fastconv, op)
            y = f(cp.asarray(x), cp.asarray(w), cp.asarray(b), **kw).get()
            ref = (conv2d_ref if op == "conv2d" else conv_transpose2d_ref)(x, w, b, **kw)
            g = kw.get("groups", 1)
            n = (ws[1] if op == "conv2d" else ws[0] // g) * ws[2] * ws[3]
            assert_within(y, ref, tolerance(dtype, n, x, w, b, transposed=op != "conv2d", **kw))
    print("sanitize workload: all results within tolerance")


def find_sanitizer():
    s = shutil.which("compute-sanitizer")
    if s:
        return s
    for d in sorted(os.listdir("/usr/local"), reverse=True) if os.path.isdir("/usr/local") else []:
        p = os.path.join("/usr/local", d, "bin", "compute-sanitizer")
        if d.startswith("cuda") and os.path.exists(p):
            return p
    return None


def step_sanitizer():
    san = find_sanitizer()
    if san is None:
        log("compute-sanitizer not found: memcheck/racecheck NOT run")
        return
    for tool in ("memcheck", "racecheck"):
        cmd = [san, "--tool", tool, "--error-exitcode", "99", sys.executable,
               os.path.abspath(__file__), "--sanitize-workload"]
        log("$ " + " ".join(cmd))
        try:
            r = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=BUDGET_S["sanitizer"] / 2, cwd=ROOT)
            log((r.stdout + r.stderr)[-2500:])
            log(f"{tool}: exit code {r.returncode} ({'clean' if r.returncode == 0 else 'ERRORS'})")
        except subprocess.TimeoutExpired:
            log(f"{tool}: over its budget, stopped")


def time_events(cp, fn, budget_s):
    """Median milliseconds of fn() with CUDA events on the current stream."""
    for _ in range(3):
        fn()
    cp.cuda.get_current_stream().synchronize()
    t0 = time.perf_counter()
    fn()
    cp.cuda.get_current_stream().synchronize()
    est = max(time.perf_counter() - t0, 1e-6)
    reps = int(min(200, max(10, budget_s / est)))
    times = []
    for _ in range(reps):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, end))
    return statistics.median(times)


def copy_bandwidth(cp):
    a = cp.empty(1 << 28, dtype=cp.uint8)     # 256 MiB
    b = cp.empty_like(a)
    ms = time_events(cp, lambda: cp.copyto(b, a), 0.2)
    return 2 * a.nbytes / (ms * 1e-3) / 1e9


def step_timing(cp, torch, cases):
    copy_gbs = copy_bandwidth(cp)
    log(f"copy bandwidth (read + write): {copy_gbs:.0f} GB/s")
    records = []
    per = BUDGET_S["timing_per_impl_s"]
    for case in cases:
        dtype = case.get("dtype", "float32")
        x, w, b = make_arrays(cp, case, dtype)
        f = fastconv_call(case)
        r = {"id": case["id"], "op": case["op"], "depthwise": is_depthwise(case)}
        r["ms"] = time_events(cp, lambda: f(x, w, b), per)
        r["tflops"] = flops(case) / (r["ms"] * 1e-3) / 1e12
        r["gbs"] = min_bytes(case) / (r["ms"] * 1e-3) / 1e9
        if torch is not None:
            t = torch_call(torch, case)
            tx, tw, tb = (torch.from_dlpack(a) for a in (x, w, b))
            torch.backends.cudnn.benchmark = True
            torch.backends.cudnn.allow_tf32 = False
            r["strict_ms"] = time_events(cp, lambda: t(tx, tw, tb), per)
            torch.backends.cudnn.allow_tf32 = True        # torch's default
            r["tf32_ms"] = time_events(cp, lambda: t(tx, tw, tb), per)
        records.append(r)
        log(f"  timed {case['id']}")
    return records, copy_gbs


def split_candidates(steps, chosen, most=64):
    """Numbers of parts worth timing for a reduction of `steps` BK steps: a
    spread up to `most`, each normalised as fastconv._gpu.choose_splits does
    (no empty part), and the chosen one."""
    spread = (1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 64)
    return sorted({-(-steps // -(-steps // s)) for s in spread if s <= min(steps, most)}
                  | {chosen})


def kernel_params_of(case, x, w, b):
    from fastconv import _dispatch
    from fastconv._params import conv2d_params, conv_transpose2d_params
    kw = call_kwargs(case)
    if case["op"] == "conv2d":
        p = conv2d_params(x.shape, w.shape, b.shape, kw["stride"], kw["padding"],
                          kw["dilation"], kw["groups"])
    else:
        p = conv_transpose2d_params(x.shape, w.shape, b.shape, kw["stride"], kw["padding"],
                                    kw["output_padding"], kw["groups"], kw["dilation"])
    return _dispatch.kernel_params(p)


def launches(cp, kp, x, w, b, y, splits=None):
    """(a function making fastconv's launches for the problem, as _gpu.run
    does but into preallocated buffers, and the first Launch)."""
    from fastconv import _gpu
    plan = _gpu._plan(cp, kp, y.dtype, True, cp.cuda.Device().id, splits)
    parts = (None if plan.reduce is None
             else cp.empty(plan.launch.splits * y.size, dtype=y.dtype))
    return (lambda: _gpu.execute(plan, x, w, b, y, parts)), plan.launch


def graph_ms(cp, fn, n=20, reps=15):
    """Milliseconds per fn() with n calls captured in one CUDA graph (no host
    time between kernels), median of reps replays."""
    s = cp.cuda.Stream(non_blocking=True)
    with s:
        fn()
        s.synchronize()
        s.begin_capture()
        for _ in range(n):
            fn()
        g = s.end_capture()
        g.launch(stream=s)
        s.synchronize()
        times = []
        for _ in range(reps):
            a, e = cp.cuda.Event(), cp.cuda.Event()
            a.record(s)
            g.launch(stream=s)
            e.record(s)
            e.synchronize()
            times.append(cp.cuda.get_elapsed_time(a, e) / n)
    return statistics.median(times)


def torch_graph_ms(torch, fn, n=20, reps=15):
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(n):
            fn()
    g.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        e.record()
        e.synchronize()
        times.append(a.elapsed_time(e) / n)
    return statistics.median(times)


def step_kernels(cp, torch, cases, sweep):
    from fastconv import _gpu
    log(f"{'case':26} {'kernel':34} {'fastconv':>9} {'cuDNN':>9} {'x':>6}   (kernel ms, "
        "CUDA graphs; cuDNN strict fp32)")
    for case in cases:
        dtype = case.get("dtype", "float32")
        x, w, b = make_arrays(cp, case, dtype)
        kp = kernel_params_of(case, x, w, b)
        y = cp.empty((kp.N, kp.K, kp.OH, kp.OW), dtype)
        fn, L = launches(cp, kp, x, w, b, y)
        ms = graph_ms(cp, fn)
        tms = None
        if torch is not None:
            t = torch_call(torch, case)
            tx, tw, tb = (torch.from_dlpack(a) for a in (x, w, b))
            torch.backends.cudnn.allow_tf32 = False
            try:
                tms = torch_graph_ms(torch, lambda: t(tx, tw, tb))
            except Exception as exc:       # noqa: BLE001 (report and go on)
                log(f"  torch graph failed: {exc!r}"[:200])
            torch.backends.cudnn.allow_tf32 = True
        what = f"{L.kernel}/{L.tile}" + (f" x{L.splits}" if L.splits > 1 else "")
        log(f"{case['id']:26} {what:34} {ms:9.4f} {tms if tms is None else round(tms, 4):>9} "
            f"{'' if tms is None else format(tms / ms, '6.2f')}")
        if sweep and L.kernel in _gpu.IGEMM_KERNELS:
            steps = _gpu.reduction_steps(kp, L.kernel, L.tile)
            times = {}
            for parts in split_candidates(steps, L.splits,
                                          _gpu.MAX_GRID_Z // (L.grid[2] // L.splits)):
                times[parts] = graph_ms(cp, launches(cp, kp, x, w, b, y, parts)[0])
            best = min(times, key=times.get)
            log(f"    parts: chosen {L.splits} {times[L.splits]:.4f}, best {best} "
                f"{times[best]:.4f} | " + " ".join(f"{k}:{v:.4f}" for k, v in times.items()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="print the plan, touch no GPU")
    ap.add_argument("--sanitize-workload", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--skip", default="", help="comma list of steps to skip: "
                    "tests,correctness,sanitizer,timing,kernels")
    ap.add_argument("--sweep-splits", action="store_true",
                    help="also time every number of parts of the split reduction")
    args = ap.parse_args(argv)
    if args.sanitize_workload:
        sanitize_workload()
        return 0
    cases = load_cases()
    skip = set(filter(None, args.skip.split(",")))
    if args.dry_run:
        log(f"steps: environment, {', '.join(s for s in ('tests', 'correctness', 'sanitizer', 'timing', 'kernels') if s not in skip)}")
        for c in cases:
            log(f"  {c['id']:26} {c['op']:17} {shapes(c)} out {output_hw(c)} "
                f"{flops(c) / 1e9:.3f} GFLOP {min_bytes(c) / 1e6:.1f} MB")
        log(f"sanitizer cases: {len(SANITIZE_CASES)}; compute-sanitizer: {find_sanitizer()}")
        return 0
    t0 = time.perf_counter()
    import cupy as cp
    try:
        import torch
        if not torch.cuda.is_available():
            log("torch has no CUDA: comparisons with torch skipped")
            torch = None
    except ImportError:
        log("torch not installed: comparisons with torch skipped")
        torch = None
    step_environment(cp, torch)
    if "tests" not in skip:
        log("\n== 2. GPU tests ==")
        step_tests()
    if "correctness" not in skip:
        log("\n== 3. correctness on the workload ==")
        step_correctness(cp, torch, cases)
    if "sanitizer" not in skip:
        log("\n== 4. compute-sanitizer ==")
        step_sanitizer()
    if "timing" not in skip:
        log("\n== 5. timings ==")
        records, copy_gbs = step_timing(cp, torch, cases)
        log(f"\n(total {time.perf_counter() - t0:.0f} s)\n")
        log(format_table(records, copy_gbs))
    if "kernels" not in skip:
        log("\n== 6. kernel times ==")
        try:
            step_kernels(cp, torch, cases, args.sweep_splits)
        except Exception as exc:          # noqa: BLE001 (the last step: report it)
            log(f"kernel times failed: {exc!r}")
        log(f"(total {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
