"""conv2d / conv_transpose2d on dask arrays: a lazy map_blocks over the batch.

Each block of the result is one call of the NumPy op on the matching block of
the input, so a stack of images larger than memory, or one spread over a
dask.distributed cluster, runs batch chunk by batch chunk.  Chunks along C, H
and W are merged first (rechunk): a convolution needs every channel and, without
a halo exchange, the whole image; one batch chunk must therefore fit in memory.
dask is never imported unless a dask array is passed.
"""

import functools

import numpy as np

from . import _dispatch


def is_dask_array(a):
    """True for a dask.array.Array, without importing dask."""
    t = type(a)
    return t.__name__ == "Array" and t.__module__.split(".")[0] == "dask"


def _block(x, *, run, op, weight, bias, args, num_threads, algorithm, make_params):
    return run(op, x, weight, bias, args, None, num_threads, algorithm, make_params)


def conv(run, op, input, weight, bias, args, out, num_threads, algorithm, make_params):
    """The lazy dask version of `run(op, ...)` (fastconv._api._run)."""
    import dask.array as da

    if out is not None:
        raise TypeError(
            f"{op}(): out= is not supported for a dask array input (the result is lazy); "
            "compute it, or write it with dask.array.store / .to_zarr")
    # weight and bias are small: a dask one is computed here, once.
    weight = np.asarray(weight) if is_dask_array(weight) else weight
    bias = np.asarray(bias) if is_dask_array(bias) else bias
    if any(d != d for d in input.shape):      # NaN: chunk sizes dask does not know yet
        raise ValueError(
            f"{op}(): the dask array's shape {input.shape} has unknown (NaN) sizes; call "
            "input.compute_chunk_sizes() first")
    # Check everything now, as for NumPy, on a zero-memory stand-in of the input.
    meta = np.broadcast_to(np.zeros((), dtype=input.dtype), input.shape)
    meta, weight, bias = _dispatch.prepare_arrays(op, meta, weight, bias)
    params = make_params(meta.shape, weight.shape, None if bias is None else bias.shape, *args)
    _dispatch.check_num_threads(num_threads)
    _dispatch.parse_algorithm(algorithm, op)
    x = input if params.batched else input[None]
    x = x.rechunk({1: -1, 2: -1, 3: -1})
    out_shape = params.out_shape if params.batched else (1,) + tuple(params.out_shape)
    chunks = (x.chunks[0],) + tuple((n,) for n in out_shape[1:])
    fn = functools.partial(_block, run=run, op=op, weight=weight, bias=bias, args=args,
                           num_threads=num_threads, algorithm=algorithm,
                           make_params=make_params)
    y = x.map_blocks(fn, dtype=input.dtype, chunks=chunks,
                     meta=np.empty((0, 0, 0, 0), dtype=input.dtype),
                     token=f"fastconv-{op}")
    return y if params.batched else y[0]

