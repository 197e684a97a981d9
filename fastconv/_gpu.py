"""GPU backend: raw CUDA kernels (fastconv/cuda/*.cu) on CuPy arrays.

A leaf like ``_cpu``: it takes a problem already checked and made safe by
``_dispatch.kernel_params`` and C-contiguous arrays of one float dtype, and
never validates user input.  CuPy is imported only when a kernel is launched,
so ``import fastconv`` works without it.

The host side is split in two:

* pure functions of the problem (``choose_kernel``, ``plan_launch``,
  ``pack_args``, ``name_expressions``): which kernel, which grid and block,
  which scalar arguments.  They need neither CuPy nor a GPU, and the CPU
  emulator tests (tests/test_cuda_emu.py) feed exactly their results to the
  same .cu sources compiled with g++;
* ``run``: compiles lazily (one ``cupy.RawModule`` per device, source and
  dtype, holding every specialisation of the source), then launches on the
  current stream.  No host synchronisation.

Legend as in _params.py: N, C, H, W input; K output channels; G groups;
C_g = C // G, K_g = K // G; kh, kw kernel; OH, OW output.
"""

import collections
import math
import os

import numpy as np

CUDA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cuda")
COMMON_HEADER = "fc_common.cuh"

# Source file of each kernel family.
SOURCES = {
    "conv2d_igemm": "conv2d.cu",
    "conv2d_direct": "conv2d.cu",
    "conv_transpose2d_igemm": "conv_transpose2d.cu",
    "conv_transpose2d_gather": "conv_transpose2d.cu",
    "splitk_reduce": "splitk.cu",
}
IGEMM_KERNELS = ("conv2d_igemm", "conv_transpose2d_igemm")
# The one-output-per-thread kernels come with a 32- and a 64-bit work index.
INDEX_TYPES = {"int32": "int", "int64": "long long"}

CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}

# Implicit-GEMM tiles (BM channels x BN pixels, BK taps per step, TM x TN
# outputs per thread; 256 threads either way).  "narrow" serves layers with
# at most 32 output channels per group, where a 64-channel tile would be
# half padding.  Measured on an H200 (benchmarks/gpu_check.py's workload,
# kernel times in CUDA graphs, before Note [split reduction]): 16 taps per
# step beat 8 on all 16 float32 cases that ran an implicit GEMM, by 2-22%
# (resnet50-res2-3x3 0.118 -> 0.096 ms, vgg16-conv1_2 0.391 -> 0.360);
# 128 x 128 tiles (8 x 8 per thread) and 64 x 128 ones were slower on all 16.
IGEMM_TILES = {
    "wide": (64, 64, 16, 4, 4),
    "narrow": (32, 64, 8, 2, 4),
}
BLOCK_THREADS = 256           # every kernel runs 256-thread blocks
MAX_GRID_Y = 65535            # CUDA's limits on gridDim.y and gridDim.z
MAX_GRID_Z = 65535
# Grid-stride kernels launch at most this many blocks (enough to fill any
# current GPU many times over); more work loops inside the kernel.
MAX_BLOCKS = 1 << 20
_INT32_MAX = 2**31 - 1

# Note [auto thresholds] (GPU): fewer than DIRECT_MAX_K_G output channels per
# group (depthwise, channel multipliers, small groups; a 3-channel image out of
# a transposed conv) run the one-output-per-thread kernels (conv2d_direct,
# conv_transpose2d_gather): a GEMM tile of 32+ channels would be mostly
# padding.  Others run the implicit GEMMs, with the 32-channel tile up to
# NARROW_MAX_K_G channels.  The values mirror the CPU backend's; to be
# measured on a GPU (benchmarks/gpu_check.py).
THRESHOLDS = {"DIRECT_MAX_K_G": 8, "NARROW_MAX_K_G": 32}

