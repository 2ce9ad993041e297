"""A short contrastive-divergence refinement of a graph energy trained by energy discrepancy.

Energy discrepancy needs no MCMC, but with a finite GNN and the stabiliser ``w`` its
minimiser is not exactly the data law: on Ego-small the ED energy at β = 1 makes 6- to
9-node graphs 0.6 to 2.5 edges sparser than the training graphs of those sizes (measured
by annealed sampling with 128 chains per node count on the validation split). CD-k from
the data corrects exactly such moment mismatches, since its gradient is

    ∇θ loss = E_data[∇θ U(x)] − E_{x' ~ K^k(· | x)}[∇θ U(x')],

with ``K`` single-edge heat-bath Gibbs on the free slots of the data graph (the node set is
kept). Started from the ED energy, tens to hundreds of steps at a small rate move it towards
the data without the run-away of CD from scratch (whose energy scale on Ego-small reached
−10¹⁸); on the Ego-small validation split with graphs grown from noise, 50 steps scored best
(average MMD² 0.0070 against 0.0093 at 200, 0.0121 at 400 and 0.0114 at none).
``refine_by_cd`` is that stage: a fresh Adam, ``steps`` steps of non-persistent
CD-1 whose one sampler step is ``updates`` single-edge Gibbs updates.
"""

from __future__ import annotations

import torch

from discrete_ebm._validation import check_positive_int
from discrete_ebm.objectives import make
from discrete_ebm.training import fit
from discrete_ebm.training.history import History

from .sampling import EdgeSampler

__all__ = ["refine_by_cd"]


def refine_by_cd(
    model,
    data: torch.Tensor,
    *,
    steps: int = 50,
    lr: float = 2e-4,
    updates: int = 240,
    batch_size: int = 32,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> History:
    """Refine ``model`` (a ``GraphEnergy``) in place on the graph state rows ``data``
    ``(n, D + N)`` by CD from the data (module docstring); returns ``fit``'s history."""
    check_positive_int(steps, "steps")
    check_positive_int(updates, "updates")
    if not (isinstance(lr, int | float) and lr > 0):
        raise ValueError(f"lr must be a number > 0, got {lr!r}")
    sampler = EdgeSampler(model, "gibbs", updates)
    objective = make("cd", model, sampler=sampler, k=1, init="data")
    return fit(
        model,
        objective,
        data,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        generator=generator,
        progress=progress,
    )
