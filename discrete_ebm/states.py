"""The binary states {0,1}^d in lexicographic order, and the index of a state in it.

State ``k`` has ``x_i = bit (d−1−i) of k``, so ``x_0`` is the most significant bit:
``all_states(2)`` is ``[[0, 0], [0, 1], [1, 0], [1, 1]]``. Exact enumeration
(``discrete_ebm.evaluation.exact``), the exact RBM and DBM partition functions and the
transfer matrix all enumerate states this way. This module imports nothing from the package.
"""

from __future__ import annotations

import torch

__all__ = ["all_states", "state_index"]


def all_states(
    d: int, start: int = 0, stop: int | None = None, *, dtype=torch.float64, device=None
) -> torch.Tensor:
    """States ``start..stop−1`` of {0,1}^d in lexicographic order, shape ``(stop − start, d)``."""
    stop = 2**d if stop is None else stop
    k = torch.arange(start, stop, device=device, dtype=torch.long)
    shifts = torch.arange(d - 1, -1, -1, device=device)
    return ((k.unsqueeze(1) >> shifts) & 1).to(dtype)


def state_index(x: torch.Tensor) -> torch.Tensor:
    """Index of each state row of ``x`` ``(B, d)`` in the lexicographic order, shape ``(B,)``."""
    d = x.shape[1]
    weights = 2 ** torch.arange(d - 1, -1, -1, device=x.device, dtype=torch.long)
    return (x.long() * weights).sum(1)
