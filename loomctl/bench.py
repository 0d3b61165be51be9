"""`python -m loomctl.bench NAME…`: the same benchmarks as `python -m loomctl.perf` (``make bench``)."""

import sys

from loomctl.perf import main

if __name__ == "__main__":
    sys.exit(main())
