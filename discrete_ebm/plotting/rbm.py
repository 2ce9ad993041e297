"""Image grids for RBM/DBM results: model samples and learned filters (receptive fields)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ._figure import pyplot, save


def tile_images(
    images: np.ndarray, shape: tuple[int, int], n_cols: int | None = None, pad: int = 1
) -> np.ndarray:
    """Tile ``images (N, h·w)`` into one array ``(rows·(h+pad)+pad, cols·(w+pad)+pad)``;
    padding takes the value NaN (drawn as the figure's background)."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 2 or images.shape[1] != shape[0] * shape[1]:
        raise ValueError(f"images must have shape (N, {shape[0] * shape[1]}), got {images.shape}")
    n = images.shape[0]
    n_cols = n_cols or math.ceil(math.sqrt(n))
    n_rows = math.ceil(n / n_cols)
    h, w = shape
    out = np.full((n_rows * (h + pad) + pad, n_cols * (w + pad) + pad), np.nan)
    for k in range(n):
        r, c = divmod(k, n_cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y : y + h, x : x + w] = images[k].reshape(h, w)
    return out


def plot_image_grid(
    images: torch.Tensor | np.ndarray,
    path: str | Path,
    *,
    shape: tuple[int, int] = (28, 28),
    n_cols: int | None = None,
    title: str | None = None,
) -> Path:
    """Save a grey-scale grid of images with values in [0, 1] (black = 0, white = 1)."""
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().double().numpy()
    plt = pyplot()
    grid = tile_images(images, shape, n_cols)
    fig, ax = plt.subplots(figsize=(grid.shape[1] / 30, grid.shape[0] / 30 + (0.4 if title else 0)))
    cmap = plt.get_cmap("gray").with_extremes(bad="#3060a0")
    ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return save(fig, path)


def plot_filters(
    W: torch.Tensor | np.ndarray,
    path: str | Path,
    *,
    n_filters: int = 100,
    shape: tuple[int, int] = (28, 28),
    title: str | None = None,
) -> Path:
    """Save the receptive fields ``W[:, j]`` of the first ``n_filters`` hidden units (of
    ``W (n_visible, n_hidden)``), each scaled to [0, 1] by its own min and max."""
    if isinstance(W, torch.Tensor):
        W = W.detach().cpu().double().numpy()
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"W must have shape (n_visible, n_hidden), got {W.shape}")
    F = W[:, :n_filters].T
    lo, hi = F.min(1, keepdims=True), F.max(1, keepdims=True)
    F = (F - lo) / np.maximum(hi - lo, 1e-12)
    return plot_image_grid(F, path, shape=shape, title=title)


def plot_likelihood_curve(result: dict, path: str | Path, *, title: str | None = None) -> Path:
    """Test log-likelihood over training: the quick forward-AIS estimates recorded during
    training (``result["curve"]``: records with ``epoch`` and ``quick_test_ll``) as a line,
    and the final forward (optimistic) and reverse (conservative) AIS estimates as markers
    with their standard errors (``run_rbm_mnist``'s result)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    curve = [r for r in result.get("curve", []) if "quick_test_ll" in r]
    if curve:
        ax.plot(
            [r["epoch"] for r in curve],
            [r["quick_test_ll"] for r in curve],
            "o-",
            ms=3,
            label=f"quick forward AIS ({result.get('eval_betas', '?')} betas, during training)",
        )
    end = len(result.get("seconds_per_epoch", [])) or (curve[-1]["epoch"] if curve else 0)
    ax.errorbar(
        [end],
        [result["test_log_likelihood"]],
        yerr=[result["log_z_stderr"]],
        fmt="^",
        color="C2",
        label=f"final forward AIS ({result['ais_betas']:,} betas; optimistic)",
    )
    if "test_log_likelihood_reverse" in result:
        ax.errorbar(
            [end],
            [result["test_log_likelihood_reverse"]],
            yerr=[result["log_z_reverse_stderr"]],
            fmt="v",
            color="C3",
            label="final reverse AIS (conservative)",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("average test log-likelihood (nats)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    return save(fig, path)
