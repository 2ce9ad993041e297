"""Figures for the continuous branch: true vs learned 2-D densities and Langevin samples."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from ._figure import pyplot, save


def plot_toy_results(
    true_log_density: torch.Tensor | None,
    data: torch.Tensor,
    panels: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    lim: float,
    path: str | Path,
    *,
    title: str | None = None,
) -> Path:
    """Top row: the true density and each learned one (``exp`` of log-densities on the grid
    ``[−lim, lim]²``, shape ``(n, n)`` with rows along ``y``); bottom row: data and each model's
    Langevin samples ``(m, 2)``. ``panels``: name -> (log-density grid, samples). Returns the path.
    """
    plt = pyplot()
    cols = 1 + len(panels)
    fig, axes = plt.subplots(2, cols, figsize=(2.6 * cols, 5.8), squeeze=False)
    extent = (-lim, lim, -lim, lim)

    def density(ax, logp, label):
        ax.imshow(torch.exp(logp).numpy(), origin="lower", extent=extent, cmap="viridis")
        ax.set_title(label, fontsize=9)

    def scatter(ax, pts, label):
        pts = pts.detach().cpu()
        ax.scatter(pts[:, 0].numpy(), pts[:, 1].numpy(), s=1, alpha=0.4, color="k", rasterized=True)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(label, fontsize=9)

    if true_log_density is not None:
        density(axes[0, 0], true_log_density.detach().cpu(), "true density")
    else:
        d = data.detach().cpu()
        axes[0, 0].hist2d(
            d[:, 0].numpy(), d[:, 1].numpy(), bins=80, range=[[-lim, lim], [-lim, lim]]
        )
        axes[0, 0].set_title("data histogram", fontsize=9)
    scatter(axes[1, 0], data, "data")
    for j, (name, (logp, samples)) in enumerate(panels.items(), start=1):
        density(axes[0, j], logp.detach().cpu(), name.replace("_", " "))
        scatter(axes[1, j], samples, f"{name.replace('_', ' ')}: Langevin")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save(fig, path)
