"""Algorithm choice: a pure function of the shapes, checked against a table."""

import json
import pathlib

import numpy as np
import pytest

import fastconv
from fastconv import _cpu
from fastconv import Algorithm
from fastconv._dispatch import THRESHOLDS

# The reference workload ships inside the package (python -m fastconv bench).
SHAPES = pathlib.Path(fastconv.__file__).resolve().parent / "bench_shapes.json"

# What 'auto' runs for every case of the reference workload (see Note [auto
# thresholds] in fastconv/_dispatch.py for why).
EXPECTED = {
    "resnet50-stem-7x7s2": Algorithm.IMPLICIT,
    "resnet50-res2-3x3": Algorithm.WINOGRAD,
    "resnet50-res2-1x1red": Algorithm.GEMM,
    "resnet50-res2-1x1exp": Algorithm.GEMM,
    "resnet50-res3-3x3": Algorithm.WINOGRAD,
    "resnet50-res3-3x3s2": Algorithm.IMPLICIT,     # on AVX-512 (else GEMM: IMPLICIT_S2_*)
    "resnet50-res4-3x3": Algorithm.WINOGRAD,
    "resnet50-res5-3x3": Algorithm.IMPLICIT,
    "resnet50-res3-3x3-b8": Algorithm.WINOGRAD,
    "vgg16-conv1_2": Algorithm.WINOGRAD,
    "mobilenetv2-dw3x3": Algorithm.DIRECT,
    "mobilenetv2-dw3x3s2": Algorithm.DIRECT,
    "convnext-dw7x7": Algorithm.DIRECT,
    "resnext-g32-3x3": Algorithm.DIRECT,
    "deeplab-dil2-3x3": Algorithm.WINOGRAD,
    "inception-1x7": Algorithm.GEMM,
    "image-1ch-5x5": Algorithm.DIRECT,
    "resnet50-res3-3x3-f64": Algorithm.WINOGRAD,
    "dcgan-up1-4x4s2": Algorithm.GEMM,
    "dcgan-up3-4x4s2": Algorithm.WINOGRAD,
    "dcgan-out-4x4s2": Algorithm.IMPLICIT,
    "unet-up-2x2s2": Algorithm.IMPLICIT,
    "fcn-up-3x3s2-op1": Algorithm.IMPLICIT,
}


@pytest.fixture(autouse=True)
def wide_fma():
    """The rules as on CPUs whose FMAs are full width; the NARROW_FMA_* rule
    (Note [narrow FMA]) is tested on its own, with the hook set both ways."""
    from fastconv import _api
    old = _cpu._set_narrow_fma(0)
    _api._PLANS.clear()         # plans hold 'auto''s choice (Note [plan cache])
    yield
    _cpu._set_narrow_fma(old)
    _api._PLANS.clear()


def _cases():
    return json.loads(SHAPES.read_text())["cases"]


