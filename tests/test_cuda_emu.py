"""The CUDA kernels (fastconv/cuda/*.cu) executed on the CPU.

g++ compiles the very sources CuPy compiles, against tests/cuda_emu/cuda_emu.h
(blocks one after another, each thread of a block an OS thread,
__syncthreads() a barrier, __shared__ shared by the block), with
AddressSanitizer and UBSan.  Every kernel runs on the feature cases of
test_conv2d.py / test_conv_transpose2d.py (partial tiles, padding in all modes,
stride, dilation, groups and depthwise, output_padding, unbatched) in both
dtypes, with the grid, block and arguments that fastconv._gpu's launch logic
computes for the real launch, and is compared with tests/reference.py.
"""

import hashlib
import os
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastconv import _gpu
from fastconv._dispatch import kernel_params
from fastconv._params import conv2d_params, conv_transpose2d_params
from reference import assert_within, conv2d_ref, conv_transpose2d_ref, tolerance
from strategies import (Conv2dCase, ConvTranspose2dCase, conv2d_cases, conv_transpose2d_cases,
                        dtypes)
from test_conv2d import FEATURES as CONV2D_FEATURES
from test_conv_transpose2d import FEATURES as TRANSPOSED_FEATURES

HERE = os.path.dirname(os.path.abspath(__file__))
EMU_DIR = os.path.join(HERE, "cuda_emu")
CXXFLAGS = ["-std=c++20", "-O1", "-g", "-pthread", "-Wno-unknown-pragmas"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer"]
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
RUN_TIMEOUT_S = 120     # a __syncthreads() some threads skip deadlocks
# g++ and the driver (linked with its own sanitizers) run without the
# sanitizer runtime that .ci/sanitize preloads into Python.
ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def _table():
    return "".join(f"FC_ENTRY({ctype}, {name})\n" for _, name, ctype in _gpu.name_expressions())


def _build(cxx, out_dir, flags):
    with open(os.path.join(out_dir, "fc_table.inc"), "w") as f:
        f.write(_table())
    exe = os.path.join(out_dir, "driver")
    cmd = [cxx, *flags, "-I", out_dir, "-I", EMU_DIR, "-I", _gpu.CUDA_DIR,
           "-include", "cuda_emu.h", os.path.join(EMU_DIR, "driver.cpp"), "-o", exe + ".tmp"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    if r.returncode != 0:
        return None, r.stderr
    os.replace(exe + ".tmp", exe)
    return exe, ""


@pytest.fixture(scope="session")
def driver():
    """The emulated driver, built once per source version (cached in the temp dir)."""
    cxx = shutil.which(os.environ.get("CXX", "g++"))
    if cxx is None:
        pytest.skip("no C++ compiler (g++): CUDA kernels not emulated")
    h = hashlib.sha256()
    paths = [os.path.join(EMU_DIR, n) for n in sorted(os.listdir(EMU_DIR))]
    paths += [os.path.join(_gpu.CUDA_DIR, n) for n in sorted(os.listdir(_gpu.CUDA_DIR))]
    for p in paths:
        if os.path.isfile(p):
            with open(p, "rb") as f:
                h.update(f.read())
    h.update((_table() + " ".join(CXXFLAGS + SANITIZE)).encode())
    out_dir = os.path.join(tempfile.gettempdir(), f"fastconv-cuda-emu-{h.hexdigest()[:16]}")
    exe = os.path.join(out_dir, "driver")
    if os.path.exists(exe):
        return exe
    os.makedirs(out_dir, exist_ok=True)
    exe, err = _build(cxx, out_dir, CXXFLAGS + SANITIZE)
    if exe is None:     # a compiler without sanitizer runtimes: build plainly
        exe, err2 = _build(cxx, out_dir, CXXFLAGS)
        assert exe is not None, f"emulator build failed:\n{err}\n{err2}"
    return exe


def run_driver(exe, name, grid, block, x, w, b, ny, scalars, tmp_path):
    """One emulated launch; returns the ny output values (a flat array)."""
    files = {}
    for key, a in (("x", x), ("w", w), ("b", b)):
        if a is None:
            files[key] = "-"
            continue
        files[key] = str(tmp_path / f"{key}.bin")
        np.ascontiguousarray(a).tofile(files[key])
    files["y"] = str(tmp_path / "y.bin")
    cmd = [exe, name, *map(str, grid), *map(str, block), files["x"], files["w"], files["b"],
           files["y"], str(ny), *(str(int(a)) for a in scalars)]
    env = dict(ENV, ASAN_OPTIONS="detect_leaks=0", UBSAN_OPTIONS="print_stacktrace=1")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env)
    assert r.returncode == 0, f"{name} failed ({r.returncode}):\n{r.stderr[-4000:]}"
    return np.fromfile(files["y"], dtype=x.dtype)


def emulate(exe, p, launch, x, w, b, tmp_path):
    """Run `launch` (a _gpu.Launch) of problem p on x, w, b, and splitk_reduce
    after it for a split reduction, as _gpu.run does; returns y [N, K, OH, OW]."""
    ny = p.N * p.K * p.OH * p.OW
    if launch.splits == 1:
        args = _gpu.pack_args(p, launch.work, b is not None)
        y = run_driver(exe, launch.name, launch.grid, launch.block, x, w, b, ny, args,
                       tmp_path)
        return y.reshape(p.N, p.K, p.OH, p.OW)
    # The parts start as NaN (the driver's fill): a part not written fails.
    args = _gpu.pack_args(p, launch.work, False, launch.splits)
    parts = run_driver(exe, launch.name, launch.grid, launch.block, x, w, b,
                       launch.splits * ny, args, tmp_path)
    red = _gpu.plan_launch(p, x.dtype, kernel="splitk_reduce", splits=launch.splits)
    args = _gpu.pack_args(p, red.work, b is not None, red.splits)
    y = run_driver(exe, red.name, red.grid, red.block, parts, w, b, ny, args, tmp_path)
    return y.reshape(p.N, p.K, p.OH, p.OW)


def _params(case, x, w, b, transposed):
    make = conv_transpose2d_params if transposed else conv2d_params
    return make(x.shape, w.shape, None if b is None else b.shape, **case.kwargs())


def check_case(exe, case, dtype, tmp_path, transposed, kernel=None, tile=None,
               max_blocks=_gpu.MAX_BLOCKS, splits=None):
    x, w, b = case.arrays(dtype)
    p = kernel_params(_params(case, x, w, b, transposed))
    if p.N * p.K * p.OH * p.OW == 0:
        pytest.skip("empty output: fastconv launches nothing")
    launch = _gpu.plan_launch(p, dtype, max_blocks=max_blocks, kernel=kernel, tile=tile,
                              splits=splits)
    x4 = x if p.batched else x[None]
    y = emulate(exe, p, launch, x4, w, b, tmp_path)
    y = y if p.batched else y[0]
    ref = (conv_transpose2d_ref if transposed else conv2d_ref)(x, w, b, **case.kwargs())
    tol = tolerance(dtype, case.reduction_len, x, w, b, transposed=transposed,
                    **case.kwargs())
    assert_within(y, ref, tol, what=launch.name)
    return launch


def C(**kw):
    base = dict(N=2, C=3, H=8, W=9, K=4, kh=3, kw=3, seed=len(kw) + 7)
    base.update(kw)
    return Conv2dCase(**base)


# Cases for the GEMM tiling beyond the feature list: several channel tiles per
# group (K_g > 64 and > 32), reductions of several BK steps, odd pixel counts.
TILING = {
    "K_g-70-two-wide-tiles": C(C=5, K=70, H=5, W=7, padding=1),
    "groups-2-K_g-40": C(C=4, K=80, groups=2, H=6, W=5, stride=(2, 1), padding=1),
    "reflect-K_g-65": C(C=2, K=65, H=4, W=4, padding=((3, 0), (1, 3)),
                        padding_mode="reflect"),
    "circular-dilated-K_g-33": C(C=3, K=33, H=6, W=7, dilation=2, padding=(4, 2),
                                 padding_mode="circular"),
}
CONV2D_CASES = {**CONV2D_FEATURES, **TILING}
CONV2D_KERNELS = [("conv2d_igemm", "wide"), ("conv2d_igemm", "narrow"),
                  ("conv2d_direct", "int32"), ("conv2d_direct", "int64")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel,tile", CONV2D_KERNELS,
                         ids=[k if t is None else f"{k}-{t}" for k, t in CONV2D_KERNELS])
@pytest.mark.parametrize("case", list(CONV2D_CASES.values()), ids=list(CONV2D_CASES))
def test_conv2d_kernels(driver, case, kernel, tile, dtype, tmp_path):
    check_case(driver, case, dtype, tmp_path, False, kernel=kernel, tile=tile)


def T(**kw):
    base = dict(N=2, C=4, H=5, W=6, K=3, kh=3, kw=3, seed=len(kw) + 107)
    base.update(kw)
    return ConvTranspose2dCase(**base)


# Transposed cases for the phase GEMM: several channel tiles, phases with no
# taps (stride > kernel), dilation sharing factors with the stride.
TRANSPOSED_TILING = {
    "K_g-70-stride-2": T(C=3, K=70, stride=2, padding=1, output_padding=1),
    "groups-2-K_g-40-stride-3": T(C=4, K=80, groups=2, kh=4, kw=2, stride=(3, 2),
                                  padding=(2, 1), output_padding=(1, 0)),
    "stride-4-kernel-2-empty-phases": T(C=5, K=12, kh=2, kw=2, stride=4, output_padding=3),
    "stride-4-dilation-2": T(C=3, K=9, stride=4, dilation=2, padding=(3, 1),
                             output_padding=(1, 3)),
    "stride-6-dilation-4": T(C=2, K=10, H=3, W=4, kh=4, kw=3, stride=6, dilation=4,
                             padding=2, output_padding=(5, 3)),
}
TRANSPOSED_CASES = {**TRANSPOSED_FEATURES, **TRANSPOSED_TILING}
TRANSPOSED_KERNELS = [("conv_transpose2d_igemm", "wide"), ("conv_transpose2d_igemm", "narrow"),
                      ("conv_transpose2d_gather", "int32"), ("conv_transpose2d_gather", "int64")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel,tile", TRANSPOSED_KERNELS,
                         ids=[k if t is None else f"{k}-{t}" for k, t in TRANSPOSED_KERNELS])
@pytest.mark.parametrize("case", list(TRANSPOSED_CASES.values()), ids=list(TRANSPOSED_CASES))
def test_conv_transpose2d_kernels(driver, case, kernel, tile, dtype, tmp_path):
    check_case(driver, case, dtype, tmp_path, True, kernel=kernel, tile=tile)


GRID_STRIDE = {
    "conv2d-reflect": (C(N=3, C=4, K=4, groups=2, H=9, W=11, padding=2,
                         padding_mode="reflect"), False, "conv2d_direct"),
    "conv2d-depthwise": (C(N=2, C=6, K=6, groups=6, H=20, W=17, stride=2, padding=1),
                         False, "conv2d_direct"),
    "transposed-stride-3": (TRANSPOSED_FEATURES["stride-(2,3)-output_padding-(1,2)"], True,
                            "conv_transpose2d_gather"),
}


@pytest.mark.parametrize("index", list(_gpu.INDEX_TYPES))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case,transposed,kernel", list(GRID_STRIDE.values()),
                         ids=list(GRID_STRIDE))
