"""Figures for lattice samples: configurations per temperature beside ``|m|`` against ``T``
with Onsager's exact spontaneous magnetisation and the critical temperature."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..recipes.lattice import CRITICAL_TEMPERATURE, onsager_magnetisation
from ._figure import pyplot, save


def magnetisation_panel(ax, results: Sequence[Mapping], coupling: float = 1.0) -> None:
    """``|m|`` per site against ``T`` (mean ± standard deviation over chains, from the records
    of ``recipes.lattice.sample_temperatures``), Onsager's ``(1 − sinh(2J/T)^−4)^{1/8}`` of the
    infinite lattice, and a dashed line at ``T_c = 2|J| / ln(1 + √2)``."""
    T = np.array([r["temperature"] for r in results], dtype=float)
    m = np.array([r["abs_magnetisation"] for r in results], dtype=float)
    sd = np.array([r.get("abs_magnetisation_std", 0.0) for r in results], dtype=float)
    t_c = abs(coupling) * CRITICAL_TEMPERATURE
    hi = max(float(T.max()), t_c) * 1.15
    lo = min(float(T.min()), t_c) * 0.85
    grid = np.union1d(np.linspace(lo, hi, 400), np.linspace(0.97 * t_c, t_c, 200))
    ax.plot(
        grid,
        [onsager_magnetisation(t, coupling) for t in grid],
        color="C0",
        lw=1.5,
        label="Onsager (infinite lattice)",
    )
    if coupling != 0:
        ax.axvline(t_c, color="C3", ls="--", lw=1.0, label=f"$T_c$ = {t_c:.3f}")
    ax.errorbar(T, m, yerr=sd, fmt="o", color="k", ms=4, capsize=3, label="sampled |m| ± sd")
    ax.set_xlim(lo, hi)
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlabel("temperature T")
    ax.set_ylabel("|m| per site")
    ax.set_title("magnetisation", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")


def lattice_figure(
    samples: dict[str, np.ndarray],
    *,
    title: str = "",
    magnetisation: Sequence[Mapping] | None = None,
    coupling: float = 1.0,
):
    """Grid of lattice configurations: one row per label, one column per chain; with
    ``magnetisation`` (one record per row) a :func:`magnetisation_panel` on the right.

    ``samples[label]`` has shape ``(n_chains, L1, L2)`` with values in {0, 1}. Returns the
    matplotlib ``Figure``.
    """
    plt = pyplot()
    rows = list(samples)
    n_cols = max(v.shape[0] for v in samples.values())
    extra = 0 if magnetisation is None else max(3, n_cols // 2)
    height = 2.0 * len(rows) + 0.6
    fig = plt.figure(figsize=(2.0 * (n_cols + extra), height))
    top = 1.0 - 0.55 / height  # room for the title, no more
    if magnetisation is None:
        spec = fig.add_gridspec(len(rows), n_cols, top=top)
    else:  # a gap for the panel's axis labels
        outer = fig.add_gridspec(1, 2, width_ratios=[n_cols, extra], wspace=0.12, top=top)
        spec = outer[0].subgridspec(len(rows), n_cols)
    for r, label in enumerate(rows):
        for c in range(n_cols):
            ax = fig.add_subplot(spec[r, c])
            ax.set_xticks([])
            ax.set_yticks([])
            if c < samples[label].shape[0]:
                ax.imshow(samples[label][c], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    if magnetisation is not None:
        side = fig.add_subplot(outer[1])
        magnetisation_panel(side, magnetisation, coupling)
    if title:
        fig.suptitle(title)
    return fig


def lattice_grid(
    samples: dict[str, np.ndarray],
    path: str | Path,
    *,
    title: str = "",
    magnetisation: Sequence[Mapping] | None = None,
    coupling: float = 1.0,
) -> Path:
    """Save :func:`lattice_figure` to ``path``; returns the path."""
    fig = lattice_figure(samples, title=title, magnetisation=magnetisation, coupling=coupling)
    return save(fig, path)
