"""Annealed importance sampling (Neal 2001) of ``log Z``, written once for any model.

A model takes part through an *annealing path* from a tractable base: an object with
``log_z_base() -> float``, ``sample_base(n, generator) -> state``,
``log_f(state, beta) -> (n,)`` (unnormalised log density of the intermediate
distribution ``p_β``; ``f_0`` is the base, ``f_1 = exp(−U)``) and
``transition(state, beta, generator) -> state`` (a Markov kernel leaving ``p_β``
invariant). Models with structure supply ``model.ais_path(base_logits)`` (RBM:
Salakhutdinov & Murray 2008, DBM: Salakhutdinov & Hinton 2009, both with hidden layers
summed out where possible); any other binary model gets :class:`GeometricPath`
``U_β = (1 − β) U_base + β U`` with single-site Gibbs transitions.

With ``x_0 ~ p_0`` and, for ``k = 1..K``,
``log w += log f_k(x_{k−1}) − log f_{k−1}(x_{k−1})``, ``x_k ~ T_k(x_{k−1})``
(the state weighted at ``β_k`` was produced by a kernel invariant for ``p_{k−1}``: the
ordering DsysDML ``rbms`` 0.1.1 fixed), ``Ẑ = Z_0 · mean(w)`` is unbiased; the reported
``log Ẑ`` is the log of that mean and its standard error is the delta-method
``std(w) / (√N · mean(w))``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .. import distributed as dist_utils
from .._validation import check_positive_int, check_states
from ..models.base import EnergyModel
from ..samplers.sharding import rank_stream


def base_logits_from_marginals(
    marginals: torch.Tensor | None, dim: int, *, eps: float = 1e-3, device=None, dtype=None
) -> torch.Tensor:
    """Logits ``log(p / (1 − p))`` of base marginals ``p (d,)`` clipped to ``[eps, 1 − eps]``;
    zeros (the uniform base) if ``marginals`` is ``None``."""
    if marginals is None:
        return torch.zeros(dim, dtype=dtype or torch.float32, device=device)
    p = torch.as_tensor(marginals, dtype=torch.float64).reshape(-1)
    if p.shape != (dim,):
        raise ValueError(f"base_marginals must have shape ({dim},), got {tuple(p.shape)}")
    if torch.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("base_marginals must be probabilities in [0, 1]")
    p = p.clamp(eps, 1 - eps)
    logits = torch.log(p) - torch.log1p(-p)
    return logits.to(dtype=dtype or torch.float32, device=device)


def data_marginals(data: torch.Tensor, *, smoothing: float = 1.0) -> torch.Tensor:
    """Per-unit frequency of ones in ``data (N, d)`` with add-``smoothing`` counts, ``(d,)``."""
    data = check_states(data, None, name="data")
    n = data.shape[0]
    return (data.double().sum(0) + smoothing) / (n + 2 * smoothing)


def default_betas(n_betas: int) -> torch.Tensor:
    """``n_betas >= 2`` inverse temperatures from 0 to 1 spaced like Salakhutdinov & Murray
    (2008): 3.5% of them on [0, 0.5], 27.5% on [0.5, 0.9] and 69% on [0.9, 1] (evenly spaced
    for fewer than 4). Float64; always exactly ``n_betas`` values, the first 0, the last 1."""
    n_betas = check_positive_int(n_betas, "n_betas")
    if n_betas < 2:
        raise ValueError(
            f"n_betas must be >= 2 (the schedule holds both ends, 0 and 1), got {n_betas}"
        )
    if n_betas < 4:
        return torch.linspace(0, 1, n_betas, dtype=torch.float64)
    n1 = max(1, round(0.035 * n_betas))
    n2 = max(1, round(0.275 * n_betas))
    n3 = max(1, n_betas - n1 - n2)
    parts = [
        torch.linspace(0, 0.5, n1 + 1, dtype=torch.float64)[:-1],
        torch.linspace(0.5, 0.9, n2 + 1, dtype=torch.float64)[:-1],
        torch.linspace(0.9, 1.0, n3, dtype=torch.float64),
    ]
    return torch.cat(parts)


class GeometricPath:
    """Generic path ``U_β(x) = (1 − β) U_base(x) + β U(x)`` for any binary EnergyModel.

    ``U_base(x) = −b_Aᵀx`` (Bernoulli ``σ(b_A)``; ``log Z_0 = Σ softplus(b_A)``). The
    transition is a systematic single-site Gibbs sweep whose logits are
    ``(1 − β) b_A,i + β (U(x^{i←0}) − U(x^{i←1}))`` (``model.site_logits``): ``d``
    sequential updates per temperature, so slow for wide models.
    """

    def __init__(self, model: EnergyModel, base_logits: torch.Tensor):
        self.model = model
        self.base_logits = base_logits

    def log_z_base(self) -> float:
        return float(torch.nn.functional.softplus(self.base_logits.double()).sum())

    def sample_base(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        p = torch.sigmoid(self.base_logits).expand(n, -1)
        u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
        return (u < p).to(p.dtype)

    def log_f(self, x: torch.Tensor, beta: float) -> torch.Tensor:
        out = (1 - beta) * (x @ self.base_logits)
        if beta != 0:
            out = out - beta * self.model(x)  # shape-checked energy
        return out

    def transition(self, x: torch.Tensor, beta: float, generator: torch.Generator | None):
        x = x.clone()
        for i in range(self.model.dim):
            site = torch.tensor([i], device=x.device)
            logit = (1 - beta) * self.base_logits[i] + beta * self.model.site_logits(x, site)
            u = torch.rand(logit.shape, generator=generator, device=x.device, dtype=x.dtype)
            x[:, i : i + 1] = (u < torch.sigmoid(logit)).to(x.dtype)
        return x


def ais_path(model: EnergyModel, base_logits: torch.Tensor):
    """The model's own path (``model.ais_path``) or the generic :class:`GeometricPath`."""
    if hasattr(model, "ais_path"):
        return model.ais_path(base_logits)
    return GeometricPath(model, base_logits)


