"""Arguments and helpers shared by subcommands (output folder, seed, device, quiet)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


def add_common_arguments(p: argparse.ArgumentParser, *, default_out: str) -> None:
    p.add_argument("--out", default=default_out, help=f"output folder (default: {default_out})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--device", default="auto", help="'auto' (CUDA if available), 'cpu', 'cuda:0', ..."
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars or messages")


def show_progress(args) -> bool:
    """Progress bars only on a terminal and without ``--quiet``."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def _clean(obj):
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return _clean(obj.item())
    return obj


def write_json(path: str | Path, obj) -> Path:
    """Write ``obj`` as indented JSON (non-finite floats become null); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_clean(obj), indent=2) + "\n")
    tmp.replace(path)
    return path


def say(args, message: str) -> None:
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)
