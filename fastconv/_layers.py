"""Layers: ``torch.nn.Conv2d`` / ``ConvTranspose2d`` holding NumPy (or CuPy) arrays.

Constructor arguments, their order, defaults, checks and messages, the
attributes, ``repr`` and the default initialisation follow
``torch/nn/modules/conv.py`` (torch 2.13); ``state_dict()`` uses torch's keys so
``{k: v.numpy() for k, v in torch_module.state_dict().items()}`` loads as is.

Note [layer weight cache]: layers keep no prepared (packed or transformed)
copy of their weight.  Each call hands the current ``weight`` / ``bias``
arrays to the functional op, whose plan cache (Note [plan cache] in _api.py)
is keyed by shapes, dtypes and arguments, never by values; so replacing
``layer.weight`` or writing into it takes effect on the next call.
"""

import math
import operator
from collections import namedtuple
from collections.abc import Mapping

import numpy as np

from ._api import conv2d, conv_transpose2d
from ._params import PADDING_MODES, ConvError, _index, pair

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_GPU_HINT = 'pip install "fastconv[gpu]"'

# load_state_dict's result, as torch's (a NamedTuple of two lists of keys).
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _float_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, but got {dtype!r}") from None
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, but got {dt}")
    return dt


def _import_cupy():
    try:
        import cupy
    except ImportError as exc:
        raise ImportError(
            f"moving a layer to the GPU needs CuPy, which is not installed ({exc}); "
            f"install it with: {_GPU_HINT}") from None
    return cupy


def _parse_device(device):
    """None / 'cpu' -> ('cpu', None); 'cuda' / 'cuda:N' / 'gpu' -> ('cuda', N or None)."""
    if device is None:
        return "cpu", None
    text = str(device)   # also accepts a torch.device
    name, _, index = text.partition(":")
    if name == "cpu" and not index:
        return "cpu", None
    if name in ("cuda", "gpu"):
        if not index:
            return "cuda", None
        try:
            return "cuda", int(index)
        except ValueError:
            pass
    raise ConvError(
        f"Expected one of cpu, cuda device type at start of device string: {text}")


def _array_device(a):
    return "cpu" if isinstance(a, np.ndarray) else "cuda"


def _move(a, device, index, dtype):
    """a as an array on (device, index) with dtype; the same object if nothing changes."""
    if a is None:
        return None
    if device == "cpu":
        if not isinstance(a, np.ndarray):
            a = a.get()       # cupy -> numpy
        return a if a.dtype == dtype else a.astype(dtype)
    cupy = _import_cupy()
    if isinstance(a, cupy.ndarray) and (index is None or a.device.id == index):
        return a if a.dtype == dtype else a.astype(dtype)
    with cupy.cuda.Device(index if index is not None else cupy.cuda.runtime.getDevice()):
        return cupy.asarray(a, dtype=dtype)


