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
}
IGEMM_KERNELS = ("conv2d_igemm", "conv_transpose2d_igemm")
# The one-output-per-thread kernels come with a 32- and a 64-bit work index.
INDEX_TYPES = {"int32": "int", "int64": "long long"}

CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}

# Implicit-GEMM tiles (BM channels x BN pixels, BK taps per step, TM x TN
# outputs per thread; 256 threads either way).  "narrow" serves layers with
# at most 32 output channels per group, where a 64-channel tile would be
# half padding.  Not tuned on a GPU yet (no device run so far).
IGEMM_TILES = {
    "wide": (64, 64, 8, 4, 4),
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


# tile: the implicit GEMM's tile, or the work index type of the others.
Launch = collections.namedtuple("Launch", "kernel tile name grid block work")


def plan_launch(p, dtype, max_blocks=MAX_BLOCKS, kernel=None, tile=None):
    """Kernel, grid, block and work count for a problem from kernel_params. Pure.

    `max_blocks` caps grid-stride launches (tests lower it to make every
    thread loop); `kernel` and `tile` override choose_kernel (tests run every
    kernel of an op on every case)."""
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
            return Launch(kernel, tile, name, (-(-work // bn), mtiles, 1), block, work)
        # Output pixels of the largest stride phase; one grid z per phase.
        work = p.N * -(-p.OH // p.sh) * -(-p.OW // p.sw)
        return Launch(kernel, tile, name, (-(-work // bn), mtiles, p.sh * p.sw), block, work)
    if kernel == "conv2d_direct":
        work = p.N * p.K * p.OH * p.OW                 # output elements
    else:
        # Phase-major (Note [transposed conv as gather]): every phase pads
        # its rows and columns to the largest phase's count.
        work = p.sh * p.sw * p.N * p.K * -(-p.OH // p.sh) * -(-p.OW // p.sw)
    blocks = max(1, min(-(-work // BLOCK_THREADS), max_blocks))
    if tile is None:     # the last index a grid-stride loop forms must fit
        tile = "int32" if work + blocks * BLOCK_THREADS <= _INT32_MAX else "int64"
    name = kernel_name(kernel, ctype, tile)
    return Launch(kernel, tile, name, (blocks, 1, 1), block, work)


def pack_args(p, work, has_bias):
    """The scalar arguments after (x, w, b, y), in FC_ARGS order
    (fastconv/cuda/fc_common.cuh), as explicit NumPy integer scalars."""
    i32 = np.int32
    ints = (p.N, p.C, p.H, p.W, p.K, p.G, p.kh, p.kw, p.OH, p.OW, p.sh, p.sw, p.dh, p.dw,
            p.pt, p.pl, PADDING_MODE_CODES[p.padding_mode], int(bool(has_bias)))
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


def run(p, x, w, b, y):
    """Fill y (a C-contiguous cupy array) with the convolution of x, w, b
    (4-D cupy arrays of y's dtype, on y's device) on the current stream."""
    cupy = import_cupy()
    with y.device:      # compile for, and launch on, the arrays' device
        x = cupy.ascontiguousarray(x)
        w = cupy.ascontiguousarray(w)
        b = None if b is None else cupy.ascontiguousarray(b)
        launch = plan_launch(p, y.dtype)
        ctype = CTYPES[np.dtype(y.dtype)]
        kern = get_kernel(cupy, SOURCES[launch.kernel], ctype, launch.name)
        # No bias: any valid pointer stands in (has_bias = 0, never read).
        args = (x, w, w if b is None else b, y) + pack_args(p, launch.work, b is not None)
        kern(launch.grid, launch.block, args)
