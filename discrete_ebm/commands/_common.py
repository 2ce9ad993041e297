"""Arguments and helpers shared by subcommands (output folder, seed, device, threads, quiet).

Output: results (the summary and the paths written) go to stdout with ``report``, always;
progress and log messages to stderr with ``say`` (silenced by ``--quiet``).
"""

from __future__ import annotations

import argparse
import math
import sys

from ..threads import add_threads_argument


def add_common_arguments(p: argparse.ArgumentParser, *, default_out: str) -> None:
    """``--out``, ``--seed``, ``--device``, ``--threads`` (applied by ``cli.main`` before the
    subcommand runs) and ``--quiet``."""
    p.add_argument("--out", default=default_out, help=f"output folder (default: {default_out})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--device", default="auto", help="'auto' (CUDA if available), 'cpu', 'cuda:0', ..."
    )
    add_threads_argument(p)
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars or log messages (results still go to stdout)",
    )


def show_progress(args) -> bool:
    """Progress bars only on a terminal and without ``--quiet``."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def say(args, message: str) -> None:
    """Print a progress or log ``message`` to stderr unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


def report(message: str) -> None:
    """Print a result (a summary line, the paths written) to stdout."""
    print(message, flush=True)


def check_ranges(args, rules: dict[str, tuple[float, float, bool]]) -> None:
    """Exit with ``--flag must ...`` unless every ``args.<dest>`` (skipped when ``None``) is
    finite and in ``(low, high)`` (``closed``: ``[low, high]``); ``rules``: dest ->
    ``(low, high, closed)``, ``high`` may be ``inf``."""
    for dest, (low, high, closed) in rules.items():
        values = getattr(args, dest)
        for v in values if isinstance(values, list) else [values]:
            if v is None:
                continue
            inside = low <= v <= high if closed else low < v < high
            if not (inside and math.isfinite(v)):
                lo, hi = ("[", "]") if closed else ("(", ")")
                raise SystemExit(f"--{dest.replace('_', '-')} must lie in {lo}{low}, {high}{hi}")