class _ConvNd:
    """What Conv2d and ConvTranspose2d share: arguments, init, repr, state dicts, .to()."""

    _param_names = ("weight", "bias")

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 transposed, output_padding, groups, bias, padding_mode, device, dtype, rng):
        in_channels = _index(in_channels, "in_channels")
        out_channels = _index(out_channels, "out_channels")
        groups = _index(groups, "groups")
        # torch's checks and messages (torch/nn/modules/conv.py, _ConvNd.__init__)
        if groups <= 0:
            raise ConvError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ConvError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ConvError("out_channels must be divisible by groups")
        if in_channels < 0 or out_channels < 0:   # torch: a negative torch.empty dimension
            raise ConvError(
                f"in_channels and out_channels must be non-negative, but got "
                f"in_channels={in_channels}, out_channels={out_channels}")
        kernel_size = pair(kernel_size, "kernel_size")
        stride = pair(stride, "stride")
        dilation = pair(dilation, "dilation")
        output_padding = pair(output_padding, "output_padding")
        valid_padding_strings = {"same", "valid"}
        if isinstance(padding, str):
            if padding not in valid_padding_strings:
                raise ConvError(
                    f"Invalid padding string {padding!r}, should be one of "
                    f"{valid_padding_strings}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ConvError("padding='same' is not supported for strided convolutions")
        else:
            padding = pair(padding, "padding")
        valid_padding_modes = set(PADDING_MODES)
        if not isinstance(padding_mode, str) or padding_mode not in valid_padding_modes:
            raise ConvError(
                f"padding_mode must be one of {valid_padding_modes}, but got "
                f"padding_mode='{padding_mode}'")
        # Checks torch leaves to the first call (or to torch.empty); made at
        # construction here, with the functional op's messages.
        if min(kernel_size) <= 0:
            raise ConvError(
                f"kernel size should be greater than zero, but got kernel_height: "
                f"{kernel_size[0]} kernel_width: {kernel_size[1]}")
        if min(stride) <= 0:
            raise ConvError("non-positive stride is not supported")
        if min(dilation) <= 0:
            raise ConvError(f"dilation should be greater than zero, but got {list(dilation)}")
        if not isinstance(padding, str) and min(padding) < 0:
            raise ConvError("negative padding is not supported")
        if min(output_padding) < 0:
            raise ConvError("negative output_padding is not supported")
        dtype = _float_dtype(dtype)
        dev, index = _parse_device(device)

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        # What F.pad would be given for the non-zeros modes, as torch keeps it
        # (a list for string padding, a tuple otherwise, as torch).
        if isinstance(padding, str):
            rp = [0, 0, 0, 0]
            if padding == "same":
                for d, k, i in zip(dilation, kernel_size, (1, 0)):
                    total = d * (k - 1)
                    rp[2 * i], rp[2 * i + 1] = total // 2, total - total // 2
            self._reversed_padding_repeated_twice = rp
        else:
            self._reversed_padding_repeated_twice = (padding[1], padding[1],
                                                     padding[0], padding[0])
        if transposed:
            shape = (in_channels, out_channels // groups) + kernel_size
        else:
            shape = (out_channels, in_channels // groups) + kernel_size
        self.weight = np.empty(shape, dtype)
        self.bias = np.empty(out_channels, dtype) if bias else None
        self.reset_parameters(rng)
        if dev != "cpu":
            self.to(device)

    def reset_parameters(self, rng=None):
        """torch's default initialisation, drawn from a NumPy Generator.

        weight: ``kaiming_uniform_(a=sqrt(5))``, i.e. uniform in +-bound with
        bound = gain*sqrt(3/fan_in), gain = sqrt(2/(1 + a**2)) = sqrt(1/3), so
        bound = 1/sqrt(fan_in); bias: uniform in +-1/sqrt(fan_in) (0 when
        fan_in is 0).  fan_in = weight.shape[1]*kh*kw as torch's
        ``_calculate_fan_in_and_fan_out`` computes it -- for ConvTranspose2d
        that is (out_channels // groups)*kh*kw, torch's choice.
        `rng`: a ``numpy.random.Generator``, an int seed, or None (fresh
        entropy).  Values are drawn in float64 on the CPU, then stored in the
        layer's dtype and array library.
        """
        rng = np.random.default_rng(rng)
        fan_in = self.fan_in
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        device = _array_device(self.weight)
        index = None if device == "cpu" else self.weight.device.id
        dtype = self.weight.dtype
        if self.weight.size:   # torch: initialising a zero-element tensor is a no-op
            w = rng.uniform(-bound, bound, size=self.weight.shape)
            self.weight = _move(w.astype(dtype), device, index, dtype)
        if self.bias is not None:
            b = rng.uniform(-bound, bound, size=self.bias.shape)
            self.bias = _move(b.astype(dtype), device, index, dtype)

    @property
    def fan_in(self):
        """weight.shape[1] * kh * kw (torch's ``_calculate_fan_in_and_fan_out``)."""
        s = self.weight.shape
        return s[1] * s[2] * s[3]

    # -- torch.nn.Module-like surface ---------------------------------------

    def forward(self, *args, **kwargs):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self):
        """torch's ``_ConvNd.extra_repr``, rule for rule."""
        s = "{in_channels}, {out_channels}, kernel_size={kernel_size}, stride={stride}"
        if self.padding != (0,) * len(self.padding):
            s += ", padding={padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += ", dilation={dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += ", output_padding={output_padding}"
        if self.groups != 1:
            s += ", groups={groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += ", padding_mode={padding_mode}"
        return s.format(**self.__dict__)

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"

    def named_parameters(self):
        """(name, array) for weight and, when present, bias."""
        for name in self._param_names:
            a = getattr(self, name)
            if a is not None:
                yield name, a

    def parameters(self):
        for _, a in self.named_parameters():
            yield a

    def state_dict(self):
        """{'weight': ..., 'bias': ...} (no 'bias' when bias=False), as torch's keys.

        The values are the layer's own arrays, not copies (torch's state_dict
        shares storage the same way)."""
        return dict(self.named_parameters())

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays in under torch's keys, with torch's checks and messages.

        Values may be NumPy or CuPy arrays or anything ``numpy.asarray``
        accepts (a CPU torch tensor included); they are copied into the
        layer's arrays (keeping the layer's dtype and device), so shapes must
        match exactly.  Values are cast like NumPy's ``casting='same_kind'``
        (float64 -> float32 is allowed; complex -> float is not).  With
        ``strict=True`` missing or unexpected keys are errors.  Returns
        ``(missing_keys, unexpected_keys)``; raises RuntimeError (a
        ``ConvError``) listing every problem, as torch does.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        copies = []
        for key, param in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if not hasattr(value, "shape"):
                errors.append(
                    f'While copying the parameter named "{key}", expected an array from '
                    f"checkpoint but received {type(value)}")
                continue
            shape = tuple(value.shape)
            if shape != param.shape:
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {shape} from "
                    f"checkpoint, the shape in current model is {param.shape}.")
                continue
            try:
                # NumPy and CuPy arrays as they are; anything else (a CPU torch
                # tensor, say) through numpy.asarray, without a copy if it can.
                if not isinstance(value, np.ndarray) and (
                        hasattr(value, "numpy") or not hasattr(value, "dtype")):
                    value = np.asarray(value)
                if not np.can_cast(value.dtype, param.dtype, casting="same_kind"):
                    raise TypeError(f"cannot cast dtype {value.dtype} to {param.dtype}")
            except (TypeError, ValueError, RuntimeError) as exc:
                errors.append(
                    f'While copying the parameter named "{key}", whose dimensions in the '
                    f"model are {param.shape} and whose dimensions in the checkpoint are "
                    f"{shape}, an exception occurred : ({exc}).")
                continue
            copies.append((key, value))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise ConvError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(errors)))
        for key, value in copies:   # all checked: nothing is half-loaded on error
            param = own[key]
            if not isinstance(param, np.ndarray):        # CuPy layer
                value = _move(value, "cuda", param.device.id, param.dtype)
            elif not isinstance(value, np.ndarray) and hasattr(value, "get"):
                value = value.get()                      # CuPy value, NumPy layer
            if not param.flags.writeable:                # e.g. the user set a read-only one
                setattr(self, key, param.copy())
                param = getattr(self, key)
            param[...] = value
        return IncompatibleKeys(missing, unexpected)

    def to(self, *args, **kwargs):
        """Move (and/or cast) weight and bias in place; returns the layer.

        ``to("cuda")`` / ``to("cuda:1")`` -> CuPy arrays (needs CuPy:
        ``pip install "fastconv[gpu]"``); ``to("cpu")`` -> NumPy;
        ``to(np.float64)``; ``to("cuda", np.float64)``; keywords
        ``device=`` and ``dtype=`` as torch's ``Module.to``.
        """
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        if len(args) > 2:
            raise TypeError(f"to() takes at most 2 positional arguments ({len(args)} given)")
        for a in args:
            is_device = isinstance(a, str) and not _is_dtype_name(a) or type(a).__name__ in (
                "device", "Device")
            if is_device:
                if device is not None:
                    raise TypeError("to() got the device twice")
                device = a
            else:
                if dtype is not None:
                    raise TypeError("to() got the dtype twice")
                dtype = a
        dt = self.weight.dtype if dtype is None else _float_dtype(dtype)
        if device is None:
            dev = _array_device(self.weight)
            index = None if dev == "cpu" else self.weight.device.id
        else:
            dev, index = _parse_device(device)
        self.weight = _move(self.weight, dev, index, dt)
        self.bias = _move(self.bias, dev, index, dt)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{operator.index(device)}")

    @property
    def dtype(self):
        return self.weight.dtype


