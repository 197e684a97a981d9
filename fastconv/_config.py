"""fastconv.show_config() / python -m fastconv info: what this build is and what it can run on."""

import importlib.metadata
import importlib.util
import os
import sys

# Optional packages worth knowing about: peers in the benchmark, extras, helpers.
OPTIONAL = ("torch", "scipy", "dask", "threadpoolctl", "matplotlib", "cupy")


def _version(name):
    """The installed version of a distribution, without importing it; None if absent."""
    if importlib.util.find_spec(name) is None:
        return None
    for dist in (name, name + "-cuda12x", name + "-cuda11x", name + "-cuda13x"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "installed (version unknown)"


def _gpu():
    """CuPy and the GPUs it sees, guarded: any failure is reported, never raised."""
    if importlib.util.find_spec("cupy") is None:
        return {"cupy": None, "devices": [],
                "note": 'not installed (pip install "fastconv[gpu]")'}
    try:
        import cupy
        n = cupy.cuda.runtime.getDeviceCount()
        devices = []
        for i in range(n):
            props = cupy.cuda.runtime.getDeviceProperties(i)
            name = props["name"]
            name = name.decode() if isinstance(name, bytes) else name
            cc = cupy.cuda.Device(i).compute_capability   # e.g. '90'
            devices.append({"id": i, "name": name,
                            "compute_capability": f"{cc[:-1]}.{cc[-1]}"})
        return {"cupy": cupy.__version__, "devices": devices,
                "note": f"{n} GPU{'s' if n != 1 else ''} visible"}
    except Exception as exc:   # no driver, no device, broken install
        return {"cupy": _version("cupy"), "devices": [],
                "note": f"no usable GPU ({type(exc).__name__}: {str(exc)[:120]})"}


def _ncpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def config(gpu=True):
    """The build and run-time facts as a dict (gpu=False skips importing CuPy)."""
    from . import __version__, _cpu, get_num_threads
    isas = [n for n in ("avx512", "avx2", "generic") if _cpu.isa_supported(n)]
    g = _gpu() if gpu else None
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "numpy": _version("numpy"),
        "openmp": _cpu.openmp_enabled(),
        "max_threads": _cpu.max_threads(),
        "threads": {"per_call_default": get_num_threads(), "set_num_threads": _cpu.setting(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
                    "openmp_max_threads": _cpu.max_threads(), "cpus": _ncpus()},
        "compiler_flags": _cpu.build_flags(),
        "simd": _cpu.get_isa(),
        "simd_available": isas,
        "narrow_fma": _cpu.narrow_fma(),
        "backends": {"cpu": "numpy (Cython + OpenMP)",
                     "gpu": (g["note"] if g is None or g["cupy"] is None
                             else f"cupy {g['cupy']}: {g['note']}") if g else "not checked"},
        "gpus": g["devices"] if g else [],
        "optional": {name: _version(name) for name in OPTIONAL},
    }


def show_config(file=None):
    """Print version, build (OpenMP, compiler flags, SIMD), threads, GPU and the
    optional packages installed."""
    c = config()
    out = file or sys.stdout
    t = c["threads"]
    print(f"fastconv {c['version']} (Python {c['python']}, NumPy {c['numpy']})", file=out)
    print(f"  OpenMP:         {'on' if c['openmp'] else 'off'}", file=out)
    print(f"  max threads:    {c['max_threads']}", file=out)
    print(f"  threads:        {t['per_call_default']} per call (set_num_threads: "
          f"{t['set_num_threads'] or 'not set'}; OMP_NUM_THREADS: "
          f"{t['OMP_NUM_THREADS'] or 'not set'}; {t['cpus']} CPUs)", file=out)
    print(f"  compiler flags: {c['compiler_flags']}", file=out)
    print(f"  SIMD in use:    {c['simd']} (available: {', '.join(c['simd_available'])})"
          + ("; half-width AVX-512 FMAs ('auto' favours Winograd)" if c["narrow_fma"] else ""),
          file=out)
    for name, state in c["backends"].items():
        print(f"  backend {name}:    {state}", file=out)
    for d in c["gpus"]:
        print(f"    GPU {d['id']}: {d['name']}, compute capability {d['compute_capability']}",
              file=out)
    print("  optional packages:", file=out)
    for name, v in c["optional"].items():
        print(f"    {name + ':':15s} {v or 'not installed'}", file=out)
