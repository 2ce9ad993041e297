"""DBM training: PCD with a mean-field positive phase, energy discrepancy on ``(v, h², ...)``.

- :class:`DBMPersistentCD` (Salakhutdinov & Hinton 2009): the data term uses the mean-field
  posterior ``μ = q(h | v)``, the model term persistent joint chains advanced by ``k``
  even/odd block-Gibbs sweeps. Loss ``mean E(v, μ) − mean E(x⁻)`` (both held fixed), whose
  gradient is minus the gradient of the variational bound ``E_q[−E] + H(q) − log Z`` with
  ``∇ log Z`` estimated by the chains.
- :class:`DBMEnergyDiscrepancy`: the odd layers are summed out analytically, which leaves
  the energy ``U(v, h², ...)`` of the even layers (for 2 hidden layers the free energy of
  ``(v, h²)``). Each data row is completed with ``h² ~ p_θ(h² | v)`` (block Gibbs with
  ``v`` clamped, started from a mean-field draw), and Bernoulli energy discrepancy is
  applied to the completed vector ``[v, h²]`` with energy ``U``. What it optimises: the ED
  loss of the joint model ``p_θ(v, h²)`` on the completed data ``p_data(v) p_θ(h² | v)``
  with the completion held fixed in each step (a Monte-Carlo-EM-style fixed point:
  when ``p_θ(v) = p_data(v)`` the completed data *is* ``p_θ(v, h²)``, which minimises the
  ED loss). No MCMC on the model: the negatives are Bernoulli perturbations.

Greedy layer-wise pre-training (CD-1 with doubled inputs, ``dbm_pretraining.DoubledInputCD``)
is ``discrete_ebm.recipes.dbm.greedy_pretrain``.
"""

from __future__ import annotations

import torch

from .._validation import check_positive_int, check_probability
from ..models.base import EnergyModel
from ..models.dbm import DBM, _bernoulli
from .base import Objective
from .energy_discrepancy import BernoulliED


def _check_dbm(model) -> DBM:
    if not isinstance(model, DBM):
        raise TypeError(f"model must be a discrete_ebm DBM, got {type(model).__name__}")
    return model


class DBMPersistentCD(Objective):
    """PCD for a DBM with a mean-field positive phase.

    Args:
        n_chains: persistent joint chains (default: the first batch's size).
        k: even/odd sweeps of the chains per step.
        mean_field_iters: mean-field iterations for ``q(h | v)``.

    Metrics: ``energy_pos`` (``mean E(v, μ)``), ``energy_neg``, ``energy_gap``.
    """

    binary = True

    def __init__(self, n_chains: int | None = None, k: int = 1, mean_field_iters: int = 10):
        super().__init__()
        self.n_chains = None if n_chains is None else check_positive_int(n_chains, "n_chains")
        self.k = check_positive_int(k, "k")
        self.mean_field_iters = check_positive_int(mean_field_iters, "mean_field_iters")
        self.chains: list[torch.Tensor] | None = None

    def loss(self, model: EnergyModel, x: torch.Tensor, generator=None) -> torch.Tensor:
        dbm = _check_dbm(model)
        with torch.no_grad():
            mu = dbm.mean_field(x, self.mean_field_iters)
            if self.chains is None:
                n = self.n_chains or x.shape[0]
                idx = torch.randint(0, x.shape[0], (n,), generator=generator, device=x.device)
                self.chains = [x[idx].clone()] + [_bernoulli(m[idx], generator) for m in mu]
            chains = self.chains
            for _ in range(self.k):
                chains = dbm.gibbs_sweep(chains, generator=generator)
            self.chains = chains
        e_pos = dbm._joint_energy([x, *mu])
        e_neg = dbm._joint_energy(chains)
        loss = e_pos.mean() - e_neg.mean()
        ep, en = e_pos.detach().mean(), e_neg.detach().mean()
        self.metrics = {"energy_pos": ep, "energy_neg": en, "energy_gap": en - ep}
        return loss

    def state_dict(self) -> dict:
        return {"chains": None if self.chains is None else [c.clone() for c in self.chains]}

    def load_state_dict(self, state: dict) -> None:
        chains = state.get("chains")
        self.chains = None if chains is None else [c.clone() for c in chains]


class _EvenLayers(EnergyModel):
    """EnergyModel view of a DBM on ``[v, h², h⁴, ...]`` with energy ``U_even``."""

    def __init__(self, dbm: DBM):
        self.sizes = [dbm.layer_sizes[l] for l in range(0, dbm.n_layers, 2)]
        super().__init__(sum(self.sizes), binary=True)
        self.dbm = dbm

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(x, self.sizes, dim=1)
        return self.dbm.even_free_energy(*parts)


class DBMEnergyDiscrepancy(Objective):
    """Bernoulli energy discrepancy on the even layers of a DBM (module docstring).

    Args:
        epsilon, n_negatives, w: as in ``BernoulliED`` (flip probability, negatives, stabiliser).
        posterior_sweeps: clamped block-Gibbs sweeps that draw ``h² | v`` (from a mean-field
            start).
        mean_field_iters: iterations of the mean-field start.

    Metrics: those of ``BernoulliED`` on the completed vectors.
    """

    binary = True

    def __init__(
        self,
        epsilon: float = 0.1,
        n_negatives: int = 16,
        w: float = 1.0,
        *,
        posterior_sweeps: int = 2,
        mean_field_iters: int = 5,
    ):
        super().__init__()
        self.epsilon = check_probability(epsilon, "epsilon")
        self.ed = BernoulliED(epsilon=epsilon, n_negatives=n_negatives, w=w)
        self.posterior_sweeps = check_positive_int(
            posterior_sweeps, "posterior_sweeps", allow_zero=True
        )
        self.mean_field_iters = check_positive_int(mean_field_iters, "mean_field_iters")
        self._view: _EvenLayers | None = None

    def complete(self, dbm: DBM, v: torch.Tensor, generator=None) -> torch.Tensor:
        """``[v, h², h⁴, ...]`` with the even hidden layers drawn from ``p(h | v)``."""
        with torch.no_grad():
            mu = dbm.mean_field(v, self.mean_field_iters)
            init = [v] + [_bernoulli(m, generator) for m in mu]
            layers = dbm.sample_posterior(v, self.posterior_sweeps, init=init, generator=generator)
        return torch.cat([layers[l] for l in range(0, dbm.n_layers, 2)], dim=1)

    def loss(self, model: EnergyModel, x: torch.Tensor, generator=None) -> torch.Tensor:
        dbm = _check_dbm(model)
        if self._view is None or self._view.dbm is not dbm:
            self._view = _EvenLayers(dbm)
        z = self.complete(dbm, x, generator)
        loss = self.ed(self._view, z, generator)
        self.metrics = dict(self.ed.metrics)
        return loss
