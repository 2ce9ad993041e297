"""Figures for lattice samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._figure import pyplot, save


def lattice_grid(samples: dict[str, np.ndarray], path: str | Path, *, title: str = "") -> Path:
    """Grid of lattice configurations: one row per label, one column per chain.

    ``samples[label]`` has shape ``(n_chains, L1, L2)`` with values in {0, 1}.
    """
    plt = pyplot()
    rows = list(samples)
    n_cols = max(v.shape[0] for v in samples.values())
    fig, axes = plt.subplots(
        len(rows), n_cols, figsize=(2.0 * n_cols, 2.0 * len(rows)), squeeze=False
    )
    for r, label in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < samples[label].shape[0]:
                ax.imshow(samples[label][c], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    if title:
        fig.suptitle(title)
    return save(fig, path)