def test_grid_stride_loops(driver, case, transposed, kernel, dtype, index, tmp_path):
    """One block for all the work: every thread loops (work > 256)."""
    launch = check_case(driver, case, dtype, tmp_path, transposed, kernel=kernel, tile=index,
                        max_blocks=1)
    assert launch.grid == (1, 1, 1) and launch.work > 2 * _gpu.BLOCK_THREADS


# Note [split reduction]: parts of the reduction, each a grid z (per stride
# phase when transposed), added up by splitk_reduce.  Reductions of 1 to 8 BK
# steps (16 taps in the wide tile, 8 in the narrow), so some parts are a
# single step, the last part is short, and with 5 parts of a 4-step
# reduction the last is empty; transposed phases with fewer taps than the
# largest get empty parts too.
SPLIT_CASES = {
    "3x3-40-taps": (C(C=5, K=70, H=5, W=7, padding=1, stride=(1, 2)), False),
    "groups-2-reflect": (C(C=8, K=80, groups=2, H=6, W=5, padding=1,
                           padding_mode="reflect"), False),
    "dilated-circular": (C(C=6, K=33, H=7, W=6, dilation=2, padding=2,
                           padding_mode="circular"), False),
    "transposed-stride-2": (T(C=9, K=70, kh=4, kw=4, stride=2, padding=1), True),
    "transposed-stride-3-groups": (T(C=8, K=40, groups=2, kh=4, kw=3, stride=(3, 2),
                                     padding=(2, 1), output_padding=(1, 0)), True),
}


