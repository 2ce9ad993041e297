"""CD-1 of one RBM of a DBM's greedy layer-wise pre-training (Salakhutdinov & Hinton 2009).

Layer ``l``'s RBM (weights ``W (n_l, n_{l+1})``, biases ``b``, ``c``) is trained with its
upward input scaled by ``up`` and its downward input by ``down`` (2 where the DBM layer it
feeds gets input from two neighbours): for a batch ``x (B, n_l)``

    p = σ(c + up · xW),  h ~ Bernoulli(p),  p_x = σ(b + down · hWᵀ),  x̃ ~ Bernoulli(p_x),
    p̃ = σ(c + up · x̃W),
    ∂W = −(xᵀp − x̃ᵀp̃) / B,  ∂b = −mean(x − x̃),  ∂c = −mean(p − p̃),

written into ``.grad`` (no autograd; with ``up = down = 1`` it is the CD-1 gradient of the
RBM). The loss reported is the mean squared reconstruction error ``mean (x − p_x)²``.
"""

from __future__ import annotations

import torch

from .._validation import check_rows
from ..models.base import EnergyModel
from ..models.rbm import _bernoulli
from .base import Objective
from .rbm_pcd import check_rbm


class DoubledInputCD(Objective):
    """CD-1 with scaled up/down inputs (module docstring); ``up``, ``down`` in {1, 2}.

    Metrics: ``rows`` (the batch size, to weight reconstruction errors over an epoch).
    """

    binary = True

    def __init__(self, up: float = 1.0, down: float = 1.0):
        super().__init__()
        self.up, self.down = float(up), float(down)
        if not (self.up > 0 and self.down > 0):
            raise ValueError(f"up and down must be > 0, got {up}, {down}")

    @torch.no_grad()
    def _phases(self, rbm, x: torch.Tensor, generator) -> tuple[torch.Tensor, ...]:
        """``p``, ``p_x``, ``x̃``, ``p̃`` of the module docstring (one up-down-up pass)."""
        W, b, c = rbm.W, rbm.b, rbm.c
        p = torch.sigmoid(c + self.up * (x @ W))
        h = _bernoulli(p, generator)
        p_x = torch.sigmoid(b + self.down * (h @ W.T))
        x_r = _bernoulli(p_x, generator)
        p_r = torch.sigmoid(c + self.up * (x_r @ W))
        self.metrics = {"rows": float(x.shape[0])}
        return p, p_x, x_r, p_r

    @torch.no_grad()
    def write_gradients(
        self, model: EnergyModel, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Write ``∂W, ∂b, ∂c``; returns the reconstruction error ``mean (x − p_x)²``."""
        rbm = check_rbm(model)
        check_rows(x)
        p, p_x, x_r, p_r = self._phases(rbm, x, generator)
        B = x.shape[0]
        rbm.W.grad = (x_r.T @ p_r - x.T @ p) / B
        rbm.b.grad = (x_r - x).mean(0)
        rbm.c.grad = (p_r - p).mean(0)
        return ((x - p_x) ** 2).mean()

    def loss(
        self, model: EnergyModel, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The surrogate ``mean E(x, p) − mean E(x̃, p̃)`` (``E(v, h) = −vWh − bv − ch`` with
        the probabilities in place of ``h``, held fixed): its gradient is the one written by
        ``write_gradients`` for the same draws."""
        rbm = check_rbm(model)
        p, _, x_r, p_r = self._phases(rbm, x, generator)

        def energy(v, q):
            return -((v @ rbm.W) * q).sum(1) - v @ rbm.b - q @ rbm.c

        return energy(x, p).mean() - energy(x_r, p_r).mean()
