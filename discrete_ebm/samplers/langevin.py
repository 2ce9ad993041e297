"""Langevin dynamics on R^d, unadjusted (ULA) or Metropolis-adjusted (MALA).

Target ``p_β(x) ∝ exp(−β U(x))``. One step with step size ``η`` and noise scale ``s``:

    x' = x − η β ∇U(x) + s √(2η) ξ,   ξ ~ N(0, I).

With ``s = 1`` ULA leaves ``p_β`` invariant up to an O(η) bias. MALA accepts ``x'`` with
probability ``min(1, exp(−β[U(x') − U(x)]) q(x | x') / q(x' | x))`` where
``q(x' | x) = N(x'; x − ηβ∇U(x), 2ηs² I)``, which makes ``p_β`` exactly invariant; its
acceptance rate is reported in the diagnostics. Clamped coordinates stay at their ``x0``
value (they take no drift and no noise, so the proposal density is over the free ones).

Gradients come from ``model.grad_energy(x)`` / ``model.energy_and_grad(x)`` when the model
provides them (e.g. the hand-written backward pass of ``MLPEnergy``), otherwise from
``torch.autograd.grad`` of ``model.energy(x).sum()``: any ``EnergyModel`` defining only
``energy`` works.

A step size too large for the energy makes the chains overshoot to infinity and NaN (which
then never leave it); the states are checked finite every ``CHECK_EVERY`` steps and at the
end of ``sample``, which raises a ``ValueError`` naming ``step_size`` instead of returning
NaN samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ..models.base import EnergyModel
from .base import Sampler

#: steps between two finiteness checks of the chains (one reduction over the states each)
CHECK_EVERY = 16


def energy_and_grad(model: EnergyModel, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(U(x), ∇_x U(x))``, shapes ``(B,)`` and ``(B, d)``, detached from any graph.

    Uses the model's ``energy_and_grad`` if it has one, else autograd on ``U(x).sum()``.
    """
    fast = getattr(model, "energy_and_grad", None)
    if fast is not None:
        return fast(x)
    with torch.enable_grad():
        xr = x.detach().requires_grad_(True)
        u = model(xr)
        (g,) = torch.autograd.grad(u.sum(), xr)
    return u.detach(), g


def grad_energy(model: EnergyModel, x: torch.Tensor) -> torch.Tensor:
    """``∇_x U(x)``, shape ``(B, d)``: ``model.grad_energy`` if it exists, else as in
    ``energy_and_grad``."""
    fast = getattr(model, "grad_energy", None)
    if fast is not None:
        return fast(x)
    return energy_and_grad(model, x)[1]


