"""Peer implementations that fastconv is timed and checked against.

Every peer takes the same *case* dict as ``bench_shapes.json`` (keys ``id, op, N, C, H, W, K,
kernel, stride, padding, dilation, groups, output_padding, dtype``; a missing key means
torch's default) plus NumPy arrays, and returns a NumPy array.

Peers:
  fastconv      the package under test
  torch         torch.nn.functional on torch.from_numpy tensors (oneDNN on CPU)
  numpy         im2col + one BLAS GEMM per group (np.pad + sliding_window_view + matmul);
                conv_transpose2d as GEMM + col2im by strided slice adds
  scipy.ndimage scipy.ndimage.correlate, single-channel stride-1 conv2d only
  scipy.signal  scipy.signal.correlate2d, single-channel stride-1 'same'/'valid' only

This file is independent of the rest of fastconv on purpose (it ships inside the package
only so that ``python -m fastconv bench`` works from a wheel): a peer that shared
fastconv's parameter parsing would share its bugs.

Legend (as in fastconv): N, C, H, W input; K output channels; kh, kw kernel; OH, OW output;
G groups, C_g = C // G, K_g = K // G; sh, sw stride; dh, dw dilation; pt, pb, pl, pr padding;
oph, opw output padding.

``python benchmarks/peers.py --selftest`` (or ``python -m fastconv._bench_peers --selftest``) checks the peers against each other on reduced
versions of the cases.
"""

import math
import sys
from collections import namedtuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

CONV2D = "conv2d"
CONV_TRANSPOSE2D = "conv_transpose2d"

Geometry = namedtuple(
    "Geometry",
    "op N C H W K kh kw sh sw pt pb pl pr dh dw oph opw G OH OW dtype",
)


def _pair(value):
    if isinstance(value, (list, tuple)):
        a, b = value
        return int(a), int(b)
    return int(value), int(value)


def geometry(case):
    """All sizes of a case as plain ints, with torch's defaults filled in."""
    op = case.get("op", CONV2D)
    N, C, H, W, K = (int(case[k]) for k in ("N", "C", "H", "W", "K"))
    kh, kw = _pair(case["kernel"])
    sh, sw = _pair(case.get("stride", 1))
    dh, dw = _pair(case.get("dilation", 1))
    oph, opw = _pair(case.get("output_padding", 0))
    G = int(case.get("groups", 1))
    padding = case.get("padding", 0)
    if padding == "valid":
        pt = pb = pl = pr = 0
    elif padding == "same":
        # torch puts the odd extra pixel at the end (bottom/right)
        pt, pl = dh * (kh - 1) // 2, dw * (kw - 1) // 2
        pb, pr = dh * (kh - 1) - pt, dw * (kw - 1) - pl
    else:
        pt, pl = _pair(padding)
        pb, pr = pt, pl
    if op == CONV2D:
        OH = (H + pt + pb - dh * (kh - 1) - 1) // sh + 1
        OW = (W + pl + pr - dw * (kw - 1) - 1) // sw + 1
    elif op == CONV_TRANSPOSE2D:
        OH = (H - 1) * sh - pt - pb + dh * (kh - 1) + oph + 1
        OW = (W - 1) * sw - pl - pr + dw * (kw - 1) + opw + 1
    else:
        raise ValueError(f"unknown op {op!r} in case {case.get('id')}")
    dtype = np.dtype(case.get("dtype", "float32"))
    return Geometry(op, N, C, H, W, K, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw, oph, opw,
                    G, OH, OW, dtype)