@pytest.mark.parametrize("splits", [2, 3, 5])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tile", list(_gpu.IGEMM_TILES))
@pytest.mark.parametrize("case,transposed", list(SPLIT_CASES.values()), ids=list(SPLIT_CASES))
def test_split_reduction(driver, case, transposed, tile, dtype, splits, tmp_path):
    kernel = "conv_transpose2d_igemm" if transposed else "conv2d_igemm"
    launch = check_case(driver, case, dtype, tmp_path, transposed, kernel=kernel, tile=tile,
                        splits=splits)
    assert launch.splits == splits and launch.grid[2] % splits == 0


def test_split_reduction_chosen_for_a_small_grid(driver, tmp_path):
    """With a GPU's multiprocessor count, the planner splits a one-tile layer
    by itself, and the emulated result holds."""
    case = C(C=24, K=64, H=4, W=4, padding=1)      # 216 taps, one 64 x 64 tile
    x, w, b = case.arrays(np.float32)
    p = kernel_params(_params(case, x, w, b, False))
    launch = _gpu.plan_launch(p, np.float32, sms=132)
    assert launch.kernel == "conv2d_igemm" and launch.splits == 14    # a part per step
    check_case(driver, case, np.float32, tmp_path, False, splits=launch.splits)


def test_auto_choice_is_emulated_too(driver, tmp_path):
    """The kernel 'auto' picks (no override) on a depthwise and a dense case."""
    for case, expected in ((CONV2D_FEATURES["depthwise"], "conv2d_direct"),
                           (CONV2D_FEATURES["K-13"], "conv2d_igemm")):
        launch = check_case(driver, case, np.float32, tmp_path, False)
        assert launch.kernel == expected


