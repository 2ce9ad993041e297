"""Figure of a denoising run: one row per image, columns clean | noisy | each method."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._figure import pyplot, save


def denoise_grid(
    columns: dict,
    path: str | Path,
    *,
    errors: dict | None = None,
    n_rows: int = 8,
    title: str | None = None,
) -> Path:
    """Save a grid of binary images.

    Args:
        columns: ordered ``{name: array (n, H, W)}`` (e.g. ``clean``, ``noisy``, methods).
        path: PNG to write.
        errors: optional ``{name: pixel error rate}`` shown under the column titles.
        n_rows: how many images (the first ``n_rows``) to show.
    """
    if not columns:
        raise ValueError("columns must name at least one image array")
    arrays = {k: np.asarray(v) for k, v in columns.items()}
    n = min(n_rows, *(a.shape[0] for a in arrays.values()))
    if n < 1:
        raise ValueError("need at least one image to plot")
    plt = pyplot()
    H, W = next(iter(arrays.values())).shape[1:3]
    cell = 1.1 * max(1.0, min(3.0, 28 / max(H, W) * 1.0))
    fig, axes = plt.subplots(
        n, len(arrays), figsize=(cell * len(arrays) + 0.4, cell * n + 0.6), squeeze=False
    )
    for j, (name, a) in enumerate(arrays.items()):
        label = name
        if errors is not None and errors.get(name) is not None:
            label = f"{name}\n{100 * errors[name]:.2f}% wrong"
        axes[0, j].set_title(label, fontsize=8)
        for i in range(n):
            ax = axes[i, j]
            ax.imshow(a[i], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save(fig, path)
