"""Estimating the flip rate ``p`` of noisy images when it is not given (EM under the prior).

The marginal likelihood ``L(p) = Π_b Σ_x p(x) P(y_b | x; p)`` is maximised by
expectation–maximisation: with the posterior marginals ``m_bi = P(x_bi = 1 | y_b; p_t)``,

    p_{t+1} = (1 / N) Σ_{b,i} P(x_bi ≠ y_bi | y_b; p_t)
            = (1 / N) Σ_{b,i} [y_bi (1 − m_bi) + (1 − y_bi) m_bi],

the expected fraction of flipped pixels (``N`` the number of observed pixels). Each step
cannot decrease ``L`` when the marginals are exact; here they come from a short Gibbs run
(``mpm``), so the iterates are a Monte Carlo EM. ``per_image=True`` fits one rate per image.
"""

from __future__ import annotations

import torch

from .._validation import check_positive_int, check_probability
from ..models.base import EnergyModel
from .estimators import mpm
from .posterior import _as_rows, posterior


def expected_flip_fraction(
    noisy: torch.Tensor, marginals: torch.Tensor, observed: torch.Tensor | None = None
) -> torch.Tensor:
    """Per image ``mean_i P(x_i ≠ y_i)`` from posterior marginals ``(B, d)``; shape ``(B,)``."""
    y = _as_rows(noisy).to(marginals.dtype)
    wrong = y * (1 - marginals) + (1 - y) * marginals
    if observed is None:
        return wrong.mean(1)
    obs = observed.reshape(y.shape).to(wrong.dtype)
    return (wrong * obs).sum(1) / obs.sum(1).clamp_min(1)


def estimate_flip_rate(
    noisy: torch.Tensor,
    prior: EnergyModel,
    *,
    p_init: float = 0.2,
    n_iter: int = 8,
    n_sweeps: int = 20,
    burn_in: int = 10,
    per_image: bool = False,
    observed: torch.Tensor | None = None,
    p_bounds: tuple[float, float] = (1e-3, 0.49),
    tol: float = 1e-4,
    generator: torch.Generator | None = None,
) -> tuple[float | torch.Tensor, list]:
    """Monte Carlo EM estimate of the flip rate of ``noisy`` ``(B, d)`` under ``prior``.

    Args:
        noisy: observed binary images ``(B, d)`` or ``(B, H, W)``.
        prior: the prior over clean images (the same one used to denoise).
        p_init: starting rate; ``n_iter`` EM steps, each with an MPM run of ``n_sweeps``
            sweeps after ``burn_in`` (started from ``noisy``).
        per_image: one rate per image (a tensor ``(B,)``) instead of one shared float.
        observed: optional mask of observed pixels (missing ones do not count).
        p_bounds: the rate is kept inside these bounds (rates above ½ are not identifiable).
        tol: stop when no rate moves by more than ``tol``.
    Returns: ``(p, trace)``; ``trace`` lists the rates after each step.
    """
    y = _as_rows(noisy)
    lo, hi = (check_probability(v, "p_bounds") for v in p_bounds)
    p_init = check_probability(p_init, "p_init")
    n_iter = check_positive_int(n_iter, "n_iter")
    p = torch.full((y.shape[0],), p_init, dtype=torch.float64, device=y.device)
    if not per_image:
        p = p[:1]
    trace = []
    for _ in range(n_iter):
        rate = p if per_image else float(p[0])
        post = posterior(prior, y, rate, observed)
        x0 = y.to(post.device, post.dtype)
        res = mpm(post, x0, n_sweeps=n_sweeps, burn_in=burn_in, generator=generator)
        frac = expected_flip_fraction(x0, res.marginals, observed).double().cpu()
        if not per_image:
            if observed is None:
                frac = frac.mean(0, keepdim=True)
            else:
                n = observed.reshape(y.shape).sum(1).double().cpu()
                frac = ((frac * n).sum() / n.sum().clamp_min(1)).reshape(1)
        new = frac.clamp(lo, hi).to(p.device)
        moved = float((new - p).abs().max())
        p = new
        trace.append(p.clone() if per_image else float(p[0]))
        if moved < tol:
            break
    return (p if per_image else float(p[0])), trace
