"""python -m fastconv info | demo | bench, and benchmarks/compare.py (a wrapper of bench)."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

import fastconv
from fastconv import _bench, _bench_peers

REPO = pathlib.Path(__file__).resolve().parent.parent
SMALL = "inception-1x7"     # ~0.07 GFLOP: milliseconds per call
# --peak: no 2048^2 matmuls; --max-wait 0: no waiting for other processes to go idle
FAST = ["--quick", "--cases", SMALL, "--threads", "1", "--peak", "100", "--max-wait", "0"]


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_info():
    r = _run("-m", "fastconv", "info")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith(f"fastconv {fastconv.__version__} (Python ")
    for needle in ("OpenMP:", "compiler flags:", "SIMD in use:", "available:", "threads:",
                   "backend gpu:", "optional packages:", "torch:", "scipy:", "dask:",
                   "threadpoolctl:", "matplotlib:"):
        assert needle in out, (needle, out)
    if importlib.util.find_spec("cupy") is None:
        assert "backend gpu:    not installed" in out
    if importlib.util.find_spec("dask") is None:
        assert "dask:           not installed" in out


def test_config_reports_the_thread_setting():
    from fastconv import _cpu
    c = fastconv._config.config(gpu=False)
    assert c["threads"]["per_call_default"] == fastconv.get_num_threads()
    assert c["simd"] in c["simd_available"]
    assert c["narrow_fma"] is _cpu.narrow_fma() and (not c["narrow_fma"] or "avx512" in
                                                     c["simd_available"])
    assert set(c["optional"]) >= {"torch", "scipy", "dask", "threadpoolctl", "matplotlib"}
    assert c["threads"]["set_num_threads"] == _cpu.setting()


def test_unknown_command():
    r = _run("-m", "fastconv", "frobnicate")
    assert r.returncode == 2 and "python -m fastconv [info | demo | bench" in r.stderr


def _check_table(out):
    lines = out.splitlines()
    header = next(i for i, l in enumerate(lines) if l.startswith("case "))
    assert "fastconv ms" in lines[header] and "check" in lines[header]
    row = lines[header + 2]
    assert row.startswith(SMALL) and " ok " in row, out
    assert any(l.startswith("geomean") for l in lines[header:])


def test_bench_quick_prints_the_table(tmp_path):
    js = tmp_path / "out.json"
    r = _run("-m", "fastconv", "bench", *FAST, "--json", str(js))
    assert r.returncode == 0, r.stdout + r.stderr
    _check_table(r.stdout)
    assert f"1/1 {SMALL} (1 thread)" in r.stderr      # the progress bar
    data = json.loads(js.read_text())
    assert [rec["case"] for rec in data["results"]] == [SMALL]
    assert data["results"][0]["check"]["ok"]


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                    reason="matplotlib not installed")
def test_bench_plot(tmp_path):
    png = tmp_path / "speedups.png"
    assert _bench.main(FAST + ["--peers", "numpy", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_plot_without_matplotlib_says_so(monkeypatch, capsys, tmp_path):
    real = _bench_peers.importable
    monkeypatch.setattr(_bench_peers, "importable", lambda m: m != "matplotlib" and real(m))
    assert _bench.main(FAST + ["--plot", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "--plot needs matplotlib, which is not installed: pip install matplotlib" in err
    assert not (tmp_path / "x.png").exists()


def test_bench_unknown_case():
    with pytest.raises(SystemExit, match="unknown case ids \\['nope'\\]"):
        _bench.main(["--quick", "--cases", "nope"])


def test_workload_ships_with_the_package():
    with open(_bench.SHAPES) as f:
        cases = json.load(f)["cases"]
    assert SMALL in {c["id"] for c in cases}
    assert pathlib.Path(_bench.SHAPES).parent == pathlib.Path(fastconv.__file__).parent


@pytest.mark.skipif(not (REPO / "benchmarks" / "compare.py").exists(),
                    reason="no source checkout")
def test_compare_py_is_the_same_command():
    r = _run(str(REPO / "benchmarks" / "compare.py"), *FAST, "--peers", "numpy")
    assert r.returncode == 0, r.stdout + r.stderr
    _check_table(r.stdout)
    assert _run(str(REPO / "benchmarks" / "compare.py"), "--help").stdout.startswith(
        "usage: compare.py")


@pytest.mark.skipif(os.environ.get("FASTCONV_EXPECT_INSTALLED") != "1",
                    reason="only when testing an installed wheel (.ci/wheel)")
def test_the_installed_package_is_under_test():
    f = pathlib.Path(fastconv.__file__).resolve()
    assert "site-packages" in f.parts and REPO not in f.parents, f


def test_bench_runs_with_numpy_alone():
    """A fresh `pip install .` has NumPy only: no threadpoolctl, torch, scipy, matplotlib."""
    code = ("import sys\n"
            "for m in ('threadpoolctl', 'torch', 'scipy', 'matplotlib'):\n"
            "    sys.modules[m] = None   # import fails as if not installed\n"
            "from fastconv._bench import main\n"
            f"sys.exit(main({FAST!r}))\n")
    r = _run("-c", code)
    assert r.returncode == 0, r.stdout + r.stderr
    _check_table(r.stdout)
    assert "threadpoolctl not installed: NumPy's BLAS runs on its default" in r.stdout
    assert "check: max|fc - numpy| / max|numpy|" in r.stdout
