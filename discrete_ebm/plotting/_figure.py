"""Matplotlib set-up shared by the plotting modules (headless Agg backend)."""

from __future__ import annotations

from pathlib import Path

from ..io import atomic_write


def pyplot():
    """Import ``matplotlib.pyplot`` with a non-interactive backend."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | Path, dpi: int = 120) -> Path:
    """Save (atomically, in the format of ``path``'s suffix) and close a figure; returns
    the path."""
    fmt = Path(path).suffix.lstrip(".") or None
    try:
        return atomic_write(
            path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=fmt)
        )
    finally:
        pyplot().close(fig)