def log_mean_exp_with_stderr(log_w: torch.Tensor) -> tuple[float, float]:
    """``log mean(w)`` and the delta-method standard error ``std(w) / (√N mean(w))`` of it,
    from log-weights ``(N,)`` (computed after subtracting ``max log w``)."""
    log_w = log_w.double().reshape(-1)
    n = log_w.numel()
    if n == 0:
        raise ValueError("log_w is empty")
    top = log_w.max()
    w = torch.exp(log_w - top)
    mean = w.mean()
    log_mean = float(top + torch.log(mean))
    if n < 2:
        return log_mean, float("inf")
    std = w.std(unbiased=True)
    return log_mean, float(std / (math.sqrt(n) * mean))


def check_schedule(n_betas: int, betas: Sequence[float] | torch.Tensor | None) -> list[float]:
    """The inverse temperatures: ``betas`` checked (increasing from 0 to 1, at least 2
    values), or :func:`default_betas` of ``n_betas``."""
    if betas is None:
        return default_betas(n_betas).tolist()
    schedule = torch.as_tensor(betas, dtype=torch.float64).reshape(-1)
    if schedule.numel() < 2:
        raise ValueError(f"betas must have at least 2 values (0 and 1), got {schedule.numel()}")
    if schedule[0] != 0 or schedule[-1] != 1:
        raise ValueError("betas must start at 0, end at 1 and have at least 2 values")
    if not torch.isfinite(schedule).all():
        raise ValueError("betas contain NaN or infinite values")
    if (schedule.diff() < 0).any():
        raise ValueError("betas must be non-decreasing")
    return schedule.tolist()


def anneal(
    path,
    b: list[float],
    n: int,
    generator: torch.Generator | None,
    device: torch.device,
    *,
    progress: bool = False,
) -> torch.Tensor:
    """Log importance weights ``(n,)`` (float64, on ``device``) of ``n`` annealing runs along
    ``path`` over the schedule ``b`` (module docstring)."""
    iterator = range(1, len(b))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="AIS", leave=False)
    with torch.no_grad():
        x = path.sample_base(n, generator)
        log_w = torch.zeros(n, dtype=torch.float64, device=device)
        prev = path.log_f(x, b[0]).double()
        for k in iterator:
            cur = path.log_f(x, b[k]).double()
            log_w += cur - prev
            if k < len(b) - 1:
                x = path.transition(x, b[k], generator)
                prev = path.log_f(x, b[k]).double()
    return log_w


