"""Checkpoints of ``fit``: everything needed to continue the same run, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..io import save_torch


def save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` (tensors, numbers, strings and containers of them) to ``path``."""
    save_torch(state, path)


def load_checkpoint(path: Path, device: torch.device) -> dict:
    """Read a checkpoint written by ``save_checkpoint``, tensors mapped to ``device``."""
    return torch.load(path, map_location=device, weights_only=True)


def checkpoint_path(checkpoint: str | os.PathLike | None) -> Path | None:
    """``None`` or the checkpoint's ``Path`` (an empty name is an error)."""
    if checkpoint is None:
        return None
    if not isinstance(checkpoint, str | os.PathLike) or not str(checkpoint).strip():
        raise ValueError(f"checkpoint must be a file path or None, got {checkpoint!r}")
    return Path(checkpoint)
