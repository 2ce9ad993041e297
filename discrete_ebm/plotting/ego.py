"""The Ego-small figure: generated graphs beside test graphs, and the degree, clustering and
orbit statistics of both sets (the three statistics the MMDs compare)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import networkx as nx
import numpy as np

from ._figure import pyplot, save
from .graphs import _draw


def _mean_pmf(graphs: Sequence[nx.Graph], stat) -> np.ndarray:
    rows = [stat(g) for g in graphs]
    out = np.zeros(max(len(r) for r in rows))
    for r in rows:
        out[: len(r)] += r
    return out / len(rows)


def _histograms(fig, spec, test, generated) -> None:
    from ..graphs.metrics import clustering_histogram, degree_histogram, orbit_feature

    panels = (
        ("degree", degree_histogram, "degree", "mean fraction of nodes"),
        (
            "clustering",
            lambda g: clustering_histogram(g, 10),
            "clustering coefficient (10 bins)",
            "",
        ),
        ("orbit", orbit_feature, "orbit", "mean count per node"),
    )
    for k, (name, stat, xlabel, ylabel) in enumerate(panels):
        ax = fig.add_subplot(spec[k])
        a, b = _mean_pmf(test, stat), _mean_pmf(generated, stat)
        width = max(len(a), len(b))
        a, b = np.pad(a, (0, width - len(a))), np.pad(b, (0, width - len(b)))
        xs = np.arange(width) / (10 if name == "clustering" else 1)
        step = xs[1] - xs[0] if width > 1 else 1.0
        ax.bar(xs - step * 0.2, a, width=step * 0.4, color="tab:blue", label="test")
        ax.bar(xs + step * 0.2, b, width=step * 0.4, color="tab:orange", label="generated")
        if name == "orbit":
            ax.set_yscale("symlog", linthresh=0.1)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)


def plot_ego_figure(
    test: Sequence[nx.Graph],
    generated: Sequence[nx.Graph],
    path: str | Path,
    *,
    n: int = 16,
    title: str | None = None,
    seed: int = 0,
) -> Path:
    """Save a PNG: the first ``n`` test graphs (blue) beside the first ``n`` generated ones
    (orange), and below them the mean degree pmf, clustering pmf (10 bins of [0, 1]) and
    mean orbit counts per node of both sets. Returns the path."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not test or not generated:
        raise ValueError("test and generated must each hold at least one graph")
    plt = pyplot()
    side = int(np.ceil(np.sqrt(n)))
    fig = plt.figure(figsize=(2 * side * 1.3 + 0.4, side * 1.35 + 3.2))
    top, bottom = fig.subfigures(2, 1, height_ratios=[side * 1.35, 2.6])
    halves = top.subfigures(1, 2, wspace=0.04)
    for panel, graphs, label, color in (
        (halves[0], test, "test graphs", "tab:blue"),
        (halves[1], generated, "generated graphs", "tab:orange"),
    ):
        axes = panel.subplots(side, side, squeeze=False)
        for k, ax in enumerate(axes.flat):
            if k < min(n, len(graphs)):
                _draw(ax, graphs[k], seed + k, color)
            else:
                ax.set_axis_off()
        panel.suptitle(f"{label} ({len(graphs)})", fontsize=10)
    _histograms(bottom, bottom.add_gridspec(1, 3, wspace=0.3), test, generated)
    if title:
        fig.suptitle(title, fontsize=10, y=1.01, va="bottom")
    return save(fig, path)
