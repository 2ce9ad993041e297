"""The posterior of clean binary images given noisy ones, for any binary prior.

Observation model (flip noise, rate ``p``):
``P(y_i | x_i) = (1 − p)^{[y_i = x_i]} p^{[y_i ≠ x_i]}``.
In spins ``s = 2x − 1``, ``t = 2y − 1``: ``log P(y_i | x_i) = λ s_i t_i + const`` with

    λ = ½ log((1 − p) / p),

so the posterior is ``p(x | y) ∝ exp(−U(x) + Σ_i λ t_i s_i)``: the prior plus an external
spin field ``f_i = λ t_i`` (``0`` on unobserved pixels). For an Ising prior ``(J, h)`` it is
the Ising model ``(J, h + f)``; for an RBM prior (``E(v, h) = −vᵀWh − bᵀv − cᵀh``) it is the
RBM with visible bias ``b + 2f`` (``f·s = 2f·v − Σf``). A batch of ``B`` images gives one
field row per image, i.e. ``B`` independent chains of the same couplings.

``posterior(prior, noisy, p)`` builds it: an ``OffsetIsing`` prior gets the field directly
(fast convolution sweeps); any other binary prior is wrapped in ``FieldPosterior``, which
adds the field to energies and conditionals and provides ``block_gibbs_sweep`` (RBM: the
two-layer sweep; others: colour blocks of the interaction graph) and ``icm_sweep``.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import torch
import torch.nn.functional as F

from ..models.base import EnergyModel
from ..models.ising import IsingModel
from ..models.offset_ising import OffsetIsing
from ..samplers.base import heat_bath
from ..samplers.block_gibbs import greedy_coloring


def flip_log_odds(p) -> torch.Tensor | float:
    """``λ = ½ log((1 − p) / p)`` for a flip rate ``p`` in ``(0, 1)`` (float or tensor)."""
    if isinstance(p, torch.Tensor):
        if not ((p > 0) & (p < 1)).all():
            raise ValueError("p must lie in (0, 1) for every image")
        return 0.5 * torch.log((1 - p) / p)
    p = float(p)
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie in (0, 1), got {p}")
    return 0.5 * math.log((1 - p) / p)


def _as_rows(noisy: torch.Tensor, name: str = "noisy") -> torch.Tensor:
    if not isinstance(noisy, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of 0/1 values, got {type(noisy).__name__}")
    if not noisy.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor of 0./1. (use .float())")
    if noisy.dim() == 1:
        noisy = noisy.unsqueeze(0)
    if noisy.dim() > 2:
        noisy = noisy.reshape(noisy.shape[0], -1)
    if torch.isnan(noisy).any() or ((noisy != 0) & (noisy != 1)).any():
        raise ValueError(f"{name} must be binary: every value 0. or 1.")
    return noisy


def observation_field(noisy: torch.Tensor, p, observed: torch.Tensor | None = None) -> torch.Tensor:
    """Spin field ``f = λ (2y − 1)`` of flip noise with rate ``p``; shape ``(B, d)``.

    Args:
        noisy: observed images ``(B, d)`` or ``(B, H, W)`` (flattened), values 0/1.
        p: flip rate, a float or a tensor ``(B,)`` (one rate per image).
        observed: optional boolean mask like ``noisy``; missing pixels get field 0.
    """
    y = _as_rows(noisy)
    if isinstance(p, torch.Tensor) and p.dim() > 0:
        if p.shape != (y.shape[0],):
            raise ValueError(
                f"p must be a float or a tensor of shape ({y.shape[0]},), got {tuple(p.shape)}"
            )
        lam = flip_log_odds(p.to(y.dtype).to(y.device)).unsqueeze(1)
    else:
        lam = flip_log_odds(float(p))
    f = lam * (2 * y - 1)
    if observed is not None:
        obs = observed_mask(observed, y)
        f = torch.where(obs.to(f.device), f, torch.zeros_like(f))
    return f


def observed_mask(observed: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``observed`` (a boolean mask with as many entries as ``y``) reshaped like ``y``;
    ``ValueError`` naming ``observed`` otherwise."""
    if (
        not isinstance(observed, torch.Tensor)
        or observed.dtype != torch.bool
        or observed.numel() != y.numel()
    ):
        raise ValueError(
            f"observed must be a boolean mask with the shape of noisy {tuple(y.shape)}, got "
            + (
                f"{observed.dtype} of shape {tuple(observed.shape)}"
                if isinstance(observed, torch.Tensor)
                else type(observed).__name__
            )
        )
    return observed.reshape(y.shape)