# ---------------------------------------------------------------------------
# The whole public path, with a stand-in `cupy` whose kernels are emulated
# ---------------------------------------------------------------------------

class _Device:
    id = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _FakeArray(np.ndarray):
    """A NumPy array that the dispatcher takes for a cupy.ndarray."""
    @property
    def device(self):
        return _Device()


def _fake_cupy(exe, tmp_path, launches, sms=1):
    import types

    def asarray(a):
        return np.ascontiguousarray(a).view(_FakeArray)

    class RawModule:
        def __init__(self, code, options, name_expressions):
            assert "#include" not in code and options == _gpu.NVRTC_OPTIONS
            self.names = name_expressions

        def get_function(self, name):
            assert name in self.names

            def kernel(grid, block, args):
                x, w, b, y, *scalars = args
                assert all(isinstance(a, _FakeArray) for a in (x, w, b, y))
                assert type(scalars[0]) is np.int64
                assert all(type(s) is np.int32 for s in scalars[1:])
                launches.append(name)
                y[...] = run_driver(exe, name, grid, block, x, w, b, y.size, scalars,
                                    tmp_path).reshape(y.shape)
            return kernel

    def get_attribute(attr, device_id):
        assert attr == 16 and device_id == 0       # cudaDevAttrMultiProcessorCount
        return sms

    mod = types.ModuleType("cupy")
    mod.ndarray = _FakeArray
    mod.asarray = mod.ascontiguousarray = asarray
    # NaN-filled, like the driver's outputs: a value never written shows.
    mod.empty = lambda shape, dtype: np.full(shape, np.nan, dtype).view(_FakeArray)
    mod.shares_memory = np.shares_memory
    mod.RawModule = RawModule
    mod.cuda = types.SimpleNamespace(
        Device=_Device, runtime=types.SimpleNamespace(deviceGetAttribute=get_attribute))
    return mod


