"""Compile gate: every specialisation of every CUDA kernel compiles with nvcc
for sm_80 and sm_90 without register spills.

Compiles exactly the text CuPy would get (fastconv._gpu.load_source: the
kernel source with fc_common.cuh pasted in), instantiating each name of
fastconv._gpu.name_expressions() by taking its address.  ptxas runs with
``--warn-on-spills --warning-as-error``, so a spill fails the build, and -v,
so the test can check that every kernel was really compiled.
"""

import glob
import os
import re
import shutil
import subprocess

import pytest

from fastconv import _gpu

ARCHS = ["sm_80", "sm_90"]


def find_nvcc():
    nvcc = shutil.which(os.environ.get("NVCC", "nvcc"))
    if nvcc is None:
        found = sorted(glob.glob("/usr/local/cuda*/bin/nvcc"))
        nvcc = found[-1] if found else None
    return nvcc


NVCC = find_nvcc()
pytestmark = pytest.mark.skipif(
    NVCC is None, reason="no CUDA compiler (nvcc) found: CUDA compile gate NOT run")

SOURCES = sorted(set(_gpu.SOURCES.values()))
# The compilers are programs of their own: not under the sanitizer runtime that
# .ci/sanitize preloads into Python.
ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def gate_source(source):
    names = [n for _, n, _ in _gpu.name_expressions(source)]
    refs = ",\n".join(f"    (void*)&{n}" for n in names)
    return _gpu.load_source(source) + f"\nvoid* fc_instances[] = {{\n{refs}\n}};\n", names


def mangled_kernel(name):
    """'conv2d_igemm<float, 64, ...>' -> the Itanium prefix '_Z12conv2d_igemmIf'."""
    base, _, rest = name.partition("<")
    return f"_Z{len(base)}{base}I{'f' if rest.startswith('float') else 'd'}"


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("source", SOURCES)
def test_compiles_without_spills(source, arch, tmp_path):
    code, names = gate_source(source)
    src = tmp_path / f"gate_{source}"
    src.write_text(code)
    cmd = [NVCC, "-std=c++17", f"-arch={arch}", "-cubin", "-o", str(tmp_path / "gate.cubin"),
           str(src), "-Xptxas", "--warn-on-spills,--warning-as-error", "-Xptxas", "-v"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV)
    log = r.stdout + r.stderr
    assert r.returncode == 0, f"nvcc failed for {source} on {arch}:\n{log[-6000:]}"
    entries = re.findall(r"Compiling entry function '(\w+)'", log)
    assert len(entries) == len(names), (names, entries)
    for name in names:
        assert any(e.startswith(mangled_kernel(name)) for e in entries), (name, entries)
    spills = re.findall(r"(\d+) bytes spill (?:stores|loads)", log)
    assert spills and all(s == "0" for s in spills), log


def test_gate_sees_a_spill(tmp_path):
    """The gate fails on a spill: a GEMM tile of 64 x 2 doubles per thread
    (256 registers of accumulators alone) must spill."""
    big = "conv2d_igemm<double, 512, 16, 8, 64, 2>"
    code = _gpu.load_source(_gpu.SOURCES["conv2d_igemm"]) + f"void* fc_big = (void*)&{big};\n"
    src = tmp_path / "spill.cu"
    src.write_text(code)
    cmd = [NVCC, "-std=c++17", "-arch=sm_80", "-cubin", "-o", str(tmp_path / "s.cubin"),
           str(src), "-Xptxas", "--warn-on-spills,--warning-as-error"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV)
    log = r.stdout + r.stderr
    assert r.returncode != 0 and "spilled" in log, log[-3000:]


def _cupy_nvrtc_or_reason():
    try:
        import cupy  # noqa: F401
        from cupy.cuda import compiler, nvrtc
        nvrtc.getVersion()
    except Exception as exc:
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return compiler, None


@pytest.mark.parametrize("arch", ["80", "90"])
def test_nvrtc_through_cupy(arch, monkeypatch):
    """The path CuPy's RawModule takes (NVRTC, our options and name
    expressions, lowered names), where CuPy and NVRTC are installed.  CuPy asks
    the (absent) GPU for its arch; the test tells it instead."""
    if os.environ.get("LD_PRELOAD"):
        pytest.skip("NVRTC cannot load its builtins under a preloaded sanitizer runtime: "
                    "NVRTC compile check NOT run")
    compiler, reason = _cupy_nvrtc_or_reason()
    if compiler is None:
        pytest.skip(f"CuPy with NVRTC not available: NVRTC compile check NOT run ({reason})")
    monkeypatch.setattr(compiler, "_get_arch_for_options_for_nvrtc",
                        lambda arch=None: (f"-arch=sm_{arch}", "cubin"))
    options = _gpu.NVRTC_OPTIONS + ("--ptxas-options=--warn-on-spills",
                                    "--ptxas-options=--warning-as-error")
    for source in SOURCES:
        names = [n for _, n, _ in _gpu.name_expressions(source)]
        cubin, mapping = compiler.compile_using_nvrtc(
            _gpu.load_source(source), options=options, arch=arch, name_expressions=names)
        assert len(cubin) > 1000 and sorted(mapping) == sorted(names)
        for name in names:
            assert mapping[name].startswith(mangled_kernel(name))
