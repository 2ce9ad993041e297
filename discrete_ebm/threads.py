"""The ``--threads`` option of every command and benchmark script, defined once."""

from __future__ import annotations

import argparse


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
