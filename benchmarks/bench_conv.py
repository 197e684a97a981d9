"""pytest-benchmark timings of fastconv and its peers on every case of bench_shapes.json.

    pytest benchmarks/ --benchmark-group-by=param:case     # implementations side by side
    pytest benchmarks/ --benchmark-disable -q              # smoke: one checked call each
    pytest benchmarks/ --conv-threads 1 -k "res3 and (fastconv or torch)"

Peers that are not installed (torch, scipy) skip. For interleaved timings with the
contention gate and ratios, use compare.py; pytest-benchmark times each test in one block.
"""

import json

import peers
import pytest

from fastconv._bench import SHAPES  # the workload ships with the package

with open(SHAPES) as f:
    CASES = {c["id"]: c for c in json.load(f)["cases"]}

# implementation -> (runner, module it needs)
IMPLS = {"fastconv": (peers.run_fastconv, "fastconv")}
IMPLS.update({name: (run, module) for name, (run, module, _) in peers.PEERS.items()})

# warm-up rounds before the timed ones: first calls pay for page faults and thread start-up
pytestmark = pytest.mark.benchmark(warmup=True, warmup_iterations=3)

_references = {}


def reference(case_id, threads):
    """(name, result) of torch, or of the numpy peer without torch; once per case."""
    if case_id not in _references:
        case = CASES[case_id]
        x, w, b = peers.make_inputs(case, seed=0)
        if peers.importable("torch"):
            _references[case_id] = ("torch", peers.run_torch(case, x, w, threads, b=b))
        else:
            _references[case_id] = ("numpy", peers.run_numpy_im2col(case, x, w, threads, b=b))
    return _references[case_id]


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("case", list(CASES))
def test_conv(benchmark, case, impl, conv_threads):
    run, module = IMPLS[impl]
    pytest.importorskip(module)
    spec = CASES[case]
    if impl in peers.PEERS and not peers.peer_supports(impl, spec):
        pytest.skip(f"{impl} does not compute this case")
    x, w, b = peers.make_inputs(spec, seed=0)
    benchmark.extra_info.update(gflop=peers.flops(spec) / 1e9, threads=conv_threads)

    # benchmark() returns the result of one more, untimed call: that is the one checked
    y = benchmark(run, spec, x, w, conv_threads, b=b)

    ref_name, ref = reference(case, conv_threads)
    diff = peers.max_rel_diff(y, ref)
    benchmark.extra_info.update(reference=ref_name, max_rel_diff=diff)
    assert diff <= peers.tolerance(spec), (
        f"{impl} on {case}: max|y - {ref_name}| / max|{ref_name}| = {diff:.3g} "
        f"> {peers.tolerance(spec):.0e}")
