"""Learning-rate schedules for ``fit(..., scheduler=...)``: factors of the base rate per step.

A schedule is a callable ``step -> factor``; ``fit`` wraps it in
``torch.optim.lr_scheduler.LambdaLR``, so optimiser step ``s + 1`` (``s`` steps already
taken) runs at ``base_lr · factor(s)``. It depends on the step only, so a resumed run gets
the same rates.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def _check(total_steps: int, final_fraction: float) -> None:
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps <= 0:
        raise ValueError(f"total_steps must be a positive int, got {total_steps!r}")
    if not 0.0 <= final_fraction <= 1.0:
        raise ValueError(f"final_fraction must lie in [0, 1], got {final_fraction}")


class linear_decay:  # noqa: N801 (used like a function)
    """``factor(s) = max(final_fraction, 1 − s / total_steps)``: linear from 1 to the floor."""

    def __init__(self, total_steps: int, final_fraction: float = 0.0):
        _check(total_steps, final_fraction)
        self.total_steps, self.final_fraction = total_steps, float(final_fraction)

    def __call__(self, step: int) -> float:
        return max(self.final_fraction, 1.0 - step / self.total_steps)

    def __repr__(self) -> str:
        return f"linear_decay({self.total_steps}, {self.final_fraction})"


class cosine_decay:  # noqa: N801 (used like a function)
    """``factor(s) = f + (1 − f) · ½(1 + cos(π min(s, T) / T))`` with ``f = final_fraction``,
    ``T = total_steps``: from 1 at ``s = 0`` to ``f`` at ``s = T``, then flat."""

    def __init__(self, total_steps: int, final_fraction: float = 0.0):
        _check(total_steps, final_fraction)
        self.total_steps, self.final_fraction = total_steps, float(final_fraction)

    def __call__(self, step: int) -> float:
        t = min(step, self.total_steps) / self.total_steps
        return self.final_fraction + (1 - self.final_fraction) * 0.5 * (1 + math.cos(math.pi * t))

    def __repr__(self) -> str:
        return f"cosine_decay({self.total_steps}, {self.final_fraction})"


def make_scheduler(
    scheduler, optimizer: torch.optim.Optimizer
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """``None``, an ``LRScheduler`` of ``optimizer``, or a callable ``step -> factor``
    (wrapped in ``LambdaLR``) -> the scheduler ``fit`` steps after every optimiser step."""
    if scheduler is None:
        return None
    if isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler):
        if scheduler.optimizer is not optimizer:
            raise ValueError("scheduler must be built on the optimizer given to fit")
        return scheduler
    if callable(scheduler):
        return torch.optim.lr_scheduler.LambdaLR(optimizer, scheduler)
    raise TypeError(
        "scheduler must be None, a torch.optim.lr_scheduler.LRScheduler or a callable "
        f"step -> factor, got {type(scheduler).__name__}"
    )


ScheduleFn = Callable[[int], float]
