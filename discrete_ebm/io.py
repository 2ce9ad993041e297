"""Files written whole or not at all: every writer of the package goes through ``atomic_write``.

A file is written to a temporary name beside its target and moved over it with
``os.replace`` (atomic on POSIX and Windows), so a killed process leaves either the old
file or the new one, never half of one. The temporary name keeps the target's suffix
(``x.npz`` -> ``x.tmp<pid>.npz``).

In a run of several processes (``torch.distributed``, ``torchrun``) only rank 0 writes: on
every other rank the writers return the path without touching the file system, so each
recipe's reports, figures and checkpoints are written once.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np


def writes_files() -> bool:
    """False on the ranks other than 0 of a distributed run (module docstring). A process
    that has not imported torch has no process group: it writes unless ``torchrun`` gave it
    a ``RANK`` other than 0."""
    if "torch" not in sys.modules:
        return int(os.environ.get("RANK", "0")) == 0
    from .distributed import writes_files as rank_writes

    return rank_writes()


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then move it to ``path``.

    Creates the parent folder. If ``write`` raises, the temporary file is removed and
    ``path`` is left as it was. Returns ``path`` as a ``Path``. Does nothing on a rank other
    than 0 of a distributed run (``writes_files``)."""
    path = Path(path)
    if not path.name:
        raise ValueError(f"path must name a file, got {str(path)!r}")
    if not writes_files():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def json_ready(obj):
    """``obj`` with tuples as lists, dict keys as strings, NumPy / 0-d tensor scalars as
    Python numbers and non-finite floats as ``None`` (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return json_ready(obj.item())
    return obj


def write_json(path: str | os.PathLike, obj, *, indent: int = 2) -> Path:
    """Write ``json_ready(obj)`` as indented JSON, atomically; returns the path."""
    text = json.dumps(json_ready(obj), indent=indent, allow_nan=False) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def save_npz(path: str | os.PathLike, *, compressed: bool = False, **arrays) -> Path:
    """Write NumPy arrays to an ``.npz`` atomically (``compressed``: ``savez_compressed``)."""
    save = np.savez_compressed if compressed else np.savez

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: NumPy appends no ".npz" to the name
            save(f, **arrays)

    return atomic_write(path, write)


def save_torch(obj, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)`` atomically."""
    import torch

    return atomic_write(path, lambda tmp: torch.save(obj, tmp))
