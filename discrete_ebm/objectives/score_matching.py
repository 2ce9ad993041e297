"""Score matching objectives for continuous energies (the model score is ``s(x) = −∇U(x)``).

- ``ScoreMatching()`` (Hyvärinen 2005): ``J = mean_i [½|∇U(x_i)|² − tr ∇²U(x_i)]``, the
  Fisher divergence to the data up to a constant; the Hessian trace is exact (``d``
  backward passes).
- ``SlicedScoreMatching(n_projections, distribution)`` (Song et al. 2019): with random
  projections ``v`` (``E[vvᵀ] = I``), ``J = mean_{i,v} [½(vᵀ∇U)² − vᵀ∇²U v]`` (or
  ``½|∇U|²`` in place of ``½(vᵀ∇U)²`` with ``variance_reduction=True``); its expectation
  over ``v`` equals ``ScoreMatching``; only Hessian–vector products are needed.
- ``DenoisingScoreMatching(sigma)`` (Vincent 2011): ``x̃ = x + σε``,
  ``J = mean_i ½|∇U(x̃_i) − ε_i/σ|²``, minimised by the score of the noised data
  ``−∇U*(x̃) = ∇ log p_σ(x̃) = (E[x | x̃] − x̃)/σ²`` (Tweedie).

All three keep the autograd graph (``create_graph=True``) so ``fit`` can backpropagate to
the parameters. Inputs ``(B, d)``, output a scalar.
"""

from __future__ import annotations

import math

import torch

from ..models.base import EnergyModel
from .base import Objective


def energy_grad(
    model: EnergyModel, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x_r, U(x_r), ∇U(x_r))`` with ``x_r`` a leaf copy of ``x`` requiring grad and the
    gradient kept in the graph (``create_graph=True``); shapes ``(B, d)``, ``(B,)``, ``(B, d)``."""
    xr = x.detach().requires_grad_(True)
    with torch.enable_grad():
        u = model(xr)  # shape-checked energy
        (g,) = torch.autograd.grad(u.sum(), xr, create_graph=True)
    return xr, u, g


class ScoreMatching(Objective):
    """Exact score matching: ``J = mean_i [½|∇U(x_i)|² − Σ_k ∂²U/∂x_k²(x_i)]``.

    For ``U(x) = ½xᵀMx`` this is ``mean_i [½ x_iᵀMMx_i − tr M]``. Cost: ``d`` extra backward
    passes (one per Hessian diagonal entry). Metrics: ``grad_sq`` (mean ``½|∇U|²``) and
    ``laplacian`` (mean ``tr ∇²U``).
    """

    binary = False

    def loss(
        self, model: EnergyModel, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        xr, _, g = energy_grad(model, x)
        lap = torch.zeros(x.shape[0], dtype=g.dtype, device=g.device)
        with torch.enable_grad():
            for k in range(x.shape[1]):
                (hk,) = torch.autograd.grad(g[:, k].sum(), xr, create_graph=True)
                lap = lap + hk[:, k]
        half_sq = 0.5 * (g * g).sum(1)
        self.metrics = {"grad_sq": half_sq.mean().detach(), "laplacian": lap.mean().detach()}
        return (half_sq - lap).mean()


class SlicedScoreMatching(Objective):
    """Sliced score matching with ``n_projections`` random directions per data point.

    ``J = mean_{i,j} [½(v_ijᵀ∇U(x_i))² − v_ijᵀ ∇²U(x_i) v_ij]`` with ``v`` standard normal
    (``distribution="gaussian"``) or uniform on {−1, +1}^d (``"rademacher"``); with
    ``variance_reduction=True`` the first term is ``½|∇U(x_i)|²`` (SSM-VR). The data are
    repeated ``n_projections`` times so one batched Hessian–vector product serves all.
    """

    binary = False

    def __init__(
        self,
        n_projections: int = 1,
        distribution: str = "gaussian",
        *,
        variance_reduction: bool = False,
    ):
        super().__init__()
        if (
            isinstance(n_projections, bool)
            or not isinstance(n_projections, int)
            or n_projections <= 0
        ):
            raise ValueError(f"n_projections must be a positive int, got {n_projections!r}")
        if distribution not in ("gaussian", "rademacher"):
            raise ValueError(
                f"distribution must be 'gaussian' or 'rademacher', got {distribution!r}"
            )
        self.n_projections = n_projections
        self.distribution = distribution
        self.variance_reduction = bool(variance_reduction)

    def projections(
        self, shape: tuple[int, int], like: torch.Tensor, generator=None
    ) -> torch.Tensor:
        """Random directions of shape ``shape`` with ``E[vvᵀ] = I``."""
        if self.distribution == "gaussian":
            return torch.randn(shape, generator=generator, device=like.device, dtype=like.dtype)
        r = torch.randint(0, 2, shape, generator=generator, device=like.device, dtype=like.dtype)
        return r.mul_(2.0).sub_(1.0)

    def loss(
        self, model: EnergyModel, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        xp = x.repeat(self.n_projections, 1) if self.n_projections > 1 else x
        v = self.projections(tuple(xp.shape), xp, generator)
        xr, _, g = energy_grad(model, xp)
        gv = (g * v).sum(1)
        with torch.enable_grad():
            (hv,) = torch.autograd.grad(gv.sum(), xr, create_graph=True)
        vhv = (hv * v).sum(1)
        first = 0.5 * (g * g).sum(1) if self.variance_reduction else 0.5 * gv * gv
        self.metrics = {"grad_sq": first.mean().detach(), "vhv": vhv.mean().detach()}
        return (first - vhv).mean()


class DenoisingScoreMatching(Objective):
    """Denoising score matching at noise level ``sigma`` (a standard deviation).

    ``x̃ = x + σε``, ``ε ~ N(0, I)``; ``J = mean_i ½|∇U(x̃_i) − ε_i/σ|²``. The model learns the
    noised density ``p_σ = p * N(0, σ²I)``; for Gaussian data ``N(μ, Σ)`` the optimal
    quadratic energy has precision ``(Σ + σ²I)⁻¹``.
    """

    binary = False

    def __init__(self, sigma: float = 0.1):
        super().__init__()
        if (
            isinstance(sigma, bool)
            or not isinstance(sigma, int | float)
            or not (0 < sigma < math.inf)
        ):
            raise ValueError(f"sigma must be a positive finite float, got {sigma!r}")
        self.sigma = float(sigma)

    def loss(
        self, model: EnergyModel, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        _, _, g = energy_grad(model, x + self.sigma * eps)
        r = g - eps / self.sigma
        per = 0.5 * (r * r).sum(1)
        self.metrics = {"residual": per.mean().detach()}
        return per.mean()
