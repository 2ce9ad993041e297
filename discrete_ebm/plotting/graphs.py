"""Figures of graphs: a grid of training graphs beside a grid of generated ones."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import networkx as nx

from ._figure import pyplot, save


def _draw(ax, g: nx.Graph, seed: int, color: str) -> None:
    ax.set_axis_off()
    if g.number_of_nodes() == 0:
        ax.text(0.5, 0.5, "empty", ha="center", va="center", fontsize=7, transform=ax.transAxes)
        return
    pos = nx.spring_layout(g, seed=seed)
    nx.draw_networkx_edges(g, pos, ax=ax, width=0.8, edge_color="0.35")
    nx.draw_networkx_nodes(g, pos, ax=ax, node_size=18, node_color=color, linewidths=0)
    ax.set_title(f"n={g.number_of_nodes()} m={g.number_of_edges()}", fontsize=6, pad=1)


def plot_graph_grid(
    left: Sequence[nx.Graph],
    right: Sequence[nx.Graph],
    path: str | Path,
    *,
    n: int = 16,
    titles: tuple[str, str] = ("training graphs", "generated graphs"),
    suptitle: str | None = None,
    seed: int = 0,
) -> Path:
    """Save a PNG with the first ``n`` graphs of ``left`` (a square grid) beside the first ``n``
    of ``right``; spring layouts are seeded with ``seed``. Returns the path."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    plt = pyplot()
    side = math.ceil(math.sqrt(n))
    fig = plt.figure(figsize=(2 * side * 1.3 + 0.4, side * 1.35 + 0.6))
    sub = fig.subfigures(1, 2, wspace=0.04)
    for panel, graphs, title, color in (
        (sub[0], left, titles[0], "tab:blue"),
        (sub[1], right, titles[1], "tab:orange"),
    ):
        axes = panel.subplots(side, side, squeeze=False)
        for k, ax in enumerate(axes.flat):
            if k < min(n, len(graphs)):
                _draw(ax, graphs[k], seed + k, color)
            else:
                ax.set_axis_off()
        panel.suptitle(title, fontsize=10)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10, y=1.04)
    return save(fig, path)
