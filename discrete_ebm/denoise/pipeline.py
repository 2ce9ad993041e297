"""``denoise``: noisy images and a prior in, MPM / annealed-MAP / ICM estimates out.

One call handles a whole batch ``(B, H, W)`` (or ``(B, d)``): it builds the posterior
(``posterior``), estimates the flip rate by EM when it is not given
(``estimate_flip_rate``), and runs the requested estimators, all batched over the images on
the prior's device. Missing pixels (``observed`` False) carry no likelihood; with
``clamp_observed=True`` the observed pixels are held fixed (inpainting of noiseless images).
"""

from __future__ import annotations

import torch

from ..models.base import EnergyModel
from .estimators import Estimate, anneal_map, icm, mpm
from .noise import estimate_flip_rate
from .posterior import _as_rows, observed_mask, posterior

ESTIMATORS = ("mpm", "map", "icm")
#: MPM chains per image under an RBM prior by default: on 1,000 MNIST validation digits at
#: p = 0.1 the shipped RBM's MPM error is 1.57 % with 1 chain and 1.51 % with 4
RBM_MPM_CHAINS = 4


def denoise(
    noisy: torch.Tensor,
    prior: EnergyModel,
    p: float | torch.Tensor | None = None,
    *,
    methods=ESTIMATORS,
    observed: torch.Tensor | None = None,
    clamp_observed: bool = False,
    n_sweeps: int = 60,
    burn_in: int = 20,
    n_chains: int | None = None,
    anneal_sweeps: int = 60,
    beta_start: float = 1.0,
    beta_end: float = 4.0,
    n_restarts: int = 1,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> dict:
    """Denoise a batch of binary images under ``prior`` and flip noise of rate ``p``.

    Args:
        noisy: ``(B, H, W)`` or ``(B, d)`` images in {0, 1} (``d`` = ``prior.dim``).
        prior: ``OffsetIsing`` (any size via ``for_shape`` beforehand), ``IsingModel``, RBM, ...
        p: flip rate (float or ``(B,)``); ``None`` estimates one shared rate by EM.
        methods: any of ``"mpm"`` (marginals over ``n_chains`` chains per image, ``n_sweeps``
            each after ``burn_in``; ``n_chains=None``: ``RBM_MPM_CHAINS`` for an RBM prior,
            whose two-layer chains mix more slowly than single-site sweeps, else 1), ``"map"``
            (annealing ``beta_start → beta_end`` over ``anneal_sweeps``, ``n_restarts``, then
            ICM) and ``"icm"``.
        observed: boolean mask like ``noisy``; missing pixels get no observation term.
        clamp_observed: hold observed pixels at their values (noiseless inpainting; then
            ``p`` only matters for pixels that are not clamped, i.e. none).
    Returns: ``{"p": rate used, "p_estimated": bool, name: Estimate (estimate reshaped like
    noisy), ...}``.
    """
    shape = tuple(noisy.shape)
    y = _as_rows(noisy).to(prior.device, prior.dtype)
    unknown = [m for m in methods if m not in ESTIMATORS]
    if unknown:
        raise ValueError(f"methods must be among {ESTIMATORS}, got {unknown}")
    obs = None if observed is None else observed_mask(observed, y).to(y.device)
    out: dict = {"p_estimated": p is None}
    if p is None:
        p, _ = estimate_flip_rate(y, prior, observed=obs, generator=generator)
    out["p"] = p
    post = posterior(prior, y, p, obs)
    clamp = obs if (clamp_observed and obs is not None) else None
    if n_chains is None:
        n_chains = RBM_MPM_CHAINS if getattr(post, "is_rbm", False) else 1
    for m in methods:
        if m == "mpm":
            res = mpm(
                post,
                y,
                n_sweeps=n_sweeps,
                burn_in=burn_in,
                n_chains=n_chains,
                clamp=clamp,
                generator=generator,
                progress=progress,
            )
        elif m == "map":
            res = anneal_map(
                post,
                y,
                n_sweeps=anneal_sweeps,
                beta_start=beta_start,
                beta_end=beta_end,
                n_restarts=n_restarts,
                clamp=clamp,
                generator=generator,
                progress=progress,
            )
        else:
            res = icm(post, y, clamp=clamp)
        res.estimate = res.estimate.reshape(shape)
        if res.marginals is not None:
            res.marginals = res.marginals.reshape(shape)
        out[m] = res
    return out


__all__ = ["denoise", "Estimate", "ESTIMATORS"]