def log_partition(
    model: EnergyModel,
    n_chains: int = 100,
    n_betas: int = 1000,
    *,
    base_marginals: torch.Tensor | None = None,
    betas: Sequence[float] | torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    return_log_weights: bool = False,
    progress: bool = False,
    distributed: bool = False,
):
    """AIS estimate of ``log Z`` of ``model`` with its standard error.

    Args:
        model: an EnergyModel; uses ``model.ais_path(base_logits)`` if present, else
            :class:`GeometricPath`.
        n_chains: number of independent annealing runs ``N``.
        n_betas: number of inverse temperatures ``K + 1 >= 2`` including 0 and 1 (ignored when
            ``betas`` is given); spaced by :func:`default_betas`.
        base_marginals: ``(d,)`` Bernoulli marginals of the base on the visible units (e.g.
            :func:`data_marginals` of the training data); ``None`` = uniform.
        betas: explicit increasing schedule from 0 to 1 (at least 2 values).
        generator: seeds every draw.
        return_log_weights: also return the ``(N,)`` log importance weights.
        progress: show a tqdm bar over temperatures (on rank 0 only when distributed).
        distributed: in a ``torch.distributed`` run, each of the ``w`` ranks anneals
            ``N / w`` of the runs from its own stream (``samplers.sharding.rank_stream``);
            the log-weights are gathered in rank order, and every rank returns the same
            estimate over all ``N`` runs (ValueError naming ``n_chains`` if ``w`` does not
            divide it). In one process it is the plain call.

    Returns ``(log_z, stderr)`` as floats (plus the log-weights if asked). ``E[Ẑ] = Z``;
    ``log Ẑ`` is biased low by about ``stderr²/2`` (Jensen), and a poor schedule shows as a
    large ``stderr``.
    """
    if not isinstance(model, EnergyModel):
        raise TypeError(f"model must be an EnergyModel, got {type(model).__name__}")
    model.require_domain(True, "AIS with a Bernoulli base")
    dim = model.require_dim("AIS")
    n_chains = check_positive_int(n_chains, "n_chains")
    b = check_schedule(n_betas, betas)
    if distributed:
        dist_utils.ensure_process_group(model.device)
        n_local = dist_utils.local_count(n_chains, "n_chains")
        generator = rank_stream(generator, model.device)
        progress = progress and dist_utils.is_main()
    else:
        n_local = n_chains
    dtype = model.dtype if model.dtype.is_floating_point else torch.float32
    base_logits = base_logits_from_marginals(base_marginals, dim, device=model.device, dtype=dtype)
    path = ais_path(model, base_logits)
    log_w = anneal(path, b, n_local, generator, model.device, progress=progress)
    if distributed:
        log_w = dist_utils.all_gather_rows(log_w)
    if not torch.isfinite(log_w).all():
        raise FloatingPointError("AIS produced non-finite log-weights (model parameters overflow?)")
    log_mean, stderr = log_mean_exp_with_stderr(log_w)
    log_z = path.log_z_base() + log_mean
    if return_log_weights:
        return log_z, stderr, log_w
    return log_z, stderr


def log_likelihood(
    model: EnergyModel,
    x: torch.Tensor,
    log_z: float,
    *,
    batch_size: int = 1000,
    distributed: bool = False,
) -> float:
    """Average log-likelihood ``mean_i(−U(x_i)) − log Z`` in nats (``U`` the exact free energy).

    With an AIS ``log Ẑ`` the standard error of the result is that of ``log Ẑ`` plus the
    sampling error of the mean over ``x``. With ``distributed`` (a ``torch.distributed``
    run, every rank passing the same ``x``), rank ``r`` of ``w`` scores rows
    ``[r N / w, (r + 1) N / w)`` (integer division; any ``N``) and the sum is all-reduced."""
    x = model.check_input(x)
    n = x.shape[0]
    if n == 0:
        raise ValueError("x must contain at least one row")
    if distributed:
        dist_utils.ensure_process_group(model.device)
        r, w = dist_utils.rank(), dist_utils.world_size()
        x = x[r * n // w : (r + 1) * n // w]
    total = torch.zeros((), dtype=torch.float64, device=model.device)
    with torch.no_grad():
        for a in range(0, x.shape[0], batch_size):
            xb = x[a : a + batch_size].to(device=model.device, dtype=model.dtype)
            total += -model(xb).double().sum()  # shape-checked energy
    if distributed:
        dist_utils.all_reduce_sum(total)
    return float(total) / n - float(log_z)
