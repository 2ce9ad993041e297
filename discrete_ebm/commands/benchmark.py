"""``discrete-ebm benchmark``: which way of training an EBM works best for this data, and at
what cost? Runs the declared suite of (task × objective × seed) cells and writes
``results.json`` (every cell: objective and settings, seed, steps, wall time, time per step,
peak memory, held-out quality metrics, the metric-vs-time curve; failed cells with their
error), ``results.md`` (tables and winners) and one PNG per task (metric vs wall time).
An interrupted run resumes from the cells already in ``results.json``. The suite is
``discrete_ebm.recipes.benchmark.run_benchmark``.
"""

from __future__ import annotations

import argparse

from ._common import add_common_arguments, report, say, show_progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="benchmark discrete versus continuous training objectives",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="the quick suite (22 cells, one seed; about 3 minutes on 2 cores)",
    )
    p.add_argument("--tasks", nargs="+", default=None, help="run only these tasks (default: all)")
    p.add_argument(
        "--only", nargs="+", default=None, help="run only cells whose key contains one of these"
    )
    p.add_argument("--no-resume", action="store_true", help="start afresh instead of resuming")
    p.add_argument("--retry-failed", action="store_true", help="rerun cells recorded as failed")
    add_common_arguments(p, default_out="runs/benchmark")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..recipes.benchmark import run_benchmark

    if args.device not in ("auto", "cpu"):
        say(args, "note: benchmark cells run on the CPU")
    try:
        result = run_benchmark(
            args.out,
            suite="quick" if args.quick else "full",
            tasks=args.tasks,
            only=args.only,
            resume=not args.no_resume,
            retry_failed=args.retry_failed,
            seed=args.seed,
            progress=show_progress(args),
        )
    except ValueError as err:  # argument errors (cells failing inside are recorded, not raised)
        raise SystemExit(f"--{err}") from None
    report(
        f"wrote {result.results}, {result.report} and {len(result.plots)} plot(s); "
        f"{len(result.failed)} failed cell(s)",
    )
    return 0