def _shapes(case):
    g = case.get("groups", 1)
    kh, kw = case["kernel"]
    x = (case["N"], case["C"], case["H"], case["W"])
    if case["op"] == "conv2d":
        return x, (case["K"], case["C"] // g, kh, kw)
    return x, (case["C"], case["K"] // g, kh, kw)


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["id"])
def test_choice_table(case):
    x, w = _shapes(case)
    pad = case.get("padding", 0)
    got = fastconv.choose_algorithm(
        x, w, stride=case.get("stride", 1), padding=tuple(pad) if isinstance(pad, list) else pad,
        dilation=case.get("dilation", 1), groups=case.get("groups", 1),
        transposed=case["op"] == "conv_transpose2d",
        output_padding=case.get("output_padding", 0))
    want = EXPECTED[case["id"]]
    if case["id"] == "resnet50-res3-3x3s2" and _cpu.get_isa() != "avx512":
        want = Algorithm.GEMM
    assert got is want


def test_every_bench_case_has_an_expectation():
    assert {c["id"] for c in _cases()} == set(EXPECTED)


def test_winograd_where_the_backend_runs_panel_tasks():
    # Note [Winograd panels]: ungrouped, K >= tile lanes (each phase's grid,
    # with its junk column, in vectors of 16), V = 16 * C * lanes * 4 bytes
    # within the budget: then c x tiles from WINOGRAD_PANEL_MIN_CHANNEL_TILES
    # with at least WINOGRAD_PANEL_MIN_TILE_USE of the lanes tiles.
    assert (THRESHOLDS["WINOGRAD_PANEL_V_BYTES"], THRESHOLDS["WINOGRAD_PANEL_MIN_CHANNEL_TILES"],
            THRESHOLDS["WINOGRAD_PANEL_MIN_TILE_USE"]) == (1310720, 3000, 0.7)
    W, I = Algorithm.WINOGRAD, Algorithm.IMPLICIT

    def pick(C, K, H, N=1, **kw):
        return fastconv.choose_algorithm((N, C, H, H), (K, C // kw.get("groups", 1), 3, 3),
                                         padding=kw.pop("padding", 1), **kw)
    # 14x14: 49 tiles on a 7 x 8 grid, 55 positions -> 64 lanes
    assert pick(256, 256, 12) is W and pick(128, 512, 14) is W and pick(64, 64, 14) is W
    assert pick(62, 64, 14) is W and pick(61, 64, 14) is I        # 3038 / 2989
    assert pick(64, 63, 14) is Algorithm.GEMM                      # K < 64 lanes (and
    # few output channels: GEMM_FEW_K_G)
    assert pick(64, 64, 14, N=2) is I                              # 128 lanes
    assert pick(320, 320, 14) is W and pick(336, 336, 14) is I     # V 1310720 / 1376256
    assert pick(128, 128, 10) is W and pick(128, 128, 8) is I      # 25 / 16 tiles in 32 lanes
    assert pick(512, 512, 10) is W and pick(768, 768, 10) is I     # past WINOGRAD_MAX_C_G
    assert pick(128, 128, 14, groups=2) is I                       # grouped: bands only
    assert pick(128, 128, 14, padding=2, dilation=2) is not W      # 4 phases: 128 lanes
    assert pick(31, 64, 14) is I                                   # too few channels


def test_few_output_channels_on_small_maps_run_the_gemm():
    # ungrouped 3x3, stride 1, undilated, K < GEMM_FEW_K_G, at
    # most GEMM_FEW_K_G_MAX_PIXELS outputs an image, where IMPLICIT would run
    assert (THRESHOLDS["GEMM_FEW_K_G"], THRESHOLDS["GEMM_FEW_K_G_MAX_PIXELS"]) == (64, 784)
    G, I = Algorithm.GEMM, Algorithm.IMPLICIT

    def pick(C, K, H, k=3, N=1, **kw):
        return fastconv.choose_algorithm((N, C, H, H), (K, C // kw.get("groups", 1), k, k),
                                         padding=kw.pop("padding", k // 2), **kw)
    assert pick(1024, 40, 14) is G and pick(512, 24, 28) is G and pick(2048, 63, 7) is G
    assert pick(512, 32, 14, N=8) is G
    assert pick(1024, 64, 14) is I                  # K = GEMM_FEW_K_G
    assert pick(128, 24, 29) is I                   # 841 outputs
    assert pick(512, 32, 14, k=5) is I              # 5x5
    assert pick(512, 32, 14, groups=2) is I         # grouped
    assert pick(256, 16, 28, padding=2, dilation=2) is I   # dilated: not this rule
    # From GEMM_FEW_K_G_MIN_C_G inputs (IMPLICIT won under it); where FMAs are
    # narrow, from NARROW_FMA_GEMM_FEW_K_G_MIN_C_G or on tiny maps.
    assert (THRESHOLDS["GEMM_FEW_K_G_MIN_C_G"], THRESHOLDS["NARROW_FMA_GEMM_FEW_K_G_MIN_C_G"],
            THRESHOLDS["NARROW_FMA_GEMM_FEW_K_G_SMALL_PIXELS"]) == (64, 128, 49)
    assert pick(64, 32, 14) is G and pick(64, 32, 28) is G
    assert pick(63, 32, 14) is I and pick(63, 32, 28) is I
    assert pick(32, 12, 28, N=4, padding=0) is I
    _cpu._set_narrow_fma(1)
    assert pick(1024, 40, 14) is G and pick(512, 24, 28) is G and pick(2048, 63, 7) is G
    assert pick(128, 32, 14) is G and pick(127, 32, 14) is I
    assert pick(64, 32, 7) is G and pick(127, 32, 7) is G   # 49 outputs
    assert pick(64, 32, 8) is I                             # 64 outputs
    assert pick(63, 32, 7) is I                             # under GEMM_FEW_K_G_MIN_C_G


def test_large_dilation_and_padding_only_taps_run_the_gemm():
    # Winograd at a dilation past WINOGRAD_MAX_DILATION (d x d phase grids) lost
    # to the GEMM everywhere measured, unless its dense lanes run across the
    # phases with few junk outputs and enough channels (up to
    # WINOGRAD_DENSE_MAX_DILATION); where Note [padding-only taps] saves
    # TAP_REGIONS_MIN_GAIN of the multiply-adds, the GEMM that skips them
    assert THRESHOLDS["WINOGRAD_MAX_DILATION"] == 4 and THRESHOLDS["TAP_REGIONS_MIN_GAIN"] == 0.3
    assert THRESHOLDS["WINOGRAD_DENSE_MAX_DILATION"] == 12
    assert THRESHOLDS["WINOGRAD_DILATED_MAX_TILE_WASTE"] == 1.25
    assert THRESHOLDS["WINOGRAD_DILATED_MIN_CHANNELS"] == 128
    W, G = Algorithm.WINOGRAD, Algorithm.GEMM

    def pick(N, C, H, d, p=None, K=None):
        return fastconv.choose_algorithm((N, C, H, H), (K or C, C, 3, 3),
                                         padding=d if p is None else p, dilation=d)
    assert pick(1, 512, 33, 4) is W
    # DeepLab's ASPP: tiles 1.19 times the outputs at 33x33, dilation 6, 1.23 at
    # 65x65, dilation 12; 1.62 at 33x33, dilation 12; 1.31 for 4 at 14x14
    assert pick(1, 512, 33, 6, K=256) is W and pick(1, 256, 65, 12) is W
    assert pick(1, 512, 33, 12, K=256) is not W and pick(4, 256, 14, 6) is not W
    assert pick(1, 127, 33, 6) is not W and pick(1, 128, 33, 6) is W    # channels
    assert pick(1, 256, 65, 13) is not W                # past the dilation bound
    assert pick(1, 512, 33, 5, p=0) is not W            # no padding, still 25 phases
    assert pick(8, 256, 7, 6) is G                      # 7x7 at dilation 6: mostly padding
    assert pick(4, 256, 14, 12) is G                    # was Winograd: 30 ms against 1.3
    assert pick(8, 256, 7, 2) is W                      # few phases, little padding
    # the gain model itself (_cpu.tap_region_gain): no padding, nothing saved
    assert _cpu.tap_region_gain(8, 256, 256, 7, 7, 3, 3, 1, 1, 2, 2, 0, 0, 3, 3, 4) == 0
    assert _cpu.tap_region_gain(8, 256, 256, 7, 7, 3, 3, 1, 1, 6, 6, 6, 6, 7, 7, 4) >= 0.3


def test_winograd_leaves_undilated_maps_whose_tiles_compute_junk():
    # 2x2 tiles on odd sides compute a junk row and column: 7x7 1.31 times the
    # outputs, 5x5 1.44, past WINOGRAD_MAX_TILE_WASTE; 9x9 (1.23) and even sides not.
    waste = THRESHOLDS["WINOGRAD_MAX_TILE_WASTE"]
    assert 81 * waste >= 100 and 49 * waste < 64
    W = Algorithm.WINOGRAD

    def pick(N, C, H, Wd=None, d=1):
        return fastconv.choose_algorithm((N, C, H, Wd or H), (C, C, 3, 3), padding=d,
                                         dilation=d)
    for N, C, H in [(8, 512, 7), (16, 512, 7), (32, 256, 7), (16, 512, 5)]:
        assert pick(N, C, H) is not W, (N, C, H)
        assert pick(N, C, H + 1) is W, (N, C, H + 1)
    assert pick(8, 256, 3) is not W
    assert pick(8, 256, 9) is W and pick(8, 256, 13) is W
    assert pick(8, 512, 7, 14) is W                     # 8 x 14 tiles over 7 x 14
    assert pick(8, 256, 14, d=2) is W                   # dilated phases: not this rule


def test_transposed_4x4_stride_2_runs_winograd_where_its_tiles_and_lanes_are_used():
    # Note [transposed Winograd]: ungrouped, undilated 4x4 stride-2 layers with
    # 64-256 input and 64+ output channels, where the multiplies saved over the
    # used lanes (_transposed_winograd_gain) reach TRANSPOSED_WINOGRAD_MIN_GAIN
    # (TRANSPOSED_WINOGRAD_WIDE_MIN_GAIN from 256 input channels).
    from fastconv._dispatch import _transposed_winograd_gain
    from fastconv._params import conv_transpose2d_params
    assert (THRESHOLDS["TRANSPOSED_WINOGRAD_MIN_C"], THRESHOLDS["TRANSPOSED_WINOGRAD_MAX_C"],
            THRESHOLDS["TRANSPOSED_WINOGRAD_MIN_K"], THRESHOLDS["TRANSPOSED_WINOGRAD_MIN_GAIN"],
            THRESHOLDS["TRANSPOSED_WINOGRAD_WIDE_C"],
            THRESHOLDS["TRANSPOSED_WINOGRAD_WIDE_MIN_GAIN"]) == (64, 256, 64, 1.1, 256, 1.5)
    W = Algorithm.WINOGRAD

    def pick(N, C, K, H, k=4, s=2, p=1, **kw):
        return fastconv.choose_algorithm((N, C, H, H), (C, K, k, k), stride=s, padding=p,
                                         transposed=True, **kw)

    def gain(N, C, K, H, p=1):
        return _transposed_winograd_gain(conv_transpose2d_params(
            (N, C, H, H), (C, K, 4, 4), None, 2, p, 0, 1, 1))
    # dcgan-up3: 32x32 outputs in 6x6 tiles (36 of 36x36), no junk column or
    # row, so 16 x 36 tiles fill 12 chunks of 48 lanes
    assert gain(16, 128, 64, 16) == pytest.approx(2.25 * 1024 / 1296)
    # 16x16 outputs: 3x3 tiles with a junk column and row (16 lanes an image)
    assert gain(3, 128, 64, 8) == pytest.approx(2.25 * 256 / 324 * 27 / 48)
    assert pick(16, 128, 64, 16) is W and pick(16, 64, 64, 16) is W
    assert pick(16, 63, 64, 16) is not W and pick(16, 128, 63, 16) is not W   # channels
    assert pick(16, 257, 128, 32) is not W                                     # C > 256
    assert pick(1, 256, 128, 32) is W and pick(1, 256, 256, 16) is not W       # wide: 1.78, 1.33
    assert pick(16, 256, 128, 8) is not W and pick(16, 512, 256, 4) is not W   # dcgan-up2, up1
    assert pick(16, 128, 64, 16, p=2) is W                                     # even padding
    assert pick(16, 128, 64, 16, groups=2) is not W
    assert pick(16, 128, 64, 16, dilation=2) is not W
    assert pick(16, 128, 64, 16, k=3) is not W and pick(16, 128, 64, 16, s=1) is not W
    # An empty batch: no tiles, no gain (this divided by zero lanes).
    assert gain(0, 128, 64, 16) == 0 and pick(0, 128, 64, 16) is not W
    y = fastconv.conv_transpose2d(np.zeros((0, 128, 16, 16), np.float32),
                                  np.zeros((128, 64, 4, 4), np.float32), stride=2, padding=1)
    assert y.shape == (0, 64, 32, 32)
    # Narrow FMAs (Note [narrow FMA]): up to 512 input channels, at the wide gain.
    assert THRESHOLDS["NARROW_FMA_TRANSPOSED_WINOGRAD_MAX_C"] == 512
    assert pick(1, 512, 128, 32) is not W and pick(8, 512, 256, 16) is not W
    _cpu._set_narrow_fma(1)
    assert pick(1, 512, 128, 32) is W and pick(8, 512, 256, 16) is W          # 1.78
    assert pick(2, 512, 256, 24) is W and pick(1, 257, 128, 32) is W          # 1.50, 1.78
    assert pick(1, 512, 256, 16) is not W and pick(16, 512, 256, 4) is not W  # 1.33, 0.67
    assert pick(1, 513, 128, 32) is not W                                     # C > 512
    assert pick(16, 128, 64, 16) is W and pick(16, 256, 128, 8) is not W      # as before


@pytest.mark.parametrize("N", [1, 3])
def test_transposed_winograd_lane_count_is_the_backends(N):
    """_transposed_winograd_grid counts the lanes conv_transpose2d_winograd
    lays out (hook _cpu._wt_lanes_used), for every padding parity and sizes
    with and without junk columns and rows."""
    from fastconv import _cpu
    from fastconv._dispatch import _transposed_winograd_grid
    from fastconv._params import conv_transpose2d_params
    for H in range(1, 14):
        for W in (1, 5, 8, 16):
            for p in range(4):
                OH, OW = 2 * H + 2 - 2 * p, 2 * W + 2 - 2 * p
                if OH <= 0 or OW <= 0:
                    continue
                x = np.ones((N, 2, H, W), np.float32)
                w = np.ones((2, 2, 4, 4), np.float32)
                assert _cpu.conv_transpose2d_winograd(x, w, None, np.empty((N, 2, OH, OW),
                                                                           np.float32), p, p, 1)
                lanes = _transposed_winograd_grid(conv_transpose2d_params(
                    x.shape, w.shape, None, 2, p, 0, 1, 1))[2]
                assert lanes == _cpu._wt_lanes_used(), (H, W, p)


def test_strided_small_outputs_run_implicit_with_channel_lanes():
    # Strided (up to 2) or dilated layers with at most IMPLICIT_STRIDED_MAX_PIXELS
    # outputs an image run IMPLICIT where the backend puts output channels in
    # the lanes (Note [channel lanes]): K_g >= 32, 4+ taps, C_g * taps >= 256,
    # CHANNEL_LANES_MIN_PIXELS outputs over the batch, CHANNEL_LANES_MIN_MACS
    # a group, and outputs at least CHANNEL_LANES_MIN_TILE_USE of the pixels its
    # tiles compute; else GEMM as before.
    from fastconv import _cpu
    from fastconv._dispatch import _cl_computed
    assert (THRESHOLDS["IMPLICIT_STRIDED_MAX_PIXELS"], THRESHOLDS["CHANNEL_LANES_MIN_PIXELS"],
            THRESHOLDS["CHANNEL_LANES_MIN_MACS"],
            THRESHOLDS["CHANNEL_LANES_MIN_TILE_USE"]) == (64, 48, 1 << 24, 0.9)
    I, G = Algorithm.IMPLICIT, Algorithm.GEMM
    s2 = dict(stride=2, padding=1)

    def pick(N, C, K, H, kh=3, **kw):
        return fastconv.choose_algorithm((N, C, H, H), (K, C, kh, kh), **kw)
    assert pick(1, 512, 512, 14, **s2) is I and pick(2, 512, 512, 14, **s2) is I
    assert pick(1, 256, 512, 14, **s2) is I and pick(1, 256, 256, 14, **s2) is I
    # (output channels off a multiple of IMPLICIT_S2_K_G_MULTIPLE: that rule
    # would take these 3x3 s2 layers to IMPLICIT whatever the lanes)
    assert pick(1, 128, 112, 14, **s2) is G                         # 6.3M MACs
    assert pick(1, 256, 240, 16, **s2) is G                         # 8x8: 64 of 84 pixels
    assert pick(1, 256, 240, 28, **s2) is G                         # 14x14 outputs
    assert pick(1, 512, 31, 14, **s2) is G                          # K_g < 32
    assert pick(4, 28, 512, 14, **s2) is G and pick(4, 29, 512, 14, **s2) is I   # 252 / 261
    assert pick(2, 512, 496, 12, **s2) is G                         # 6x6: 36 of 42 pixels
    w = (496, 512, 3, 3)                                            # 6x7: 42 outputs < 48
    assert fastconv.choose_algorithm((1, 512, 12, 14), w, **s2) is G
    assert fastconv.choose_algorithm((2, 512, 12, 14), w, **s2) is I   # 84 over the batch
    assert pick(1, 512, 512, 14, kh=1, stride=2) is G               # 1x1
    assert pick(1, 512, 512, 28, stride=4, padding=1) is G          # stride 4
    assert pick(1, 512, 512, 7, padding=2, dilation=2) is I         # dilated 7x7
    # 1x1 from CHANNEL_LANES_1X1_MIN_WEIGHTS weights, where the GEMM's pixel
    # lanes (the batch's outputs side by side, in vectors of 16) hold under
    # CHANNEL_LANES_1X1_MAX_LANE_USE outputs
    assert (THRESHOLDS["CHANNEL_LANES_1X1_MIN_WEIGHTS"],
            THRESHOLDS["CHANNEL_LANES_1X1_MAX_LANE_USE"]) == (1 << 20, 0.9)
    assert pick(1, 2048, 512, 7, kh=1) is I and pick(2, 512, 2048, 7, kh=1) is I
    assert pick(1, 1024, 2048, 14, kh=1, stride=2) is I             # 7x7 outputs
    assert pick(1, 2048, 511, 7, kh=1) is G                         # under the weights
    assert pick(1, 2048, 512, 8, kh=1) is G                         # 64 of 64 lanes
    assert pick(4, 2048, 512, 7, kh=1) is G                         # 196 of 208
    if _cpu.get_isa() != "avx512":
        return
    # The mirror counts the backend's pixels; and the backend ran channel
    # lanes (float32 on AVX-512) where 'auto' says so.
    for OH in range(1, 40):
        for OW in range(1, 40):
            for PW in (OW, OW + 1, OW + 2, OW + 6):
                assert _cl_computed(OH, OW, PW) == _cpu._cl_computed(OH, OW, PW), (OH, OW, PW)
    for xs, ws, kw in [((1, 512, 14, 14), (512, 512, 3, 3), s2),
                       ((4, 29, 14, 14), (512, 29, 3, 3), s2),
                       ((1, 256, 7, 7), (256, 256, 3, 3), dict(padding=2, dilation=2)),
                       ((1, 2048, 7, 7), (512, 2048, 1, 1), {}),
                       ((1, 1024, 14, 14), (2048, 1024, 1, 1), dict(stride=2))]:
        x = np.ones(xs, np.float32)
        w = np.ones(ws, np.float32)
        assert fastconv.choose_algorithm(xs, ws, **kw) is I
        fastconv.conv2d(x, w, **kw)
        assert _cpu._channel_lanes_used() == 1, (xs, ws, kw)


def test_3x3_stride_2_with_many_channels_runs_implicit():
    """_dispatch's IMPLICIT_S2_* rule: ungrouped undilated 3x3 at stride 2 from
    96 input channels, output channels a multiple of 32, up to 4 images, on
    AVX-512 (below it GEMM)."""
    assert (THRESHOLDS["IMPLICIT_S2_MIN_C_G"], THRESHOLDS["IMPLICIT_S2_K_G_MULTIPLE"],
            THRESHOLDS["IMPLICIT_S2_MAX_N"]) == (96, 32, 4)
    I, G = Algorithm.IMPLICIT, Algorithm.GEMM
    before = _cpu.get_isa()
    try:
        _cpu.set_isa("generic")
        assert fastconv.choose_algorithm((1, 128, 56, 56), (128, 128, 3, 3), stride=2,
                                         padding=1) is G
    finally:
        _cpu.set_isa(before)
    if before != "avx512":
        return

    def pick(N, C, K, H, groups=1, **kw):
        kw = dict(dict(stride=2, padding=1), **kw)
        return fastconv.choose_algorithm((N, C, H, H), (K, C // groups, 3, 3), groups=groups,
                                         **kw)
    assert pick(1, 128, 128, 56) is I and pick(1, 96, 128, 28) is I
    assert pick(4, 256, 256, 28) is I and pick(1, 288, 384, 35, padding=0) is I
    assert pick(1, 95, 128, 56) is G                                # too few inputs
    assert pick(1, 128, 120, 56) is G and pick(1, 128, 144, 56) is G   # K_g % 32
    assert pick(5, 128, 128, 56) is G                               # five images
    assert pick(1, 256, 256, 56, groups=2) is G                     # grouped
    assert pick(1, 128, 128, 56, stride=(2, 1)) is G                # stride 2 on one axis
    assert pick(1, 128, 128, 56, dilation=2) is G                   # dilated


def _pick_grouped_3x3_s2(N, C, K, H, groups, **kw):
    """'auto''s choice for a grouped 3x3 layer, by default at stride 2 padded by 1."""
    kw = dict(dict(stride=2, padding=1), **kw)
    return fastconv.choose_algorithm((N, C, H, H), (K, C // groups, 3, 3), groups=groups, **kw)


def _on_avx2_then_avx512(shape, want):
    """Assert _pick_grouped_3x3_s2(*shape) is want with the AVX2 kernels switched
    in; returns whether the CPU's own level is AVX-512 (the rules' own case)."""
    before = _cpu.get_isa()
    try:
        _cpu.set_isa("avx2")
        assert _pick_grouped_3x3_s2(*shape) is want
    finally:
        _cpu.set_isa(before)
    return before == "avx512"


def test_narrow_grouped_3x3_stride_2_on_one_image_runs_implicit():
    """_dispatch's IMPLICIT_S2_NARROW_GROUPED_* rule: 8 to 12 channels a group
    (in and out) at stride 2 on one image, an even number of at least 8
    groups, at least 28x28 outputs, a group's float32 copy within
    the group copies' budget, on AVX-512: IMPLICIT (Note [group copies]); else DIRECT."""
    assert (THRESHOLDS["IMPLICIT_S2_NARROW_GROUPED_MIN_C_G"],
            THRESHOLDS["IMPLICIT_S2_NARROW_GROUPED_MIN_PIXELS"],
            THRESHOLDS["IMPLICIT_S2_NARROW_GROUPED_MIN_G"]) == (8, 784, 8)
    assert _cpu.group_copies_fit(12, 2, 2, 58, 58)          # 12 channels at 56x56 padded by 1
    assert not _cpu.group_copies_fit(8, 2, 2, 114, 114)     # 8 at 112x112

    pick = _pick_grouped_3x3_s2
    if not _on_avx2_then_avx512((1, 256, 256, 56, 32), Algorithm.DIRECT):
        return
    I, D = Algorithm.IMPLICIT, Algorithm.DIRECT
    assert pick(1, 256, 256, 56, 32) is I and pick(1, 64, 64, 56, 8) is I    # ResNeXt, RegNet
    assert pick(1, 192, 192, 56, 16) is I and pick(1, 160, 160, 56, 16) is I  # 12, 10 a group
    assert pick(1, 56, 56, 56, 8) is D and pick(1, 128, 128, 56, 32) is D     # 7, 4 a group
    assert pick(1, 64, 128, 56, 8) is not D                                   # 16 out: wider rule
    assert pick(2, 256, 256, 56, 32) is D                                     # two images
    assert pick(1, 72, 72, 56, 9) is D and pick(1, 48, 48, 56, 6) is D        # odd, few groups
    assert pick(1, 512, 512, 28, 64) is D                                     # 14x14 outputs
    assert pick(1, 96, 96, 112, 12) is D                                      # copy past the budget
    assert pick(1, 256, 256, 56, 32, dilation=2) is not I                     # dilated
    assert pick(1, 256, 256, 56, 32, stride=1) is D                           # stride 1
    assert pick(1, 256, 256, 58, 32, padding=0) is I and pick(1, 256, 256, 57, 32) is I
    assert pick(1, 256, 256, 56, 32, padding=0) is D                          # 27x27 outputs


def test_grouped_3x3_stride_2_with_13_to_48_channels_a_group_runs_implicit():
    """_dispatch's IMPLICIT_S2_GROUPED_MAX_C_G rule: grouped undilated 3x3 at
    stride 2 with 13 to 48 input channels a group, on AVX-512; narrower
    groups stay DIRECT, wider ones and other levels GEMM."""
    assert (THRESHOLDS["IMPLICIT_S2_GROUPED_MAX_C_G"],
            THRESHOLDS["DIRECT_GROUPED_MAX_CHANNELS_S2"]) == (48, 12)

    pick = _pick_grouped_3x3_s2
    if not _on_avx2_then_avx512((1, 240, 240, 56, 15), Algorithm.GEMM):
        return
    I = Algorithm.IMPLICIT
    assert pick(1, 240, 240, 56, 15) is I and pick(1, 512, 512, 28, 32) is I    # RegNet, ResNeXt
    assert pick(1, 60, 60, 56, 4) is I and pick(2, 512, 512, 28, 16) is I      # 15, 32 a group
    assert pick(1, 96, 200, 28, 8) is I                             # 12 in, 25 out a group
    assert pick(1, 192, 192, 28, 16) is Algorithm.DIRECT            # 12 a group, 14x14
    assert pick(1, 432, 432, 28, 9) is I                            # 48 a group (RegNet)
    assert pick(1, 784, 784, 28, 16) is Algorithm.GEMM              # 49 a group
    assert pick(1, 512, 512, 28, 32, dilation=2) is not I           # dilated
    assert pick(1, 512, 512, 28, 32, stride=1) is not I             # stride 1
    assert pick(1, 512, 512, 28, 32, stride=(2, 1)) is not I


def test_wide_3x3_on_small_maps_runs_winograd_where_fmas_are_narrow():
    """_dispatch's NARROW_FMA_* rule: with narrow FMAs (AMD Zen 4), undilated
    3x3 at stride 1 with 256 or more input and output channels (up to 1024 a
    group; grouped: 32 a group or more, within the grouped weight cap) runs
    Winograd on small maps the other rules leave to IMPLICIT: tiles computing
    at most 1.25 times the outputs, or 1.35 from 2 images."""
    assert (THRESHOLDS["NARROW_FMA_WINOGRAD_MIN_CHANNELS"],
            THRESHOLDS["NARROW_FMA_WINOGRAD_BATCH_MAX_TILE_WASTE"],
            THRESHOLDS["WINOGRAD_MAX_C_G_BACKEND"], THRESHOLDS["WINOGRAD_MAX_TILE_WASTE"],
            THRESHOLDS["NARROW_FMA_WINOGRAD_GROUPED_MIN_C_G"],
            THRESHOLDS["WINOGRAD_MAX_K_C_GROUPED"]) == (256, 1.35, 1024, 1.25, 32, 1 << 16)
    W, I = Algorithm.WINOGRAD, Algorithm.IMPLICIT

    def pick(N, C, H, K, **kw):
        kw = dict(dict(padding=1), **kw)
        return fastconv.choose_algorithm((N, C, H, H), (K, C // kw.get("groups", 1), 3, 3),
                                         **kw)
    wins = [(1, 512, 8, 512), (1, 512, 14, 512), (1, 512, 17, 512), (1, 384, 14, 384),
            (1, 1024, 14, 256), (1, 1024, 10, 1024), (2, 512, 7, 512), (8, 256, 7, 256)]
    for shape in wins:
        assert pick(*shape) is I, shape            # the wide-FMA rules (fixture)
    _cpu._set_narrow_fma(1)
    for shape in wins:
        assert pick(*shape) is W, shape
    assert pick(1, 256, 8, 256) is W
    assert pick(1, 432, 14, 432, groups=9) is W and pick(1, 512, 28, 512, groups=16) is W
    assert pick(2, 1008, 7, 1008, groups=21) is W and pick(1, 1024, 14, 1024, groups=16) is W
    assert pick(1, 224, 14, 224, groups=7) is not W                 # 32 a group, 224 in all
    # An empty batch (no outputs to count tiles against) takes the other rules' choice.
    assert pick(0, 512, 14, 512) is not W and pick(0, 512, 14, 512, groups=16) is not W
    y = fastconv.conv2d(np.zeros((0, 256, 8, 8), np.float32),
                        np.zeros((256, 256, 3, 3), np.float32), padding=1)
    assert y.shape == (0, 256, 8, 8)
    # Left to the other rules: the same choice either way.
    left = [((1, 512, 7, 512), {}),                 # one image at 7x7: waste 64/49
            ((1, 255, 8, 512), {}), ((1, 512, 8, 255), {}), ((2, 255, 7, 512), {}),
            ((1, 1025, 14, 512), {}),               # past the backend's cap
            ((2, 512, 5, 512), {}),                 # 36 tile outputs for 25: past 1.35
            ((1, 512, 14, 48), {}),                 # few outputs: the GEMM rule
            ((1, 384, 14, 384), dict(groups=16)),  # 24 a group
            ((1, 2048, 7, 2048), dict(groups=64)),  # grouped, one image at 7x7
            ((1, 512, 14, 512), dict(groups=2)),    # past the grouped weight cap
            ((1, 512, 14, 512), dict(stride=2)),
            ((1, 512, 14, 512), dict(dilation=2, padding=2))]
    narrow = [pick(*shape, **kw) for shape, kw in left]
    _cpu._set_narrow_fma(0)
    assert narrow == [pick(*shape, **kw) for shape, kw in left]
    assert narrow[:7] == [I] * 5 + [narrow[5], Algorithm.GEMM] and narrow[5] is not W


def test_narrow_fma_sends_few_channel_3x3_layers_to_winograd():
    """NARROW_FMA_WINOGRAD_FEW_*: with narrow FMAs, ungrouped undilated 3x3 layers
    with 24 to 31 input channels (under WINOGRAD_MIN_CHANNELS) and at least as
    many outputs go to WINOGRAD from 196 tiles and 8M multiply-adds; elsewhere
    the other rules."""
    assert (THRESHOLDS["NARROW_FMA_WINOGRAD_FEW_MIN_CHANNELS"],
            THRESHOLDS["NARROW_FMA_WINOGRAD_FEW_MIN_TILES"],
            THRESHOLDS["NARROW_FMA_WINOGRAD_FEW_MIN_MACS"],
            THRESHOLDS["WINOGRAD_MIN_CHANNELS"]) == (24, 196, 1 << 23, 32)
    W = Algorithm.WINOGRAD

    def pick(N, C, H, K, **kw):
        kw = dict(dict(padding=kw.get("dilation", 1)), **kw)
        return fastconv.choose_algorithm((N, C, H, H), (K, C // kw.get("groups", 1), 3, 3),
                                         **kw)
    wins = [(1, 24, 56, 320), (1, 24, 56, 24), (1, 24, 28, 128), (4, 24, 14, 128),
            (8, 24, 16, 64), (1, 24, 64, 48), (1, 31, 32, 31)]
    left = [((1, 23, 56, 64), {}), ((1, 16, 28, 256), {}),     # under 24 inputs
            ((1, 64, 56, 24), {}), ((1, 31, 56, 30), {}),      # fewer outputs
            ((1, 24, 14, 256), {}),                            # 49 tiles
            ((3, 24, 14, 256), {}),                            # 147 tiles
            ((1, 24, 28, 24), {}),                             # 4M multiply-adds
            ((1, 32, 28, 64), {}),                             # the other rules' own
            ((1, 48, 56, 96), dict(groups=2)),                 # grouped
            ((1, 24, 56, 64), dict(dilation=2)),               # dilated
            ((1, 24, 56, 64), dict(stride=2)),
            ((1, 24, 5, 64), {})]                              # 9 tiles for 25 outputs
    wide = [pick(*shape) for shape in wins] + [pick(*shape, **kw) for shape, kw in left]
    assert W not in wide
    _cpu._set_narrow_fma(1)
    for shape in wins:
        assert pick(*shape) is W, shape
        assert pick(*shape, padding_mode="reflect") is W, shape
    assert [pick(*shape, **kw) for shape, kw in left] == wide[len(wins):]
    assert pick(4, 24, 14, 256) is W        # 196 tiles


def test_narrow_fma_is_the_cpus_own_answer_unless_forced():
    _cpu._set_narrow_fma(-1)
    narrow = _cpu.narrow_fma()
    assert narrow in (True, False) and _cpu.narrow_fma() == narrow
    assert not narrow or _cpu.isa_supported("avx512")
    info = pathlib.Path("/proc/cpuinfo")
    if info.exists():       # Linux says it too: AMD family 25 (19h) with AVX-512
        fields = dict(line.split(":", 1) for line in info.read_text().splitlines()
                      if ":" in line and line.split(":", 1)[0].strip()
                      in ("vendor_id", "cpu family", "flags"))
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        if "vendor_id" in fields and "cpu family" in fields:
            assert narrow == (fields["vendor_id"] == "AuthenticAMD"
                              and fields["cpu family"] == "25"
                              and "avx512f" in fields.get("flags", "").split()
                              and _cpu.isa_supported("avx512"))
    assert _cpu._set_narrow_fma(1) == -1 and _cpu.narrow_fma() is True
    assert _cpu._set_narrow_fma(0) == 1 and _cpu.narrow_fma() is False


def test_wide_1x1_and_dilated_layers_with_few_outputs_per_group_leave_direct():
    D, I, G = Algorithm.DIRECT, Algorithm.IMPLICIT, Algorithm.GEMM
    choose = fastconv.choose_algorithm
    c = THRESHOLDS["DIRECT_1X1_MAX_C_G"]
    assert choose((2, 16 * c, 7, 7), (64, c, 1, 1), groups=16) is G          # K_g 4
    assert choose((2, 16 * c, 7, 7), (16, c, 1, 1), groups=16) is G          # K_g 1
    assert choose((2, 16 * (c - 1), 7, 7), (64, c - 1, 1, 1), groups=16) is D
    # Dilated: DIRECT only below DIRECT_DILATED_MAX_C_K_G channels in times out,
    # and at a stride only below DIRECT_DILATED_MAX_C_G_S2 input channels.
    ck, c2 = THRESHOLDS["DIRECT_DILATED_MAX_C_K_G"], THRESHOLDS["DIRECT_DILATED_MAX_C_G_S2"]

    def pick(C_g, K_g, stride=1, d=2, H=28):
        return choose((2, 8 * C_g, H, H), (8 * K_g, C_g, 3, 3), stride=stride, padding=d,
                      dilation=d, groups=8)
    assert pick(1, 1) is D and pick(1, 1, stride=2) is D         # depthwise
    assert pick(ck - 1, 1) is D and pick(ck, 1) is I
    assert pick(ck // 2, 2) is I and pick(ck // 2 - 1, 2) is D
    assert pick(c2, 1, stride=2) is I and pick(c2 - 1, 1, stride=2) is D
    assert pick(ck, 1, d=1) is D                                  # undilated
    assert pick(ck, 1, H=1) is D                                  # one output: no dilation


def test_large_kernels_with_several_outputs_per_group_leave_direct():
    """Past 3x3, DIRECT keeps few output channels per group: up to
    DIRECT_LARGE_KERNEL_MAX_K_G, fewer where the groups are wide or strided."""
    D, I = Algorithm.DIRECT, Algorithm.IMPLICIT
    choose = fastconv.choose_algorithm
    wide = THRESHOLDS["DIRECT_LARGE_KERNEL_WIDE_C_G"]
    for suffix, stride in [("", 1), ("_S2", 2)]:
        for c in (wide - 1, wide, 4 * wide):
            limit = THRESHOLDS["DIRECT_LARGE_KERNEL_MAX_K_G" + suffix
                               + ("_WIDE" if c >= wide else "")]
            assert limit < THRESHOLDS["DIRECT_MAX_K_G"]
            for k in (5, 7):
                for kg, want in [(1, D), (limit, D), (limit + 1, I)]:
                    if kg >= THRESHOLDS["DIRECT_MAX_K_G"]:
                        continue            # the rules past DIRECT decide
                    got = choose((2, 2 * c, 28, 28), (2 * kg, c, k, k), stride=stride,
                                 padding=k // 2, groups=2)
                    assert got is want, (suffix, c, k, kg)
    # 3x3 and 1-row kernels (9 taps or fewer) keep DIRECT below DIRECT_MAX_K_G.
    k_g = THRESHOLDS["DIRECT_MAX_K_G"] - 1
    assert choose((2, 128, 14, 14), (k_g, 128, 3, 3), stride=2, padding=1) is D
    assert choose((2, 128, 14, 14), (k_g, 128, 1, 7), padding=(0, 3)) is D
    # Depthwise 7x7 (ConvNeXt) and a stride-1 multiplier of 4 on one channel stay DIRECT.
    assert choose((2, 96, 56, 56), (96, 1, 7, 7), padding=3, groups=96) is D
    assert choose((1, 1, 64, 64), (4, 1, 5, 5), padding=2) is D
    assert choose((1, 1, 64, 64), (4, 1, 7, 7), stride=2, padding=3) is I


def test_even_kernels_leave_direct():
    """Kernels even on both sides with 2+ input and output channels a group go
    to IMPLICIT (DIRECT's tiles are odd squares), 2x2 at stride 1 from
    IMPLICIT_EVEN_2X2_MIN_C_G inputs a group; one output channel, depthwise,
    strided 2x2, 2x2 on few inputs and kernels odd on a side keep the rules
    before, as do depthwise kx1 kernels at stride 2."""
    D, I = Algorithm.DIRECT, Algorithm.IMPLICIT
    choose = fastconv.choose_algorithm
    c2 = THRESHOLDS["IMPLICIT_EVEN_2X2_MIN_C_G"]
    assert c2 == 8
    for k, c in [(4, 3), (4, 64), (4, 512), (6, 16), (8, 16), (2, c2), (2, 256)]:
        for kg in (2, 3):
            assert choose((1, c, 64, 64), (kg, c, k, k), padding=k // 2) is I, (k, c, kg)
    assert choose((4, 8, 32, 32), (6, 8, 4, 4), padding=2) is I
    assert choose((1, 32, 64, 64), (4, 16, 4, 4), padding=2, groups=2) is I  # grouped
    assert choose((8, 96, 31, 31), (48, 12, 2, 2), groups=8) is I
    assert choose((8, 96, 31, 31), (48, 12, 2, 2), stride=2, groups=8) is D  # strided 2x2
    assert choose((4, 96, 28, 28), (96, 1, 7, 1), stride=2, padding=(3, 0), groups=96) is D
    assert choose((1, 16, 64, 64), (1, 16, 4, 4), padding=2) is D         # one output
    assert choose((1, c2 - 1, 64, 64), (3, c2 - 1, 2, 2)) is D            # 2x2, few inputs
    assert choose((1, 32, 64, 64), (2, 32, 4, 3), padding=1) is D         # 4x3
    assert choose((1, 32, 64, 64), (2, 32, 5, 3), padding=1) is D         # 5x3
    assert choose((1, 64, 56, 56), (64, 1, 4, 4), padding=2, groups=64) is D  # depthwise
    assert choose((1, 64, 56, 56), (128, 1, 2, 2), groups=64) is D


def test_grouped_1xk_layers_with_few_outputs_a_group_go_implicit():
    """IMPLICIT_GROUPED_1XK_MAX_K_G: grouped 1xk (k > 1) with up to 12 outputs a
    group go to IMPLICIT, at any stride and dilation; more outputs, dense 1xk
    and grouped 1x1 stay with GEMM."""
    I, G = Algorithm.IMPLICIT, Algorithm.GEMM
    choose = fastconv.choose_algorithm
    assert THRESHOLDS["IMPLICIT_GROUPED_1XK_MAX_K_G"] == 12
    assert choose((1, 128, 28, 19), (128, 8, 1, 7), padding=(0, 3), groups=16) is I
    assert choose((4, 144, 73, 73), (16, 72, 1, 7), padding=(0, 3), groups=2) is I
    assert choose((2, 96, 28, 28), (96, 12, 1, 3), padding=(0, 1), groups=8) is I
    assert choose((1, 96, 17, 17), (96, 16, 1, 7), padding=(0, 3), groups=6) is G
    assert choose((1, 128, 28, 28), (128, 8, 1, 7), stride=2, padding=(0, 3),
                  groups=16) is I
    assert choose((1, 96, 28, 28), (384, 3, 1, 7), stride=2, padding=(0, 6), dilation=2,
                  groups=32) is I
    assert choose((1, 256, 28, 28), (256, 128, 1, 3), stride=2, padding=(0, 1),
                  groups=2) is G
    assert choose((1, 128, 17, 17), (128, 128, 1, 7), padding=(0, 3)) is G
    assert choose((1, 128, 56, 56), (128, 32, 1, 1), groups=4) is G
    assert choose((1, 96, 28, 28), (96, 12, 1, 1), groups=8) is G    # 1x1, 12 a group


def test_choice_is_pure_and_follows_thresholds():
    k = THRESHOLDS["DIRECT_MAX_K_G"]
    assert fastconv.choose_algorithm((1, 4, 8, 8), (4 * (k - 1), 1, 2, 2), groups=4) \
        is Algorithm.DIRECT
    # Grouped 3x3 layers with few channels per group, at stride 1 or 2.
    c = THRESHOLDS["DIRECT_GROUPED_MAX_CHANNELS"]
    assert fastconv.choose_algorithm((1, 4 * c, 28, 28), (4 * c, c, 3, 3), padding=1,
                                     groups=4) is Algorithm.DIRECT
    c2 = THRESHOLDS["DIRECT_GROUPED_MAX_CHANNELS_S2"]
    assert c2 < c
    assert fastconv.choose_algorithm((1, 4 * c2, 28, 28), (4 * c2, c2, 3, 3), stride=2,
                                     groups=4) is Algorithm.DIRECT
    assert fastconv.choose_algorithm((1, 4 * c, 28, 28), (4 * c, c, 3, 3), stride=2,
                                     groups=4) is (    # 16 a group at stride 2
        Algorithm.IMPLICIT if _cpu.get_isa() == "avx512" else Algorithm.GEMM)
    assert fastconv.choose_algorithm((1, 4 * c + 4, 28, 28), (4 * c, c + 1, 3, 3), padding=1,
                                     groups=4) is not Algorithm.DIRECT
    assert fastconv.choose_algorithm((1, 4 * c, 28, 28), (4 * c + 4, c, 3, 3), padding=1,
                                     groups=4) is not Algorithm.DIRECT
    assert fastconv.choose_algorithm((1, c, 56, 56), (c, c, 3, 3), padding=1) \
        is not Algorithm.DIRECT                                   # ungrouped, wide rows
    # Ungrouped small 3x3 layers (CIFAR-sized): DIRECT on rows of at most
    # DIRECT_SMALL_MAX_OW with few channels, or on any rows with 8 outputs;
    # zero padding, stride 1, undilated.
    D = Algorithm.DIRECT
    assert (THRESHOLDS["DIRECT_SMALL_MAX_C_G"], THRESHOLDS["DIRECT_SMALL_MAX_K_G"],
            THRESHOLDS["DIRECT_SMALL_MAX_OW"], THRESHOLDS["DIRECT_SMALL_WIDE_MAX_K_G"]) \
        == (16, 32, 32, 8)
    assert fastconv.choose_algorithm((1, 16, 112, 112), (8, 16, 3, 3), padding=1) is D
    assert fastconv.choose_algorithm((1, 16, 112, 112), (9, 16, 3, 3), padding=1) is not D
    assert fastconv.choose_algorithm((1, 17, 112, 112), (8, 17, 3, 3), padding=1) is not D
    assert fastconv.choose_algorithm((128, 3, 32, 32), (16, 3, 3, 3), padding=1) is D
    assert fastconv.choose_algorithm((4, 16, 32, 32), (32, 16, 3, 3), padding=1) is D
    assert fastconv.choose_algorithm((4, 17, 32, 32), (32, 17, 3, 3), padding=1) is not D
    assert fastconv.choose_algorithm((4, 16, 32, 32), (33, 16, 3, 3), padding=1) is not D
    assert fastconv.choose_algorithm((4, 16, 33, 33), (32, 16, 3, 3), padding=1) is not D
    assert fastconv.choose_algorithm((4, 16, 34, 34), (32, 16, 3, 3)) is D     # 32 outputs
    # ... on rows filling DIRECT_SMALL_MIN_ROW_USE of their vectors, or one input channel
    assert THRESHOLDS["DIRECT_SMALL_MIN_ROW_USE"] == 0.75
    assert fastconv.choose_algorithm((4, 16, 12, 12), (32, 16, 3, 3), padding=1) is D
    assert fastconv.choose_algorithm((4, 16, 11, 11), (32, 16, 3, 3), padding=1) is not D
    assert fastconv.choose_algorithm((4, 16, 24, 24), (32, 16, 3, 3), padding=1) is D
    assert fastconv.choose_algorithm((4, 16, 23, 23), (32, 16, 3, 3), padding=1) is not D
    assert fastconv.choose_algorithm((4, 1, 11, 11), (32, 1, 3, 3), padding=1) is D
    assert fastconv.choose_algorithm((4, 16, 11, 11), (8, 16, 3, 3), padding=1) is D   # 8 outputs
    assert fastconv.choose_algorithm((4, 16, 32, 32), (32, 16, 3, 3), padding=1,
                                     padding_mode="reflect") is not D
    assert fastconv.choose_algorithm((4, 16, 32, 32), (32, 16, 3, 3), padding=1,
                                     stride=2) is not D
    assert fastconv.choose_algorithm((4, 16, 32, 32), (32, 16, 3, 3), padding=2,
                                     dilation=2) is not D
    assert fastconv.choose_algorithm((4, 16, 32, 32), (32, 16, 5, 5), padding=2) is not D
    assert fastconv.choose_algorithm((1, 4 * c, 28, 28), (4 * c, c, 3, 3), padding=2,
                                     dilation=2, groups=4) is not Algorithm.DIRECT
    assert fastconv.choose_algorithm((1, 4 * c, 28, 28), (4 * c, c, 5, 5), padding=2,
                                     groups=4) is not Algorithm.DIRECT
    assert fastconv.choose_algorithm((1, 4, 8, 8), (4 * k, 1, 2, 2), groups=4) \
        is Algorithm.IMPLICIT
    c = THRESHOLDS["TRANSPOSED_GEMM_MIN_C_G"]
    assert fastconv.choose_algorithm((1, c, 4, 4), (c, 8, 3, 3), stride=2, transposed=True) \
        is Algorithm.GEMM
    assert fastconv.choose_algorithm((1, c - 1, 4, 4), (c - 1, 8, 3, 3), stride=2,
                                     transposed=True) is Algorithm.IMPLICIT
    # A kernel no larger than its stride, one tap a phase: IMPLICIT at any width ...
    for k, s in ((2, 2), (1, 2), (3, 3), ((2, 1), (2, 1))):
        kk = k if isinstance(k, tuple) else (k, k)
        assert fastconv.choose_algorithm((1, 2 * c, 16, 16), (2 * c, 256) + kk, stride=s,
                                         transposed=True) is Algorithm.IMPLICIT
    # ... but not where a dilation or a larger kernel spreads taps over phases.
    assert fastconv.choose_algorithm((1, 2 * c, 16, 16), (2 * c, 256, 2, 2), stride=2,
                                     dilation=2, transposed=True) is Algorithm.GEMM
    assert fastconv.choose_algorithm((1, 2 * c, 16, 16), (2 * c, 256, 3, 2), stride=2,
                                     transposed=True) is Algorithm.GEMM
    # ... but not on a few input pixels with many weights (the weights are the traffic).
    assert (THRESHOLDS["TRANSPOSED_IMPLICIT_MAX_PIXELS"],
            THRESHOLDS["TRANSPOSED_IMPLICIT_MIN_WEIGHTS"]) == (16, 1 << 22)
    assert fastconv.choose_algorithm((1, 1024, 4, 4), (1024, 256, 4, 4), stride=2, padding=1,
                                     transposed=True) is Algorithm.IMPLICIT    # 2**22 weights
    assert fastconv.choose_algorithm((1, 1024, 4, 4), (1024, 255, 4, 4), stride=2, padding=1,
                                     transposed=True) is Algorithm.GEMM        # one K short
    assert fastconv.choose_algorithm((2, 1024, 4, 4), (1024, 512, 4, 4), stride=2, padding=1,
                                     transposed=True) is Algorithm.GEMM        # 32 pixels
    assert fastconv.choose_algorithm((1, 2048, 2, 8), (2048, 1024, 4, 4), stride=2, padding=1,
                                     transposed=True) is Algorithm.IMPLICIT    # 16 pixels
    # ... and from fewer input channels where there are enough output channels.
    c, k = THRESHOLDS["TRANSPOSED_GEMM_MIN_C_G_WIDE"], THRESHOLDS["TRANSPOSED_GEMM_MIN_K_G"]
    assert fastconv.choose_algorithm((2, c, 4, 4), (c, k, 4, 4), stride=2, transposed=True) \
        is Algorithm.GEMM
    assert fastconv.choose_algorithm((2, c - 1, 4, 4), (c - 1, k, 4, 4), stride=2,
                                     transposed=True) is Algorithm.IMPLICIT
    assert fastconv.choose_algorithm((2, c, 4, 4), (c, k - 1, 4, 4), stride=2,
                                     transposed=True) is Algorithm.IMPLICIT
    assert fastconv.choose_algorithm((2, 2 * c, 4, 4), (2 * c, k, 4, 4), stride=2, groups=2,
                                     transposed=True) is Algorithm.GEMM      # per group
    # Stride 1 on small maps: GEMM where under IMPLICIT_MIN_LANE_USE of IMPLICIT's
    # pixel lanes are outputs and GEMM's packed batch fills more (24 input
    # channels: under Winograd's minimum; 64 output channels: not GEMM_FEW_K_G).
    assert THRESHOLDS["IMPLICIT_MIN_LANE_USE"] == 0.7
    assert fastconv.choose_algorithm((16, 24, 4, 4), (64, 24, 3, 3), padding=1) \
        is Algorithm.GEMM       # 16 of 32 lanes (a 6-wide pitch, 22 lanes)
    assert fastconv.choose_algorithm((8, 24, 5, 5), (64, 24, 3, 3), padding=1) \
        is Algorithm.GEMM       # 25 of 48
    assert fastconv.choose_algorithm((8, 24, 6, 6), (64, 24, 3, 3), padding=1) \
        is Algorithm.IMPLICIT   # 36 of 48: 0.75
    assert fastconv.choose_algorithm((16, 24, 9, 9), (64, 24, 3, 3), padding=1) \
        is Algorithm.IMPLICIT   # 81 of 112 (an 11-wide pitch: 97 lanes): 0.72
    assert fastconv.choose_algorithm((16, 24, 9, 9), (64, 24, 5, 5), padding=2) \
        is Algorithm.GEMM       # 81 of 128 (a 13-wide pitch): 0.63
    assert fastconv.choose_algorithm((1, 24, 1, 1), (64, 24, 3, 3), padding=1) \
        is Algorithm.IMPLICIT   # 1 of 16 lanes either way
    assert fastconv.choose_algorithm((2, 24, 1, 1), (64, 24, 3, 3), padding=1) \
        is Algorithm.GEMM       # 2 of 16 in GEMM
    # ... where the junk lanes cost IMPLICIT GEMM_LANE_WASTE_MIN_K_G outputs' work
    assert THRESHOLDS["GEMM_LANE_WASTE_MIN_K_G"] == 32
    assert fastconv.choose_algorithm((16, 24, 4, 4), (32, 24, 3, 3), padding=1) \
        is Algorithm.GEMM       # half the lanes junk: 32 x 1
    assert fastconv.choose_algorithm((16, 24, 4, 4), (31, 24, 3, 3), padding=1) \
        is Algorithm.IMPLICIT   # 31 x 1
    assert fastconv.choose_algorithm((16, 24, 9, 9), (56, 24, 5, 5), padding=2) \
        is Algorithm.GEMM       # 56 x (128 / 81 - 1) = 32.5
    assert fastconv.choose_algorithm((16, 24, 9, 9), (55, 24, 5, 5), padding=2) \
        is Algorithm.IMPLICIT   # 31.9
    assert fastconv.choose_algorithm((64, 6, 14, 14), (16, 6, 5, 5)) \
        is Algorithm.IMPLICIT   # LeNet's second layer: 100 of 144 lanes, 16 outputs
    assert fastconv.choose_algorithm((1, 512, 7, 7), (512, 512, 3, 3), padding=1) \
        is Algorithm.IMPLICIT   # channel lanes
    # Winograd on dense lanes (Note [dense Winograd lanes]): small maps need no
    # tile-column minimum, and past 256 channels WINOGRAD_DENSE_WIDE_MIN_TILES.
    assert (THRESHOLDS["WINOGRAD_DENSE_WASTE"],
            THRESHOLDS["WINOGRAD_DENSE_WIDE_MIN_TILES"]) == (0.2, 64)
    assert fastconv.choose_algorithm((8, 256, 8, 8), (256, 256, 3, 3), padding=1) \
        is Algorithm.WINOGRAD   # 4 tile columns; 128 tiles in 8 vectors, not 16
    assert fastconv.choose_algorithm((16, 512, 4, 4), (512, 512, 3, 3), padding=1) \
        is Algorithm.WINOGRAD   # 64 tiles
    assert fastconv.choose_algorithm((15, 512, 4, 4), (512, 512, 3, 3), padding=1) \
        is Algorithm.GEMM       # 60 tiles; then 16 of 32 implicit lanes
    # ... and from fewer channel-tiles on whole tiles, 9 an image or more.
    assert (THRESHOLDS["WINOGRAD_DENSE_LOW_MIN_IMAGE_TILES"],
            THRESHOLDS["WINOGRAD_DENSE_LOW_MIN_CHANNELS"],
            THRESHOLDS["WINOGRAD_DENSE_LOW_MIN_CHANNEL_TILES"]) == (9, 128, 8000)
    assert fastconv.choose_algorithm((2, 256, 8, 8), (256, 256, 3, 3), padding=1) \
        is Algorithm.WINOGRAD       # 256 x 32 tiles
    assert fastconv.choose_algorithm((8, 128, 6, 6), (128, 128, 3, 3), padding=1) \
        is Algorithm.WINOGRAD       # 9 tiles an image
    assert fastconv.choose_algorithm((1, 256, 8, 8), (256, 256, 3, 3), padding=1) \
        is not Algorithm.WINOGRAD   # 256 x 16
    assert fastconv.choose_algorithm((8, 128, 5, 5), (128, 128, 3, 3), padding=1) \
        is not Algorithm.WINOGRAD   # partial tiles
    assert fastconv.choose_algorithm((16, 128, 4, 4), (128, 128, 3, 3), padding=1) \
        is not Algorithm.WINOGRAD   # 4 tiles an image
    assert fastconv.choose_algorithm((4, 96, 8, 8), (96, 96, 3, 3), padding=1) \
        is not Algorithm.WINOGRAD   # 96 channels
    assert fastconv.choose_algorithm((1, 128, 16, 16), (128, 128, 3, 3), padding=2,
                                     dilation=2) is not Algorithm.WINOGRAD   # dilated
    # A 1x1 input: GEMM whatever the channels (Note [one-pixel transposed conv]).
    assert fastconv.choose_algorithm((64, 100, 1, 1), (100, 512, 4, 4),
                                     transposed=True) is Algorithm.GEMM
    assert fastconv.choose_algorithm((1, 1024, 1, 1), (1024, 256, 4, 4), stride=2, padding=1,
                                     transposed=True) is Algorithm.GEMM
    assert fastconv.choose_algorithm((8, 64, 1, 1), (64, 1, 4, 4), groups=64,
                                     transposed=True) is Algorithm.GEMM
    assert fastconv.choose_algorithm((1, 1024, 1, 2), (1024, 256, 4, 4), stride=2, padding=1,
                                     transposed=True) is Algorithm.IMPLICIT    # two pixels
    # Depthwise transposed (one input channel per group), undilated: DIRECT with
    # one output channel per group at any size; multipliers run IMPLICIT.
    assert "TRANSPOSED_DIRECT_MIN_OUTPUTS" not in THRESHOLDS
    assert fastconv.choose_algorithm((1, 4, 32, 32), (4, 4, 4, 4), stride=2, padding=1,
                                     groups=4, transposed=True) is Algorithm.IMPLICIT
    assert fastconv.choose_algorithm((4, 32, 28, 28), (32, 4, 4, 4), stride=2, padding=1,
                                     groups=32, transposed=True) is Algorithm.IMPLICIT
    assert fastconv.choose_algorithm((1, 3, 32, 32), (3, 5, 4, 4), stride=2, padding=1,
                                     groups=3, transposed=True) is Algorithm.IMPLICIT
    assert fastconv.choose_algorithm((1, 15, 32, 32), (15, 1, 4, 4), stride=2, padding=1,
                                     groups=15, transposed=True) is Algorithm.DIRECT  # K_g 1
    assert fastconv.choose_algorithm((1, 2, 4, 4), (2, 1, 3, 3), stride=2, padding=1,
                                     groups=2, transposed=True) is Algorithm.DIRECT
    assert fastconv.choose_algorithm((1, 8, 32, 32), (8, 2, 4, 4), stride=2, padding=1,
                                     groups=8, transposed=True) is Algorithm.IMPLICIT  # 2 per group
    assert fastconv.choose_algorithm((1, 32, 32, 32), (32, 1, 4, 4), stride=2, padding=3,
                                     dilation=2, groups=32, transposed=True) is Algorithm.IMPLICIT
    assert fastconv.choose_algorithm((1, 32, 32, 32), (32, 1, 4, 4), stride=2, padding=1,
                                     groups=16, transposed=True) is Algorithm.IMPLICIT  # C_g 2
    # Winograd: at least WINOGRAD_MIN_CHANNELS input and output channels per
    # group, and the fewer of the two times the 2x2 tiles at least
    # WINOGRAD_MIN_CHANNEL_TILES.  resnet50-res4 (256 channels, 7x7 tiles):
    assert THRESHOLDS["WINOGRAD_MIN_CHANNELS"] == 32
    assert THRESHOLDS["WINOGRAD_MIN_CHANNEL_TILES"] == 10000
    assert fastconv.choose_algorithm((1, 256, 14, 14), (256, 256, 3, 3), padding=1) \
        is Algorithm.WINOGRAD                                        # 256 * 49 = 12544
    # (below the product, layers the panel rule of the next test leaves alone)
    assert fastconv.choose_algorithm((1, 96, 20, 20), (96, 96, 3, 3), padding=1) \
        is Algorithm.IMPLICIT                                        # 96 * 100 = 9600
    assert fastconv.choose_algorithm((1, 512, 14, 14), (128, 512, 3, 3), padding=1) \
        is Algorithm.IMPLICIT                                        # 128 out * 49
    assert fastconv.choose_algorithm((1, 128, 22, 22), (64, 128, 3, 3), padding=1) \
        is Algorithm.IMPLICIT                                        # 64 out * 121
    assert fastconv.choose_algorithm((1, 64, 28, 28), (256, 64, 3, 3), padding=1) \
        is Algorithm.WINOGRAD                                        # 64 * 196
    assert fastconv.choose_algorithm((1, 32, 40, 40), (32, 32, 3, 3), padding=1) \
        is Algorithm.WINOGRAD                                        # 32 * 400
    assert fastconv.choose_algorithm((1, 31, 40, 40), (31, 31, 3, 3), padding=1) \
        is Algorithm.IMPLICIT                                        # too few channels
    assert fastconv.choose_algorithm((1, 64, 40, 40), (31, 64, 3, 3), padding=1) \
        is Algorithm.IMPLICIT                                        # too few outputs
    assert fastconv.choose_algorithm((4, 96, 80, 80), (96, 24, 3, 3), padding=1, groups=4) \
        is Algorithm.IMPLICIT                                        # 24 per group
    # Past WINOGRAD_WIDE_C_G input channels, at least WINOGRAD_WIDE_MIN_TILES
    # tiles; past WINOGRAD_MAX_C_G never.  Transformed weights past the
    # backend's cap go in chunks (Note [Winograd chunks]), but not for groups.
    assert (THRESHOLDS["WINOGRAD_WIDE_C_G"], THRESHOLDS["WINOGRAD_WIDE_MIN_TILES"],
            THRESHOLDS["WINOGRAD_MAX_C_G"]) == (256, 96, 512)
    assert fastconv.choose_algorithm((1, 512, 20, 20), (512, 512, 3, 3), padding=1) \
        is Algorithm.WINOGRAD                                        # 100 tiles
    assert fastconv.choose_algorithm((2, 512, 14, 14), (512, 512, 3, 3), padding=1) \
        is Algorithm.WINOGRAD                                        # 98
    assert fastconv.choose_algorithm((1, 512, 16, 16), (512, 512, 3, 3), padding=1) \
        is Algorithm.IMPLICIT                                        # 64
    assert fastconv.choose_algorithm((1, 256, 16, 16), (512, 256, 3, 3), padding=1) \
        is Algorithm.WINOGRAD                                        # 256 in: 64 do
    assert fastconv.choose_algorithm((1, 513, 40, 40), (64, 513, 3, 3), padding=1) \
        is Algorithm.IMPLICIT                                        # past 512
    assert fastconv.choose_algorithm((1, 512, 28, 28), (512, 256, 3, 3), padding=1,
                                     groups=2) is Algorithm.IMPLICIT  # K*C_g 131072
    assert fastconv.choose_algorithm((1, 256, 28, 28), (256, 128, 3, 3), padding=1,
                                     groups=2) is Algorithm.WINOGRAD  # K*C_g 32768
    # The tile count is over every output phase of a dilation: 28x28 at
    # dilation 2 is 4 phases of 7x7 tiles (196), 20x20 4 of 5x5 (100), 27x27
    # phases of 14 and 13 rows and columns (7 + 7 tile rows and columns, 196).
    assert fastconv.choose_algorithm((1, 64, 28, 28), (64, 64, 3, 3), padding=2, dilation=2) \
        is Algorithm.WINOGRAD
    assert fastconv.choose_algorithm((1, 64, 20, 20), (64, 64, 3, 3), padding=2, dilation=2) \
        is Algorithm.GEMM         # too few tiles: dilated, so GEMM
    assert fastconv.choose_algorithm((1, 64, 27, 27), (64, 64, 3, 3), padding=2, dilation=2) \
        is Algorithm.WINOGRAD
    # 13+12 -> 7+6 tile rows and columns: 169 * 64 = 10816, but dense lanes
    # across the phases (11 vectors against the grids' 14) need
    # WINOGRAD_DENSE_MIN_CHANNEL_TILES (GEMM 0.125 ms, Winograd 0.134-0.142)
    assert fastconv.choose_algorithm((1, 64, 25, 25), (64, 64, 3, 3), padding=2, dilation=2) \
        is Algorithm.GEMM
    assert fastconv.choose_algorithm((1, 128, 25, 25), (128, 128, 3, 3), padding=2,
                                     dilation=2) is Algorithm.WINOGRAD   # 169 * 128
    assert fastconv.choose_algorithm((1, 64, 23, 23), (64, 64, 3, 3), padding=2, dilation=2) \
        is Algorithm.GEMM         # 12+11 -> 6+6: 144 * 64 = 9216
    assert fastconv.choose_algorithm((1, 16, 28, 28), (16, 16, 3, 3), padding=2, dilation=2) \
        is Algorithm.IMPLICIT     # 16 channels: not WINOGRAD (0.053 ms vs GEMM 0.033)
    # ... and at least 5 tile columns in every phase: 32x32 at dilation 4 is 16
    # phases of 8x8 outputs, 4x4 tiles (256 tiles, but half a vector each).
    assert THRESHOLDS["WINOGRAD_MIN_TILE_COLUMNS"] == 5
    assert fastconv.choose_algorithm((1, 64, 32, 32), (64, 64, 3, 3), padding=4, dilation=4) \
        is Algorithm.GEMM
    assert fastconv.choose_algorithm((1, 64, 40, 40), (64, 64, 3, 3), padding=4, dilation=4) \
        is Algorithm.WINOGRAD
    # Dilated layers GEMM leaves to IMPLICIT: too few input or output channels
    # per group, or a dilation along an axis of one output (no dilation at all)
    # -- on maps where IMPLICIT's padded rows (77 for 65) stay under
    # GEMM_DILATED_MIN_PITCH times the outputs ...
    c = THRESHOLDS["GEMM_STRIDED_MIN_C_G"]
    k = THRESHOLDS["GEMM_DILATED_MIN_K_G"]
    assert fastconv.choose_algorithm((1, c, 65, 65), (k, c, 3, 3), padding=6, dilation=6) \
        is Algorithm.GEMM
    assert fastconv.choose_algorithm((1, c - 1, 65, 65), (k, c - 1, 3, 3), padding=6,
                                     dilation=6) is Algorithm.IMPLICIT
    assert fastconv.choose_algorithm((1, c, 65, 65), (k - 1, c, 3, 3), padding=6, dilation=6) \
        is Algorithm.IMPLICIT
    assert fastconv.choose_algorithm((1, 4 * c, 65, 65), (4 * (k - 1), c, 3, 3), padding=6,
                                     dilation=6, groups=4) is Algorithm.IMPLICIT
    assert fastconv.choose_algorithm((1, 4 * c, 65, 65), (4 * k, c, 3, 3), padding=6,
                                     dilation=6, groups=4) is Algorithm.GEMM
    # ... and GEMM at any channel count where they pass it (45 for 33, 16 for 8).
    assert THRESHOLDS["GEMM_DILATED_MIN_PITCH"] == 1.3
    assert fastconv.choose_algorithm((1, c, 33, 33), (k - 1, c, 3, 3), padding=6, dilation=6) \
        is Algorithm.GEMM
    assert fastconv.choose_algorithm((2, 1024, 8, 8), (16, 1024, 3, 3), padding=4,
                                     dilation=4) is Algorithm.GEMM
    assert fastconv.choose_algorithm((1, c, 21, 21), (k - 1, c, 3, 3), padding=3,
                                     dilation=3) is Algorithm.IMPLICIT    # 27 for 21: 1.29
    assert fastconv.choose_algorithm((1, c, 20, 20), (k - 1, c, 3, 3), padding=3,
                                     dilation=3) is Algorithm.GEMM        # 26 for 20: 1.3
    assert fastconv.choose_algorithm((1, c, 1, 9), (2 * k, c, 3, 3), padding=(5, 0),
                                     dilation=(5, 1)) is Algorithm.IMPLICIT   # one row
    # conv2d GEMM: strided with enough channels per group and at most
    # GEMM_STRIDED_MAX_TAPS taps, 1x1, 1xk; not kx1.
    c = THRESHOLDS["GEMM_STRIDED_MIN_C_G"]
    assert THRESHOLDS["GEMM_STRIDED_MAX_TAPS"] == 9
    assert fastconv.choose_algorithm((1, c, 20, 20), (16, c, 3, 3), stride=2) is Algorithm.GEMM
    assert fastconv.choose_algorithm((1, c - 1, 20, 20), (16, c - 1, 3, 3), stride=2) \
        is Algorithm.IMPLICIT
    assert fastconv.choose_algorithm((1, c, 20, 20), (16, c, 3, 3), stride=(1, 2)) \
        is Algorithm.GEMM
    assert fastconv.choose_algorithm((1, c, 20, 20), (16, c, 5, 5), stride=2) \
        is Algorithm.IMPLICIT                                         # 25 taps
    assert fastconv.choose_algorithm((1, 64, 56, 56), (64, 64, 7, 7), stride=2, padding=3) \
        is Algorithm.IMPLICIT
    # A stride along an axis of one output is no stride.
    assert fastconv.choose_algorithm((1, c, 3, 20), (64, c, 3, 3), stride=(2, 1)) \
        is Algorithm.IMPLICIT
    assert fastconv.choose_algorithm((1, 5, 20, 20), (16, 5, 1, 1)) is Algorithm.GEMM   # 5 inputs
    assert fastconv.choose_algorithm((1, 16, 20, 20), (16, 16, 1, 5), padding=(0, 2)) \
        is Algorithm.GEMM
    assert fastconv.choose_algorithm((1, 16, 20, 20), (16, 16, 5, 1), padding=(2, 0)) \
        is Algorithm.IMPLICIT
    # Same answer twice, no arrays involved.
    assert fastconv.choose_algorithm((2, 3, 9, 9), (5, 3, 3, 3)) is \
        fastconv.choose_algorithm((2, 3, 9, 9), (5, 3, 3, 3))


def test_choice_checks_its_arguments_like_the_ops():
    with pytest.raises(fastconv.ConvError, match="channels"):
        fastconv.choose_algorithm((1, 4, 8, 8), (5, 3, 3, 3))


@pytest.mark.parametrize("case", [c for c in _cases() if c["N"] * c["C"] * c["H"] * c["W"] <= 200_000],
                         ids=lambda c: c["id"])
def test_all_algorithms_give_the_same_bits(case):
    """Note [summation order]: every algorithm but WINOGRAD adds bias, then the
    products in (channel, tap) order, one fused multiply-add at a time -- so
    they agree bitwise.  (WINOGRAD rounds differently; tests/test_winograd.py
    bounds its error, and benchmark mode never swaps it for the others.)"""
    rng = np.random.default_rng(1)
    x_shape, w_shape = _shapes(case)
    x = rng.standard_normal(x_shape).astype(case.get("dtype", "float32"))
    w = rng.standard_normal(w_shape).astype(x.dtype)
    b = rng.standard_normal(w_shape[0] if case["op"] == "conv2d"
                            else w_shape[1] * case.get("groups", 1)).astype(x.dtype)
    pad = case.get("padding", 0)
    kw = dict(stride=case.get("stride", 1), padding=tuple(pad) if isinstance(pad, list) else pad,
              dilation=case.get("dilation", 1), groups=case.get("groups", 1))
    op = case["op"]
    if op == "conv2d":
        f = fastconv.conv2d
    else:
        f = fastconv.conv_transpose2d
        kw.pop("dilation")
        kw["output_padding"] = case.get("output_padding", 0)
    outs = {a: f(x, w, b, algorithm=a, **kw) for a in fastconv.ALGORITHMS[op]
            if a != "winograd"}
    first = next(iter(outs.values()))
    for a, y in outs.items():
        np.testing.assert_array_equal(y, first, err_msg=f"{a} differs")


def test_benchmark_mode_picks_a_candidate_and_changes_no_bits():
    import fastconv._api as api
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 16, 12, 12)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    ref = fastconv.conv2d(x, w, padding=1)
    assert fastconv.benchmark_mode() is False
    try:
        assert fastconv.benchmark_mode(True) is True
        y = fastconv.conv2d(x, w, padding=1)
        tuned = [plan for key, plan in api._PLANS.items() if key[-1] is True
                 and key[1] == x.shape]
        assert len(tuned) == 1
        assert tuned[0][2].value in fastconv.ALGORITHMS["conv2d"]
        np.testing.assert_array_equal(y, ref)
        # The winner is remembered: the second call does not time again.
        np.testing.assert_array_equal(fastconv.conv2d(x, w, padding=1), ref)
    finally:
        fastconv.benchmark_mode(False)
    assert fastconv.benchmark_mode() is False


def test_benchmark_mode_keeps_the_one_pixel_transposed_gemm():
    # Note [one-pixel transposed conv] adds the bias after the products; the
    # other algorithms add it first (one ulp apart in ~1 in 1000 random calls,
    # found by fuzzing): with a bias, benchmark mode keeps 'auto's GEMM.
    from fastconv import _dispatch
    from fastconv._params import conv_transpose2d_params
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 3, 1, 1)).astype(np.float32)
    w = rng.standard_normal((3, 7, 2, 2)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    p = conv_transpose2d_params(x.shape, w.shape, b.shape, 1, 0, 0, 1, 1)
    assert _dispatch.tuning_candidates("conv_transpose2d", p, True) == (Algorithm.GEMM,)
    assert len(_dispatch.tuning_candidates("conv_transpose2d", p, False)) > 1
    ref = fastconv.conv_transpose2d(x, w, b)
    assert not np.array_equal(ref, fastconv.conv_transpose2d(x, w, b, algorithm="implicit"))
    try:
        fastconv.benchmark_mode(True)
        np.testing.assert_array_equal(fastconv.conv_transpose2d(x, w, b), ref)
    finally:
        fastconv.benchmark_mode(False)


def test_benchmarks_workload_is_the_shipped_one():
    # benchmarks/shapes.json (what the pytest-benchmark suite and gpu_check.py
    # read) and the package's copy (python -m fastconv bench) must not drift.
    copy = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "shapes.json"
    if not copy.exists():
        pytest.skip("run from an installed wheel without the source tree")
    assert json.loads(copy.read_text()) == json.loads(SHAPES.read_text())


def test_narrow_fma_few_channel_3x3_stride_2_runs_implicit():
    # NARROW_FMA_GEMM_S2_MIN_C_G / NARROW_FMA_IMPLICIT_S2_MAX_K_G: on narrow-FMA
    # CPUs ungrouped, undilated 3x3 at stride 2 with few inputs and outputs
    # leave the strided GEMM rule for IMPLICIT.
    assert (THRESHOLDS["NARROW_FMA_GEMM_S2_MIN_C_G"],
            THRESHOLDS["NARROW_FMA_IMPLICIT_S2_MAX_K_G"]) == (16, 16)
    G, I = Algorithm.GEMM, Algorithm.IMPLICIT

    def pick(C, K, N=16, H=54, **kw):
        kw.setdefault("padding", 1)
        return fastconv.choose_algorithm((N, C, H, H), (K, C // kw.get("groups", 1), 3, 3),
                                         stride=kw.pop("stride", 2), **kw)
    assert pick(8, 8) is G and pick(15, 16) is G        # the wide-FMA rules (fixture)
    _cpu._set_narrow_fma(1)
    assert pick(8, 8) is I and pick(15, 16) is I and pick(12, 12, N=64, H=63) is I
    assert pick(16, 16) is G                            # 16 inputs
    assert pick(15, 17) is G                            # 17 outputs
    assert pick(12, 12, padding=2, dilation=2) is G     # dilated
    assert pick(12, 12, stride=1) is not G              # stride 1: other rules


def test_one_by_one_on_few_input_channels_runs_implicit():
    # IMPLICIT_1X1_MAX_C_G: an ungrouped 1x1 at stride 1 reducing over at most
    # 4 channels runs IMPLICIT; more channels, a stride or groups: the GEMM.
    assert THRESHOLDS["IMPLICIT_1X1_MAX_C_G"] == 4
    G, I = Algorithm.GEMM, Algorithm.IMPLICIT

    def pick(C, K, N=4, H=74, **kw):
        return fastconv.choose_algorithm((N, C, H, H), (K, C // kw.get("groups", 1), 1, 1),
                                         **kw)
    assert pick(4, 96) is I and pick(1, 128) is I and pick(3, 16, N=8, H=224) is I
    assert pick(5, 96) is G
    assert pick(4, 96, stride=2) is G
    assert pick(8, 96, groups=2) is G
