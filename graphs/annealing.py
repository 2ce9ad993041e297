"""Annealed single-edge Gibbs from noise, with a budget proportional to each graph's size.

Chain ``c`` (a graph with ``F_c`` free edge slots, i.e. ``n_c(n_c − 1)/2``) makes
``T_c = ⌈sweeps · F_c⌉`` random-scan heat-bath updates; update ``t`` of chain ``c`` picks a
uniform free slot ``i`` and sets ``x_i = 1`` with probability
``σ(β_c(t) [U(x^{i←0}) − U(x^{i←1})])`` at the inverse temperature

    β_c(t) = β_start · (β_end / β_start)^{min(1, t / (a · T_c))}      (geometric ramp)

(linear when ``β_start`` or ``β_end`` is 0), so every graph, small or large, is annealed
over the same number of sweeps of its own slots, ramping over the first fraction ``a``
(``anneal_fraction``) and held at ``β_end`` for the rest. With ``β_start = β_end`` it is
plain Gibbs targeting ``exp(−β U)`` on the free slots. Chains are batched; a chain stops
when its budget is spent, so the cost is ``Σ_c T_c`` energy evaluations (each chain's
current energy is carried, one batched call per update).
"""

from __future__ import annotations

import math

import torch

from discrete_ebm._validation import check_positive_int
from discrete_ebm.samplers.base import heat_bath
from discrete_ebm.samplers.gwg import GWGSampler

from .convert import fixed_mask

__all__ = ["annealed_edge_gibbs", "beta_ramp"]


def beta_ramp(
    progress: torch.Tensor, beta_start: float, beta_end: float, anneal_fraction: float
) -> torch.Tensor:
    """β at ``progress`` = t / T in [0, 1] (any shape): geometric from ``beta_start`` to
    ``beta_end`` over the first ``anneal_fraction``, then ``beta_end``."""
    s = (progress / anneal_fraction).clamp(max=1.0) if anneal_fraction > 0 else progress * 0 + 1
    if beta_start > 0 and beta_end > 0:
        return beta_start * (beta_end / beta_start) ** s
    return beta_start + (beta_end - beta_start) * s


