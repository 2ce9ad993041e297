"""The fused DBM PCD gradient (Salakhutdinov & Hinton 2009): analytic, one GEMM per weight.

The same gradient as ``DBMPersistentCD`` (mean-field positive phase, persistent joint
chains advanced by ``k`` even/odd block-Gibbs sweeps), for layers ``x_0 = v, ..., x_L`` and
a batch ``v (B, n_0)``:

1. positive phase ``P = [v, μ¹, ..., μ^L]``: the bottom-up start
   ``μ_l = σ(b_l + s_l μ_{l−1}W_{l−1})`` (``s_l = 2`` below the top layer, 1 at the top), then
   ``mean_field_iters`` block updates ``μ_l = σ(b_l + μ_{l−1}W_{l−1} + μ_{l+1}W_lᵀ)`` of the
   odd, then the even hidden layers (``vW_0`` is computed once);
2. negative phase ``N``: the ``C`` chains after ``k`` sweeps (odd layers drawn given the
   even ones, then the even ones given the odd ones);
3. ``∂W_l = −P_lᵀP_{l+1} / B + N_lᵀN_{l+1} / C``, ``∂b_l = −mean P_l + mean N_l``: with the
   rows stacked ``S_l = [N_l; P_l]`` and weighted ``R_l = [N_l / C; −P_l / B]``,
   ``∂W_l = S_lᵀR_{l+1}`` is one GEMM and ``∂b_l`` the column sums of ``R_l``.

The loss reported is the surrogate ``mean E(P) − mean E(N)`` (its gradient, with ``P`` and
``N`` held fixed, is the one written), read off the products the last even half-update
already formed (no extra GEMM). Random draws come in the order of ``DBMPersistentCD``
(chain start, then per sweep one uniform tensor per layer, odd layers first), so with the
same generator both objectives produce the same chains and the same gradient.

Cost per step for 784-500-1000, ``B = C = 100``: the mean field ``2 + 2·iters`` products of
``B × 500 × 1000`` (and one ``B × 784 × 500``), each sweep four products, the gradient two
``(B + C)``-row products.
"""

from __future__ import annotations

import torch

from .._validation import check_rows
from ..models.base import EnergyModel
from ..models.dbm import DBM, _bernoulli
from .dbm import DBMPersistentCD, _check_dbm


def _draw_(p: torch.Tensor, generator) -> torch.Tensor:
    """Bernoulli draws written over the probabilities ``p`` (the draws of ``_bernoulli``)."""
    u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return torch.lt(u, p, out=p)


def _interaction(down: torch.Tensor | None, up: torch.Tensor | None, x: torch.Tensor):
    """``Σ_j x_j (down_j + up_j)`` per row: the pair terms of an even layer, ``(B,)``."""
    out = 0.0
    for t in (down, up):
        if t is not None:
            out = out + (t * x).sum(1)
    return out


