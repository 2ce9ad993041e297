"""AIS for deep Boltzmann machines: reverse ``log Z`` and the per-image ``log Σ_h e^{−E(v, h)}``.

``reverse_log_partition`` runs the DBM's annealing path (``DBM.ais_path``: even layers,
odd layers summed out) backwards from joint model samples: for ``k = K..1``,
``log w += log f_{k−1}(x) − log f_k(x)`` then ``x ~ T_{k−1}(x)``;
``log Ẑ_rev = log Z_0 − log mean(w)`` over-estimates ``log Z`` in expectation when the
start samples are exact (Burda, Grosse & Salakhutdinov 2015), so the test log-likelihood it
gives is the conservative one beside forward AIS's optimistic one.

``conditional_log_partition`` estimates ``log Z(v) = log Σ_h exp(−E(v, h)) = −F(v)`` for
each row of ``v`` by AIS over the hidden layers with ``v`` clamped (the odd layers summed):
``log f_β(h_even) = b_0ᵀv + Σ_{l even ≥ 2} ((1 − β) a_l + β b_l)ᵀx_l
+ Σ_{l odd} softplus(β · input_l)`` with a Bernoulli ``σ(a_l)`` base (the row's mean-field
posterior; ``log Z_0 = b_0ᵀv + Σ_{l even ≥ 2} Σ softplus(a_l) + Σ_{l odd} n_l log 2``),
transitions drawing the odd then the even hidden layers at ``β``. ``log Z(v) − log Z`` is
``log p(v)``, and ``log Z(v) − (−E(v, μ) + H(μ))`` the gap of the mean-field bound
(``log Z`` cancels).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._validation import check_positive_int
from ..models.dbm import DBM, _bernoulli
from .ais import base_logits_from_marginals, default_betas, log_mean_exp_with_stderr
from .reverse_ais import reverse_log_weights


def _check(dbm) -> DBM:
    if not isinstance(dbm, DBM):
        raise TypeError(f"dbm must be a discrete_ebm DBM, got {type(dbm).__name__}")
    return dbm


def _path(dbm: DBM, base_marginals, hidden_marginals):
    """The DBM's annealing path with Bernoulli bases from marginals (``None``: uniform)."""
    kw = {"device": dbm.device, "dtype": dbm.dtype}
    logits = base_logits_from_marginals(base_marginals, dbm.layer_sizes[0], **kw)
    hidden = {
        l: base_logits_from_marginals(p, dbm.layer_sizes[l], **kw)
        for l, p in (hidden_marginals or {}).items()
    }
    return dbm.ais_path(logits, hidden)