def _is_rbm(prior) -> bool:
    return all(isinstance(getattr(prior, a, None), torch.Tensor) for a in ("W", "b", "c")) and (
        prior.W.dim() == 2 and prior.W.shape[0] == prior.dim
    )


class FieldPosterior(EnergyModel):
    """A binary prior plus a per-chain external spin field: ``U(x) − Σ_i f_i s_i``.

    Args:
        prior: binary EnergyModel (IsingModel, RBM, or any model with ``site_logits``).
        field: ``(d,)`` or ``(B, d)`` spin field (``observation_field``).

    ``conditional_logits = prior.conditional_logits + 2f``. Sweeps: an RBM prior (detected by
    its ``W (d, m)``, ``b``, ``c``) is swept layer by layer with visible bias ``b + 2f``; other
    priors by colour blocks of ``prior.interaction_graph()`` (single sites if it has none).
    """

    def __init__(self, prior: EnergyModel, field: torch.Tensor):
        if not isinstance(prior, EnergyModel) or not prior.binary:
            raise TypeError(f"prior must be a binary EnergyModel, got {type(prior).__name__}")
        super().__init__(prior.dim, binary=True)
        if field.dim() == 1:
            field = field.unsqueeze(0)
        if field.dim() != 2 or field.shape[1] != prior.dim:
            raise ValueError(
                f"field must have shape ({prior.dim},) or (B, {prior.dim}), "
                f"got {tuple(field.shape)}"
            )
        self.prior = prior
        self.register_buffer("field", field.detach().to(prior.device, prior.dtype).clone())
        self.lattice_shape = getattr(prior, "lattice_shape", None)
        self.is_rbm = _is_rbm(prior)
        self._blocks = None

    def _f(self, B: int) -> torch.Tensor:
        f = self.field
        if f.shape[0] not in (1, B):
            raise ValueError(f"the posterior has fields for {f.shape[0]} images, x has {B} rows")
        return f

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``U_prior(x) − Σ_i f_i (2x_i − 1)``; shape ``(B,)``."""
        x = self.check_input(x)
        return self.prior.energy(x) - ((2 * x - 1) * self._f(x.shape[0])).sum(1)

    def conditional_logits(self, x: torch.Tensor) -> torch.Tensor:
        """``prior.conditional_logits(x) + 2f``, shape ``(B, d)``."""
        return self.prior.conditional_logits(x) + 2 * self._f(x.shape[0])

    def site_logits(self, x: torch.Tensor, sites: torch.Tensor) -> torch.Tensor:
        """``prior.site_logits(x, sites) + 2 f[:, sites]``, shape ``(B, len(sites))``."""
        return self.prior.site_logits(x, sites) + 2 * self._f(x.shape[0])[:, sites]

    def interaction_graph(self) -> nx.Graph | None:
        return self.prior.interaction_graph()

    def to_ising(self, row: int = 0) -> IsingModel:
        """``IsingModel(J, h + f_row)``: the posterior of image ``row`` (``IsingModel`` prior)."""
        if not isinstance(self.prior, IsingModel):
            raise TypeError("to_ising needs an IsingModel prior")
        return IsingModel(self.prior.J.detach(), self.prior.h.detach() + self.field[row])

    # ------------------------------------------------------------- blocks
    def _colour_blocks(self, device) -> list[torch.Tensor]:
        if self._blocks is None:
            G = self.prior.interaction_graph()
            if G is None:
                blocks = [np.array([i]) for i in range(self.dim)]
            else:
                blocks = greedy_coloring(G)
            self._blocks = blocks
        return [torch.as_tensor(b, device=device) for b in self._blocks]

    def _rbm_visible_bias(self, B: int) -> torch.Tensor:
        return self.prior.b + 2 * self._f(B)

    def block_gibbs_sweep(
        self,
        x: torch.Tensor,
        *,
        beta: float = 1.0,
        clamp: torch.Tensor | None = None,
        x0: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict]:
        """One sweep at inverse temperature ``β``; clamped pixels keep their ``x0`` value.

        RBM: ``h ~ σ(β(c + Wᵀv))``, then ``v ~ σ(β(b + 2f + W h))`` (for ``β = 1`` its
        stationary law of ``v`` is the posterior). Others: heat bath on each colour block.
        """
        old = x
        if self.is_rbm:
            W, c = self.prior.W, self.prior.c
            hid = heat_bath(x.new_zeros(()), c + x @ W, beta, generator)
            new = heat_bath(x, self._rbm_visible_bias(x.shape[0]) + hid @ W.T, beta, generator)
            x = new if clamp is None else torch.where(clamp, x0, new)
        else:
            x = x.clone()
            for sites in self._colour_blocks(x.device):
                new = heat_bath(x[:, sites], self.site_logits(x, sites), beta, generator)
                if clamp is not None:
                    new = torch.where(clamp[:, sites], x0[:, sites], new)
                x[:, sites] = new
        return x, {"flip_rate": (x != old).sum() / x.numel()}

    def icm_sweep(
        self, x: torch.Tensor, *, clamp: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Set each site (colour block, or each visible unit of an RBM in turn, using exact
        free-energy differences) to its conditional mode; ties keep the current value.
        The energy never increases. Returns ``(x, n_changed (B,))``."""
        x = x.clone()
        changed = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        if self.is_rbm:
            W, c = self.prior.W, self.prior.c
            bias = self._rbm_visible_bias(x.shape[0]).expand_as(x)
            a = c + x @ W  # (B, m) hidden pre-activations
            for i in range(self.dim):
                w = W[i]
                a0 = a - x[:, i : i + 1] * w
                logit = bias[:, i] + (F.softplus(a0 + w) - F.softplus(a0)).sum(1)
                new = torch.where(logit > 0, 1.0, torch.where(logit < 0, 0.0, x[:, i]))
                if clamp is not None:
                    new = torch.where(clamp[:, i], x[:, i], new)
                changed += (new != x[:, i]).long()
                x[:, i] = new
                a = a0 + new.unsqueeze(1) * w
            return x, changed
        for sites in self._colour_blocks(x.device):
            logit = self.site_logits(x, sites)
            old = x[:, sites]
            new = torch.where(logit > 0, 1.0, torch.where(logit < 0, 0.0, old))
            if clamp is not None:
                new = torch.where(clamp[:, sites], old, new)
            changed += (new != old).sum(1)
            x[:, sites] = new
        return x, changed

    def rao_blackwell(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """An unbiased estimate of ``E[x]`` from state ``x`` with less variance than ``x``:
        RBM ``σ(b + 2f + W h)`` with ``h ~ p(h | x)``; others ``σ(conditional_logits(x))``."""
        if self.is_rbm:
            W, c = self.prior.W, self.prior.c
            hid = heat_bath(x.new_zeros(()), c + x @ W, 1.0, generator)
            return torch.sigmoid(self._rbm_visible_bias(x.shape[0]) + hid @ W.T)
        return torch.sigmoid(self.conditional_logits(x))


def replicate(post: EnergyModel, k: int) -> EnergyModel:
    """The posterior with each image's chain repeated ``k`` times (rows ``b·k .. b·k+k−1``
    belong to image ``b``), for independent restarts. Models without per-chain fields are
    returned unchanged."""
    if k == 1:
        return post
    if isinstance(post, OffsetIsing):
        if post.field is None or post.field.shape[0] == 1:
            return post
        return post.with_field(post.field.repeat_interleave(k, 0))
    if isinstance(post, FieldPosterior):
        if post.field.shape[0] == 1:
            return post
        return FieldPosterior(post.prior, post.field.repeat_interleave(k, 0))
    return post


def posterior(
    prior: EnergyModel, noisy: torch.Tensor, p, observed: torch.Tensor | None = None
) -> EnergyModel:
    """The posterior of clean images given ``noisy`` ``(B, d)`` or ``(B, H, W)`` under flip noise
    of rate ``p`` (float or ``(B,)``), optionally with missing pixels (``observed`` mask).

    Returns an ``OffsetIsing`` (field added to the prior's) for an ``OffsetIsing`` prior, else a
    ``FieldPosterior``. Either samples ``B`` chains, one per image.
    """
    if not isinstance(prior, EnergyModel) or not prior.binary:
        raise TypeError(f"prior must be a binary EnergyModel, got {type(prior).__name__}")
    y = _as_rows(noisy)
    if y.shape[1] != prior.dim:
        raise ValueError(f"noisy images have {y.shape[1]} pixels, the prior has dim {prior.dim}")
    f = observation_field(y, p, observed).to(prior.device, prior.dtype)
    if isinstance(prior, OffsetIsing):
        if prior.field is not None:
            f = f + prior.field
        return prior.with_field(f)
    return FieldPosterior(prior, f)
