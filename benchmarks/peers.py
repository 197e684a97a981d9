"""The peer implementations, now in the package (fastconv/_bench_peers.py): this name is
kept for bench_conv.py and for ``python benchmarks/peers.py --selftest``."""

import sys

from fastconv import _bench_peers
from fastconv._bench_peers import *  # noqa: F401,F403
from fastconv._bench_peers import PEERS, selftest  # noqa: F401

if __name__ == "__main__":
    if "--selftest" in sys.argv[1:]:
        sys.exit(selftest())
    print(_bench_peers.__doc__)
