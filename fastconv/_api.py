"""Public functions: torch.nn.functional's signatures; parse -> plan -> run."""

import numpy as np

from . import _dask, _dispatch
from ._params import conv2d_params, conv_transpose2d_params


def _shape_or_none(a):
    return None if a is None else a.shape


# Note [plan cache]: checking arguments costs tens of microseconds of Python,
# more than a small convolution.  A call whose arguments are plain ints, strs,
# None and tuples of those is keyed exactly (types included, so 2.0 never
# matches 2) by them and the arrays' shapes and dtypes, and reuses the checked
# plan.  Anything else takes the full path every time.  The plan also holds the
# CPU kernel already specialised for the dtype, with its arguments
# (_dispatch.cpu_runner), and a call on NumPy arrays settles its backend with one
# type test: a 1x1x8x8 input with a 3x3 kernel took 3.5-3.6 us a call against
# torch's 4.2-4.3 (timeit, best of 7 x 20000, 2 threads, Intel Xeon 5th gen;
# 4.8-5.5 us before those two and direct's serial path for one thread's work).
_PLANS = {}
_PLANS_MAX = 512
_PLAIN = (int, str, type(None))


def _freeze(v):
    t = type(v)
    if t in _PLAIN:
        return v
    if t is tuple:
        out = [tuple]
        for e in v:
            out.append(e if type(e) in _PLAIN else _freeze(e))
        return tuple(out)
    raise TypeError   # not cached


def _plan(op, input, weight, bias, args, out, num_threads, algorithm, make_params,
          backend="numpy"):
    """(params, kernel params, algorithm, threads, CPU runner or None); checked once
    per distinct call."""
    try:
        key = (op, input.shape, input.dtype, weight.shape, weight.dtype,
               None if bias is None else (bias.shape, bias.dtype),
               _freeze(args),
               num_threads if num_threads is None else _freeze(num_threads),
               algorithm if type(algorithm) is str else _freeze(algorithm), backend,
               # the thread count is read at call time (Note [thread setting]);
               # only a tuned algorithm depends on it
               _dispatch._benchmark_mode and _dispatch.default_threads(),
               _dispatch._benchmark_mode)
        plan = _PLANS.get(key)
    except (TypeError, AttributeError):
        key = plan = None
    if plan is not None:
        return plan
    input, weight, bias = _dispatch.prepare_arrays(op, input, weight, bias)
    params = make_params(input.shape, weight.shape, _shape_or_none(bias), *args)
    nthreads = _dispatch.check_num_threads(num_threads)
    alg = _dispatch.parse_algorithm(algorithm, op)
    kparams = _dispatch.kernel_params(params)
    threads = _dispatch.threads_for(params, nthreads)
    if (alg is None and _dispatch._benchmark_mode and params.macs and params.N
            and backend == "numpy"):
        x4 = input if params.batched else input.reshape((1,) + input.shape)
        alg = _dispatch.autotune(op, kparams,
                                 _dispatch.tuning_candidates(op, params, bias is not None), x4,
                                 weight, bias,
                                 (params.N, params.K, params.OH, params.OW), threads)
    elif alg is None:
        alg = _dispatch.choose_algorithm(params)
    runner = _dispatch.cpu_runner(kparams, alg, input.dtype) if backend == "numpy" else None
    plan = (params, kparams, alg, threads, runner)
    if key is not None:
        if len(_PLANS) >= _PLANS_MAX:
            _PLANS.clear()
        _PLANS[key] = plan
    return plan


def _run(op, input, weight, bias, args, out, num_threads, algorithm, make_params):
    nd = np.ndarray
    if (type(input) is nd and type(weight) is nd and (bias is None or type(bias) is nd)
            and (out is None or type(out) is nd)):
        backend = "numpy"     # the common case, in one test (Note [plan cache])
    elif _dispatch.all_cupy_on_one_device(input, weight, bias, out):
        backend = "cupy"
    else:
        if type(input).__module__.startswith("dask") and _dask.is_dask_array(input):
            return _dask.conv(_run, op, input, weight, bias, args, out, num_threads,
                              algorithm, make_params)
        # Array objects other than NumPy/CuPy arrays are converted first, and the
        # backend (and device) is decided on every call, outside the plan cache.
        input, weight, bias = _dispatch.as_arrays(op, input, weight, bias)
        backend = _dispatch.backend_of(input, weight, bias, out)
    params, kparams, alg, nthreads, runner = _plan(op, input, weight, bias, args, out,
                                                   num_threads, algorithm, make_params,
                                                   backend)
    y = _dispatch.prepare_out(out, params.out_shape, input.dtype, (input, weight, bias),
                              backend)
    if y.size:
        x4 = input if params.batched else input.reshape((1,) + input.shape)
        y4 = y if params.batched else y.reshape((1,) + y.shape)
        _dispatch.run(kparams, alg, x4, weight, bias, y4, nthreads, runner)
    return y


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", out=None, num_threads=None, algorithm="auto"):
    """2-D convolution (cross-correlation), as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (C, H, W)
        or a dask array: the result is then a lazy dask array (one call per
        batch chunk; see fastconv/_dask.py and the README).
    weight : ndarray, shape (K, C // groups, kh, kw)
    bias : ndarray, shape (K,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), 'valid', 'same', or ((top, bottom), (left, right))
        'same' needs stride 1; an odd total goes one extra on the bottom/right,
        as in torch.
    groups : int
    padding_mode : 'zeros' | 'reflect' | 'replicate' | 'circular'
        As ``torch.nn.Conv2d(padding_mode=...)``.
    out : ndarray, optional
        C-contiguous array of the output's shape and dtype, filled and returned.
    num_threads : int, optional
        OpenMP threads for this call (default: :func:`fastconv.set_num_threads`,
        capped by OpenMP's, i.e. ``OMP_NUM_THREADS`` or a threadpoolctl limit).
    algorithm : 'auto' or a name from ``fastconv.ALGORITHMS['conv2d']``

    Returns
    -------
    ndarray of shape (N, K, OH, OW) (or (K, OH, OW) for an unbatched input),
    OH = (H + pt + pb - dilation*(kh - 1) - 1) // stride + 1, likewise OW.
    float32 and float64; input, weight and bias must share the dtype.
    """
    return _run("conv2d", input, weight, bias,
                (stride, padding, dilation, groups, padding_mode), out, num_threads,
                algorithm, conv2d_params)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1, *, out=None, num_threads=None, algorithm="auto"):
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    The adjoint of :func:`conv2d` with the same stride, padding, dilation and
    groups.  Note the argument order: ``output_padding, groups, dilation``.

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (C, H, W)
    weight : ndarray, shape (C, K // groups, kh, kw)
    bias : ndarray, shape (K,), optional
    stride, padding, output_padding, dilation : int or (int, int)
    groups : int
    out, num_threads, algorithm : as for :func:`conv2d`

    Returns
    -------
    ndarray of shape (N, K, OH, OW),
    OH = (H - 1)*stride - 2*padding + dilation*(kh - 1) + output_padding + 1.
    """
    return _run("conv_transpose2d", input, weight, bias,
                (stride, padding, output_padding, groups, dilation), out, num_threads,
                algorithm, conv_transpose2d_params)