def _positive_float(value, name: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(
            f"{name} must be a finite float {'>= 0' if allow_zero else '> 0'}, got {value}"
        )
    return v


class LangevinSampler(Sampler):
    """Langevin sampler (ULA, or MALA with ``metropolis=True``) for continuous models.

    Args:
        model: a continuous EnergyModel (``model.binary`` is False).
        step_size: ``η > 0`` (the drift is ``η β ∇U``, the noise variance ``2η s²``).
        metropolis: add the Metropolis–Hastings correction (MALA).
        step_schedule: optional step sizes per step of a ``sample`` call: a callable
            ``t -> η_t`` or a sequence of at least ``n_steps`` values (overrides ``step_size``).
        grad_clip: if set, each chain's gradient ``∇U(x)`` is rescaled to L2 norm at most
            ``grad_clip`` (off by default; with MALA it is part of the proposal, so the
            chain stays exact).
        noise_scale: ``s``; 1 samples ``p_β``, 0 is gradient descent (ULA only).

    Diagnostics of ``sample(..., return_diagnostics=True)`` add ``acceptance_rate`` (MALA).
    """

    binary = False
    other_domain_hint = "; use GibbsSampler, GWGSampler or BlockGibbsSampler on {0,1}^d"

    def __init__(
        self,
        model: EnergyModel,
        step_size: float,
        metropolis: bool = False,
        *,
        step_schedule: Callable[[int], float] | Sequence[float] | None = None,
        grad_clip: float | None = None,
        noise_scale: float = 1.0,
    ):
        super().__init__(model)
        self.step_size = _positive_float(step_size, "step_size")
        self.metropolis = bool(metropolis)
        if step_schedule is not None and not callable(step_schedule):
            if isinstance(step_schedule, torch.Tensor):
                step_schedule = step_schedule.tolist()
            if not isinstance(step_schedule, Sequence) or isinstance(step_schedule, str):
                raise TypeError(
                    "step_schedule must be a callable t -> step size or a sequence of floats"
                )
            step_schedule = [_positive_float(v, "step_schedule values") for v in step_schedule]
        self.step_schedule = step_schedule
        self.grad_clip = None if grad_clip is None else _positive_float(grad_clip, "grad_clip")
        self.noise_scale = _positive_float(noise_scale, "noise_scale", allow_zero=True)
        if self.metropolis and self.noise_scale == 0:
            raise ValueError(
                "metropolis=True needs noise_scale > 0 (the proposal must have a density)"
            )
        self._t = 0
        self._cache: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    # --------------------------------------------------------------------- helpers
    def step_size_at(self, t: int) -> float:
        """The step size of step ``t`` of a ``sample`` call."""
        if self.step_schedule is None:
            return self.step_size
        if callable(self.step_schedule):
            return _positive_float(self.step_schedule(t), "step_schedule(t)")
        if t >= len(self.step_schedule):
            raise ValueError(
                f"step_schedule has {len(self.step_schedule)} values, step {t} needs more"
            )
        return self.step_schedule[t]

    def _clip(self, g: torch.Tensor) -> torch.Tensor:
        if self.grad_clip is None:
            return g
        norm = g.norm(dim=1, keepdim=True)
        return g * torch.clamp(self.grad_clip / (norm + 1e-12), max=1.0)

    def _check_finite(self, x: torch.Tensor, eta: float) -> None:
        """``ValueError`` naming the step size if any state is NaN or infinite."""
        if bool(torch.isfinite(x).all()):
            return
        which = "step_size" if self.step_schedule is None else "the step_schedule value"
        raise ValueError(
            f"LangevinSampler: the chains became non-finite (NaN or inf) by step {self._t}: "
            f"{which}={eta:g} is too large for this energy (the drift step_size·β·∇U "
            "overshoots); use a smaller step_size, grad_clip, or metropolis=True"
        )

    def run_chains(self, x, betas, clamp, x0, generator, *, thin=1, record=False):
        """``Sampler.run_chains``, then a last finiteness check of the chains."""
        out = super().run_chains(x, betas, clamp, x0, generator, thin=thin, record=record)
        if betas:
            self._check_finite(out[0], self.step_size_at(self._t - 1))
        return out

    def _grad(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u, g = energy_and_grad(self.model, x)
        return u, self._clip(g)

    def sample(self, *args, **kwargs):
        """See ``Sampler.sample``; the step schedule restarts at ``t = 0`` on every call."""
        self._t = 0
        self._cache = None
        try:
            return super().sample(*args, **kwargs)
        finally:
            self._cache = None

    # ------------------------------------------------------------------------ step
    def step(self, x, beta, clamp, x0, generator):
        eta = self.step_size_at(self._t)
        self._t += 1
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        if self.metropolis:
            out = self._mala_step(x, eta, beta, noise, clamp, generator)
        else:
            g = self._clip(grad_energy(self.model, x))
            x = x.add(g, alpha=-eta * beta)
            x = x.add_(noise, alpha=self.noise_scale * math.sqrt(2.0 * eta))
            if clamp is not None:
                x = torch.where(clamp, x0, x)
            out = (x, {})
        if self._t % CHECK_EVERY == 0:
            self._check_finite(out[0], eta)
        return out

    def _mala_step(self, x, eta, beta, noise, clamp, generator):
        # the energy and gradient at the current state are carried over from the last step
        if self._cache is not None and self._cache[0] is x:
            _, u, g = self._cache
        else:
            u, g = self._grad(x)
        free = None if clamp is None else (~clamp).to(x.dtype)
        gm = g if free is None else g * free
        sigma = self.noise_scale * math.sqrt(2.0 * eta)
        step = noise.mul_(sigma)
        if free is not None:
            step.mul_(free)
        prop = x.add(gm, alpha=-eta * beta).add_(step)
        u_new, g_new = self._grad(prop)
        gm_new = g_new if free is None else g_new * free
        # log q(x|x') − log q(x'|x) with q(b|a) = N(b; a − ηβ∇U(a), σ² I)
        back = x - prop + (eta * beta) * gm_new
        log_ratio = ((step * step).sum(1) - (back * back).sum(1)) / (2.0 * sigma * sigma)
        log_alpha = -beta * (u_new - u) + log_ratio
        log_u = torch.log(torch.rand(u.shape, generator=generator, device=x.device, dtype=x.dtype))
        accept = log_u < log_alpha
        a = accept.unsqueeze(1)
        x = torch.where(a, prop, x)
        self._cache = (x, torch.where(accept, u_new, u), torch.where(a, g_new, g))
        return x, {"acceptance_rate": accept.to(x.dtype).mean()}
