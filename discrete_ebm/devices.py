"""Device selection: ``device="auto"`` picks CUDA when available, never hard-coded."""

from __future__ import annotations

import os

import torch


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``None`` or ``"auto"`` -> CUDA if available (GPU ``LOCAL_RANK`` of a ``torchrun``
    process) else CPU; anything else -> ``torch.device``."""
    if device is None or device == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        local = os.environ.get("LOCAL_RANK")
        return torch.device("cuda" if local is None else f"cuda:{int(local)}")
    return torch.device(device)


def module_device(module: torch.nn.Module) -> torch.device:
    """Device of a module's first parameter or buffer (CPU for a module with neither)."""
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return torch.device("cpu")


def module_dtype(module: torch.nn.Module) -> torch.dtype:
    """Floating dtype of a module's first floating parameter or buffer (default dtype otherwise)."""
    for t in list(module.parameters()) + list(module.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.get_default_dtype()


def generator_device(generator: torch.Generator | None) -> torch.device:
    """Where draws with ``generator`` must be made: its device, or the CPU for ``None``
    (torch's default generator)."""
    return generator.device if generator is not None else torch.device("cpu")
