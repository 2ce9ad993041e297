"""Energy discrepancy (Schröder, Ou, Lim, Duncan & Duncan, NeurIPS 2023; Schröder et al.,
"Training discrete energy-based models with energy discrepancy", 2023).

Perturb a data point ``x`` with a symmetric kernel, ``y ~ q(·|x)``, draw ``M`` negatives
``x'_j ~ q(·|y)`` and contrast their energies with that of ``x``:

    loss = mean_i logsumexp([U(x_i) − U(x'_ij)]_{j=1..M} ∪ {log w})

This equals the paper's stabilised estimator ``log(w/M + (1/M) Σ_j exp(U(x) − U(x'_j)))``
plus the constant ``log M``; at a constant energy it equals ``log(M + w)``. No MCMC and
no partition function: the ``B·M`` negatives are evaluated in one batched energy call.

Perturbations (each a small overridable method, so subclasses can mask or restrict them):
- ``BernoulliED``: flip each bit independently with probability ``ε``;
- ``GridED``: flip one uniformly chosen bit;
- ``GaussianED`` (continuous data): ``y = x + √t ξ``, ``x' = y + √t ξ'``, ``t`` a variance.
"""

from __future__ import annotations

import abc
import math

import torch

from .._validation import check_positive_int, check_probability, trusted_values
from ..models.base import EnergyModel
from .base import Objective
from .bernoulli_flips import xor_bernoulli


def energy_discrepancy_loss(
    u_pos: torch.Tensor, u_neg: torch.Tensor, w: float = 1.0
) -> torch.Tensor:
    """``mean_i logsumexp([u_pos_i − u_neg_ij]_j ∪ {log w})``.

    Args:
        u_pos: energies of the data points, shape ``(B,)``.
        u_neg: energies of their negatives, shape ``(B, M)``.
        w: stabiliser ``w >= 0`` (``w = 0`` drops the ``log w`` term).

    Returns the scalar loss; ``log(M + w)`` when all energies are equal.
    """
    if u_pos.dim() != 1 or u_neg.dim() != 2 or u_neg.shape[0] != u_pos.shape[0]:
        raise ValueError(
            f"u_pos must have shape (B,) and u_neg shape (B, M); got {tuple(u_pos.shape)} "
            f"and {tuple(u_neg.shape)}"
        )
    w = float(w)
    if not w >= 0 or math.isinf(w):
        raise ValueError(f"w must be a finite number >= 0, got {w}")
    diff = u_pos.unsqueeze(1) - u_neg
    if w > 0:
        diff = torch.cat([diff, diff.new_full((diff.shape[0], 1), math.log(w))], dim=1)
    return torch.logsumexp(diff, dim=1).mean()


