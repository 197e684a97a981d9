"""fastconv.show_config(): what this build is and what it can run on."""

import importlib.util
import sys


def config():
    """The build and run-time facts as a dict."""
    from . import __version__, _cpu
    isas = [n for n in ("avx512", "avx2", "generic") if _cpu.isa_supported(n)]
    gpu = "not installed (pip install \"fastconv[gpu]\")"
    if importlib.util.find_spec("cupy") is not None:
        gpu = "cupy installed (raw CUDA kernels, compiled on first use)"
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "openmp": _cpu.openmp_enabled(),
        "max_threads": _cpu.max_threads(),
        "compiler_flags": _cpu.build_flags(),
        "simd": _cpu.get_isa(),
        "simd_available": isas,
        "backends": {"cpu": "numpy (Cython + OpenMP)", "gpu": gpu},
    }


def show_config(file=None):
    """Print version, OpenMP state and threads, compiler flags and backends."""
    c = config()
    out = file or sys.stdout
    print(f"fastconv {c['version']} (Python {c['python']})", file=out)
    print(f"  OpenMP:         {'on' if c['openmp'] else 'off'}", file=out)
    print(f"  max threads:    {c['max_threads']}", file=out)
    print(f"  compiler flags: {c['compiler_flags']}", file=out)
    print(f"  SIMD in use:    {c['simd']} (available: {', '.join(c['simd_available'])})",
          file=out)
    for name, state in c["backends"].items():
        print(f"  backend {name}:    {state}", file=out)
