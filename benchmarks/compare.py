"""Time fastconv against its peers: a thin wrapper around ``python -m fastconv bench``.

    python benchmarks/compare.py [--threads 1,2] [--cases id1,id2] [--peers torch,numpy,scipy]
                                 [--json out.json] [--plot out.png] [--repeat R]
                                 [--min-time S] [--quick] [--peak P] [--shapes FILE]

The comparison logic and the workload ship inside the package (fastconv/_bench.py,
fastconv/bench_shapes.json) so that an installed wheel can run it; see
``python benchmarks/compare.py --help`` for every option and the method.
"""

import sys

from fastconv._bench import main

if __name__ == "__main__":
    sys.exit(main(prog="compare.py"))
