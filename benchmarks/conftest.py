"""pytest setup for the benchmarks.

The benchmark files are named bench_*.py, which pytest's default test_*.py pattern never
collects: `pytest tests` (the test command) and a bare `pytest` (testpaths = tests) leave
them alone. This conftest collects them when benchmarks/ or something in it is asked for.
"""

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

# bench_conv.py imports peers.py from this directory, whatever --import-mode says
sys.path.insert(0, str(HERE))


def _ncpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def pytest_addoption(parser):
    parser.addoption("--conv-threads", type=int, default=_ncpus(),
                     help="threads for fastconv and the peers (default: all cores)")


@pytest.fixture
def conv_threads(request):
    return request.config.getoption("--conv-threads")


def _asked_for(config):
    """Whether a command-line path is benchmarks/ or lies inside it."""
    for arg in config.args:
        path = (Path(config.invocation_params.dir) / arg.split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_collect_file(parent, file_path):
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and not parent.session.isinitpath(file_path)  # named files pytest collects itself
            and _asked_for(parent.config)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None