@pytest.mark.parametrize("dtype", DTYPES)
def test_public_functions_through_the_gpu_backend(driver, dtype, tmp_path, monkeypatch):
    """fastconv.conv2d / conv_transpose2d on "cupy" arrays: dispatch, plan,
    output allocation, fastconv._gpu.run's compile and argument list, then
    the emulated kernels, compared with the reference."""
    import sys
    import fastconv
    launches = []
    fake = _fake_cupy(driver, tmp_path, launches)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    for cache in ("_MODULES", "_PLANS", "_SMS"):
        monkeypatch.setattr(_gpu, cache, {})
    cases = [(CONV2D_FEATURES["reflect"], False), (CONV2D_FEATURES["depthwise"], False),
             (CONV2D_FEATURES["no-bias"], False), (CONV2D_FEATURES["unbatched"], False),
             (TILING["K_g-70-two-wide-tiles"], False),
             (TRANSPOSED_FEATURES["groups-2"], True), (TRANSPOSED_FEATURES["unbatched"], True),
             (TRANSPOSED_TILING["stride-4-dilation-2"], True)]
    for case, transposed in cases:
        x, w, b = case.arrays(dtype)
        f = fastconv.conv_transpose2d if transposed else fastconv.conv2d
        y = f(fake.asarray(x), fake.asarray(w), None if b is None else fake.asarray(b),
              **case.kwargs())
        assert isinstance(y, _FakeArray) and y.shape == case.out_shape
        ref = (conv_transpose2d_ref if transposed else conv2d_ref)(x, w, b, **case.kwargs())
        assert_within(np.asarray(y), ref, tolerance(dtype, case.reduction_len, x, w, b,
                                                    transposed=transposed, **case.kwargs()))
    assert len(launches) == len(cases)
    assert {n.split("<")[0] for n in launches} == {"conv2d_igemm", "conv2d_direct",
                                                   "conv_transpose2d_igemm",
                                                   "conv_transpose2d_gather"}
    # One module per (device, source, dtype), reused across calls.
    assert len(_gpu._MODULES) == 2
    # out= on the GPU path.
    case = CONV2D_FEATURES["basic-3x3"]
    x, w, b = (fake.asarray(a) for a in case.arrays(dtype))
    out = fake.empty(case.out_shape, dtype)
    assert fastconv.conv2d(x, w, b, **case.kwargs(), out=out) is out


@pytest.mark.parametrize("dtype", DTYPES)
def test_split_reduction_through_the_gpu_backend(driver, dtype, tmp_path, monkeypatch):
    """On a GPU of many multiprocessors the public call splits a small GEMM's
    reduction (two launches, the parts in a buffer of their own), and a second
    call reuses the plan: same launches, same bits."""
    import sys
    import fastconv
    launches = []
    fake = _fake_cupy(driver, tmp_path, launches, sms=1000)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    for cache in ("_MODULES", "_PLANS", "_SMS"):
        monkeypatch.setattr(_gpu, cache, {})
    # 216 taps (14 steps: 3 parts); 4 phases of 128 taps (8 steps: 2 parts)
    for case, transposed in ((C(C=24, K=64, H=4, W=4, padding=1), False),
                             (T(C=32, K=70, kh=4, kw=4, stride=2, padding=1), True)):
        x, w, b = case.arrays(dtype)
        f = fastconv.conv_transpose2d if transposed else fastconv.conv2d
        args = [fake.asarray(a) for a in (x, w, b)]
        del launches[:]
        y = f(*args, **case.kwargs())
        assert [n.split("<")[0] for n in launches] == [
            "conv_transpose2d_igemm" if transposed else "conv2d_igemm", "splitk_reduce"]
        ref = (conv_transpose2d_ref if transposed else conv2d_ref)(x, w, b, **case.kwargs())
        assert_within(np.asarray(y), ref, tolerance(dtype, case.reduction_len, x, w, b,
                                                    transposed=transposed, **case.kwargs()))
        y2 = f(*args, **case.kwargs())
        assert len(launches) == 4 and np.array_equal(np.asarray(y), np.asarray(y2))
    assert len(_gpu._PLANS) == 2


# ---------------------------------------------------------------------------
# Random small problems (hypothesis): every kernel, drawn per example
# ---------------------------------------------------------------------------

RANDOM = dict(max_kg=12, max_cg=5, allow_empty_batch=False)


@settings(max_examples=25)
@given(case=conv2d_cases(**RANDOM), dtype=dtypes, pick=st.sampled_from(CONV2D_KERNELS))
def test_random_conv2d(driver, tmp_path_factory, case, dtype, pick):
    check_case(driver, case, dtype, tmp_path_factory.mktemp("emu"), False, kernel=pick[0],
               tile=pick[1])


@settings(max_examples=25)
@given(case=conv_transpose2d_cases(**RANDOM), dtype=dtypes,
       pick=st.sampled_from(TRANSPOSED_KERNELS))
def test_random_conv_transpose2d(driver, tmp_path_factory, case, dtype, pick):
    check_case(driver, case, dtype, tmp_path_factory.mktemp("emu"), True, kernel=pick[0],
               tile=pick[1])
