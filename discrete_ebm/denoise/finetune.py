"""Contrastive divergence on the flip-noise posterior of an RBM prior (no autograd).

Each clean image ``x`` of a batch gets a synthetic noisy copy ``y`` (flip noise with a rate
``p`` drawn uniformly from ``flip_rates``, per image). Under the RBM prior the Bayes posterior
is ``p_θ(x | y) ∝ exp(−F_θ(x) + λ_p Σ_i s_i t_i)`` with ``λ_p = ½ log((1 − p)/p)``, spins
``s = 2x − 1``, ``t = 2y − 1`` (``posterior``): again an RBM, with the visible bias shifted by
``2λ_p t``. The gradient of the conditional negative log-likelihood is

    ∇_θ [−log p_θ(x | y)] = ∇_θ F_θ(x) − E_{x' ~ p_θ(·|y)} ∇_θ F_θ(x'),

the expectation estimated by ``k`` block-Gibbs sweeps of the posterior started at ``y``
(CD-``k`` on the posterior, which is concentrated near ``x``, so short chains suffice):
``RBM.contrastive_gradient(x, v)`` of the final visible states ``v``. The loss reported is
the surrogate ``mean E_y(x) − mean E_y(v)`` with the posterior energy
``E_y(v) = F_θ(v) − 2λ_p tᵀv`` (up to a constant), whose gradient that is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .._validation import check_positive_int
from ..models.base import EnergyModel
from ..models.rbm import RBM
from ..objectives.base import Objective
from ..objectives.rbm_pcd import check_rbm
from ..samplers.base import heat_bath

#: flip rates of the synthetic noisy copies by default
FINETUNE_FLIP_RATES = (0.05, 0.1, 0.2, 0.3)


class PosteriorContrastiveDivergence(Objective):
    """CD-``k`` on the posterior ``p_θ(x | y)`` of synthetic noisy copies (module docstring).

    Args:
        flip_rates: rates in ``(0, ½)``; each image's copy uses one drawn uniformly.
        k: block-Gibbs sweeps of the posterior per step, started at ``y``.

    ``fit`` calls ``write_gradients`` (the analytic gradient); ``loss`` is the surrogate
    for autograd (same draws, same gradient). Stateless. Metrics: ``sample_error``, the
    fraction of pixels where the posterior sample ``v`` differs from ``x``.
    """

    binary = True

    def __init__(self, flip_rates: Sequence[float] = FINETUNE_FLIP_RATES, k: int = 10):
        super().__init__()
        rates = [float(p) for p in flip_rates]
        if not rates or not all(0 < p < 0.5 and math.isfinite(p) for p in rates):
            raise ValueError(f"flip_rates must be rates in (0, 0.5), got {list(flip_rates)}")
        self.flip_rates = tuple(rates)
        self.k = check_positive_int(k, "k")

    @torch.no_grad()
    def negatives(
        self, rbm: RBM, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(v, shift)``: posterior samples ``(B, n)`` after ``k`` sweeps from the noisy copies
        and the visible-bias shifts ``2λ_p t`` ``(B, n)`` of their posteriors."""
        dev = x.device
        rates = torch.tensor(self.flip_rates, dtype=x.dtype)
        log_odds = torch.log((1 - rates) / rates).to(dev)  # 2λ_p
        pick = torch.randint(rates.numel(), (x.shape[0],), generator=generator).to(dev)
        u = torch.rand(x.shape, generator=generator, device=dev, dtype=x.dtype)
        y = torch.where(u < rates.to(dev)[pick, None], 1 - x, x)
        shift = log_odds[pick, None] * (2 * y - 1)
        W, b, c = rbm.W, rbm.b, rbm.c
        vis_bias = b + shift
        v = y
        for _ in range(self.k):
            h = heat_bath(v, torch.addmm(c, v, W), 1.0, generator)
            v = heat_bath(v, vis_bias + h @ W.T, 1.0, generator)
        self.metrics = {"sample_error": (v != x).to(x.dtype).mean()}
        return v, shift

    def write_gradients(
        self, model: EnergyModel, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Set ``.grad`` of ``W, b, c`` to the gradient of ``−mean log p_θ(x | y)`` (CD-k
        estimate) for the batch ``x (B, n)``; returns the surrogate loss."""
        rbm = check_rbm(model)
        v, shift = self.negatives(rbm, x, generator)
        with torch.no_grad():
            a_pos, a_neg = rbm.hidden_logits(x), rbm.hidden_logits(v)
            gW, gb, gc = rbm.contrastive_gradient(
                x, v, ph_pos=torch.sigmoid(a_pos), ph_neg=torch.sigmoid(a_neg)
            )
            rbm.W.grad, rbm.b.grad, rbm.c.grad = gW, gb, gc
            e_pos = -(x * (rbm.b + shift)).sum(1) - F.softplus(a_pos).sum(1)
            e_neg = -(v * (rbm.b + shift)).sum(1) - F.softplus(a_neg).sum(1)
            return e_pos.mean() - e_neg.mean()

    def loss(
        self, model: EnergyModel, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The surrogate ``mean E_y(x) − mean E_y(v)`` (module docstring) for autograd."""
        rbm = check_rbm(model)
        v, shift = self.negatives(rbm, x, generator)
        return (rbm.energy(x) - (shift * x).sum(1)).mean() - (
            rbm.energy(v) - (shift * v).sum(1)
        ).mean()