# Note [split reduction] (fc_common.cuh): an implicit GEMM whose grid leaves
# the GPU's block slots (SPLIT_BLOCKS_PER_SM per multiprocessor: two 256-thread
# blocks of at most 128 registers fit on one) idle, or fills its last wave
# poorly, is split along its reduction.  The number of parts S minimises a
# cost in BK steps:
#   waves(S) * (ceil(steps / S) + SPLIT_BLOCK_STEPS) + (SPLIT_PASS_STEPS if S > 1)
# with waves(S) = ceil(blocks * S / slots): a block's time is its steps plus
# about one step of setup and stores, and the parts' buffer and the second
# pass cost about four; ties go to fewer parts.  At most SPLIT_MAX parts, and
# the parts' buffer at most SPLIT_MAX_BYTES.  Fitted on an H200 (132
# multiprocessors) to kernel times of 6-18 values of S on each of 26 layers
# (the workload's 17 implicit-GEMM cases and 9 others: 1x1 and 3x3 at 7x7 /
# 14x14, batches 4 and 8, transposed 4x4 stride 2).  On the 24 where the
# chosen S was among those timed it was within 1.3% of the best on geometric
# mean, 11% at worst (dcgan-up1, fcn-up); on the other two it picks S = 9 for
# 512 channels at 7x7 in a batch of 8, where 8 and 10 were 13-16% slower than
# the best (14), and S = 23 for a 13x13 layer whose best timed S was the
# largest timed (12).  Unsplit, resnet50-res5 ran 8 blocks in 0.716 ms; in 32
# parts, 0.038 ms (cuDNN: 0.110).
SPLIT = {"SPLIT_BLOCKS_PER_SM": 2, "SPLIT_BLOCK_STEPS": 1, "SPLIT_PASS_STEPS": 4,
         "SPLIT_MAX": 64, "SPLIT_MAX_BYTES": 64 << 20}

PADDING_MODE_CODES = {"zeros": 0, "reflect": 1, "replicate": 2, "circular": 3}

GPU_INSTALL_HINT = (
    'the GPU backend needs CuPy: pip install "fastconv[gpu]" (CUDA 12; for CUDA 13: '
    'pip install "fastconv[gpu-cuda13]", i.e. cupy-cuda13x)')


def kernel_name(kernel, ctype, variant):
    """The C++ name expression of a specialisation, e.g. 'conv2d_direct<float, int>';
    `variant` is a key of IGEMM_TILES or of INDEX_TYPES."""
    if kernel in IGEMM_KERNELS:
        return "{}<{}, {}, {}, {}, {}, {}>".format(kernel, ctype, *IGEMM_TILES[variant])
    return f"{kernel}<{ctype}, {INDEX_TYPES[variant]}>"


def name_expressions(source=None):
    """Every specialisation fastconv instantiates: [(source file, name, ctype)]."""
    out = []
    for ctype in CTYPES.values():
        for kernel in SOURCES:
            for variant in (IGEMM_TILES if kernel in IGEMM_KERNELS else INDEX_TYPES):
                out.append((SOURCES[kernel], kernel_name(kernel, ctype, variant), ctype))
    return [e for e in out if source is None or e[0] == source]