def _is_dtype_name(s):
    try:
        np.dtype(s)
    except TypeError:
        return False
    return True


class Conv2d(_ConvNd):
    """2-D convolution layer, as ``torch.nn.Conv2d``, on NumPy (or CuPy) arrays.

    ``Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0,
    dilation=1, groups=1, bias=True, padding_mode='zeros', device=None,
    dtype=np.float32, rng=None)``: torch's arguments in torch's order, then
    `rng` (a ``numpy.random.Generator``, an int seed or None) for the default
    initialisation (see :meth:`reset_parameters`).  `device` is None / 'cpu'
    (NumPy) or 'cuda' (CuPy).  ``layer(x)`` runs :func:`fastconv.conv2d`.

    Attributes: ``weight`` [out_channels, in_channels // groups, kh, kw],
    ``bias`` [out_channels] or None, and torch's in_channels, out_channels,
    kernel_size, stride, padding, dilation, groups, padding_mode,
    output_padding, transposed.  See Note [layer weight cache].
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=np.float32, rng=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         False, 0, groups, bias, padding_mode, device, dtype, rng)

    def forward(self, input):
        # fastconv.conv2d pads for the non-zeros modes exactly as nn.Conv2d's
        # F.pad(input, _reversed_padding_repeated_twice) does ('same' included).
        return conv2d(input, self.weight, self.bias, self.stride, self.padding,
                      self.dilation, self.groups, padding_mode=self.padding_mode)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution layer, as ``torch.nn.ConvTranspose2d``.

    ``ConvTranspose2d(in_channels, out_channels, kernel_size, stride=1,
    padding=0, output_padding=0, groups=1, bias=True, dilation=1,
    padding_mode='zeros', device=None, dtype=np.float32, rng=None)``; only
    'zeros' padding, as torch.  ``layer(x, output_size=None)`` runs
    :func:`fastconv.conv_transpose2d`; `output_size` ((H, W), or with the
    leading batch/channel sizes) picks the output padding, as torch's.

    Attributes: ``weight`` [in_channels, out_channels // groups, kh, kw],
    ``bias`` [out_channels] or None, and torch's attributes as for Conv2d.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=np.float32, rng=None):
        if padding_mode != "zeros":
            raise ConvError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        if isinstance(padding, str):
            raise TypeError(
                f"{type(self).__name__}: padding must be an int or a tuple of 2 ints, not "
                f"{padding!r} (padding strings are for Conv2d only)")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         True, output_padding, groups, bias, padding_mode, device, dtype, rng)

    def _output_padding(self, input, output_size):
        """torch's ``_ConvTransposeNd._output_padding`` for two spatial dims."""
        if output_size is None:
            return self.output_padding
        ndim = len(input.shape)
        n_non_spatial = 2 if ndim == 4 else 1
        output_size = [_index(s, "output_size") for s in output_size]
        if len(output_size) == n_non_spatial + 2:
            output_size = output_size[n_non_spatial:]
        if len(output_size) != 2:
            raise ConvError(
                f"ConvTranspose2D: for {ndim}D input, output_size must have 2 or "
                f"{n_non_spatial + 2} elements (got {len(output_size)})")
        spatial = tuple(input.shape[-2:])
        min_sizes = [(spatial[d] - 1) * self.stride[d] - 2 * self.padding[d]
                     + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(2)]
        max_sizes = [min_sizes[d] + self.stride[d] - 1 for d in range(2)]
        for size, lo, hi in zip(output_size, min_sizes, max_sizes):
            if size < lo or size > hi:
                raise ConvError(
                    f"requested an output size of {output_size}, but valid sizes range "
                    f"from {min_sizes} to {max_sizes} (for an input of {spatial})")
        return tuple(output_size[d] - min_sizes[d] for d in range(2))

    def forward(self, input, output_size=None):
        if output_size is not None and not hasattr(input, "shape"):
            raise TypeError(
                f"conv_transpose2d(): argument 'input' must be an array, not "
                f"{type(input).__name__}")
        output_padding = self._output_padding(input, output_size)
        return conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                output_padding, self.groups, self.dilation)
