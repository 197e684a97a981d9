"""The GPU backend's host side without CuPy or a GPU: kernel choice, grids,
argument packing, sources, lazy import, and the dispatcher's device rules
(with a stand-in `cupy` module where an array type is needed)."""

import subprocess
import sys
import types

import numpy as np
import pytest

import fastconv
from fastconv import _dispatch, _gpu
from fastconv._params import ConvError, conv2d_params, conv_transpose2d_params


def conv(x=(2, 3, 8, 9), w=(4, 3, 3, 3), stride=1, padding=0, dilation=1, groups=1,
         mode="zeros"):
    return _dispatch.kernel_params(
        conv2d_params(x, w, None, stride, padding, dilation, groups, mode))


def convt(x=(2, 4, 5, 6), w=(4, 3, 3, 3), stride=1, padding=0, output_padding=0, groups=1,
          dilation=1):
    return _dispatch.kernel_params(conv_transpose2d_params(
        x, w, None, stride, padding, output_padding, groups, dilation))


# (problem, expected kernel, expected tile)
CHOICES = [
    (conv(), "conv2d_direct", None),                                      # K_g = 4 < 8
    (conv(x=(1, 8, 9, 9), w=(8, 1, 3, 3), groups=8), "conv2d_direct", None),  # depthwise
    (conv(x=(1, 8, 9, 9), w=(16, 1, 3, 3), groups=8), "conv2d_direct", None),  # multiplier 2
    (conv(w=(8, 3, 3, 3)), "conv2d_igemm", "narrow"),
    (conv(w=(32, 3, 3, 3)), "conv2d_igemm", "narrow"),
    (conv(w=(33, 3, 3, 3)), "conv2d_igemm", "wide"),
    (conv(x=(1, 64, 4, 4), w=(256, 32, 1, 1), groups=2), "conv2d_igemm", "wide"),
    (convt(), "conv_transpose2d_gather", None),                           # K_g = 3
    (convt(x=(1, 8, 4, 4), w=(8, 1, 3, 3), groups=8, stride=2), "conv_transpose2d_gather",
     None),                                                               # depthwise
    (convt(x=(1, 64, 4, 4), w=(64, 64, 4, 4), stride=2), "conv_transpose2d_igemm", "wide"),
    (convt(x=(1, 64, 4, 4), w=(64, 16, 4, 4), stride=2), "conv_transpose2d_igemm", "narrow"),
    # More stride phases than gridDim.z holds: the gather.
    (convt(x=(1, 8, 2, 2), w=(8, 16, 1, 1), stride=300), "conv_transpose2d_gather", None),
]


@pytest.mark.parametrize("p,kernel,tile", CHOICES)
def test_choose_kernel_table(p, kernel, tile):
    assert _gpu.choose_kernel(p) == (kernel, tile)


def test_too_many_channel_tiles_for_grid_y_fall_back_to_direct():
    G = 70000     # G * ceil(K_g / 32) > 65535
    p = conv(x=(1, G, 2, 2), w=(8 * G, 1, 1, 1), groups=G)
    assert _gpu.choose_kernel(p) == ("conv2d_direct", None)