def _check(sweeps, beta_start, beta_end, anneal_fraction) -> None:
    if not (isinstance(sweeps, int | float) and math.isfinite(sweeps) and sweeps > 0):
        raise ValueError(f"sweeps must be a finite number > 0, got {sweeps!r}")
    for name, b in (("beta_start", beta_start), ("beta_end", beta_end)):
        if not (math.isfinite(b) and b >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {b!r}")
    if not 0.0 <= anneal_fraction <= 1.0:
        raise ValueError(f"anneal_fraction must lie in [0, 1], got {anneal_fraction!r}")


def _groups(budget: torch.Tensor) -> list[tuple[int, int, int]]:
    """``(start, stop, T)`` of the runs of equal budgets (sorted descending)."""
    values, counts = torch.unique_consecutive(budget, return_counts=True)
    out, start = [], 0
    for v, c in zip(values.tolist(), counts.tolist()):
        out.append((start, start + c, v))
        start += c
    return out


def _resample(x, u, log_w, lo, hi, generator) -> None:
    """Multinomial resampling of rows ``lo:hi`` by their weights; weights reset to 1."""
    w = torch.softmax(log_w[lo:hi].double(), 0)
    idx = lo + torch.multinomial(w.float(), hi - lo, replacement=True, generator=generator)
    x[lo:hi] = x[idx].clone()
    u[lo:hi] = u[idx].clone()
    log_w[lo:hi] = 0.0


def _maybe_resample(x, u, log_w, groups, t, ramp_end, every, generator) -> None:
    """Resample each group still annealing whose effective sample size fell below half its
    size (checked every ``every`` updates), and every group on the update that ends its
    ramp (so the held phase starts from an unweighted population)."""
    for (lo, hi, T), end in zip(groups, ramp_end):
        if t > end or T <= t:
            continue
        lw = log_w[lo:hi].double()
        if t == end:
            if bool((lw != lw[0]).any()):
                _resample(x, u, log_w, lo, hi, generator)
        elif t % every == 0:
            w = torch.softmax(lw, 0)
            if float(1.0 / (w * w).sum()) < 0.5 * (hi - lo):
                _resample(x, u, log_w, lo, hi, generator)


def annealed_edge_gibbs(
    model,
    x0: torch.Tensor,
    *,
    sweeps: float,
    beta_start: float = 1.0,
    beta_end: float = 1.0,
    anneal_fraction: float = 1.0,
    resample: bool = False,
    kernel: str = "gibbs",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Run the annealed chains of the module docstring from state rows ``x0`` ``(B, d)``
    (a graph model with ``max_nodes``); returns the final rows (a new tensor).

    ``resample``: population annealing (sequential Monte Carlo) within each group of chains
    with the same free slots (the same node count): chain ``c`` carries the log-weight
    ``−Σ_t (β_c(t) − β_c(t−1)) U(x_c)``, the group is resampled when its effective sample
    size falls below half its size and once when its ramp ends, so the held phase targets
    ``exp(−β_end U)`` given the node count even where the ramp alone leaves chains in
    metastable graphs.

    ``kernel="gwg"``: each update is a Gibbs-with-gradients proposal (first-order informed
    choice of the slot, Metropolis–Hastings corrected, ``discrete_ebm.samplers.gwg``) at the
    chain's β instead of a uniformly chosen slot's heat-bath update."""
    _check(sweeps, beta_start, beta_end, anneal_fraction)
    if kernel not in ("gibbs", "gwg"):
        raise ValueError(f"kernel must be 'gibbs' or 'gwg', got {kernel!r}")
    gwg = GWGSampler(model) if kernel == "gwg" else None
    N = check_positive_int(int(model.max_nodes), "max_nodes")
    x0 = model.check_input(x0, name="x0")
    free = ~fixed_mask(x0, N)
    budget = torch.ceil(sweeps * free.sum(1).to(torch.float64)).long()
    order = torch.argsort(budget, descending=True, stable=True)
    x = x0[order].clone()
    free, budget = free[order], budget[order]
    weights = free.to(torch.float32)
    groups = _groups(budget) if resample else []
    ramp_end = [int(anneal_fraction * T) - 1 for _, _, T in groups]
    every = 8
    with torch.no_grad():
        u = model.energy(x)
        log_w = torch.zeros_like(u, dtype=torch.float64)
        beta_prev = beta_ramp(torch.zeros_like(u), beta_start, beta_end, anneal_fraction)
        for t in range(int(budget.max()) if len(budget) else 0):
            k = int((budget > t).sum())  # chains still running: a prefix (sorted budgets)
            beta = beta_ramp(t / budget[:k].to(u.dtype), beta_start, beta_end, anneal_fraction)
            if resample:
                log_w[:k] -= ((beta - beta_prev[:k]) * u[:k]).double()
                beta_prev[:k] = beta
                _maybe_resample(x, u, log_w, groups, t, ramp_end, every, generator)
            if gwg is not None:
                x[:k], _ = gwg.step(x[:k], beta, ~free[:k], None, generator)
                u[:k] = model.energy(x[:k])
                continue
            xs, rows = x[:k], torch.arange(k, device=x.device)
            i = torch.multinomial(weights[:k], 1, generator=generator).squeeze(1)
            old = xs[rows, i]
            y = xs.clone()
            y[rows, i] = 1.0 - old
            u_flip = model.energy(y)
            # logit of x_i = 1: U(x^{i←0}) − U(x^{i←1})
            diff = torch.where(old > 0.5, u_flip - u[:k], u[:k] - u_flip)
            new = heat_bath(old, diff, beta, generator)
            x[rows, i] = new
            u[:k] = torch.where(new != old, u_flip, u[:k])
    out = torch.empty_like(x)
    out[order] = x
    return out
