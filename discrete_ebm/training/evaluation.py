"""Evaluation hooks of ``fit``: named metrics recorded at chosen steps, off the training clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from torch import nn

from .history import History, as_float


@dataclass
class Evaluation:
    """Run ``fn(model) -> {name: number}`` during training and record it in the history.

    Args:
        fn: the evaluation (AIS test log-likelihood, coupling RMSE, graph MMD, ...).
        every: run after every ``every``-th optimiser step (``None``: never by count).
        at_epoch_end: run when an epoch ends.
        at_end: run after the last step (unless it just ran at that step).

    Each run appends ``{"step", "epoch", "seconds", **metrics}`` to ``History.evaluations``;
    ``seconds`` is the training time so far: time spent evaluating is not training time.
    ``fn`` runs with the model in eval mode (its training mode is restored afterwards) and
    must return a dict of numbers whose names are not ``step``, ``epoch`` or ``seconds``.
    """

    fn: Callable[[nn.Module], dict]
    every: int | None = None
    at_epoch_end: bool = False
    at_end: bool = True

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(f"Evaluation fn must be callable, got {type(self.fn).__name__}")
        if self.every is not None and (
            isinstance(self.every, bool) or not isinstance(self.every, int) or self.every <= 0
        ):
            raise ValueError(f"Evaluation every must be a positive int or None, got {self.every!r}")


def check_evaluations(evaluations: Iterable) -> list[Evaluation]:
    """The list of ``Evaluation``s (a bare callable is ``Evaluation(fn)``: at the end only)."""
    out = []
    for e in evaluations:
        if isinstance(e, Evaluation):
            out.append(e)
        elif callable(e):
            out.append(Evaluation(e))
        else:
            raise TypeError(f"evaluations must be Evaluation objects or callables, got {e!r}")
    return out


_RESERVED = ("step", "epoch", "seconds")


def _metrics(values) -> dict[str, float]:
    """An evaluation's result as floats; the record's own keys are refused."""
    if not isinstance(values, dict):
        raise TypeError(
            f"an Evaluation fn must return a dict of numbers, got {type(values).__name__}"
        )
    clash = [k for k in values if k in _RESERVED]
    if clash:
        raise ValueError(f"an Evaluation fn returned the reserved key(s) {clash}: rename them")
    return {str(k): as_float(v) for k, v in values.items()}


class Evaluator:
    """Runs the evaluations that are due and keeps their wall time off the training clock."""

    def __init__(self, evaluations: list[Evaluation], model: nn.Module, history: History):
        self.evaluations, self.model, self.history = evaluations, model, history
        self.paused = 0.0  # seconds spent evaluating during this call of fit
        self._ran_at: dict[int, int] = {}  # id(evaluation) -> the step it last ran at
        self._records_before = len(history.evaluations)  # records of an earlier (resumed) call

    def after_step(self, step: int, epoch: int, train_seconds: float) -> None:
        due = [e for e in self.evaluations if e.every is not None and step % e.every == 0]
        self._run(due, step, epoch, train_seconds)

    def after_epoch(self, step: int, epoch: int, train_seconds: float) -> None:
        self._run(
            self._not_yet([e for e in self.evaluations if e.at_epoch_end], step),
            step,
            epoch,
            train_seconds,
        )

    def at_end(self, step: int, epoch: int, train_seconds: float) -> None:
        self._run(
            self._not_yet([e for e in self.evaluations if e.at_end], step),
            step,
            epoch,
            train_seconds,
        )

    def _not_yet(self, candidates: list[Evaluation], step: int) -> list[Evaluation]:
        """The candidates that have not run at ``step`` (in this call, or in the resumed one
        whose last record is at ``step``)."""
        records = self.history.evaluations
        if len(records) == self._records_before and records and records[-1]["step"] == step:
            return []
        return [e for e in candidates if self._ran_at.get(id(e)) != step]

    def _run(self, due: list[Evaluation], step: int, epoch: int, train_seconds: float) -> None:
        if not due:
            return
        records = self.history.evaluations
        t = time.perf_counter()
        record = {"step": step, "epoch": epoch, "seconds": train_seconds}
        was_training = self.model.training
        self.model.eval()
        try:
            for e in due:
                record.update(_metrics(e.fn(self.model)))
                self._ran_at[id(e)] = step
        finally:
            self.model.train(was_training)
        if len(records) > self._records_before and records[-1]["step"] == step:
            records[-1].update(record)  # another evaluation already ran at this step
        else:
            records.append(record)
        spent = time.perf_counter() - t
        self.paused += spent
        self.history.eval_seconds += spent