class EnergyDiscrepancy(Objective):
    """Energy discrepancy with a perturbation given by ``perturb`` and ``negatives``.

    Subclasses implement ``perturb(x, generator) -> y`` (``(B, d)``) and
    ``negatives(y, M, generator) -> x'`` (``(B, M, d)``); the kernel must be symmetric.

    Metrics: ``energy_pos`` (mean ``U(x)``), ``energy_neg`` (mean ``U(x')``), ``energy_gap``
    (``energy_neg − energy_pos``; positive once data are more likely than negatives).
    """

    def __init__(self, n_negatives: int = 32, w: float = 1.0):
        super().__init__()
        self.n_negatives = check_positive_int(n_negatives, "n_negatives")
        w = float(w)
        if not w >= 0 or math.isinf(w):
            raise ValueError(f"w must be a finite number >= 0, got {w}")
        self.w = w

    @abc.abstractmethod
    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``y ~ q(·|x)``: ``(B, d) -> (B, d)``."""

    @abc.abstractmethod
    def negatives(
        self, y: torch.Tensor, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` draws ``x'_j ~ q(·|y)`` per row: ``(B, d) -> (B, n, d)``."""

    def loss(
        self, model: EnergyModel, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        B, d = x.shape
        M = self.n_negatives
        x = model.check_input(x)
        with torch.no_grad():
            y = self.perturb(x, generator)
            xn = self.negatives(y, M, generator)
        if xn.shape != (B, M, d):
            raise ValueError(
                f"{type(self).__name__}.negatives must return shape {(B, M, d)}, "
                f"got {tuple(xn.shape)}"
            )
        with trusted_values():  # the data were checked above; negatives are built from them
            u = model(torch.cat([x, xn.reshape(B * M, d)], dim=0))  # shape-checked energy
        u_pos, u_neg = u[:B], u[B:].view(B, M)
        loss = energy_discrepancy_loss(u_pos, u_neg, self.w)
        e_pos, e_neg = u_pos.detach().mean(), u_neg.detach().mean()
        self.metrics = {"energy_pos": e_pos, "energy_neg": e_neg, "energy_gap": e_neg - e_pos}
        return loss


class BernoulliED(EnergyDiscrepancy):
    """Bernoulli energy discrepancy on {0,1}^d.

    ``y = x XOR ξ``, ``ξ ~ Bernoulli(ε)^d``; ``x'_j = y XOR ξ'_j``; loss
    ``mean_i logsumexp([U(x_i) − U(x'_ij)]_j ∪ {log w})`` (Schröder et al. 2023).

    Args:
        epsilon: flip probability ``ε`` in (0, 1).
        n_negatives: ``M`` negatives per data point.
        w: stabiliser (``log w`` joins the logsumexp).

    Flips happen in ``flip(z, generator)`` (``xor_bernoulli``: ``O(εd)`` positions per row,
    no dense mask); override it to restrict the perturbation to some coordinates (e.g. the
    existing edges of a graph, ``graphs.GraphBernoulliED``).
    """

    binary = True

    def __init__(self, epsilon: float = 0.1, n_negatives: int = 32, w: float = 1.0):
        super().__init__(n_negatives, w)
        self.epsilon = check_probability(epsilon, "epsilon")

    def flip(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``z XOR ξ`` with ``ξ ~ Bernoulli(ε)`` i.i.d. for the 0/1 tensor ``z`` (``(..., d)``,
        possibly an expanded view); a new tensor."""
        return xor_bernoulli(z, self.epsilon, generator=generator)

    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.flip(x, generator)

    def negatives(
        self, y: torch.Tensor, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        B, d = y.shape
        return self.flip(y.unsqueeze(1).expand(B, n, d), generator)


class GridED(EnergyDiscrepancy):
    """Grid (one-flip) energy discrepancy on {0,1}^d (Schröder et al. 2023).

    ``y`` flips one uniformly chosen bit of ``x``; each negative ``x'_j`` flips one more
    uniformly chosen bit of ``y`` (so ``x'_j = x`` with probability ``1/d``); loss
    ``mean_i logsumexp([U(x_i) − U(x'_ij)]_j ∪ {log w})``.

    The flipped coordinates come from ``sites(shape, x, generator)`` (long tensor of indices
    in ``0..d−1``); override it to restrict which bits may flip.
    """

    binary = True

    def sites(
        self, shape: tuple[int, ...], x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Uniform site indices of ``shape`` (long), one flipped bit each."""
        return torch.randint(0, x.shape[-1], shape, generator=generator, device=x.device)

    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        idx = self.sites((x.shape[0], 1), x, generator)
        y = x.clone()
        y.scatter_(1, idx, 1 - y.gather(1, idx))
        return y

    def negatives(
        self, y: torch.Tensor, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        B, d = y.shape
        idx = self.sites((B, n, 1), y, generator)
        xn = y.unsqueeze(1).expand(B, n, d).clone()
        xn.scatter_(2, idx, 1 - xn.gather(2, idx))
        return xn


class GaussianED(EnergyDiscrepancy):
    """Gaussian energy discrepancy on R^d (Schröder et al., NeurIPS 2023).

    ``y = x + √t ξ`` and ``x'_j = y + √t ξ'_j`` with ``ξ, ξ'_j ~ N(0, I)``; ``t`` is a
    VARIANCE (not a standard deviation). Loss
    ``mean_i logsumexp([U(x_i) − U(x'_ij)]_j ∪ {log w})``.

    Args:
        t: noise variance ``t > 0``.
        n_negatives: ``M`` negatives per data point (the paper uses small M, e.g. 4).
        w: stabiliser.
    """

    binary = False

    def __init__(self, t: float, n_negatives: int = 4, w: float = 1.0):
        super().__init__(n_negatives, w)
        t = float(t)
        if not t > 0 or math.isinf(t):
            raise ValueError(f"t (a noise variance) must be a finite number > 0, got {t}")
        self.t = t

    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + math.sqrt(self.t) * noise

    def negatives(
        self, y: torch.Tensor, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        B, d = y.shape
        noise = torch.randn((B, n, d), generator=generator, device=y.device, dtype=y.dtype)
        return y.unsqueeze(1) + math.sqrt(self.t) * noise