def choose_kernel(p):
    """(kernel family, igemm tile or None) for a problem from kernel_params. Pure."""
    K_g = p.K // p.G
    reduction = (p.C // p.G) * p.kh * p.kw
    if p.transposed:
        direct = "conv_transpose2d_gather"
        if p.sh * p.sw > MAX_GRID_Z:        # one grid z per stride phase
            return direct, None
    else:
        direct = "conv2d_direct"
    if K_g < THRESHOLDS["DIRECT_MAX_K_G"] or reduction > _INT32_MAX:
        return direct, None
    tile = "narrow" if K_g <= THRESHOLDS["NARROW_MAX_K_G"] else "wide"
    bm = IGEMM_TILES[tile][0]
    if p.G * -(-K_g // bm) > MAX_GRID_Y:      # too many channel tiles for gridDim.y
        return direct, None
    return ("conv_transpose2d_igemm" if p.transposed else "conv2d_igemm"), tile


# tile: the implicit GEMM's tile, or the work index type of the others;
# splits: parts of the reduction (Note [split reduction]), 1 if not split.
Launch = collections.namedtuple("Launch", "kernel tile name grid block work splits",
                                defaults=(1,))


def reduction_steps(p, kernel, tile):
    """BK steps of an implicit GEMM's reduction (of its largest stride phase). Pure."""
    C_g = p.C // p.G
    if kernel == "conv2d_igemm":
        taps = p.kh * p.kw
    else:
        step_h, step_w = p.sh // math.gcd(p.sh, p.dh), p.sw // math.gcd(p.sw, p.dw)
        taps = -(-p.kh // step_h) * -(-p.kw // step_w)
    return -(-C_g * taps // IGEMM_TILES[tile][2])


def choose_splits(p, kernel, tile, grid, sms, itemsize):
    """Parts of the reduction for an implicit GEMM launch of `grid` on a GPU of
    `sms` multiprocessors (None: unknown, no split). Pure; every part gets at
    least one step (Note [split reduction])."""
    if sms is None:
        return 1
    blocks = grid[0] * grid[1] * grid[2]
    slots = SPLIT["SPLIT_BLOCKS_PER_SM"] * sms
    steps = reduction_steps(p, kernel, tile)
    outputs = p.N * p.K * p.OH * p.OW
    most = min(steps, SPLIT["SPLIT_MAX"], MAX_GRID_Z // grid[2],
               SPLIT["SPLIT_MAX_BYTES"] // max(1, outputs * itemsize))
    best, best_cost = 1, None
    for s in range(1, max(1, most) + 1):
        cost = -(-blocks * s // slots) * (-(-steps // s) + SPLIT["SPLIT_BLOCK_STEPS"])
        cost += SPLIT["SPLIT_PASS_STEPS"] if s > 1 else 0
        if best_cost is None or cost < best_cost:
            best, best_cost = s, cost
    return -(-steps // -(-steps // best))     # as many parts as steps per part need


def plan_launch(p, dtype, max_blocks=MAX_BLOCKS, kernel=None, tile=None, sms=None,
                splits=None):
    """Kernel, grid, block, work count and parts of the reduction for a problem
    from kernel_params. Pure.

    `max_blocks` caps grid-stride launches (tests lower it to make every
    thread loop); `kernel` and `tile` override choose_kernel (tests run every
    kernel of an op on every case); `sms`, the GPU's multiprocessors, lets a
    small implicit GEMM split its reduction, and `splits` sets the parts."""
    if kernel is None:
        kernel, tile = choose_kernel(p)
    ctype = CTYPES[np.dtype(dtype)]
    block = (BLOCK_THREADS, 1, 1)
    if kernel in IGEMM_KERNELS:
        bm, bn = IGEMM_TILES[tile][:2]
        mtiles = p.G * -(-(p.K // p.G) // bm)
        name = kernel_name(kernel, ctype, tile)
        if kernel == "conv2d_igemm":
            work = p.N * p.OH * p.OW                   # output pixels
            grid = (-(-work // bn), mtiles, 1)
        else:
            # Output pixels of the largest stride phase; one grid z per phase.
            work = p.N * -(-p.OH // p.sh) * -(-p.OW // p.sw)
            grid = (-(-work // bn), mtiles, p.sh * p.sw)
        if splits is None:
            splits = choose_splits(p, kernel, tile, grid, sms, np.dtype(dtype).itemsize)
        return Launch(kernel, tile, name, grid[:2] + (grid[2] * splits,), block, work, splits)
    if kernel in ("conv2d_direct", "splitk_reduce"):
        work = p.N * p.K * p.OH * p.OW                 # output elements
    else:
        # Phase-major (Note [transposed conv as gather]): every phase pads
        # its rows and columns to the largest phase's count.
        work = p.sh * p.sw * p.N * p.K * -(-p.OH // p.sh) * -(-p.OW // p.sw)
    blocks = max(1, min(-(-work // BLOCK_THREADS), max_blocks))
    if tile is None:     # the last index a grid-stride loop forms must fit
        tile = "int32" if work + blocks * BLOCK_THREADS <= _INT32_MAX else "int64"
    name = kernel_name(kernel, ctype, tile)
    return Launch(kernel, tile, name, (blocks, 1, 1), block, work, splits or 1)


def pack_args(p, work, has_bias, splits=1):
    """The scalar arguments after (x, w, b, y), in FC_ARGS order
    (fastconv/cuda/fc_common.cuh), as explicit NumPy integer scalars."""
    i32 = np.int32
    ints = (p.N, p.C, p.H, p.W, p.K, p.G, p.kh, p.kw, p.OH, p.OW, p.sh, p.sw, p.dh, p.dw,
            p.pt, p.pl, PADDING_MODE_CODES[p.padding_mode], int(bool(has_bias)), splits)
    for v in ints:
        if not -2**31 <= v <= _INT32_MAX:
            raise OverflowError(f"kernel argument {v} does not fit in int32")
    return (np.int64(work),) + tuple(i32(v) for v in ints)


def load_source(filename):
    """A kernel source with fc_common.cuh pasted in (so CuPy's cache key,
    a hash of the source text, changes whenever the header does)."""
    with open(os.path.join(CUDA_DIR, COMMON_HEADER)) as f:
        common = f.read().replace("#pragma once", "")
    with open(os.path.join(CUDA_DIR, filename)) as f:
        body = f.read()
    return body.replace(f'#include "{COMMON_HEADER}"', common)


# Compiler options: C++17; CuPy appends -arch for the current device.
NVRTC_OPTIONS = ("-std=c++17",)


def import_cupy():
    """cupy, or an ImportError that says how to get it."""
    try:
        import cupy
    except ImportError as exc:
        raise ImportError(f"fastconv: {GPU_INSTALL_HINT} ({exc})") from exc
    return cupy


_MODULES = {}


def get_kernel(cupy, source, ctype, name):
    """A compiled kernel, cached per (device, source, dtype)."""
    dev = cupy.cuda.Device().id
    key = (dev, source, ctype)
    mod = _MODULES.get(key)
    if mod is None:
        names = [n for s, n, c in name_expressions(source) if c == ctype]
        mod = cupy.RawModule(code=load_source(source), options=NVRTC_OPTIONS,
                             name_expressions=names)
        _MODULES[key] = mod
    return mod.get_function(name)


def multiprocessors(cupy, device_id):
    """The device's multiprocessor count, asked once per device."""
    n = _SMS.get(device_id)
    if n is None:
        n = _SMS[device_id] = int(
            cupy.cuda.runtime.deviceGetAttribute(_ATTR_MULTIPROCESSOR_COUNT, device_id))
    return n


_SMS = {}
_ATTR_MULTIPROCESSOR_COUNT = 16     # cudaDevAttrMultiProcessorCount


# A problem's launches on a device: `launch` (a Launch), its compiled kernel
# and scalar arguments, and for a split reduction `reduce`, splitk_reduce's
# (Launch, kernel, scalars); else None.
GpuPlan = collections.namedtuple("GpuPlan", "launch kern scalars reduce")


def _plan(cupy, p, dtype, has_bias, device_id, splits=None):
    """The GpuPlan of a problem on a device (`splits` overrides the parts of the
    reduction, for benchmarks/gpu_check.py's sweep)."""
    ctype = CTYPES[np.dtype(dtype)]
    launch = plan_launch(p, dtype, sms=multiprocessors(cupy, device_id), splits=splits)
    kern = get_kernel(cupy, SOURCES[launch.kernel], ctype, launch.name)
    if launch.splits == 1:
        return GpuPlan(launch, kern, pack_args(p, launch.work, has_bias), None)
    red = plan_launch(p, dtype, kernel="splitk_reduce", splits=launch.splits)
    return GpuPlan(launch, kern, pack_args(p, launch.work, False, launch.splits),
                   (red, get_kernel(cupy, SOURCES[red.kernel], ctype, red.name),
                    pack_args(p, red.work, has_bias, red.splits)))


def execute(plan, x, w, b, y, parts=None):
    """Launch a GpuPlan on C-contiguous arrays (b: any array where there is no
    bias); `parts`: a split reduction's buffer of launch.splits * y.size values."""
    L = plan.launch
    if plan.reduce is None:
        plan.kern(L.grid, L.block, (x, w, b, y) + plan.scalars)
        return
    red, rkern, rscalars = plan.reduce
    plan.kern(L.grid, L.block, (x, w, b, parts) + plan.scalars)
    rkern(red.grid, red.block, (parts, w, b, y) + rscalars)


# Note [GPU launch cache]: a call's host time on the GPU path was 38 us against
# torch's 10-17 (H200, a 3x3 depthwise layer and a 1x1x8x8 input), of which
# planning the launch and packing 19 NumPy scalars took 9 us; CuPy's launch
# itself takes 10.  Plans are kept per (problem, dtype, bias or not, device).
_PLANS = {}
_PLANS_MAX = 512


def run(p, x, w, b, y):
    """Fill y (a C-contiguous cupy array) with the convolution of x, w, b
    (4-D cupy arrays of y's dtype, on y's device) on the current stream."""
    cupy = import_cupy()
    device = y.device
    with device:      # compile for, and launch on, the arrays' device
        key = (p, y.dtype.char, b is not None, device.id)
        plan = _PLANS.get(key)
        if plan is None:
            if len(_PLANS) >= _PLANS_MAX:
                _PLANS.clear()
            plan = _PLANS[key] = _plan(cupy, p, y.dtype, b is not None, device.id)
        x = cupy.ascontiguousarray(x)
        w = cupy.ascontiguousarray(w)
        # No bias: any valid pointer stands in (has_bias = 0, never read).
        b = w if b is None else cupy.ascontiguousarray(b)
        parts = (None if plan.reduce is None
                 else cupy.empty(plan.launch.splits * y.size, dtype=y.dtype))
        execute(plan, x, w, b, y, parts)
