"""Train in segments with evaluations in between (evaluation time is not training time)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ...training import fit
from ..suite import CellResult


def train_with_evaluations(
    model,
    objective,
    data: torch.Tensor,
    *,
    steps: int,
    n_evals: int,
    evaluate: Callable[[], dict],
    lr: float,
    batch_size: int,
    generator: torch.Generator,
    l1: float = 0.0,
) -> CellResult:
    """Run ``fit`` for ``steps`` optimiser steps split into ``n_evals`` segments (one Adam
    optimiser throughout) and call ``evaluate()`` after each; the last evaluation is final."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    bounds = sorted({max(1, round(steps * (k + 1) / n_evals)) for k in range(n_evals)})
    curve, done, seconds = [], 0, 0.0
    metrics: dict = {}
    for b in bounds:
        hist = fit(
            model,
            objective,
            data,
            steps=b - done,
            batch_size=batch_size,
            optimizer=opt,
            l1=l1,
            generator=generator,
            progress=False,
        )
        seconds += hist.seconds
        done = b
        metrics = evaluate()
        curve.append({"step": done, "seconds": seconds, **metrics})
    return CellResult(metrics=metrics, steps=done, train_seconds=seconds, curve=curve)
