"""benchmarks/gpu_check.py without a GPU: it imports without CuPy, its pure
parts (workload, FLOPs, bytes, table) are right, and its sanitizer cases are
valid calls."""

import importlib.util
import math
import os

import numpy as np
import pytest

import fastconv

PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    "benchmarks", "gpu_check.py")


@pytest.fixture(scope="module")
def gc():
    spec = importlib.util.spec_from_file_location("gpu_check", PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_workload_and_shapes_match_fastconv(gc):
    cases = gc.load_cases()
    assert len(cases) >= 20
    for case in cases:
        xs, ws = gc.shapes(case)
        kw = gc.call_kwargs(case)
        dtype = case.get("dtype", "float32")
        if case["op"] == "conv2d":
            kw.pop("output_padding", None)
            p = fastconv._params.conv2d_params(xs, ws, None, **kw)
        else:
            p = fastconv._params.conv_transpose2d_params(xs, ws, None, **kw)
        assert gc.output_hw(case) == (p.OH, p.OW), case["id"]
        assert gc.flops(case) == 2 * p.macs, case["id"]
        item = np.dtype(dtype).itemsize
        assert gc.min_bytes(case) == item * (math.prod(xs) + math.prod(ws)
                                             + p.N * p.K * p.OH * p.OW)


def test_depthwise_cases_are_marked(gc):
    ids = {c["id"] for c in gc.load_cases() if gc.is_depthwise(c)}
    assert "mobilenetv2-dw3x3" in ids and "resnext-g32-3x3" not in ids


def test_table(gc):
    records = [
        dict(id="a", op="conv2d", ms=2.0, strict_ms=1.0, tf32_ms=0.5, tflops=1.0, gbs=10.0,
             depthwise=False),
        dict(id="dw", op="conv2d", ms=1.0, strict_ms=2.0, tf32_ms=2.0, tflops=0.1, gbs=900.0,
             depthwise=True),
        dict(id="no-torch", op="conv2d", ms=1.0, depthwise=False),
    ]
    text = gc.format_table(records, copy_gbs=1000.0)
    assert "geomean speed vs cuDNN strict fp32: 1.000x" in text
    assert "depthwise geomean vs cuDNN strict: 2.000x" in text
    assert "dw 90%" in text
    assert text.splitlines()[0].startswith("case")
    assert math.isclose(gc.geomean([0.5, 2.0]), 1.0)
    assert math.isnan(gc.geomean([]))


def test_sanitizer_cases_are_valid_and_cover_every_kernel(gc):
    from fastconv import _dispatch, _gpu
    seen = set()
    for op, xs, ws, kw in gc.SANITIZE_CASES:
        make = (fastconv._params.conv2d_params if op == "conv2d"
                else fastconv._params.conv_transpose2d_params)
        K = ws[0] if op == "conv2d" else ws[1] * kw.get("groups", 1)
        full = dict(stride=1, padding=0, dilation=1, groups=1)
        full.update(kw)
        if op == "conv_transpose2d":
            full.setdefault("output_padding", 0)
        p = make(xs, ws, (K,), **full)
        # A valid call on the CPU too (the sanitizer run executes it on the GPU).
        rng = np.random.default_rng(0)
        getattr(fastconv, op)(rng.standard_normal(xs), rng.standard_normal(ws), None, **kw)
        kernel, tile = _gpu.choose_kernel(_dispatch.kernel_params(p))
        seen.add((kernel, tile))
        seen.add(p.padding_mode)
        if _gpu.plan_launch(_dispatch.kernel_params(p), np.float32, sms=132).splits > 1:
            seen.add(("split", kernel))
    assert seen >= {("conv2d_igemm", "wide"), ("conv2d_igemm", "narrow"),
                    ("conv2d_direct", None), ("conv_transpose2d_gather", None),
                    ("conv_transpose2d_igemm", "wide"), ("conv_transpose2d_igemm", "narrow"),
                    "zeros", "reflect", "replicate", "circular",
                    ("split", "conv2d_igemm"), ("split", "conv_transpose2d_igemm")}


def test_split_candidates(gc):
    from fastconv import _gpu
    assert gc.split_candidates(1, 1) == [1]
    assert gc.split_candidates(288, 32) == [1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 20, 24, 27,
                                            32, 36, 48, 58]
    for steps in (5, 36, 72, 144, 289):
        for parts in gc.split_candidates(steps, 1, most=40):
            per = -(-steps // parts)
            assert parts <= 40 and (parts - 1) * per < steps <= parts * per
    # The problems step 6 times are the ones the public call plans.
    for case in gc.load_cases():
        xs, ws = gc.shapes(case)
        arrays = [np.empty(xs), np.empty(ws), np.empty(case["K"])]
        kp = gc.kernel_params_of(case, *arrays)
        assert (kp.OH, kp.OW) == gc.output_hw(case) and kp.K == case["K"]
        launch = _gpu.plan_launch(kp, np.float32, sms=132)
        assert launch.work >= 1


def test_dry_run(gc, capsys):
    assert gc.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "resnet50-stem-7x7s2" in out and "steps:" in out and "kernels" in out
