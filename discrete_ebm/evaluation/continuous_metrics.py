"""Metrics for continuous models: MMD between samples, log-densities normalised on a grid.

- ``mmd2(x, y, bandwidth)``: unbiased ``MMD²`` with the Gaussian kernel
  ``k(a, b) = exp(−|a − b|² / 2h²)`` (median heuristic for ``h`` by default).
- ``square_grid(lim, n)``: the ``n × n`` cell centres of ``[−lim, lim]²``.
- ``grid_log_density(model, lim, n)``: ``log p̂ = −U − log Σ_cells exp(−U)·A`` on that grid
  (``A`` the cell area), i.e. the model normalised by a Riemann sum.
- ``log_density_mse(logp_model, logp_true, area)``: both normalised on the grid, then
  ``Σ_c w_c (log p̂_c − log p_c)²`` with ``w_c = p_c·A`` the true probability of cell ``c``
  (renormalised): the expected squared log-density error under the data,
  ``E_{x~p}[(log p̂(x) − log p(x))²]``, by quadrature. Cells where ``p = 0`` get no weight.
"""

from __future__ import annotations

import math

import torch

from ..models.base import EnergyModel


def _pairwise_sq(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cdist(a, b).pow(2)


def median_bandwidth(x: torch.Tensor, y: torch.Tensor, max_points: int = 1000) -> float:
    """Median heuristic: ``h = sqrt(median |a − b|² / 2)`` over the pooled points (first
    ``max_points`` of each set)."""
    z = torch.cat([x[:max_points], y[:max_points]]).double()
    d2 = _pairwise_sq(z, z)
    iu = torch.triu_indices(z.shape[0], z.shape[0], 1, device=z.device)
    med = d2[iu[0], iu[1]].median()
    return float(torch.sqrt(med / 2).clamp_min(1e-12))


def mmd2(x: torch.Tensor, y: torch.Tensor, bandwidth: float | None = None) -> torch.Tensor:
    """Unbiased ``MMD²(x, y)`` with a Gaussian kernel of bandwidth ``h`` (0-d float64 tensor).

    ``x``: ``(n, d)``, ``y``: ``(m, d)``, ``n, m ≥ 2``.
    ``MMD² = mean_{i≠i'} k(x_i, x_i') + mean_{j≠j'} k(y_j, y_j') − 2 mean_{i,j} k(x_i, y_j)``.
    """
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor) or t.dim() != 2 or t.shape[0] < 2:
            raise ValueError(f"{name} must be a tensor of shape (n, d) with n >= 2")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same width, got {x.shape[1]} and {y.shape[1]}")
    h = median_bandwidth(x, y) if bandwidth is None else float(bandwidth)
    if not h > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    x, y = x.double(), y.double()
    n, m = x.shape[0], y.shape[0]
    kxx = torch.exp(-_pairwise_sq(x, x) / (2 * h * h))
    kyy = torch.exp(-_pairwise_sq(y, y) / (2 * h * h))
    kxy = torch.exp(-_pairwise_sq(x, y) / (2 * h * h))
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return sxx + syy - 2 * kxy.mean()


def square_grid(
    lim: float = 4.0, n: int = 100, *, dtype: torch.dtype = torch.float32, device=None
) -> tuple[torch.Tensor, float]:
    """Cell centres of an ``n × n`` grid on ``[−lim, lim]²`` as ``(n², 2)`` (row-major, ``y``
    varying slowest so ``reshape(n, n)`` gives an image with rows along ``y``) and the cell area."""
    if not lim > 0 or not isinstance(n, int) or n < 2:
        raise ValueError(f"need lim > 0 and an int n >= 2, got lim={lim}, n={n}")
    h = 2 * lim / n
    c = -lim + h * (torch.arange(n, dtype=torch.float64) + 0.5)
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1).to(dtype=dtype, device=device)
    return pts, h * h


def normalise_on_grid(logp_unnorm: torch.Tensor, area: float) -> torch.Tensor:
    """``log p̂_c = l_c − log Σ_c' exp(l_c')·A``: a density integrating to 1 over the grid."""
    l = logp_unnorm.double()
    return l - torch.logsumexp(l.reshape(-1), 0) - math.log(area)


def grid_log_density(
    model: EnergyModel, lim: float = 4.0, n: int = 100, *, chunk: int = 65536
) -> torch.Tensor:
    """The model's ``log p̂ = −U`` normalised on the ``n × n`` grid of ``[−lim, lim]²``,
    shape ``(n, n)`` float64 (rows along ``y``)."""
    if model.binary or model.dim != 2:
        raise ValueError("grid_log_density needs a continuous model on R^2")
    pts, area = square_grid(lim, n, dtype=model.dtype, device=model.device)
    with torch.no_grad():
        u = torch.cat([model.energy(pts[i : i + chunk]) for i in range(0, pts.shape[0], chunk)])
    return normalise_on_grid(-u, area).reshape(n, n)


def log_density_mse(logp_model: torch.Tensor, logp_true: torch.Tensor, area: float) -> torch.Tensor:
    """``Σ_c w_c (log p̂_c − log p_c)²``, ``w_c ∝ p_c`` (both inputs re-normalised on the grid).

    Inputs: log-densities on the same grid (any shape, same numel), ``−inf`` allowed in
    ``logp_true`` (zero weight). Returns a 0-d float64 tensor.
    """
    if logp_model.numel() != logp_true.numel():
        raise ValueError("logp_model and logp_true must be on the same grid (same number of cells)")
    lm = normalise_on_grid(logp_model.reshape(-1), area)
    lt = normalise_on_grid(logp_true.reshape(-1).to(lm.device), area)
    w = torch.softmax(lt, 0)
    keep = w > 0
    return (w[keep] * (lm[keep] - lt[keep]) ** 2).sum()
