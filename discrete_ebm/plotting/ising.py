"""Figure for learned Ising couplings: true vs learned matrices, entry scatter, loss curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._figure import pyplot, save


def coupling_figure(
    J_learned: np.ndarray,
    loss: list[float] | np.ndarray,
    path: str | Path,
    *,
    J_true: np.ndarray | None = None,
    title: str = "",
    scale_label: str = "J/2 (benchmark scale)",
) -> Path:
    """Save a figure: [true J] | learned J | learned vs true entries | loss per step.

    ``J_learned`` and ``J_true`` are ``(d, d)`` arrays already on the scale to show
    (``scale_label``); both matrices share one symmetric colour scale. Without ``J_true``
    only the learned matrix and the loss are drawn.
    """
    plt = pyplot()
    J_learned = np.asarray(J_learned, dtype=float)
    panels = 4 if J_true is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 4.0))
    vmax = float(np.abs(J_learned).max())
    if J_true is not None:
        J_true = np.asarray(J_true, dtype=float)
        vmax = max(vmax, float(np.abs(J_true).max()))
    vmax = vmax or 1.0
    k = 0
    mats = [("true couplings", J_true), ("learned couplings", J_learned)]
    for name, M in mats:
        if M is None:
            continue
        ax = axes[k]
        im = ax.imshow(M, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_title(f"{name}, {scale_label}", fontsize=9)
        ax.set_xlabel("site j")
        ax.set_ylabel("site i")
        k += 1
    fig.colorbar(im, ax=axes[k - 1], fraction=0.046, pad=0.04)
    if J_true is not None:
        ax = axes[k]
        iu = np.triu_indices(J_true.shape[0], 1)
        ax.scatter(J_true[iu], J_learned[iu], s=4, alpha=0.4)
        lim = [-vmax * 1.1, vmax * 1.1]
        ax.plot(lim, lim, "k--", lw=0.8)
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        ax.set_xlabel(f"true, {scale_label}")
        ax.set_ylabel(f"learned, {scale_label}")
        ax.set_title("every pair i < j", fontsize=9)
        k += 1
    ax = axes[k]
    loss = np.asarray(loss, dtype=float)
    ax.plot(np.arange(1, loss.size + 1), loss, lw=0.6, alpha=0.5, label="per step")
    if loss.size >= 20:
        w = max(loss.size // 50, 5)
        smooth = np.convolve(loss, np.ones(w) / w, mode="valid")
        ax.plot(np.arange(w, loss.size + 1), smooth, lw=1.5, label=f"mean of {w}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("training loss", fontsize=9)
    ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)