def test_igemm_grid_covers_pixels_and_channel_tiles():
    p = conv(x=(3, 5, 10, 11), w=(70, 5, 3, 3), padding=1)         # 330 pixels, K_g 70
    launch = _gpu.plan_launch(p, np.float32)
    assert launch.name == "conv2d_igemm<float, 64, 64, 16, 4, 4>"
    assert launch.work == 3 * 10 * 11
    assert launch.grid == (-(-330 // 64), 2, 1) and launch.block == (256, 1, 1)
    # Groups multiply the channel tiles along y.
    p = conv(x=(1, 4, 6, 5), w=(140, 2, 3, 3), groups=2)              # K_g 70: 2 tiles
    launch = _gpu.plan_launch(p, np.float64)
    assert launch.name == "conv2d_igemm<double, 64, 64, 16, 4, 4>"
    assert launch.grid == (1, 2 * 2, 1)
    p = conv(x=(1, 4, 6, 5), w=(60, 2, 3, 3), groups=2)               # K_g 30: narrow
    launch = _gpu.plan_launch(p, np.float64)
    assert launch.name == "conv2d_igemm<double, 32, 64, 8, 2, 4>"
    assert launch.grid == (1, 2, 1)


def test_igemm_tiles_have_256_threads_and_fit_the_load_scheme():
    for bm, bn, bk, tm, tn in _gpu.IGEMM_TILES.values():
        nt = (bm // tm) * (bn // tn)
        assert nt == _gpu.BLOCK_THREADS and nt % bn == 0
        assert bm % tm == 0 and bn % tn == 0


def test_grid_stride_launches_are_capped():
    p = conv()
    launch = _gpu.plan_launch(p, np.float32)
    assert launch.kernel == "conv2d_direct" and launch.work == 2 * 4 * 6 * 7
    assert launch.grid == (2, 1, 1)
    assert _gpu.plan_launch(p, np.float32, max_blocks=1).grid == (1, 1, 1)
    big = conv(x=(256, 8, 512, 512), w=(8, 1, 3, 3), groups=8, padding=1)   # 2**29 outputs
    assert _gpu.plan_launch(big, np.float32).grid == (_gpu.MAX_BLOCKS, 1, 1)


def test_transposed_igemm_grid_has_one_z_per_phase():
    p = convt(x=(2, 16, 5, 6), w=(16, 40, 3, 3), stride=(2, 3), output_padding=(1, 2))
    launch = _gpu.plan_launch(p, np.float32)
    assert launch.name == "conv_transpose2d_igemm<float, 64, 64, 16, 4, 4>"
    assert launch.work == p.N * -(-p.OH // 2) * -(-p.OW // 3)
    assert launch.grid == (-(-launch.work // 64), 1, 6)


def test_transposed_work_is_phase_major():
    p = convt(stride=(2, 3), output_padding=(1, 2))
    OH, OW = p.OH, p.OW
    launch = _gpu.plan_launch(p, np.float64)
    assert launch.name == "conv_transpose2d_gather<double, int>"
    assert launch.work == 2 * 3 * p.N * p.K * -(-OH // 2) * -(-OW // 3)
    assert launch.work >= p.N * p.K * OH * OW


def test_index_width_of_the_one_output_per_thread_kernels():
    small = conv(x=(1, 8, 64, 64), w=(8, 1, 3, 3), groups=8)
    assert _gpu.plan_launch(small, np.float32).name == "conv2d_direct<float, int>"
    # work + the grid's threads must stay below 2**31 for the 32-bit index.
    edge = conv(x=(1, 8, 2**14, 2**14 - 64), w=(8, 1, 1, 1), groups=8)
    launch = _gpu.plan_launch(edge, np.float32)
    assert launch.work < 2**31 - 1 < launch.work + launch.grid[0] * 256
    assert launch.tile == "int64" and launch.name == "conv2d_direct<float, long long>"
    big = convt(x=(1, 8, 2**12, 2**12), w=(8, 1, 2, 2), groups=8, stride=4)
    assert _gpu.plan_launch(big, np.float64).name == "conv_transpose2d_gather<double, long long>"


def test_work_past_int32_is_packed_as_int64():
    p = conv(x=(1024, 1, 2048, 2048), w=(8, 1, 1, 1))
    launch = _gpu.plan_launch(p, np.float32)
    assert launch.work == 1024 * 2048 * 2048 > 2**31
    args = _gpu.pack_args(p, launch.work, True)
    assert type(args[0]) is np.int64 and int(args[0]) == launch.work


def _steps_covered(steps, splits):
    """Every part of `splits` over `steps` (the kernels' fc_split_range) is
    non-empty and together they cover all steps."""
    per = -(-steps // splits)
    return (splits - 1) * per < steps <= splits * per


# Note [split reduction]: (problem, grid blocks, parts on a 132-multiprocessor
# GPU, 264 block slots), each the S the H200 timed fastest among those tried.
SPLITS = [
    # resnet50-res5: 1 x 8 tiles, 4608 taps = 288 steps of 16; 32 x 8 = 256
    # blocks in one wave (33 parts: the same cost, more parts)
    (conv(x=(1, 512, 7, 7), w=(512, 512, 3, 3), padding=1), 8, 32),
    # res4: 16 tiles, 144 steps: 16 parts of 9 steps, one wave
    (conv(x=(1, 256, 14, 14), w=(256, 256, 3, 3), padding=1), 16, 16),
    # res2: 49 tiles, 36 steps: 5 parts (245 blocks); 6 would need a second wave
    (conv(x=(1, 64, 56, 56), w=(64, 64, 3, 3), padding=1), 49, 5),
    # res3 in a batch of 8: 196 tiles, a wave 74% full; 4 parts of 18 steps in
    # three waves cost 3 * 19 + 4 = 61 steps against 73 unsplit
    (conv(x=(8, 128, 28, 28), w=(128, 128, 3, 3), padding=1), 196, 4),
    # enough tiles already: the stem (196 tiles of 10 steps) and vgg16-conv1_2
    (conv(x=(1, 3, 224, 224), w=(64, 3, 7, 7), stride=2, padding=3), 196, 1),
    (conv(x=(1, 64, 224, 224), w=(64, 64, 3, 3), padding=1), 784, 1),
    # a one-step reduction: nothing to split
    (conv(x=(1, 16, 8, 8), w=(64, 16, 1, 1)), 1, 1),
    # transposed: 4 phases of 512 * 2 * 2 taps (128 steps), 4 x 4 tiles each
    (convt(x=(16, 512, 4, 4), w=(512, 256, 4, 4), stride=2, padding=1), 64, 4),
]


@pytest.mark.parametrize("p,blocks,splits", SPLITS)
def test_split_reduction_choice(p, blocks, splits):
    launch = _gpu.plan_launch(p, np.float32, sms=132)
    assert launch.splits == splits
    assert launch.grid[0] * launch.grid[1] * launch.grid[2] == blocks * splits
    steps = _gpu.reduction_steps(p, launch.kernel, launch.tile)
    assert _steps_covered(steps, splits)
    # Without the multiprocessor count (pure callers, the emulator): never split.
    assert _gpu.plan_launch(p, np.float32).splits == 1


def test_split_parts_are_never_empty():
    for steps in range(1, 300):
        for want in range(2, 70):
            s = -(-steps // -(-steps // want))
            assert s <= want and _steps_covered(steps, s), (steps, want)


def test_split_reduction_limits():
    p = conv(x=(1, 512, 7, 7), w=(512, 512, 3, 3), padding=1)
    # A GPU of many multiprocessors: at most SPLIT_MAX (64) parts, here 58:
    # 288 steps in parts of ceil(288 / 64) = 5 need no more.
    assert _gpu.SPLIT["SPLIT_MAX"] == 64
    assert _gpu.plan_launch(p, np.float32, sms=10_000).splits == 58
    # One block of 9 steps: a part per step (cost 1 * (1 + 1) + 4 against 10);
    # of 5 steps: unsplit (6 either way, and ties go to fewer parts).
    small = conv(x=(1, 16, 4, 4), w=(64, 16, 3, 3), padding=1)
    assert _gpu.plan_launch(small, np.float32, sms=132).splits == 9
    small = conv(x=(1, 8, 4, 4), w=(64, 8, 3, 3), padding=1)
    assert _gpu.plan_launch(small, np.float32, sms=132).splits == 1
    # The parts' buffer stays within SPLIT_MAX_BYTES: 512 channels of 40 x 40
    # floats are 3.3 MB, at most 20 of them.
    big = conv(x=(1, 512, 40, 40), w=(512, 512, 3, 3), padding=1)
    launch = _gpu.plan_launch(big, np.float64, sms=10_000)
    assert 1 < launch.splits and launch.splits * 512 * 1600 * 8 <= _gpu.SPLIT["SPLIT_MAX_BYTES"]
    # Stride phases times parts stay within gridDim.z.
    t = convt(x=(1, 64, 2, 2), w=(64, 64, 300, 200), stride=(300, 200))
    launch = _gpu.plan_launch(t, np.float32, sms=10_000)
    assert launch.grid[2] <= _gpu.MAX_GRID_Z
    # The one-output-per-thread kernels never split.
    assert _gpu.plan_launch(conv(), np.float32, sms=10_000).splits == 1
    # splitk_reduce: one thread per output, the parts' count passed on.
    r = _gpu.plan_launch(p, np.float32, kernel="splitk_reduce", splits=32)
    assert r.name == "splitk_reduce<float, int>" and r.work == 512 * 49 and r.splits == 32
    assert int(_gpu.pack_args(p, r.work, True, r.splits)[-1]) == 32


def test_pack_args_order_and_types():
    p = conv(x=(2, 6, 9, 10), w=(9, 2, 3, 4), stride=(2, 1), padding=((1, 0), (2, 3)),
             dilation=(1, 2), groups=3, mode="circular")
    args = _gpu.pack_args(p, 123, False)
    assert type(args[0]) is np.int64 and all(type(a) is np.int32 for a in args[1:])
    assert len(args) == 20
    names = ["work", "N", "C", "H", "W", "K", "G", "kh", "kw", "OH", "OW", "sh", "sw", "dh",
             "dw", "pt", "pl", "mode", "has_bias", "splits"]
    got = dict(zip(names, (int(a) for a in args)))
    assert got == dict(work=123, N=2, C=6, H=9, W=10, K=9, G=3, kh=3, kw=4, OH=p.OH, OW=p.OW,
                       sh=2, sw=1, dh=1, dw=2, pt=1, pl=2, mode=3, has_bias=0, splits=1)
    assert int(_gpu.pack_args(p, 1, True)[-2]) == 1
    assert int(_gpu.pack_args(p, 1, True, 7)[-1]) == 7


def test_pack_args_order_matches_the_cuda_source():
    """FC_ARGS in fc_common.cuh lists the same scalars in the same order."""
    import os
    import re
    with open(os.path.join(_gpu.CUDA_DIR, _gpu.COMMON_HEADER)) as f:
        text = f.read()
    macro = text[text.index("#define FC_ARGS"):]
    macro = macro[:macro.index("\n\n")]
    scalars = re.findall(r"(idx_t|int) (\w+)", macro)
    assert [n for _, n in scalars] == ["work", "N", "C", "H", "W", "K", "G", "kh", "kw", "OH",
                                       "OW", "sh", "sw", "dh", "dw", "pt", "pl", "mode",
                                       "has_bias", "splits"]
    assert scalars[0][0] == "idx_t" and all(t == "int" for t, _ in scalars[1:])


def test_padding_mode_codes_match_the_cuda_enum():
    import os
    with open(os.path.join(_gpu.CUDA_DIR, _gpu.COMMON_HEADER)) as f:
        text = f.read()
    assert "FC_ZEROS = 0, FC_REFLECT = 1, FC_REPLICATE = 2, FC_CIRCULAR = 3" in text
    assert _gpu.PADDING_MODE_CODES == {"zeros": 0, "reflect": 1, "replicate": 2,
                                       "circular": 3}


def test_name_expressions_cover_every_kernel_and_dtype():
    names = _gpu.name_expressions()
    assert len(names) == 20 and len({n for _, n, _ in names}) == 20
    for ctype in ("float", "double"):
        for kernel in _gpu.IGEMM_KERNELS:
            for tile in _gpu.IGEMM_TILES:
                assert _gpu.kernel_name(kernel, ctype, tile) in [n for _, n, _ in names]
        for index in ("int", "long long"):
            assert f"conv2d_direct<{ctype}, {index}>" in [n for _, n, _ in names]
            assert f"conv_transpose2d_gather<{ctype}, {index}>" in [n for _, n, _ in names]
            assert f"splitk_reduce<{ctype}, {index}>" in [n for _, n, _ in names]
    for source, name, ctype in names:
        assert name.split("<")[0] in _gpu.SOURCES and ctype in name
        assert _gpu.SOURCES[name.split("<")[0]] == source


def test_sources_are_self_contained():
    for source in set(_gpu.SOURCES.values()):
        text = _gpu.load_source(source)
        assert "#include" not in text and "#pragma once" not in text
        assert "fc_source_index" in text and "FC_ARGS" in text


def test_import_fastconv_does_not_import_cupy():
    code = ("import sys, numpy as np, fastconv\n"
            "fastconv.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)))\n"
            "assert 'cupy' not in sys.modules, 'cupy imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_fastconv_works_without_cupy():
    code = ("import sys\nsys.modules['cupy'] = None  # import cupy -> ImportError\n"
            "import numpy as np, fastconv\n"
            "print(fastconv.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))).sum())\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "16.0"


def test_gpu_request_without_cupy_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(ImportError, match=r'pip install "fastconv\[gpu\]"'):
        _gpu.import_cupy()

    class CudaArray:   # a CUDA array from another library (DLPack device 2)
        def __dlpack__(self, **kw):
            raise AssertionError("not reached")

        def __dlpack_device__(self):
            return (2, 0)

    with pytest.raises(ImportError, match=r'pip install "fastconv\[gpu\]"'):
        fastconv.conv2d(CudaArray(), np.ones((1, 1, 2, 2)))


# ---------------------------------------------------------------------------
# Device rules, with a stand-in cupy module (no CuPy needed)
# ---------------------------------------------------------------------------

@pytest.fixture
def fake_cupy(monkeypatch):
    mod = types.ModuleType("cupy")

    class ndarray:
        def __init__(self, a, device=0):
            self.a = np.asarray(a)
            self.device = types.SimpleNamespace(id=device)
            self.shape, self.dtype = self.a.shape, self.a.dtype

    mod.ndarray = ndarray
    monkeypatch.setitem(sys.modules, "cupy", mod)
    return mod


def test_backend_of(fake_cupy):
    x, w = np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3))
    gx, gw = fake_cupy.ndarray(x), fake_cupy.ndarray(w)
    assert _dispatch.backend_of(x, w, None, None) == "numpy"
    assert _dispatch.backend_of(gx, gw, None, None) == "cupy"
    assert _dispatch.backend_of(gx, gw, fake_cupy.ndarray(np.ones(3)),
                                fake_cupy.ndarray(np.ones((1, 3, 3, 3)))) == "cupy"
    same_device = "Expected all tensors to be on the same device, but found at least two devices"
    with pytest.raises(ConvError, match=same_device + ", cpu and cuda:0!"):
        _dispatch.backend_of(gx, w, None, None)
    with pytest.raises(ConvError, match=same_device + ", cuda:0 and cpu!"):
        _dispatch.backend_of(x, gw, None, None)
    with pytest.raises(ConvError, match=same_device + ", cpu and cuda:0!"):
        _dispatch.backend_of(gx, gw, np.ones(3), None)
    with pytest.raises(ConvError, match=same_device + ", cuda:1 and cuda:0!"):
        _dispatch.backend_of(gx, fake_cupy.ndarray(w, device=1), None, None)
    # out= must live on the inputs' device.
    with pytest.raises(ConvError, match=same_device + ", cpu and cuda:0!"):
        _dispatch.backend_of(gx, gw, None, np.empty((1, 3, 3, 3)))
    with pytest.raises(ConvError, match=same_device + ", cuda:0 and cpu!"):
        _dispatch.backend_of(x, w, None, fake_cupy.ndarray(np.empty((1, 3, 3, 3))))
    with pytest.raises(ConvError, match=same_device + ", cuda:1 and cuda:0!"):
        _dispatch.backend_of(gx, gw, None, fake_cupy.ndarray(np.empty((1, 3, 3, 3)), 1))


def test_all_cupy_fast_path_agrees_with_backend_of(fake_cupy):
    """The GPU path's shortcut says yes only where backend_of says 'cupy'; a
    mix (NumPy, another device, in `out` too) goes the long way and fails there."""
    x, w = np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3))
    g = fake_cupy.ndarray
    b, o = np.ones(3), np.empty((1, 3, 3, 3))
    yes = [(g(x), g(w), None, None), (g(x), g(w), g(b), None), (g(x), g(w), None, g(o)),
           (g(x, 1), g(w, 1), g(b, 1), g(o, 1))]
    no = [(x, w, None, None), (g(x), w, None, None), (x, g(w), None, None),
          (g(x), g(w), b, None), (g(x), g(w, 1), None, None), (g(x), g(w), g(b, 1), None),
          (g(x), g(w), None, o), (g(x), g(w), None, g(o, 1))]
    for args in yes:
        assert _dispatch.all_cupy_on_one_device(*args)
        assert _dispatch.backend_of(*args) == "cupy"
    for args in no:
        assert not _dispatch.all_cupy_on_one_device(*args)
    with pytest.raises(ConvError, match="cuda:1 and cuda:0!"):
        fastconv.conv2d(g(x.astype(np.float32)), g(w.astype(np.float32), 1))


def test_mixed_devices_fail_through_the_public_functions(fake_cupy):
    x, w = np.ones((1, 2, 5, 5), np.float32), np.ones((3, 2, 3, 3), np.float32)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        fastconv.conv2d(fake_cupy.ndarray(x), w)
    with pytest.raises(ValueError, match="Expected all tensors to be on the same device"):
        fastconv.conv_transpose2d(x, fake_cupy.ndarray(np.ones((2, 3, 3, 3), np.float32)))
    # A cached plan for the NumPy call must not let a mix through later.
    fastconv.conv2d(x, w)
    with pytest.raises(ConvError, match="same device"):
        fastconv.conv2d(x, w, out=fake_cupy.ndarray(np.empty((1, 3, 3, 3), np.float32)))
