"""Figures for the continuous branch: true vs learned 2-D densities and Langevin samples."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from ._figure import pyplot, save


def toy_results_figure(
    true_log_density: torch.Tensor | None,
    data: torch.Tensor,
    panels: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    lim: float,
    *,
    title: str | None = None,
):
    """Top row: the true density and each learned one (``exp`` of log-densities normalised on
    the grid ``[−lim, lim]²``, shape ``(n, n)`` with rows along ``y``), each with its colour
    bar; bottom row: data and each model's Langevin samples ``(m, 2)``. Every panel has
    ``x₁``/``x₂`` ticks on ``[−lim, lim]``. ``panels``: name -> (log-density grid, samples).
    Returns the matplotlib ``Figure``.
    """
    plt = pyplot()
    cols = 1 + len(panels)
    fig, axes = plt.subplots(
        2, cols, figsize=(3.3 * cols, 6.4), squeeze=False, layout="constrained"
    )
    extent = (-lim, lim, -lim, lim)

    def density(ax, logp, label):
        im = ax.imshow(torch.exp(logp).numpy(), origin="lower", extent=extent, cmap="viridis")
        bar = fig.colorbar(im, ax=ax, shrink=0.8, pad=0.02)
        bar.set_label("p(x)", fontsize=8)
        bar.ax.tick_params(labelsize=7)
        ax.set_title(label, fontsize=9)

    def scatter(ax, pts, label):
        pts = pts.detach().cpu()
        ax.scatter(pts[:, 0].numpy(), pts[:, 1].numpy(), s=1, alpha=0.4, color="k", rasterized=True)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_title(label, fontsize=9)

    if true_log_density is not None:
        density(axes[0, 0], true_log_density.detach().cpu(), "true density")
    else:
        d = data.detach().cpu()
        *_, im = axes[0, 0].hist2d(
            d[:, 0].numpy(), d[:, 1].numpy(), bins=80, range=[[-lim, lim], [-lim, lim]]
        )
        bar = fig.colorbar(im, ax=axes[0, 0], shrink=0.8, pad=0.02)
        bar.set_label("count", fontsize=8)
        bar.ax.tick_params(labelsize=7)
        axes[0, 0].set_title("data histogram", fontsize=9)
    scatter(axes[1, 0], data, "data")
    for j, (name, (logp, samples)) in enumerate(panels.items(), start=1):
        density(axes[0, j], logp.detach().cpu(), name.replace("_", " "))
        scatter(axes[1, j], samples, "Langevin samples")
    ticks = [-lim, -lim / 2, 0.0, lim / 2, lim]
    for c, ax in zip(list(range(cols)) * 2, axes.flat):
        ax.set_aspect("equal")
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("$x_1$", fontsize=8)
        if c == 0:
            ax.set_ylabel("$x_2$", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_toy_results(
    true_log_density: torch.Tensor | None,
    data: torch.Tensor,
    panels: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    lim: float,
    path: str | Path,
    *,
    title: str | None = None,
) -> Path:
    """Save :func:`toy_results_figure` to ``path``; returns the path."""
    return save(toy_results_figure(true_log_density, data, panels, lim, title=title), path)
