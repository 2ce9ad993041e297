"""Gibbs-with-gradients (Grathwohl, Swersky, Hashemi, Duvenaud & Maddison, ICML 2021).

A Metropolis–Hastings sampler for any binary EnergyModel whose energy is differentiable in
a relaxation of ``x``. With ``f(x) = −β U(x)`` the first-order estimate of the change of
``f`` when bit ``i`` flips is ``d̃_i(x) = (1 − 2 x_i) ∂f/∂x_i``; the proposal flips one bit
``i ~ q(i | x) = softmax(d̃(x) / 2)`` and the flip ``x → x'`` is accepted with probability

    min(1, exp(f(x') − f(x)) · q(i | x') / q(i | x)),

which leaves ``p_β(x) ∝ exp(−β U(x))`` invariant. Clamped coordinates are never proposed.
All chains move in parallel; each proposal costs one energy evaluation and one gradient.
"""

from __future__ import annotations

import torch

from .._validation import check_positive_int
from ..models.base import EnergyModel
from .base import Sampler


class GWGSampler(Sampler):
    """Gibbs-with-gradients sampler; one ``step`` makes ``n_proposals`` MH proposals.

    Args:
        model: a binary EnergyModel with an energy differentiable in ``x``.
        n_proposals: single-bit MH proposals per step (default 1).

    Diagnostics: ``acceptance_rate`` (accepted / proposed, over chains that have a free
    coordinate) and ``flip_rate`` (accepted flips / (n_chains · d)) per step.
    """

    binary = True
    other_domain_hint = "; use LangevinSampler on R^d"

    def __init__(self, model: EnergyModel, n_proposals: int = 1):
        super().__init__(model)
        self.n_proposals = check_positive_int(n_proposals, "n_proposals")

    def _value_and_grad(self, x: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``f(x) = −β U(x)`` ``(B,)`` and ``∂f/∂x`` ``(B, d)`` (no parameter gradients)."""
        with torch.enable_grad():
            xx = x.detach().requires_grad_(True)
            f = -beta * self.model(xx)
            (g,) = torch.autograd.grad(f.sum(), xx)
        return f.detach(), g.detach()

    @staticmethod
    def _log_proposal(
        x: torch.Tensor, g: torch.Tensor, frozen: torch.Tensor | None
    ) -> torch.Tensor:
        """``log q(· | x) = log_softmax((1 − 2x) ∂f/∂x / 2)`` over the free coordinates."""
        logits = (1 - 2 * x) * g / 2
        if frozen is not None:
            logits = logits.masked_fill(frozen, float("-inf"))
            logits = torch.where(frozen.all(1, keepdim=True), torch.zeros_like(logits), logits)
        return torch.log_softmax(logits, dim=1)

    def step(self, x, beta, clamp, x0, generator):
        B, d = x.shape
        rows = torch.arange(B, device=x.device)
        movable = torch.ones(B, dtype=torch.bool, device=x.device)
        if clamp is not None:
            movable = ~clamp.all(1)
        f, g = self._value_and_grad(x, beta)
        accepted = x.new_zeros(())
        for _ in range(self.n_proposals):
            logq = self._log_proposal(x, g, clamp)
            u = torch.rand(logq.shape, generator=generator, device=x.device, dtype=x.dtype)
            neg_log_u = (-torch.log(u.clamp_min(1e-30))).clamp_min(1e-30)
            gumbel = -torch.log(neg_log_u)  # Gumbel(0, 1): argmax(logq + gumbel) ~ q
            i = torch.argmax(logq + gumbel, dim=1)
            x_new = x.clone()
            x_new[rows, i] = 1 - x_new[rows, i]
            f_new, g_new = self._value_and_grad(x_new, beta)
            logq_rev = self._log_proposal(x_new, g_new, clamp)
            log_alpha = f_new - f + logq_rev[rows, i] - logq[rows, i]
            v = torch.rand(B, generator=generator, device=x.device, dtype=x.dtype)
            accept = (torch.log(v) < log_alpha) & movable
            a = accept.unsqueeze(1)
            x = torch.where(a, x_new, x)
            f = torch.where(accept, f_new, f)
            g = torch.where(a, g_new, g)
            accepted = accepted + accept.sum()
        n_movable = movable.sum().clamp_min(1)
        return x, {
            "acceptance_rate": accepted / (n_movable * self.n_proposals),
            "flip_rate": accepted / (B * d),
        }
