"""Exact enumeration of small binary models (d ≤ 22).

States are enumerated in lexicographic order: state ``k`` has ``x_i = bit (d−1−i) of k``,
so ``x_0`` is the most significant bit (``all_states`` and ``state_index``, defined in
``discrete_ebm.states``, are re-exported here). Energies are computed in chunks (memory bounded by
``chunk_size · d``) in float64 on a double copy of the model. Every ``beta`` must be a
finite number > 0 (``ValueError`` otherwise).
"""

from __future__ import annotations

import copy
import math

import torch

from ..models.base import EnergyModel
from ..states import all_states, state_index

__all__ = [
    "MAX_DIM",
    "all_states",
    "state_index",
    "energies",
    "log_partition",
    "probabilities",
    "marginals",
    "pairwise",
    "ground_states",
]

MAX_DIM = 22


def _check_beta(beta) -> float:
    """``beta`` as a float, or ``ValueError`` unless it is finite and > 0."""
    try:
        b = float(beta)
    except (TypeError, ValueError):
        raise TypeError(f"beta must be a float, got {type(beta).__name__}") from None
    if not (math.isfinite(b) and b > 0):
        raise ValueError(f"beta must be a finite number > 0, got {beta}")
    return b


def _double_model(model: EnergyModel) -> EnergyModel:
    if not isinstance(model, EnergyModel):
        raise TypeError(f"model must be an EnergyModel, got {type(model).__name__}")
    model.require_domain(True, "exact enumeration")
    if model.require_dim("exact enumeration") > MAX_DIM:
        raise ValueError(f"exact enumeration supports d <= {MAX_DIM}, model has d={model.dim}")
    if model.dtype == torch.float64:
        return model
    return copy.deepcopy(model).double()


def energies(model: EnergyModel, *, chunk_size: int = 2**16) -> torch.Tensor:
    """``U(x)`` of every state, shape ``(2^d,)``, float64."""
    m = _double_model(model)
    d = m.dim
    out = []
    with torch.no_grad():
        for a in range(0, 2**d, chunk_size):
            x = all_states(d, a, min(a + chunk_size, 2**d), device=m.device)
            out.append(m(x).double())  # shape-checked energy
    return torch.cat(out)


def log_partition(
    model: EnergyModel, *, beta: float = 1.0, chunk_size: int = 2**16
) -> torch.Tensor:
    """``log Z = log Σ_x exp(−β U(x))`` (float64 scalar tensor).

    Models that know a cheaper exact sum (e.g. an RBM summing its smaller layer) provide
    ``exact_log_partition(beta)``, which is used instead.
    """
    beta = _check_beta(beta)
    if hasattr(model, "exact_log_partition"):
        return model.exact_log_partition(beta=beta)
    return torch.logsumexp(-beta * energies(model, chunk_size=chunk_size), 0)


def probabilities(
    model: EnergyModel, *, beta: float = 1.0, chunk_size: int = 2**16
) -> torch.Tensor:
    """``p(x)`` of every state in lexicographic order, shape ``(2^d,)``, float64."""
    u = -_check_beta(beta) * energies(model, chunk_size=chunk_size)
    return torch.softmax(u, 0)


def marginals(model: EnergyModel, *, beta: float = 1.0, chunk_size: int = 2**16) -> torch.Tensor:
    """``P(x_i = 1)``, shape ``(d,)``, float64."""
    p = probabilities(model, beta=beta, chunk_size=chunk_size)
    d = model.dim
    out = torch.zeros(d, dtype=torch.float64, device=p.device)
    for a in range(0, 2**d, chunk_size):
        b = min(a + chunk_size, 2**d)
        out += p[a:b] @ all_states(d, a, b, device=p.device)
    return out


def pairwise(model: EnergyModel, *, beta: float = 1.0, chunk_size: int = 2**14) -> torch.Tensor:
    """``E[x_i x_j]``, shape ``(d, d)`` (diagonal = marginals), float64."""
    p = probabilities(model, beta=beta, chunk_size=chunk_size)
    d = model.dim
    out = torch.zeros(d, d, dtype=torch.float64, device=p.device)
    for a in range(0, 2**d, chunk_size):
        b = min(a + chunk_size, 2**d)
        x = all_states(d, a, b, device=p.device)
        out += (x * p[a:b, None]).T @ x
    return out


def ground_states(model: EnergyModel, *, chunk_size: int = 2**16) -> tuple[torch.Tensor, float]:
    """All minimum-energy states ``(k, d)`` and the minimum energy."""
    u = energies(model, chunk_size=chunk_size)
    umin = u.min()
    idx = torch.nonzero(u <= umin + 1e-9 * max(1.0, abs(float(umin)))).reshape(-1)
    d = model.dim
    k = idx.unsqueeze(1)
    shifts = torch.arange(d - 1, -1, -1, device=idx.device)
    return ((k >> shifts) & 1).double(), float(umin)