@torch.no_grad()
def forward_log_partition(
    dbm: DBM,
    n_chains: int = 100,
    n_betas: int = 1000,
    *,
    base_marginals: torch.Tensor | None = None,
    hidden_marginals: dict[int, torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """Forward-AIS ``log Ẑ`` and its standard error (as ``evaluation.ais.log_partition``)
    with a Bernoulli base on the even hidden layers too: ``hidden_marginals[l]`` ``(n_l,)``
    (e.g. the mean-field means of ``h^l`` on training data; missing layers uniform)."""
    dbm = _check(dbm)
    path = _path(dbm, base_marginals, hidden_marginals)
    b = default_betas(n_betas).tolist()
    x = path.sample_base(check_positive_int(n_chains, "n_chains"), generator)
    log_w = torch.zeros(n_chains, dtype=torch.float64, device=dbm.device)
    prev = path.log_f(x, b[0]).double()
    for k in range(1, len(b)):
        log_w += path.log_f(x, b[k]).double() - prev
        if k < len(b) - 1:
            x = path.transition(x, b[k], generator)
            prev = path.log_f(x, b[k]).double()
    if not torch.isfinite(log_w).all():
        raise FloatingPointError("AIS produced non-finite log-weights")
    log_mean, stderr = log_mean_exp_with_stderr(log_w)
    return path.log_z_base() + log_mean, stderr


@torch.no_grad()
def reverse_log_partition(
    dbm: DBM,
    layers: list[torch.Tensor],
    n_betas: int = 1000,
    *,
    base_marginals: torch.Tensor | None = None,
    hidden_marginals: dict[int, torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """Reverse-AIS ``log Ẑ`` and its delta-method standard error from joint samples
    ``layers`` (``[v, h¹, ..., h^L]``, ``N`` rows each; the odd layers are ignored); the
    base as in ``forward_log_partition``."""
    dbm = _check(dbm)
    layers = dbm.check_layers(layers, "layers")
    b = default_betas(n_betas).tolist()
    path = _path(dbm, base_marginals, hidden_marginals)
    x = [t.to(dbm.dtype) if l % 2 == 0 else None for l, t in enumerate(layers)]
    log_mean, stderr = log_mean_exp_with_stderr(reverse_log_weights(path, x, b, generator))
    return path.log_z_base() - log_mean, stderr


def _odd_inputs(dbm: DBM, base1: torch.Tensor, x: list) -> dict[int, torch.Tensor]:
    """``input_l`` of every odd layer given the even ones (``base1 = b_1 + vW_0``)."""
    W, b, L = dbm.weights, dbm.biases, dbm.n_layers - 1
    out = {}
    for l in range(1, L + 1, 2):
        inp = base1 if l == 1 else torch.addmm(b[l], x[l - 1], W[l - 1])
        out[l] = inp if l == L else torch.addmm(inp, x[l + 1], W[l].T)
    return out


def _log_f(dbm: DBM, inputs: dict, x: list, base: dict, beta: float) -> torch.Tensor:
    out = sum(F.softplus(beta * inp).sum(1) for inp in inputs.values())
    for l in range(2, dbm.n_layers, 2):
        out = out + (x[l] * ((1 - beta) * base[l] + beta * dbm.biases[l])).sum(1)
    return out.double()


@torch.no_grad()
def conditional_log_partition(
    dbm: DBM,
    v: torch.Tensor,
    n_chains: int = 20,
    n_betas: int = 1000,
    *,
    mean_field_base: bool = True,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """AIS estimate of ``log Z(v) = −F(v)`` per row of ``v (B, n_0)`` (module docstring),
    ``n_chains`` runs per row; returns ``(log_z (B,), stderr (B,))`` in float64.

    The base of each even hidden layer is Bernoulli(``μ_l(v)``), the mean-field posterior
    of the row (30 iterations, clipped to [10⁻³, 1 − 10⁻³]), with ``mean_field_base``;
    uniform otherwise (a uniform ``h²`` anneals through a phase change on MNIST models)."""
    dbm = _check(dbm)
    v = dbm.check_input(v, "v")
    n_chains = check_positive_int(n_chains, "n_chains")
    b = default_betas(n_betas).tolist()
    W, bias, L = dbm.weights, dbm.biases, dbm.n_layers - 1
    V = v.repeat_interleave(n_chains, 0)
    mu = dbm.mean_field(v, 30) if mean_field_base else None
    base, x = {}, [V] + [None] * L
    for l in range(2, L + 1, 2):
        p = (
            mu[l - 1].clamp(1e-3, 1 - 1e-3)
            if mu is not None
            else torch.full_like(torch.empty(v.shape[0], dbm.layer_sizes[l], dtype=V.dtype), 0.5)
        )
        base[l] = (torch.log(p) - torch.log1p(-p)).repeat_interleave(n_chains, 0)
        x[l] = _bernoulli(torch.sigmoid(base[l]), generator)
    base1 = torch.addmm(bias[1], V, W[0])
    log_w = torch.zeros(V.shape[0], dtype=torch.float64, device=V.device)
    for k in range(1, len(b)):
        inputs = _odd_inputs(dbm, base1, x)
        log_w += _log_f(dbm, inputs, x, base, b[k]) - _log_f(dbm, inputs, x, base, b[k - 1])
        if k < len(b) - 1:
            for l, inp in inputs.items():
                x[l] = _bernoulli(torch.sigmoid(b[k] * inp), generator)
            for l in range(2, L + 1, 2):
                logits = b[k] * dbm.layer_input(x, l) + (1 - b[k]) * base[l]
                x[l] = _bernoulli(torch.sigmoid(logits), generator)
    log_w = log_w.view(v.shape[0], n_chains)
    top = log_w.max(1, keepdim=True).values
    w = torch.exp(log_w - top)
    mean = w.mean(1)
    stderr = (
        w.std(1) / (math.sqrt(n_chains) * mean) if n_chains > 1 else torch.full_like(mean, math.inf)
    )
    n_odd = sum(dbm.layer_sizes[l] for l in range(1, L + 1, 2))
    log_z0 = (v.double() @ bias[0].double()) + n_odd * math.log(2.0)
    for a in base.values():
        log_z0 = log_z0 + F.softplus(a.double()).view(v.shape[0], n_chains, -1)[:, 0].sum(1)
    return log_z0 + top.squeeze(1) + torch.log(mean), stderr
