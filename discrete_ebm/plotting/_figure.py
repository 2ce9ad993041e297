"""Matplotlib set-up shared by the plotting modules (headless Agg backend)."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """Import ``matplotlib.pyplot`` with a non-interactive backend."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | Path, dpi: int = 120) -> Path:
    """Save and close a figure; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return path
