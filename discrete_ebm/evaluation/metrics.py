"""Distances between a sample and an exact distribution over {0,1}^d (enumerated order)."""

from __future__ import annotations

import math

import torch

from .._validation import check_states
from .exact import state_index


def empirical_distribution(samples: torch.Tensor, n_states: int | None = None) -> torch.Tensor:
    """Histogram of binary ``samples (n, d)`` over the 2^d states in lexicographic order."""
    samples = check_states(samples, None, name="samples")
    n_states = 2 ** samples.shape[1] if n_states is None else n_states
    counts = torch.bincount(state_index(samples).cpu(), minlength=n_states).double()
    return counts / counts.sum()


def total_variation(samples: torch.Tensor, p: torch.Tensor) -> float:
    """TV distance ``½ Σ |p̂ − p|`` between the samples' histogram and ``p`` (shape ``(2^d,)``)."""
    return 0.5 * (empirical_distribution(samples, p.numel()) - p.double().cpu()).abs().sum().item()


def tv_tolerance(p: torch.Tensor, n: int, delta: float = 1e-6) -> float:
    """Bound on the TV of ``n`` independent exact samples from ``p``, exceeded w.p. ≤ ``delta``.

    ``E[TV] ≤ ½ Σ_k sqrt(p_k (1 − p_k) / n)`` (Jensen on each ``|p̂_k − p_k|``), and TV moves
    by at most ``1/n`` when one sample changes, so McDiarmid adds ``sqrt(log(1/δ) / (2n))``.
    """
    p = p.double().cpu()
    mean_bound = 0.5 * torch.sqrt(p * (1 - p) / n).sum().item()
    return mean_bound + math.sqrt(math.log(1 / delta) / (2 * n))


def coupling_rmse(J_learned: torch.Tensor, J_true: torch.Tensor) -> float:
    """Root-mean-square error over all ``d × d`` entries of two coupling matrices."""
    return torch.sqrt(((J_learned.detach().double() - J_true.detach().double()) ** 2).mean()).item()