class FusedDBMPCD(DBMPersistentCD):
    """PCD for a DBM with a mean-field positive phase, gradients without autograd.

    Args:
        n_chains: persistent joint chains ``C`` (default: the first batch's size).
        k: even/odd sweeps of the chains per step.
        mean_field_iters: block mean-field iterations after the bottom-up start (>= 1).

    Metrics: ``energy_pos`` (``mean E(v, μ)``), ``energy_neg``, ``energy_gap``.
    """

    @torch.no_grad()
    def positive_phase(self, dbm: DBM, v: torch.Tensor) -> tuple[list, torch.Tensor]:
        """``[v, μ¹, ..., μ^L]`` and ``E(v, μ)`` ``(B,)`` (module docstring, step 1)."""
        W, b, L = dbm.weights, dbm.biases, dbm.n_layers - 1
        vw = v @ W[0]
        base1 = vw + b[1]  # b_1 + vW_0, fixed while v is clamped
        mu = [v, torch.sigmoid(b[1] + 2.0 * vw)]
        for l in range(2, L + 1):
            scale = 2.0 if l < L else 1.0
            mu.append(torch.sigmoid(b[l] + scale * (mu[-1] @ W[l - 1])))
        pair = v.new_zeros(v.shape[0])
        for _ in range(self.mean_field_iters):
            for l in range(1, L + 1, 2):
                inp = base1 if l == 1 else torch.addmm(b[l], mu[l - 1], W[l - 1])
                mu[l] = torch.sigmoid(inp if l == L else torch.addmm(inp, mu[l + 1], W[l].T))
            pair = (vw * mu[1]).sum(1)  # v W_0 μ¹
            for l in range(2, L + 1, 2):
                down = mu[l - 1] @ W[l - 1]
                up = mu[l + 1] @ W[l].T if l < L else None
                mu[l] = torch.sigmoid(down + b[l] if up is None else down + up + b[l])
                pair = pair + _interaction(down, up, mu[l])
        energy = -pair - sum(x @ bl for x, bl in zip(mu, b))
        return mu, energy

    @torch.no_grad()
    def sweep(self, dbm: DBM, layers: list, generator) -> tuple[list, torch.Tensor]:
        """One even/odd block-Gibbs sweep of joint chains; the new layers and their energy."""
        W, b, L = dbm.weights, dbm.biases, dbm.n_layers - 1
        layers = list(layers)
        for l in range(1, L + 1, 2):
            inp = torch.addmm(b[l], layers[l - 1], W[l - 1])
            if l < L:
                inp = inp.addmm_(layers[l + 1], W[l].T)
            layers[l] = _draw_(inp.sigmoid_(), generator)
        pair = 0.0
        for l in range(0, L + 1, 2):
            down = layers[l - 1] @ W[l - 1] if l > 0 else None
            up = layers[l + 1] @ W[l].T if l < L else None
            inp = down + b[l] if up is None else (up + b[l] if down is None else down + up + b[l])
            layers[l] = _draw_(inp.sigmoid_(), generator)
            pair = pair + _interaction(down, up, layers[l])
        energy = -pair - sum(x @ bl for x, bl in zip(layers, b))
        return layers, energy

    @torch.no_grad()
    def phases(self, dbm: DBM, x: torch.Tensor, generator) -> tuple[list, list, torch.Tensor]:
        """Positive layers, the advanced chains (stored) and the surrogate loss (0-d)."""
        pos, e_pos = self.positive_phase(dbm, x)
        if self.chains is None:
            n = self.n_chains or x.shape[0]
            idx = torch.randint(0, x.shape[0], (n,), generator=generator, device=x.device)
            self.chains = [x[idx].clone()] + [_bernoulli(m[idx], generator) for m in pos[1:]]
        chains = self.chains
        for _ in range(self.k):
            chains, e_neg = self.sweep(dbm, chains, generator)
        self.chains = chains
        ep, en = e_pos.mean(), e_neg.mean()
        self.metrics = {"energy_pos": ep, "energy_neg": en, "energy_gap": en - ep}
        return pos, chains, ep - en

    @torch.no_grad()
    def write_gradients(
        self, model: EnergyModel, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Write ``∂W_l, ∂b_l`` (module docstring, step 3); returns the surrogate loss."""
        dbm = _check_dbm(model)
        check_rows(x)
        pos, neg, loss = self.phases(dbm, x, generator)
        B, C = x.shape[0], neg[0].shape[0]
        R_prev = None
        for l in range(dbm.n_layers - 1, -1, -1):
            R = torch.cat([neg[l] * (1.0 / C), pos[l] * (-1.0 / B)])
            _grad(dbm.biases[l]).copy_(R.sum(0))
            if R_prev is not None:
                S = torch.cat([neg[l], pos[l]])
                torch.mm(S.T, R_prev, out=_grad(dbm.weights[l]))
            R_prev = R
        return loss

    def loss(self, model: EnergyModel, x: torch.Tensor, generator=None) -> torch.Tensor:
        """The surrogate ``mean E(v, μ) − mean E(x⁻)`` with ``μ`` and the chains held fixed;
        for the same draws its autograd gradient is the one ``write_gradients`` writes."""
        dbm = _check_dbm(model)
        pos, neg, _ = self.phases(dbm, x, generator)
        return dbm._joint_energy(pos).mean() - dbm._joint_energy(neg).mean()


def _grad(p: torch.Tensor) -> torch.Tensor:
    """``p.grad``, allocated like ``p`` if missing."""
    if p.grad is None or p.grad.shape != p.shape:
        p.grad = torch.empty_like(p)
    return p.grad
