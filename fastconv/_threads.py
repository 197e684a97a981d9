"""fastconv.set_num_threads / get_num_threads (torch's names).

How many OpenMP threads a call uses, first match wins (Note [thread setting] in
_cpu.pyx):
  1. the call's own ``num_threads=``;
  2. a limit in force on OpenMP in the calling thread, when lower than 3
     (``threadpoolctl.threadpool_limits(n, user_api="openmp")``,
     ``omp_set_num_threads``);
  3. ``set_num_threads(n)``;
  4. OpenMP's default: ``OMP_NUM_THREADS``, else the number of cores.
Problems too small to share run on one thread whatever the setting
(``fastconv._dispatch.THRESHOLDS["SINGLE_THREAD_MACS"]``).
"""

import operator

from . import _cpu


def set_num_threads(n):
    """Set the number of threads fastconv's CPU kernels use, process-wide.

    Like ``torch.set_num_threads``: ``n`` must be a positive int.  It also sets
    OpenMP's thread count of the calling thread (``omp_set_num_threads``), so a
    ``threadpoolctl`` limit taken later, in any thread, still lowers it, and
    lifting that limit restores ``n``.  A call's ``num_threads=`` overrides it.
    Without OpenMP (a ``FASTCONV_NO_OPENMP=1`` build) everything runs on one
    thread and this only records ``n``.
    """
    if isinstance(n, bool):
        raise TypeError("set_num_threads(): argument 'n' must be int, not bool")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(
            f"set_num_threads(): argument 'n' must be int, not {type(n).__name__}") from None
    if n <= 0:
        raise ValueError(f"set_num_threads(): expected a positive number of threads, but "
                         f"got {n}")
    if n > 2**31 - 1:
        raise ValueError(f"set_num_threads(): {n} threads is more than OpenMP can count")
    _cpu.set_default_threads(n)


def get_num_threads():
    """The number of threads a call from this thread without ``num_threads=``
    would use now (for a problem large enough to share)."""
    return _cpu.default_threads()
