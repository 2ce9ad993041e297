"""Which way of training an EBM works best for this data, and at what cost?

    python examples/benchmark_discrete_vs_continuous.py            # the quick suite
    python examples/benchmark_discrete_vs_continuous.py --full     # the full suite (hours)

Runs the declared suite of (task × objective × seed) cells — 2-D densities modelled on R²
and as 32-bit Gray codes, Ising lattices, and (when their data is present) MNIST and
Ego-small — and writes ``results.json``, ``results.md`` (tables and winners) and one PNG
per task (quality against training wall time). Interrupt it and run it again: finished
cells are not run again. Same as ``discrete-ebm benchmark``
(``discrete_ebm.recipes.benchmark.run_benchmark``). ``--smoke`` (or
``DISCRETE_EBM_QUICK=1``) runs the seconds-long "tiny" suite of the Ising task instead, to
check the machinery.
"""

from __future__ import annotations

import argparse
import os
import sys

from discrete_ebm.recipes.benchmark import run_benchmark


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="the full suite instead of the quick one")
    p.add_argument("--smoke", action="store_true", help="seconds: the tiny suite, Ising only")
    p.add_argument("--tasks", nargs="+", default=None, help="only these tasks")
    p.add_argument("--out", default="runs/benchmark_example")
    args = p.parse_args()
    smoke = args.smoke or os.environ.get("DISCRETE_EBM_QUICK") == "1"
    suite = "tiny" if smoke else "full" if args.full else "quick"
    tasks = ["ising"] if smoke and not args.tasks else args.tasks
    run = run_benchmark(args.out, suite=suite, tasks=tasks, progress=not smoke)
    print(f"wrote {run.results}, {run.report} and {len(run.plots)} plot(s)")
    for key in run.failed:
        print(f"failed: {key}: {run.data['cells'][key]['error']}")
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
