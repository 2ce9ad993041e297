"""Which way of training an EBM works best for this data, and at what cost?

    python examples/benchmark_discrete_vs_continuous.py            # the quick suite
    python examples/benchmark_discrete_vs_continuous.py --full     # the full suite (hours)

Runs the declared suite of (task × objective × seed) cells — 2-D densities modelled on R²
and as 32-bit Gray codes, Ising lattices, and (when their data is present) MNIST and
Ego-small — and writes ``results.json``, ``results.md`` (tables and winners) and one PNG
per task (quality against training wall time). Interrupt it and run it again: finished
cells are not run again.
"""

from __future__ import annotations

import argparse
import sys

from discrete_ebm.cli import main as cli_main


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="the full suite instead of --quick")
    p.add_argument("--tasks", nargs="+", default=None, help="only these tasks")
    p.add_argument("--out", default="runs/benchmark_example")
    args = p.parse_args()
    argv = ["benchmark", "--out", args.out] + ([] if args.full else ["--quick"])
    if args.tasks:
        argv += ["--tasks", *args.tasks]
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
