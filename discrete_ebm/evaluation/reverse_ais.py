"""Reverse annealed importance sampling: ``log Z`` estimated from the target's side.

Forward AIS (:mod:`discrete_ebm.evaluation.ais`) starts at the base ``p_0`` and anneals to
the model ``p_1``; ``E[Ẑ] = Z``, so by Jensen ``E[log Ẑ] <= log Z``: it *under*estimates
``log Z`` in expectation and the test log-likelihood ``−F − log Ẑ`` it gives is
*optimistic*. Reverse AIS (the reverse estimator of Burda, Grosse & Salakhutdinov 2015,
RAISE) runs the same path backwards: chains start at samples ``x_K ~ p_1`` of the model and,
for ``k = K..1``, ``log w += log f_{k−1}(x) − log f_k(x)``, then ``x ~ T_{k−1}(x)`` (a kernel
leaving ``p_{k−1}`` invariant; none after the last weight). Then ``E[w] = Z_0 / Z_1``, so
``log Ẑ_rev = log Z_0 − log mean(w)`` *over*estimates ``log Z`` in expectation and the
log-likelihood it gives is *conservative*. Together the two bracket the exact value (in
expectation, within their standard errors), and the width of the bracket shows how far the
schedule is from converged.

The guarantee needs exact samples of ``p_1`` as the start; with approximate ones (long
Gibbs or tempering chains started at data, the usual choice for an MNIST model) the
estimate is only as conservative as the samples are exact. The path is the model's own
(``model.ais_path``, as forward AIS uses) or :class:`~discrete_ebm.evaluation.ais.GeometricPath`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .._validation import check_states
from ..models.base import EnergyModel
from .ais import ais_path, base_logits_from_marginals, default_betas, log_mean_exp_with_stderr


def _schedule(n_betas: int, betas) -> list[float]:
    """The increasing schedule from 0 to 1 (``default_betas(n_betas)`` unless ``betas``)."""
    if betas is None:
        return default_betas(n_betas).tolist()
    s = torch.as_tensor(betas, dtype=torch.float64).reshape(-1)
    if s.numel() < 2 or not torch.isfinite(s).all() or s[0] != 0 or s[-1] != 1:
        raise ValueError("betas must be finite, start at 0, end at 1 and have >= 2 values")
    if (s.diff() < 0).any():
        raise ValueError("betas must be non-decreasing")
    return s.tolist()


def reverse_log_weights(path, x, betas: list[float], generator, *, steps=None) -> torch.Tensor:
    """Reverse-AIS log-weights ``(N,)`` (float64) of the states ``x`` (``N`` approximate
    samples of the target, in the path's own state format) annealed down ``betas``
    (``β_0 = 0 < ... < β_K = 1``): ``log w = Σ_{k=K}^{1} [log f_{k−1}(x_k) − log f_k(x_k)]``,
    ``x_{k−1} ~ T_{k−1}(x_k, ·)``, so ``log Z_base − log mean exp(log w)`` estimates log Z
    from above in expectation. ``steps`` may wrap ``range(K, 0, −1)`` (a progress bar)."""
    steps = range(len(betas) - 1, 0, -1) if steps is None else steps
    first = x[0] if isinstance(x, list) else x
    log_w = torch.zeros(first.shape[0], dtype=torch.float64, device=first.device)
    cur = path.log_f(x, betas[-1]).double()
    for k in steps:
        log_w += path.log_f(x, betas[k - 1]).double() - cur
        if k > 1:
            x = path.transition(x, betas[k - 1], generator)
            cur = path.log_f(x, betas[k - 1]).double()
    if not torch.isfinite(log_w).all():
        raise FloatingPointError("reverse AIS produced non-finite log-weights")
    return log_w


def reverse_log_partition(
    model: EnergyModel,
    samples: torch.Tensor,
    n_betas: int = 1000,
    *,
    base_marginals: torch.Tensor | None = None,
    betas: Sequence[float] | torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    return_log_weights: bool = False,
    progress: bool = False,
):
    """Reverse-AIS estimate of ``log Z`` of ``model`` with its standard error.

    Args:
        model: a binary EnergyModel (same paths as forward AIS).
        samples: ``(N, d)`` states drawn from the model (exact, or long-run chains): the
            start of the ``N`` reverse runs.
        n_betas: inverse temperatures ``K + 1 >= 2`` (ignored when ``betas`` is given),
            spaced by :func:`~discrete_ebm.evaluation.ais.default_betas`.
        base_marginals: ``(d,)`` Bernoulli marginals of the base; ``None`` = uniform.
        betas: explicit non-decreasing schedule from 0 to 1.
        generator: seeds every draw.
        return_log_weights: also return the ``(N,)`` reverse log-weights ``log w``.
        progress: tqdm bar over temperatures.

    Returns ``(log_z, stderr)``: ``log Z_0 − log mean(w)`` and the delta-method standard
    error ``std(w) / (√N mean(w))``. ``E[log Ẑ_rev] >= log Z`` for exact start samples.
    """
    if not isinstance(model, EnergyModel):
        raise TypeError(f"model must be an EnergyModel, got {type(model).__name__}")
    model.require_domain(True, "reverse AIS with a Bernoulli base")
    dim = model.require_dim("reverse AIS")
    x = check_states(samples, dim, name="samples")
    if x.shape[0] == 0:
        raise ValueError("samples must have at least one row")
    b = _schedule(n_betas, betas)
    dtype = model.dtype if model.dtype.is_floating_point else torch.float32
    path = ais_path(
        model, base_logits_from_marginals(base_marginals, dim, device=model.device, dtype=dtype)
    )
    steps = range(len(b) - 1, 0, -1)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="reverse AIS", leave=False)
    with torch.no_grad():
        x = x.to(device=model.device, dtype=dtype)
        log_w = reverse_log_weights(path, x, b, generator, steps=steps)
        log_mean, stderr = log_mean_exp_with_stderr(log_w)
    log_z = path.log_z_base() - log_mean
    if return_log_weights:
        return log_z, stderr, log_w
    return log_z, stderr
