"""The ``--threads`` option of every command and benchmark script, defined once, and the
OpenMP wait policy the ``discrete-ebm`` command sets before torch loads.

torch's CPU kernels run on an OpenMP team (GNU libgomp in the Linux wheels) whose idle
threads spin at every barrier by default. Beside another busy process a spinning team
loses its time slices to it and everything slows 3–50× or worse. Measured on a shared
2-core machine (2026-12-05, other jobs running), 2,000 chains × 200 block-Gibbs sweeps of
a 10×10 lattice, alone / beside one ``python3 -c "while True: pass"``: default 0.21 s /
0.63–1.06 s (2.3 s / 32 s under heavier load), ``OMP_WAIT_POLICY=PASSIVE`` (idle threads
sleep) 0.45–0.68 s / 0.30 s; ``discrete-ebm ising``: default 17 s / over 900 s, passive
23–28 s / 24–28 s: the passive policy costs some speed on an idle machine and holds under
load. libgomp reads the variable once, when torch loads, so the command sets it before
that; a program importing the library keeps its own environment (set the variable before
importing torch to get the same).
"""

from __future__ import annotations

import argparse
import os
import sys

#: environment the ``discrete-ebm`` command sets (unless already set) before torch loads
OPENMP_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE"}


def add_threads_argument(parser: argparse.ArgumentParser, default: int | None = None) -> None:
    """Add ``--threads N`` (torch intra-op CPU threads; default: torch's choice)."""
    parser.add_argument(
        "--threads",
        type=int,
        default=default,
        help="torch intra-op CPU threads (default: "
        + ("torch's choice" if default is None else str(default))
        + ")",
    )


def set_threads(n: int | None) -> None:
    """``torch.set_num_threads(n)`` unless ``n`` is ``None``; ``n`` must be a positive int."""
    if n is None:
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be a positive integer, got {n!r}")
    import torch

    torch.set_num_threads(n)


def set_openmp_environment() -> dict[str, str]:
    """Set ``OPENMP_ENVIRONMENT`` in ``os.environ`` where not already set (a user's choice
    wins), if torch is not loaded yet (after that libgomp ignores it). Returns the values
    set. Called by the ``discrete-ebm`` entry point only: a library import changes nothing.
    """
    if "torch" in sys.modules:
        return {}
    chosen = {k: v for k, v in OPENMP_ENVIRONMENT.items() if k not in os.environ}
    os.environ.update(chosen)
    return chosen
