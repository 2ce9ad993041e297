"""One ``fit`` with evaluations during training (evaluation time is not training time)."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import torch

from ...training import Evaluation, fit
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
    progress: bool = False,
) -> CellResult:
    """``fit`` for ``steps`` optimiser steps (Adam at ``lr``) calling ``evaluate()`` every
    ``⌈steps / n_evals⌉`` steps and after the last one (so at most ``n_evals`` times); the
    last evaluation is the cell's final metrics, the records (step, training seconds,
    metrics) its curve. ``progress``: a bar over the steps, cleared when the cell ends
    (nested under the suite's bar of cells)."""
    from tqdm.auto import tqdm

    every = max(1, math.ceil(steps / n_evals))
    shown = progress and sys.stderr.isatty()
    bar = tqdm(total=steps, desc="steps", unit="step", leave=False, disable=not shown)

    def tick(step: int, *_) -> None:
        bar.update(step - bar.n)

    with bar:
        history = fit(
            model,
            objective,
            data,
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            l1=l1,
            generator=generator,
            progress=False,
            callbacks=[tick],
            evaluations=[Evaluation(lambda m: evaluate(), every=every)],
        )
    curve = [
        {"step": r["step"], "seconds": r["seconds"], **_metrics(r)} for r in history.evaluations
    ]
    return CellResult(
        metrics=_metrics(history.evaluations[-1]),
        steps=history.steps,
        train_seconds=history.seconds,
        curve=curve,
    )


def _metrics(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("step", "epoch", "seconds")}
