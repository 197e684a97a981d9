"""A call's extra memory is bounded: at most the output plus 32 MB, at any size."""

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import resource, sys
    import numpy as np
    import fastconv
    op, alg, N, C, H, W, K, k, s, dtype, pad, dil = sys.argv[1:]
    N, C, H, W, K, k, s, dil = map(int, (N, C, H, W, K, k, s, dil))
    pad = k // 2 if pad == "-" else int(pad)
    x = np.ones((N, C, H, W), dtype)
    w = np.ones((K, C, k, k) if op == "conv2d" else (C, K, k, k), dtype) * 1e-3
    f = getattr(fastconv, op)
    y = np.empty(f(x[:1, :, :8, :8], w, stride=s, padding=k // 2, algorithm=alg).shape[:2]
                 + (1,), np.float32)      # warm up (threads, code pages) on a small input
    del y
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    y = f(x, w, stride=s, padding=pad, dilation=dil, algorithm=alg)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(after - before, y.nbytes)
""")

CASES = [
    # op, algorithm, N, C, H, W, K, kernel, stride[, dtype[, padding, dilation]]
    ("conv2d", "implicit", 1, 32, 1024, 1024, 16, 3, 1),
    ("conv2d", "implicit", 2, 16, 1024, 768, 16, 3, 2),
    ("conv2d", "gemm", 1, 32, 1024, 1024, 16, 3, 1),
    ("conv2d", "direct", 1, 32, 1024, 1024, 4, 3, 1),
    ("conv2d", "winograd", 1, 32, 1024, 1024, 16, 3, 1),
    ("conv2d", "winograd", 1, 256, 160, 160, 256, 3, 1),   # 4 MB of transformed weights
    # 128 MB of transformed weights in float64: 16 chunks of 8 MB, each
    # chunk's band buffers (5.5 MB) freed before the next (Note [Winograd chunks])
    ("conv2d", "winograd", 1, 1024, 24, 24, 1024, 3, 1, "float64"),
    ("conv_transpose2d", "implicit", 1, 32, 512, 512, 8, 4, 2),
    ("conv_transpose2d", "gemm", 1, 32, 512, 512, 8, 4, 2),
    # Note [transposed Winograd]: bands of tile rows of one image; 64 MB of
    # transformed weights in float64, in chunks of 8 MB
    ("conv_transpose2d", "winograd", 1, 32, 512, 512, 8, 4, 2),
    ("conv_transpose2d", "winograd", 1, 512, 16, 16, 512, 4, 2, "float64"),
    # Note [one-pixel transposed conv]: 1x1 outputs of a 17x17 kernel, whose
    # GEMM result for all 128 images would be 76 MB: images in chunks of 16 MB
    ("conv_transpose2d", "gemm", 128, 8, 1, 1, 512, 17, 1),
    # Note [batch lanes]: 16 images of 36864 channels at 4x4 (36 MB) into a
    # 32 KB output, its border classes taken: no [C][H][W][N] copy of the
    # input past the bound
    ("conv_transpose2d", "gemm", 16, 36864, 4, 4, 8, 4, 2, "float32", 1, 1),
    # Note [padding-only taps]: ASPP's dilation 24 on 65x65, 52 MB of window
    # copies for 18 MB of weights, in batches within the copy budget
    ("conv2d", "gemm", 1, 2048, 65, 65, 256, 3, 1, "float32", 24, 24),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}x{c[3]}x{c[4]}x{c[5]}")
def test_peak_memory_is_output_plus_32mb(case):
    case = case + ("float32", "-", 1)[len(case) - 9:]
    out = subprocess.run([sys.executable, "-c", SCRIPT, *map(str, case)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    extra, out_bytes = map(int, out.stdout.split())
    assert extra <= out_bytes + 32 * 2**20, (
        f"peak RSS grew by {extra / 2**20:.1f} MiB for a {out_bytes / 2**20:.1f} MiB output")
