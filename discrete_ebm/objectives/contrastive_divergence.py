"""Contrastive divergence with any sampler of the Sampler contract.

Surrogate loss (its gradient is the usual CD estimate of the negative log-likelihood's):

    loss = mean_b U(x_b) − mean_c U(x̃_c)  [+ α (mean_b U(x_b)² + mean_c U(x̃_c)²)]

where ``x̃`` are negative samples (no gradient flows through them) drawn by ``k`` sampler
steps from
- the data batch: CD-k (Hinton, "Training products of experts by minimizing contrastive
  divergence", 2002), or from noise with ``init="noise"`` (short-run MCMC, Nijkamp et al.
  2019);
- persistent chains kept between calls: PCD (Tieleman, "Training restricted Boltzmann
  machines using approximations to the likelihood gradient", ICML 2008);
- a replay buffer of ``buffer_size`` states, each drawn chain restarted from noise with
  probability ``reinit_prob`` (Du & Mordatch, "Implicit generation and generalization in
  energy-based models", 2019, who also add the energy regulariser ``α``).
"""

from __future__ import annotations

import torch

from .._validation import check_positive_int, check_probability
from ..models.base import EnergyModel
from ..samplers.base import Sampler
from .base import Objective


class ContrastiveDivergence(Objective):
    """CD-k, persistent CD or replay-buffer CD; see the module docstring for the loss.

    Args:
        sampler: a Sampler built on the model being trained (Gibbs, block Gibbs, Langevin...).
        k: sampler steps per call (sweeps for the Gibbs samplers).
        persistent: keep ``n_chains`` chains between calls (PCD) instead of restarting them.
        n_chains: negative chains per call (default: the batch size of the first call for
            PCD and the buffer, the batch size of each call for CD-k from noise). CD-k from
            data always runs one chain per data row.
        buffer_size: keep a replay buffer of this many states; each call draws ``n_chains``
            of them uniformly, runs ``k`` steps and writes them back.
        reinit_prob: probability that a drawn persistent/buffer chain restarts from noise
            (``sampler.init_states``).
        init: where persistent chains and the buffer start: ``"data"`` (rows of the first
            batch) or ``"noise"``; for CD-k, ``"noise"`` starts every call from noise.
        energy_reg: ``α >= 0``, weight of the energy-magnitude regulariser.

    Metrics: ``energy_pos``, ``energy_neg``, ``energy_gap`` (``energy_neg − energy_pos``)
    and the sampler's ``acceptance_rate`` / ``flip_rate`` where it reports them.
    """

    def __init__(
        self,
        sampler: Sampler,
        k: int = 1,
        persistent: bool = False,
        n_chains: int | None = None,
        *,
        buffer_size: int | None = None,
        reinit_prob: float = 0.0,
        init: str = "data",
        energy_reg: float = 0.0,
    ):
        super().__init__()
        if not isinstance(sampler, Sampler):
            raise TypeError(f"sampler must be a discrete_ebm Sampler, got {type(sampler).__name__}")
        self.sampler = sampler
        self.k = check_positive_int(k, "k")
        self.persistent = bool(persistent)
        self.n_chains = None if n_chains is None else check_positive_int(n_chains, "n_chains")
        self.buffer_size = (
            None if buffer_size is None else check_positive_int(buffer_size, "buffer_size")
        )
        self.reinit_prob = check_probability(reinit_prob, "reinit_prob", open_interval=False)
        if init not in ("data", "noise"):
            raise ValueError(f"init must be 'data' or 'noise', got {init!r}")
        self.init = init
        energy_reg = float(energy_reg)
        if not energy_reg >= 0:
            raise ValueError(f"energy_reg must be >= 0, got {energy_reg}")
        self.energy_reg = energy_reg
        if (
            self.buffer_size is not None
            and self.n_chains is not None
            and self.n_chains > self.buffer_size
        ):
            raise ValueError(
                f"n_chains ({self.n_chains}) cannot exceed buffer_size ({self.buffer_size})"
            )
        self.binary = sampler.model.binary
        self.chains: torch.Tensor | None = None
        self.buffer: torch.Tensor | None = None

    # ------------------------------------------------------------ negatives
    def _initial(self, x: torch.Tensor, n: int, generator) -> torch.Tensor:
        """``n`` starting states: rows of ``x`` (drawn with replacement if ``n`` differs from
        the batch size) or noise."""
        if self.init == "noise":
            return self.sampler.init_states(n, generator).to(dtype=x.dtype)
        if n == x.shape[0]:
            return x.detach().clone()
        idx = torch.randint(0, x.shape[0], (n,), generator=generator, device=x.device)
        return x.detach()[idx].clone()

    def _reinit(self, states: torch.Tensor, generator) -> torch.Tensor:
        if self.reinit_prob == 0.0:
            return states
        n = states.shape[0]
        fresh = torch.rand(n, generator=generator, device=states.device) < self.reinit_prob
        noise = self.sampler.init_states(n, generator).to(dtype=states.dtype)
        return torch.where(fresh.unsqueeze(1), noise, states)

    def _run(self, x0: torch.Tensor, generator) -> tuple[torch.Tensor, dict]:
        """``k`` sampler steps from ``x0`` (states this objective built from checked data or
        its own chains): the sampler's run loop directly, without ``sample``'s argument
        checks and diagnostic energies (``fit`` already checks the loss and gradients)."""
        with torch.no_grad():
            out, _, stats = self.sampler.run_chains(x0.clone(), [1.0] * self.k, None, x0, generator)
        return out, {k: v for k, v in stats.items() if k in ("acceptance_rate", "flip_rate")}

    def negatives(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict]:
        """Negative samples for the batch ``x`` (updating chains/buffer) and sampler stats."""
        B = x.shape[0]
        if self.buffer_size is not None:
            n = self.n_chains or min(B, self.buffer_size)
            if self.buffer is None:
                self.buffer = self._initial(x, self.buffer_size, generator)
            idx = torch.randperm(self.buffer_size, generator=generator, device=x.device)[:n]
            start = self._reinit(self.buffer[idx], generator)
            out, stats = self._run(start, generator)
            self.buffer[idx] = out
            return out, stats
        if self.persistent:
            if self.chains is None:
                self.chains = self._initial(x, self.n_chains or B, generator)
            start = self._reinit(self.chains, generator)
            out, stats = self._run(start, generator)
            self.chains = out
            return out, stats
        if self.init == "noise":
            start = self.sampler.init_states(self.n_chains or B, generator).to(dtype=x.dtype)
        else:
            start = x.detach().clone()
        return self._run(start, generator)

    # ----------------------------------------------------------------- loss
    def loss(
        self, model: EnergyModel, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if self.sampler.model is not model:
            raise ValueError(
                "ContrastiveDivergence: the sampler was built on a different model than the one "
                "being trained; build it on the same model object"
            )
        x_neg, stats = self.negatives(x, generator)
        x_neg = x_neg.detach()
        B = x.shape[0]
        u = model(torch.cat([x, x_neg], dim=0))  # shape-checked energy
        u_pos, u_neg = u[:B], u[B:]
        loss = u_pos.mean() - u_neg.mean()
        if self.energy_reg > 0:
            loss = loss + self.energy_reg * ((u_pos**2).mean() + (u_neg**2).mean())
        e_pos, e_neg = u_pos.detach().mean(), u_neg.detach().mean()
        self.metrics = {"energy_pos": e_pos, "energy_neg": e_neg, "energy_gap": e_neg - e_pos}
        self.metrics.update(stats)
        return loss

    # ------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Persistent chains and replay buffer (``None`` when unused), and the sampler's own
        state when it keeps one (parallel tempering's hot replicas)."""
        state = {
            "chains": None if self.chains is None else self.chains.clone(),
            "buffer": None if self.buffer is None else self.buffer.clone(),
        }
        if hasattr(self.sampler, "state_dict"):
            state["sampler"] = self.sampler.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore the chains and buffer saved by ``state_dict``."""
        device = self.sampler.model.device
        for key in ("chains", "buffer"):
            value = state.get(key)
            setattr(self, key, None if value is None else value.to(device).clone())
        if "sampler" in state and hasattr(self.sampler, "load_state_dict"):
            self.sampler.load_state_dict(state["sampler"])
