"""Valid conv2d / conv_transpose2d configurations, built valid by construction.

The same builders run under two sources of choices:
* hypothesis (``conv2d_cases()``, ``conv_transpose2d_cases()``), for the
  property tests, with shrinking;
* a seeded ``numpy.random.Generator`` (``random_conv2d_case(rng)`` ...), for
  the torch parity sweep, which wants hundreds of cheap, reproducible cases.

A case holds shapes and arguments only; ``case.arrays(dtype)`` makes the
(seeded) data. Shapes are tiny on purpose.
"""

import dataclasses
from dataclasses import dataclass
from typing import Optional

import numpy as np
from hypothesis import strategies as st

from reference import (PADDING_MODES, conv2d_output_hw, conv_padding,
                       conv_transpose2d_output_hw, transposed_padding)

DTYPES = (np.float32, np.float64)


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

def _make_arrays(seed, dtype, x_shape, w_shape, b_shape):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = None if b_shape is None else rng.standard_normal(b_shape).astype(dtype)
    return x, w, b


@dataclass(frozen=True)
class Conv2dCase:
    N: Optional[int]  # None: unbatched 3-D input
    C: int
    H: int
    W: int
    K: int
    kh: int
    kw: int
    groups: int = 1
    stride: object = 1
    padding: object = 0
    dilation: object = 1
    padding_mode: str = "zeros"
    bias: bool = True
    seed: int = 0

    transposed = False

    @property
    def x_shape(self):
        return (self.C, self.H, self.W) if self.N is None else (self.N, self.C, self.H, self.W)

    @property
    def w_shape(self):
        return (self.K, self.C // self.groups, self.kh, self.kw)

    @property
    def b_shape(self):
        return (self.K,) if self.bias else None

    def kwargs(self):
        """Keyword arguments for fastconv.conv2d and for conv2d_ref."""
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    groups=self.groups, padding_mode=self.padding_mode)

    @property
    def pads(self):
        return conv_padding(self.padding, (self.kh, self.kw), self.dilation)

    @property
    def out_hw(self):
        return conv2d_output_hw(self.H, self.W, (self.kh, self.kw), self.stride, self.pads,
                                self.dilation)

    @property
    def out_shape(self):
        OH, OW = self.out_hw
        return (self.K, OH, OW) if self.N is None else (self.N, self.K, OH, OW)

    @property
    def reduction_len(self):
        return (self.C // self.groups) * self.kh * self.kw

    def arrays(self, dtype):
        return _make_arrays(self.seed, dtype, self.x_shape, self.w_shape, self.b_shape)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class ConvTranspose2dCase:
    N: Optional[int]
    C: int  # input channels
    H: int
    W: int
    K: int  # output channels
    kh: int
    kw: int
    groups: int = 1
    stride: object = 1
    padding: object = 0
    output_padding: object = 0
    dilation: object = 1
    bias: bool = True
    seed: int = 0

    transposed = True

    @property
    def x_shape(self):
        return (self.C, self.H, self.W) if self.N is None else (self.N, self.C, self.H, self.W)

    @property
    def w_shape(self):
        return (self.C, self.K // self.groups, self.kh, self.kw)

    @property
    def b_shape(self):
        return (self.K,) if self.bias else None

    def kwargs(self):
        """Keyword arguments for fastconv.conv_transpose2d and conv_transpose2d_ref."""
        return dict(stride=self.stride, padding=self.padding,
                    output_padding=self.output_padding, groups=self.groups,
                    dilation=self.dilation)

    @property
    def pads(self):
        return transposed_padding(self.padding)

    @property
    def out_hw(self):
        return conv_transpose2d_output_hw(self.H, self.W, (self.kh, self.kw), self.stride,
                                          self.pads, self.output_padding, self.dilation)

    @property
    def out_shape(self):
        OH, OW = self.out_hw
        return (self.K, OH, OW) if self.N is None else (self.N, self.K, OH, OW)

    @property
    def reduction_len(self):
        return (self.C // self.groups) * self.kh * self.kw

    def arrays(self, dtype):
        return _make_arrays(self.seed, dtype, self.x_shape, self.w_shape, self.b_shape)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------
# Choice sources
# ---------------------------------------------------------------------------

class _HypothesisPick:
    def __init__(self, draw):
        self._draw = draw

    def int(self, lo, hi):
        return self._draw(st.integers(lo, hi))

    def choice(self, seq):
        return self._draw(st.sampled_from(list(seq)))

    def bool(self):
        return self._draw(st.booleans())


class _RngPick:
    def __init__(self, rng):
        self._rng = rng

    def int(self, lo, hi):
        return int(self._rng.integers(lo, hi + 1))

    def choice(self, seq):
        seq = list(seq)
        return seq[int(self._rng.integers(len(seq)))]

    def bool(self):
        return bool(self._rng.integers(2))


def _pair_arg(pick, a, b):
    """Spell (a, b) as an int when possible and sometimes as a list."""
    if a == b and pick.bool():
        return a
    return pick.choice([(a, b), [a, b]])


def _small(pick, hi):
    """1..hi with 1 about twice as likely (stride/dilation 1 is the common
    case, and 'same' needs stride 1)."""
    return pick.choice([1] + list(range(1, hi + 1)))


def _batch(pick, allow_unbatched, allow_empty_batch):
    choices = [1, 1, 2, 2, 3]
    if allow_unbatched:
        choices.append(None)
    if allow_empty_batch:
        choices.append(0)
    return pick.choice(choices)


# ---------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------

PADDING_FORMS = ("int", "pair", "nested", "valid", "same")


def build_conv2d(pick, *, padding_modes=PADDING_MODES, padding_forms=PADDING_FORMS,
                 stride_one=False, max_groups=3, max_kernel=4, max_stride=3,
                 max_dilation=3, max_pad=3, max_extra=5, max_cg=3, max_kg=3,
                 allow_unbatched=True, allow_empty_batch=True, bias=None):
    G = pick.int(1, max_groups)
    C_g = pick.int(1, max_cg)
    K_g = pick.int(1, max_kg)  # K_g > C_g = 1 is the "channel multiplier" depthwise case
    kh, kw = pick.int(1, max_kernel), pick.int(1, max_kernel)
    sh, sw = (1, 1) if stride_one else (_small(pick, max_stride), _small(pick, max_stride))
    dh, dw = _small(pick, max_dilation), _small(pick, max_dilation)
    mode = pick.choice(padding_modes)
    forms = [f for f in padding_forms if f != "same" or (sh, sw) == (1, 1)]
    form = pick.choice(forms)
    if form == "int":
        p = pick.int(0, max_pad)
        padding = p
    elif form == "pair":
        a, b = pick.int(0, max_pad), pick.int(0, max_pad)
        padding = pick.choice([(a, b), [a, b]])
    elif form == "nested":
        padding = ((pick.int(0, max_pad), pick.int(0, max_pad)),
                   (pick.int(0, max_pad), pick.int(0, max_pad)))
    else:
        padding = form
    (pt, pb), (pl, pr) = conv_padding(padding, (kh, kw), (dh, dw))

    def lo(extent, before, after):
        m = max(1, extent - before - after)  # padded input >= dilated kernel
        if mode == "reflect":  # torch: padding < input size
            m = max(m, before + 1, after + 1)
        elif mode == "circular":  # torch: padding <= input size
            m = max(m, before, after)
        return m

    hlo = lo(dh * (kh - 1) + 1, pt, pb)
    wlo = lo(dw * (kw - 1) + 1, pl, pr)
    H = pick.int(hlo, hlo + max_extra)
    W = pick.int(wlo, wlo + max_extra)
    return Conv2dCase(
        N=_batch(pick, allow_unbatched, allow_empty_batch), C=G * C_g, H=H, W=W, K=G * K_g,
        kh=kh, kw=kw, groups=G, stride=_pair_arg(pick, sh, sw), padding=padding,
        dilation=_pair_arg(pick, dh, dw), padding_mode=mode,
        bias=pick.bool() if bias is None else bias, seed=pick.int(0, 2 ** 31 - 1))


def build_conv_transpose2d(pick, *, max_groups=3, max_kernel=4, max_stride=3, max_dilation=3,
                           max_extra=4, max_cg=3, max_kg=3, allow_unbatched=True,
                           allow_empty_batch=True, bias=None):
    G = pick.int(1, max_groups)
    C_g = pick.int(1, max_cg)
    K_g = pick.int(1, max_kg)
    kh, kw = pick.int(1, max_kernel), pick.int(1, max_kernel)
    sh, sw = _small(pick, max_stride), _small(pick, max_stride)
    dh, dw = _small(pick, max_dilation), _small(pick, max_dilation)
    # torch: output_padding < stride or < dilation (per axis).
    oph = pick.int(0, max(sh, dh) - 1)
    opw = pick.int(0, max(sw, dw) - 1)
    # Padding may exceed d*(k-1) (the output is then cropped) as long as the
    # output stays non-empty; H is chosen below to make sure of that.
    ph = pick.int(0, dh * (kh - 1) + 2)
    pw = pick.int(0, dw * (kw - 1) + 2)

    def lo(s, d, k, p, op):
        n = 1
        while (n - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:
            n += 1
        return n

    hlo, wlo = lo(sh, dh, kh, ph, oph), lo(sw, dw, kw, pw, opw)
    H = pick.int(hlo, hlo + max_extra)
    W = pick.int(wlo, wlo + max_extra)
    return ConvTranspose2dCase(
        N=_batch(pick, allow_unbatched, allow_empty_batch), C=G * C_g, H=H, W=W, K=G * K_g,
        kh=kh, kw=kw, groups=G, stride=_pair_arg(pick, sh, sw), padding=_pair_arg(pick, ph, pw),
        output_padding=_pair_arg(pick, oph, opw), dilation=_pair_arg(pick, dh, dw),
        bias=pick.bool() if bias is None else bias, seed=pick.int(0, 2 ** 31 - 1))


@st.composite
def conv2d_cases(draw, **options):
    """Hypothesis strategy of valid Conv2dCase (options as build_conv2d)."""
    return build_conv2d(_HypothesisPick(draw), **options)


@st.composite
def conv_transpose2d_cases(draw, **options):
    """Hypothesis strategy of valid ConvTranspose2dCase."""
    return build_conv_transpose2d(_HypothesisPick(draw), **options)


def random_conv2d_case(rng, **options):
    return build_conv2d(_RngPick(rng), **options)


def random_conv_transpose2d_case(rng, **options):
    return build_conv_transpose2d(_RngPick(rng), **options)


dtypes = st.sampled_from(DTYPES)

# Larger than the default tiny shapes: wide rows and more channels, so that
# vectorised main loops and register tiles (not only their remainders) run.
MEDIUM = dict(max_groups=2, max_cg=8, max_kg=20, max_extra=40, max_kernel=5)