def flops(case):
    """2 * multiply-adds, counting only real (non-padding) work for transposed conv."""
    g = geometry(case)
    if g.op == CONV2D:
        macs = g.N * g.K * g.OH * g.OW * (g.C // g.G) * g.kh * g.kw
    else:
        macs = g.N * g.C * g.H * g.W * (g.K // g.G) * g.kh * g.kw
    return 2 * macs


def reduction_length(case):
    """Terms summed into one output element (sets how much rounding error to expect)."""
    g = geometry(case)
    if g.op == CONV2D:
        return (g.C // g.G) * g.kh * g.kw
    # each output pixel of a transposed conv gathers about C_g*kh*kw/(sh*sw) terms
    return max(1, (g.C // g.G) * g.kh * g.kw // (g.sh * g.sw))


def make_inputs(case, seed=0):
    """(x, w, b) of the case dtype; b is None unless the case says ``"bias": true``.

    Weights are scaled by 1/sqrt(fan_in) so outputs stay O(1) for every case.
    """
    g = geometry(case)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((g.N, g.C, g.H, g.W))
    if g.op == CONV2D:
        w_shape = (g.K, g.C // g.G, g.kh, g.kw)
    else:
        w_shape = (g.C, g.K // g.G, g.kh, g.kw)
    w = rng.standard_normal(w_shape) / math.sqrt(reduction_length(case))
    b = rng.standard_normal(g.K) if case.get("bias") else None
    cast = lambda a: None if a is None else np.ascontiguousarray(a, dtype=g.dtype)
    return cast(x), cast(w), cast(b)


def _torch_args(case):
    """stride/padding/... as torch and fastconv take them (lists become tuples)."""
    def norm(v):
        return tuple(v) if isinstance(v, list) else v
    return {k: norm(case.get(k, d)) for k, d in
            (("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1),
             ("output_padding", 0))}


# --------------------------------------------------------------------------- fastconv

def run_fastconv(case, x, w, threads=None, b=None):
    import fastconv

    a = _torch_args(case)
    if case.get("op", CONV2D) == CONV2D:
        return fastconv.conv2d(x, w, b, a["stride"], a["padding"], a["dilation"],
                               a["groups"], num_threads=threads)
    return fastconv.conv_transpose2d(x, w, b, a["stride"], a["padding"],
                                     a["output_padding"], a["groups"], a["dilation"],
                                     num_threads=threads)


def fastconv_algorithm(case, x, w):
    """What fastconv's algorithm='auto' picks for this case, or None if it can't say.

    Uses fastconv.choose_algorithm(input_shape, weight_shape, stride, padding, dilation,
    groups, *, transposed, output_padding) when fastconv has it.
    """
    try:
        import fastconv
    except ImportError:
        return None
    choose = getattr(fastconv, "choose_algorithm", None)
    if choose is None:
        return None
    a = _torch_args(case)
    transposed = case.get("op", CONV2D) == CONV_TRANSPOSE2D
    try:
        choice = choose(x.shape, w.shape, a["stride"], a["padding"], a["dilation"],
                        a["groups"], transposed=transposed,
                        **({"output_padding": a["output_padding"]} if transposed else {}))
    except TypeError:  # a different signature: nothing to report
        return None
    except Exception as exc:  # fastconv rejects the case: say so in the table
        return f"error: {type(exc).__name__}"
    return str(getattr(choice, "value", choice))


# --------------------------------------------------------------------------- torch

def run_torch(case, x, w, threads=None, b=None):
    import torch
    import torch.nn.functional as F

    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    a = _torch_args(case)
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    tb = None if b is None else torch.from_numpy(b)
    with torch.no_grad():
        if case.get("op", CONV2D) == CONV2D:
            y = F.conv2d(tx, tw, tb, a["stride"], a["padding"], a["dilation"], a["groups"])
        else:
            y = F.conv_transpose2d(tx, tw, tb, a["stride"], a["padding"],
                                   a["output_padding"], a["groups"], a["dilation"])
    return y.numpy()


# --------------------------------------------------------------------------- numpy

_blas_libs = None


def set_blas_threads(threads):
    """Limit NumPy's BLAS (OpenBLAS) to *threads*.

    Uses threadpoolctl's per-library controllers and only calls set when the count differs:
    a full ``threadpool_limits`` context costs ~20 us per call, too much for sub-ms convs.
    """
    global _blas_libs
    if threads is None:
        return
    if _blas_libs is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # cannot control it: BLAS keeps its default (the bench says so)
            _blas_libs = []
            return
        _blas_libs = ThreadpoolController().select(user_api="blas").lib_controllers
    for lib in _blas_libs:
        if lib.get_num_threads() != threads:
            lib.set_num_threads(threads)


def conv2d_numpy(x, w, g):
    """im2col + one GEMM per group. Result is C-contiguous NCHW."""
    N, C, K, G = g.N, g.C, g.K, g.G
    C_g, K_g = C // G, K // G
    xp = np.pad(x, ((0, 0), (0, 0), (g.pt, g.pb), (g.pl, g.pr)))
    # windows of the dilated extent, then every dh-th tap and every sh-th position
    eh, ew = g.dh * (g.kh - 1) + 1, g.dw * (g.kw - 1) + 1
    win = sliding_window_view(xp, (eh, ew), axis=(2, 3))[:, :, ::g.sh, ::g.sw, ::g.dh, ::g.dw]
    win = win.reshape(N, G, C_g, g.OH, g.OW, g.kh, g.kw)
    # cols[G, C_g*kh*kw, N*OH*OW]: OW stays innermost so the copy reads rows of x
    cols = np.ascontiguousarray(win.transpose(1, 2, 5, 6, 0, 3, 4))
    cols = cols.reshape(G, C_g * g.kh * g.kw, N * g.OH * g.OW)
    y = np.matmul(w.reshape(G, K_g, C_g * g.kh * g.kw), cols)  # [G, K_g, N*OH*OW]
    y = y.reshape(K, N, g.OH, g.OW).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(y)  # no copy when N == 1


def conv_transpose2d_numpy(x, w, g):
    """GEMM w^T @ x giving columns, then col2im by kh*kw strided slice adds."""
    N, C, H, W, G = g.N, g.C, g.H, g.W, g.G
    C_g, K_g = C // G, g.K // G
    # cols[G, K_g*kh*kw, N*H*W] = w_g^T [K_g*kh*kw, C_g] @ x_g [C_g, N*H*W]
    wt = w.reshape(G, C_g, K_g * g.kh * g.kw).transpose(0, 2, 1)
    xm = np.ascontiguousarray(x.reshape(N, G, C_g, H * W).transpose(1, 2, 0, 3))
    cols = np.matmul(wt, xm.reshape(G, C_g, N * H * W))
    cols = cols.reshape(G, K_g, g.kh, g.kw, N, H, W)
    # Input pixel (h, w) with tap (i, j) lands on row h*sh + i*dh of the uncropped output;
    # the buffer also covers output_padding rows that get no contribution.
    Hb = max((H - 1) * g.sh + g.dh * (g.kh - 1) + 1, g.pt + g.OH)
    Wb = max((W - 1) * g.sw + g.dw * (g.kw - 1) + 1, g.pl + g.OW)
    buf = np.zeros((G, K_g, N, Hb, Wb), dtype=x.dtype)
    for i in range(g.kh):
        for j in range(g.kw):
            r0, c0 = i * g.dh, j * g.dw
            buf[:, :, :, r0:r0 + (H - 1) * g.sh + 1:g.sh,
                c0:c0 + (W - 1) * g.sw + 1:g.sw] += cols[:, :, i, j]
    y = buf.reshape(g.K, N, Hb, Wb)[:, :, g.pt:g.pt + g.OH, g.pl:g.pl + g.OW]
    return np.ascontiguousarray(y.transpose(1, 0, 2, 3))


def run_numpy_im2col(case, x, w, threads=None, b=None):
    set_blas_threads(threads)
    g = geometry(case)
    if g.op == CONV2D:
        y = conv2d_numpy(x, w, g)
    else:
        y = conv_transpose2d_numpy(x, w, g)
    if b is not None:
        y += b[None, :, None, None]
    return y


# --------------------------------------------------------------------------- scipy

def scipy_supports(case, method="ndimage"):
    """True where the scipy function computes exactly the conv2d of the case.

    Both work on one 2-D plane: conv2d with C = K = 1, groups 1, stride 1, dilation 1.
    ndimage.correlate(mode='constant') gives out[i] = sum_j w[j] x[i + j - k//2 - origin]
    for i < H, so it covers any top padding 0 <= pt <= kh-1 (origin = pt - kh//2) when the
    conv output is no taller than the input (then we crop). correlate2d only has
    'valid' (no padding) and 'same' (symmetric (k-1)/2 padding, odd k).
    """
    try:
        g = geometry(case)
    except (KeyError, ValueError):
        return False
    if not (g.op == CONV2D and g.C == 1 and g.K == 1 and g.G == 1
            and (g.sh, g.sw, g.dh, g.dw) == (1, 1, 1, 1)):
        return False
    if method == "ndimage":
        return (0 <= g.pt <= g.kh - 1 and 0 <= g.pl <= g.kw - 1
                and g.OH <= g.H and g.OW <= g.W)
    if method == "signal":
        valid = (g.pt, g.pb, g.pl, g.pr) == (0, 0, 0, 0)
        same = (g.kh % 2 == 1 and g.kw % 2 == 1
                and g.pt == g.pb == (g.kh - 1) // 2 and g.pl == g.pr == (g.kw - 1) // 2)
        return valid or same
    raise ValueError(f"unknown scipy method {method!r}")


def run_scipy(case, x, w, threads=None, b=None, method="ndimage"):
    """scipy.ndimage.correlate or scipy.signal.correlate2d; single-threaded, *threads* ignored."""
    from scipy import ndimage, signal

    if not scipy_supports(case, method):
        raise ValueError(f"scipy.{method} does not compute case {case.get('id')}")
    g = geometry(case)
    k = w[0, 0]
    y = np.empty((g.N, 1, g.OH, g.OW), dtype=x.dtype)
    for n in range(g.N):
        plane = x[n, 0]
        if method == "ndimage":
            full = ndimage.correlate(plane, k, mode="constant", cval=0.0,
                                     origin=(g.pt - g.kh // 2, g.pl - g.kw // 2))
            y[n, 0] = full[:g.OH, :g.OW]
        else:
            mode = "valid" if g.pt == g.pl == 0 else "same"
            y[n, 0] = signal.correlate2d(plane, k, mode=mode)
    if b is not None:
        y += b[None, :, None, None]
    return y


def run_scipy_ndimage(case, x, w, threads=None, b=None):
    return run_scipy(case, x, w, threads, b, method="ndimage")


def run_scipy_signal(case, x, w, threads=None, b=None):
    return run_scipy(case, x, w, threads, b, method="signal")


# --------------------------------------------------------------------------- registry

def importable(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# name -> (runner, module it needs, which cases it computes)
PEERS = {
    "torch": (run_torch, "torch", lambda case: True),
    "numpy": (run_numpy_im2col, "numpy", lambda case: True),
    "scipy.ndimage": (run_scipy_ndimage, "scipy",
                      lambda case: scipy_supports(case, "ndimage")),
    "scipy.signal": (run_scipy_signal, "scipy",
                     lambda case: scipy_supports(case, "signal")),
}


def available_peers(names=None):
    """{name: runner} for the installed peers among *names* (all by default).

    A bare family name ('scipy') selects all its members ('scipy.ndimage', 'scipy.signal').
    """
    wanted = list(PEERS) if names is None else [
        p for n in names for p in PEERS if p == n or p.split(".")[0] == n]
    unknown = set(names or ()) - {p for p in PEERS} - {p.split(".")[0] for p in PEERS}
    if unknown:
        raise ValueError(f"unknown peers {sorted(unknown)}; known: {sorted(PEERS)}")
    return {p: PEERS[p][0] for p in dict.fromkeys(wanted) if importable(PEERS[p][1])}


def peer_supports(name, case):
    return PEERS[name][2](case)


def max_rel_diff(y, ref):
    """max |y - ref| / max |ref|: one number per result, insensitive to output scale."""
    y, ref = np.asarray(y, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if y.shape != ref.shape:
        return math.inf
    if y.size == 0:
        return 0.0
    scale = float(np.max(np.abs(ref))) or 1.0
    diff = float(np.max(np.abs(y - ref)))
    return diff / scale if math.isfinite(diff) else math.inf


# Bound on max_rel_diff for a result to count as correct. Chosen generous enough for
# float32 transforms (Winograd, FFT) over the longest reductions here (C_g*kh*kw = 4608),
# and still ~1e4 below what a wrong index or a missing tap gives (O(0.1..1)).
TOLERANCE = {np.dtype("float32"): 1e-4, np.dtype("float64"): 1e-10}


def tolerance(case):
    return TOLERANCE.get(geometry(case).dtype, 1e-2)


# --------------------------------------------------------------------------- self-test

def reduced(case):
    """A smaller copy of a case with the same op, kernel, stride, padding, dilation, groups."""
    small = dict(case)
    g = geometry(case)
    small["N"] = min(g.N, 2)
    small["C"] = min(g.C, 2 * g.G) if g.G > 1 else min(g.C, 8)
    small["K"] = min(g.K, 2 * g.G) if g.G > 1 else min(g.K, 8)
    # keep the spatial size large enough for the (dilated) kernel after padding
    small["H"] = min(g.H, max(9, g.dh * (g.kh - 1) + 3))
    small["W"] = min(g.W, max(9, g.dw * (g.kw - 1) + 3))
    return small


def _selftest_cases(shapes_cases):
    extra = [  # corners the workload lacks: asymmetric 'same', bias, groups with K_g > 1
        {"id": "same-even-k", "op": CONV2D, "N": 2, "C": 4, "H": 8, "W": 7, "K": 6,
         "kernel": [4, 2], "padding": "same", "dilation": [1, 3], "bias": True},
        {"id": "ct-groups-dil", "op": CONV_TRANSPOSE2D, "N": 2, "C": 4, "H": 5, "W": 6,
         "K": 6, "kernel": [3, 2], "stride": [2, 3], "padding": [1, 0],
         "output_padding": [1, 2], "dilation": [2, 1], "groups": 2, "bias": True},
        {"id": "1ch-valid", "op": CONV2D, "N": 2, "C": 1, "H": 12, "W": 10, "K": 1,
         "kernel": [3, 4]},
        {"id": "1ch-asym-pad", "op": CONV2D, "N": 1, "C": 1, "H": 12, "W": 10, "K": 1,
         "kernel": [4, 5], "padding": [1, 2]},
    ]
    return [reduced(c) for c in shapes_cases] + extra


def _naive_conv2d(x, w, g):
    """Nested loops over taps, float64: the check for the check on tiny shapes."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (g.pt, g.pb), (g.pl, g.pr)))
    C_g, K_g = g.C // g.G, g.K // g.G
    y = np.zeros((g.N, g.K, g.OH, g.OW))
    for k in range(g.K):
        grp = k // K_g
        for c in range(C_g):
            for i in range(g.kh):
                for j in range(g.kw):
                    r, s = i * g.dh, j * g.dw
                    patch = xp[:, grp * C_g + c, r:r + (g.OH - 1) * g.sh + 1:g.sh,
                               s:s + (g.OW - 1) * g.sw + 1:g.sw]
                    y[:, k] += w[k, c, i, j] * patch
    return y


def _naive_conv_transpose2d(x, w, g):
    """Scatter loops over taps, float64: input pixel (h, w) feeds row h*sh + i*dh - pt."""
    C_g, K_g = g.C // g.G, g.K // g.G
    Hb = max((g.H - 1) * g.sh + g.dh * (g.kh - 1) + 1, g.pt + g.OH)
    Wb = max((g.W - 1) * g.sw + g.dw * (g.kw - 1) + 1, g.pl + g.OW)
    y = np.zeros((g.N, g.K, Hb, Wb))
    for c in range(g.C):
        grp = c // C_g
        for k in range(K_g):
            for i in range(g.kh):
                for j in range(g.kw):
                    for h in range(g.H):
                        r = h * g.sh + i * g.dh
                        y[:, grp * K_g + k, r, j * g.dw:j * g.dw + (g.W - 1) * g.sw + 1:g.sw] += (
                            w[c, k, i, j] * x[:, c, h].astype(np.float64))
    return y[:, :, g.pt:g.pt + g.OH, g.pl:g.pl + g.OW]


def selftest(shapes_path=None):
    import json
    import os
    import warnings

    # torch warns that 'same' with an even kernel pads a copy: true, and not our concern
    warnings.filterwarnings("ignore", message="Using padding='same'")

    shapes_path = shapes_path or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                              "bench_shapes.json")
    with open(shapes_path) as f:
        cases = _selftest_cases(json.load(f)["cases"])
    peers = available_peers()
    print(f"peers: {', '.join(peers)}; max |y - ref| / max |ref| vs float64 loops")
    failures = 0
    for case in cases:
        g = geometry(case)
        x, w, b = make_inputs(case, seed=1)
        # float64 ground truth from loops that share no code with the peers
        naive = _naive_conv2d if g.op == CONV2D else _naive_conv_transpose2d
        ref = naive(x, w, g)
        if b is not None:
            ref = ref + b[None, :, None, None]
        line = []
        for name, run in peers.items():
            if not peer_supports(name, case):
                continue
            y = run(case, x, w, 1, b=b)
            err = max_rel_diff(y, ref)
            ok = (y.shape == (g.N, g.K, g.OH, g.OW) and y.dtype == g.dtype
                  and err <= tolerance(case))
            failures += not ok
            line.append(f"{name} {err:.1e}{'' if ok else ' FAIL'}")
        print(f"{case['id']:24s} " + ", ".join(line))
    print("selftest", "FAILED" if failures else "passed")
    return 1 if failures else 0


if __name__ == "__main__":
    if "--selftest" in sys.argv[1:]:
        sys.exit(selftest())
    print(__doc__)
