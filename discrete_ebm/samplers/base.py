"""The Sampler contract shared by every sampler (Gibbs, block Gibbs, Langevin, ...).

``sample(n_chains=None, n_steps=1, x0=None, *, thin=1, clamp=None, beta=1.0,
generator=None, return_diagnostics=False, distributed=False)`` runs ``n_steps`` steps (one
step is a full sweep for the Gibbs samplers) of ``n_chains`` chains in parallel and returns
the final states ``(n_chains, d)``, or ``(states, diagnostics)``.

- ``x0``: initial states ``(n_chains, d)``; if omitted, chains start uniformly at random
  (binary) or from a standard normal (continuous). A floating-point ``x0`` of another dtype
  is converted to the model's (``model.check_input``); a model whose ``dim`` is not yet
  known takes it from ``x0`` (without ``x0`` it needs a declared or already-seen width).
- ``clamp``: boolean mask ``(d,)`` or ``(n_chains, d)`` of coordinates held at their value
  in ``x0`` (conditioning); requires ``x0``.
- ``beta``: inverse temperature: a float, a sequence/tensor of ``n_steps`` values, or a
  callable ``step -> float`` (annealing). The chain targets ``p_β(x) ∝ exp(−β U(x))``
  (one documented exception: ``BlockGibbsSampler`` on an RBM or DBM tempers the joint energy
  with the hidden units, see its docstring).
- ``thin``: record the diagnostics trace every ``thin`` steps.
- ``diagnostics``: ``energy`` (of the final states, ``(n_chains,)``), ``energy_trace``
  (``(n_steps // thin, n_chains)``), ``seconds``, ``n_steps``, ``steps_per_second``, and
  ``acceptance_rate`` / ``flip_rate`` where they apply.
- ``distributed``: in a ``torch.distributed`` run (e.g. under ``torchrun``) split the
  ``n_chains`` chains (and the rows of ``x0``/``clamp``) across the ranks, each drawing from
  its own stream derived from ``generator``, and gather the states and diagnostics of all
  chains, in rank order, on every rank (``samplers.sharding``); ValueError naming
  ``n_chains`` when the world size does not divide it. In one process it is the plain call.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from .._validation import check_finite_parameters, check_mask, check_positive_int
from ..models.base import EnergyModel
from .sharding import sample_sharded


def resolve_beta(beta, n_steps: int) -> list[float]:
    """Expand ``beta`` (float, sequence of ``n_steps`` values, or callable) to a list of floats."""
    if isinstance(beta, torch.Tensor | np.ndarray) and beta.ndim == 0:
        beta = float(beta)
    if callable(beta):
        values = [float(beta(t)) for t in range(n_steps)]
    elif isinstance(beta, torch.Tensor | np.ndarray | Sequence) and not isinstance(beta, str):
        if isinstance(beta, torch.Tensor | np.ndarray) and beta.ndim != 1:
            raise ValueError(f"a beta schedule must be 1-D, got shape {tuple(beta.shape)}")
        values = [float(b) for b in (beta.tolist() if hasattr(beta, "tolist") else beta)]
        if len(values) != n_steps:
            raise ValueError(f"beta schedule must have n_steps={n_steps} values, got {len(values)}")
    else:
        try:
            values = [float(beta)] * n_steps
        except (TypeError, ValueError):
            raise TypeError(
                "beta must be a float, a sequence of floats or a callable, "
                f"got {type(beta).__name__}"
            ) from None
    for b in values:
        if not b >= 0 or b == float("inf"):
            raise ValueError(f"beta values must be finite and >= 0, got {b}")
    return values


def linear_beta_schedule(start: float, end: float, n_steps: int) -> list[float]:
    """Linearly spaced inverse temperatures (annealing from ``start`` to ``end``)."""
    return torch.linspace(start, end, n_steps, dtype=torch.float64).tolist()


def geometric_beta_schedule(start: float, end: float, n_steps: int) -> list[float]:
    """Geometrically spaced inverse temperatures (``start`` and ``end`` must be > 0)."""
    if start <= 0 or end <= 0:
        raise ValueError("geometric_beta_schedule needs start > 0 and end > 0")
    return torch.logspace(
        torch.log10(torch.tensor(start)),
        torch.log10(torch.tensor(end)),
        n_steps,
        dtype=torch.float64,
    ).tolist()


class Sampler(abc.ABC):
    """Base class: validates arguments, initialises chains, runs ``step`` and records diagnostics.

    Subclasses implement ``step(x, beta, clamp, x0, generator) -> (x, stats)`` for one step
    (``stats`` a dict of per-step tensors such as ``flip_rate``; never synchronised per step).
    A sampler for one domain sets ``binary``: it fixes the domain of a model that left it
    undeclared, and refuses a model of the other domain.

    ``sample`` refuses a model with a NaN or infinite parameter or buffer (one finiteness
    reduction per tensor at the start of the call).
    """

    #: the domain the sampler works on (``None``: either)
    binary: bool | None = None
    #: the hint added when a model of the other domain is refused
    other_domain_hint: str = ""

    def __init__(self, model: EnergyModel):
        if not isinstance(model, EnergyModel):
            raise TypeError(f"model must be a discrete_ebm.EnergyModel, got {type(model).__name__}")
        if self.binary is not None:
            model.require_domain(self.binary, type(self).__name__, self.other_domain_hint)
        self.model = model

    # ------------------------------------------------------------- interface
    @abc.abstractmethod
    def step(
        self,
        x: torch.Tensor,
        beta: float,
        clamp: torch.Tensor | None,
        x0: torch.Tensor | None,
        generator: torch.Generator | None,
    ) -> tuple[torch.Tensor, dict]:
        """One step (a sweep) of the chain at inverse temperature ``beta``."""

    def init_states(self, n_chains: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Random initial states: uniform on {0,1}^d, or standard normal on R^d."""
        m = self.model
        shape = (n_chains, m.require_dim(f"{type(self).__name__} without x0"))
        dtype = m.dtype if m.dtype.is_floating_point else torch.float32
        if m.binary:
            return torch.randint(0, 2, shape, generator=generator, device=m.device).to(dtype)
        return torch.randn(shape, generator=generator, device=m.device, dtype=dtype)

    def sample(
        self,
        n_chains: int | None = None,
        n_steps: int = 1,
        x0: torch.Tensor | None = None,
        *,
        thin: int = 1,
        clamp: torch.Tensor | None = None,
        beta: float | Sequence[float] | Callable[[int], float] = 1.0,
        generator: torch.Generator | None = None,
        return_diagnostics: bool = False,
        distributed: bool = False,
    ):
        """Run ``n_steps`` steps of ``n_chains`` chains; see the module docstring."""
        if distributed:
            return sample_sharded(
                self,
                n_chains,
                n_steps,
                x0,
                thin=thin,
                clamp=clamp,
                beta=beta,
                generator=generator,
                return_diagnostics=return_diagnostics,
            )
        n_steps = check_positive_int(n_steps, "n_steps", allow_zero=True)
        thin = check_positive_int(thin, "thin")
        model = self.model
        check_finite_parameters(model, type(self).__name__)
        if x0 is None:
            if clamp is not None:
                raise ValueError(
                    "clamp needs x0: the clamped coordinates are held at their values in x0"
                )
            if n_chains is None:
                raise ValueError("give n_chains or x0")
            n_chains = check_positive_int(n_chains, "n_chains")
            x = self.init_states(n_chains, generator)
        else:
            x0 = model.check_input(x0, name="x0")  # cast to the model's dtype
            if n_chains is not None and n_chains != x0.shape[0]:
                raise ValueError(f"n_chains={n_chains} does not match x0 with {x0.shape[0]} rows")
            n_chains = x0.shape[0]
            x = x0.clone()
        if clamp is not None:
            clamp = check_mask(clamp, (n_chains, model.dim), name="clamp").to(x.device)
            if not clamp.any():
                clamp = None
        betas = resolve_beta(beta, n_steps)

        start = time.perf_counter()
        with torch.no_grad():
            x, trace, stats = self.run_chains(
                x, betas, clamp, x0, generator, thin=thin, record=return_diagnostics
            )
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)
        seconds = time.perf_counter() - start
        if not return_diagnostics:
            return x
        with torch.no_grad():
            diag = {
                "energy": self._energy(x),
                "energy_trace": torch.stack(trace) if trace else x.new_zeros(0, n_chains),
                "seconds": seconds,
                "n_steps": n_steps,
                "steps_per_second": n_steps / seconds if seconds > 0 else float("inf"),
            }
        diag.update(stats)
        return x, diag

    def run_chains(
        self,
        x: torch.Tensor,
        betas: list[float],
        clamp: torch.Tensor | None,
        x0: torch.Tensor | None,
        generator: torch.Generator | None,
        *,
        thin: int = 1,
        record: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor], dict[str, float]]:
        """Run one ``step`` per value of ``betas`` on the validated states ``x``.

        Returns the final states, the energies recorded every ``thin`` steps (when
        ``record``) and the per-step statistics averaged over the steps. Samplers with a
        faster whole-run kernel (the lattice checkerboard) override this.
        """
        trace: list[torch.Tensor] = []
        sums: dict[str, torch.Tensor] = {}
        for t, beta in enumerate(betas):
            x, stats = self.step(x, beta, clamp, x0, generator)
            for k, v in stats.items():
                sums[k] = sums.get(k, 0) + v
            if record and (t + 1) % thin == 0:
                trace.append(self._energy(x))
        n = max(len(betas), 1)
        return x, trace, {k: float(v) / n for k, v in sums.items()}

    def _energy(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def heat_bath(
    x_sites: torch.Tensor,
    logits: torch.Tensor,
    beta: float,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Draw ``x_s ~ Bernoulli(σ(β·logit_s))`` for a block of conditionally independent sites."""
    u = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=logits.dtype)
    return (u < torch.sigmoid(beta * logits)).to(x_sites.dtype)
