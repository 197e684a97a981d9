"""fastconv: PyTorch's conv2d / conv_transpose2d on NumPy arrays.

    >>> import numpy as np, fastconv
    >>> x = np.ones((1, 1, 4, 4), np.float32); w = np.ones((1, 1, 3, 3), np.float32)
    >>> fastconv.conv2d(x, w).shape
    (1, 1, 2, 2)
"""

try:
    from . import _cpu  # noqa: F401  (the compiled CPU backend)
except ImportError as _exc:   # typically: the source tree shadows the installed package
    import os as _os
    raise ImportError(
        f"fastconv's compiled extension (fastconv._cpu) cannot be imported from "
        f"{_os.path.dirname(_os.path.abspath(__file__))} ({_exc}). If that is a source "
        "checkout (Python puts the current directory first on sys.path), build it there "
        "with `pip install -e .`, or run Python from another directory so that the "
        "installed fastconv is used.") from _exc

from ._api import conv2d, conv_transpose2d
from ._config import show_config
from ._dispatch import Algorithm, benchmark_mode
from ._dispatch import ALGORITHMS as _ALGORITHMS
from ._layers import Conv2d, ConvTranspose2d
from ._params import ConvError, conv2d_params, conv_transpose2d_params
from . import grad
from ._threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

# {'conv2d': ('gemm', 'direct'), 'conv_transpose2d': ('gemm',)}
ALGORITHMS = {op: tuple(a.value for a in algs) for op, algs in _ALGORITHMS.items()}


def set_flush_denormal(mode):
    """Like ``torch.set_flush_denormal``: with ``True``, subnormal numbers in the
    kernels' inputs and results are treated as zero (x86 FTZ/DAZ), which keeps
    arrays full of tiny values from running ~100x slower.  Off by default, as
    in torch, so results match torch's exactly.  Returns True if the mode is
    supported (and now set) on this CPU, False otherwise."""
    from . import _cpu
    got = _cpu.set_flush_denormal(bool(mode))
    return got if mode else _cpu.set_flush_denormal(False) is False


def choose_algorithm(input_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1,
                     *, transposed=False, output_padding=0, padding_mode="zeros"):
    """The algorithm ``algorithm='auto'`` runs for these shapes (pure; no arrays).

    Returns an :class:`Algorithm`.  Thresholds: ``fastconv._dispatch.THRESHOLDS``.
    """
    from ._dispatch import choose_algorithm as _choose
    if transposed:
        p = conv_transpose2d_params(tuple(input_shape), tuple(weight_shape), None, stride,
                                    padding, output_padding, groups, dilation)
    else:
        p = conv2d_params(tuple(input_shape), tuple(weight_shape), None, stride, padding,
                          dilation, groups, padding_mode)
    return _choose(p)


__all__ = ["conv2d", "conv_transpose2d", "Conv2d", "ConvTranspose2d", "grad", "ConvError",
           "Algorithm", "ALGORITHMS", "benchmark_mode", "choose_algorithm",
           "get_num_threads", "set_flush_denormal", "set_num_threads", "show_config",
           "__version__"]
