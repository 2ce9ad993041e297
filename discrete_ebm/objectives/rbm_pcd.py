"""Persistent contrastive divergence for an RBM with its analytic gradient (no autograd).

With persistent hidden chains ``h (C, m)`` (one per chain, as scikit-learn's
``BernoulliRBM``), a step on a batch ``v (B, n)`` runs ``k`` sweeps ``v⁻ ~ p(v | h)``,
``h ~ p(h | v⁻)`` with the current parameters, and the gradient is that of the surrogate

    loss = mean_b F(v_b) − mean_c F(v⁻_c),   F(v) = −bᵀv − Σ_j softplus(c_j + (vW)_j),

i.e. ``−∇ log-likelihood`` with the model expectation estimated by the chains (Tieleman
2008): ``∂W = v⁻ᵀp⁻ / C − vᵀp⁺ / B``, ``∂b = mean v⁻ − mean v``, ``∂c = mean p⁻ − mean p⁺``
with ``p = σ(c + vW)``. ``fit`` calls ``write_gradients``, which writes exactly that into
``.grad``; ``loss`` is the same surrogate for autograd (same chains, same draws).
"""

from __future__ import annotations

import torch

from .._validation import check_positive_int, check_rows, check_states
from ..models.base import EnergyModel
from ..models.rbm import RBM
from .base import Objective


def check_rbm(model) -> RBM:
    """``model`` if it is an ``RBM``, else ``TypeError``."""
    if not isinstance(model, RBM):
        raise TypeError(f"model must be a discrete_ebm RBM, got {type(model).__name__}")
    return model


class RBMPersistentCD(Objective):
    """PCD-k for an ``RBM`` with the analytic gradient (module docstring).

    Args:
        n_chains: persistent hidden chains ``C`` (default: the first batch's size).
        k: block-Gibbs sweeps of the chains per step.
        init: where the chains start: ``"data"`` (``h ~ p(h | v)`` of random rows of the
            first batch) or ``"zeros"`` (scikit-learn's start).
        chains: initial hidden chains ``(C, m)`` (overrides ``init`` and ``n_chains``).

    Metrics: none (the step computes no free energy). State: the chains.
    """

    binary = True

    def __init__(
        self,
        n_chains: int | None = None,
        k: int = 1,
        *,
        init: str = "data",
        chains: torch.Tensor | None = None,
    ):
        super().__init__()
        self.n_chains = None if n_chains is None else check_positive_int(n_chains, "n_chains")
        self.k = check_positive_int(k, "k")
        if init not in ("data", "zeros"):
            raise ValueError(f"init must be 'data' or 'zeros', got {init!r}")
        self.init = init
        if chains is not None:
            chains = check_states(chains, None, name="chains")
            if self.n_chains is not None and chains.shape[0] != self.n_chains:
                raise ValueError(
                    f"chains must have n_chains={self.n_chains} rows, got {chains.shape[0]}"
                )
            self.n_chains = chains.shape[0]
            chains = chains.clone()
        self.chains = chains

    def start_chains(self, rbm: RBM, x: torch.Tensor, generator=None) -> torch.Tensor:
        """The hidden chains, created on the first call (see ``init``)."""
        if self.chains is None:
            n = self.n_chains or x.shape[0]
            if self.init == "zeros":
                self.chains = torch.zeros(n, rbm.n_hidden, dtype=rbm.dtype, device=rbm.device)
            else:
                self.chains = rbm.init_chains(n, x, generator=generator)
            self.n_chains = n
        elif self.chains.shape[1] != rbm.n_hidden:
            raise ValueError(
                f"chains have {self.chains.shape[1]} hidden units, the RBM has {rbm.n_hidden}"
            )
        W = rbm.W  # the model's dtype and device, without walking its parameters
        if self.chains.dtype != W.dtype or self.chains.device != W.device:
            self.chains = self.chains.to(dtype=W.dtype, device=W.device)
        return self.chains

    def write_gradients(
        self, model: EnergyModel, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> None:
        """Set ``.grad`` of ``W, b, c`` to the PCD-k gradient of the batch ``x (B, n)``."""
        rbm = check_rbm(model)
        check_rows(x)
        h = self.start_chains(rbm, x, generator)
        for p in (rbm.W, rbm.b, rbm.c):
            p.grad = None  # pcd_step accumulates into fresh zeros
        self.chains = rbm.pcd_step(x, h, k=self.k, generator=generator, check=False)
        return None

    def loss(
        self, model: EnergyModel, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The surrogate ``mean F(x) − mean F(v⁻)``; same chains and draws as
        ``write_gradients``, so its autograd gradient is the same."""
        rbm = check_rbm(model)
        h = self.start_chains(rbm, x, generator)
        with torch.no_grad():
            for _ in range(self.k):
                v_neg = rbm.sample_visible(h, generator=generator)
                h = rbm.sample_hidden(v_neg, generator=generator)
        self.chains = h
        return rbm.energy(x).mean() - rbm.energy(v_neg).mean()

    def state_dict(self) -> dict:
        return {"chains": None if self.chains is None else self.chains.clone()}

    def load_state_dict(self, state: dict) -> None:
        chains = state.get("chains")
        self.chains = None if chains is None else chains.clone()
        if chains is not None:
            self.n_chains = chains.shape[0]
