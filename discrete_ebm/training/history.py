"""``History``: what ``fit`` recorded, and ``TrainingDiverged``, how it stops on NaN."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


class TrainingDiverged(FloatingPointError):
    """The loss, a gradient or a parameter became NaN or infinite; ``step`` is the (1-based)
    step that produced it and ``parameter`` the parameter's name (``None``: the loss).
    ``step_taken``: the step was already applied (an objective's own update, or a step found
    to have made a parameter non-finite before a save; the checkpoint file still holds the
    last good state)."""

    def __init__(
        self,
        step: int,
        loss: float,
        checkpoint: str | None = None,
        parameter: str | None = None,
        step_taken: bool = False,
    ):
        self.step = step
        self.loss = loss
        self.checkpoint = checkpoint
        self.parameter = parameter
        where = f"; the last good checkpoint {checkpoint} is left intact" if checkpoint else ""
        thing = "value" if step_taken else "gradient"
        what = (
            f"loss is {loss}"
            if parameter is None
            else f"the {thing} of {parameter!r} is not finite (loss {loss})"
        )
        taken = "the step was applied" if step_taken else "no optimiser step taken"
        super().__init__(f"training diverged at step {step}: {what} ({taken}){where}")


def as_float(v) -> float:
    """A Python float of a number or a one-element tensor."""
    if isinstance(v, torch.Tensor):
        return float(v.detach().reshape(()).item())
    return float(v)


@dataclass
class History:
    """What ``fit`` recorded: one entry per optimiser step, one record per evaluation.

    Attributes:
        loss: objective loss per step (without the L1 penalty; NaN where an objective that
            writes its own gradient reports none).
        metrics: name -> list of floats, one per step (NaN where a step did not report it).
        elapsed: training wall-clock seconds after each step (evaluations excluded).
        epochs: completed epochs.
        evaluations: one dict per evaluation run: ``step``, ``epoch``, ``seconds`` (training
            time so far) and the metrics the evaluation returned.
        eval_seconds: wall time spent in evaluations.
    """

    loss: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    elapsed: list[float] = field(default_factory=list)
    epochs: int = 0
    evaluations: list[dict] = field(default_factory=list)
    eval_seconds: float = 0.0

    @property
    def steps(self) -> int:
        """Number of steps recorded."""
        return len(self.loss)

    @property
    def seconds(self) -> float:
        """Training wall time in seconds (evaluations excluded)."""
        return self.elapsed[-1] if self.elapsed else 0.0

    def append(self, loss: float, metrics: dict, elapsed: float) -> None:
        """Record one step."""
        n = len(self.loss)
        self.loss.append(float(loss))
        self.elapsed.append(float(elapsed))
        for k, v in metrics.items():
            if k not in self.metrics:
                self.metrics[k] = [math.nan] * n
            self.metrics[k].append(as_float(v))
        for v in self.metrics.values():
            if len(v) == n:
                v.append(math.nan)

    def evaluation(self, name: str) -> list[float]:
        """The values of one evaluation metric, in order of the records that have it."""
        return [float(r[name]) for r in self.evaluations if name in r]

    def to_dict(self) -> dict:
        """A JSON-ready dict (lists of floats)."""
        return {
            "loss": list(self.loss),
            "metrics": {k: list(v) for k, v in self.metrics.items()},
            "elapsed": list(self.elapsed),
            "seconds": self.seconds,
            "steps": self.steps,
            "epochs": self.epochs,
            "evaluations": [dict(r) for r in self.evaluations],
            "eval_seconds": self.eval_seconds,
        }

    @classmethod
    def from_dict(cls, d: dict) -> History:
        """Inverse of ``to_dict``."""
        return cls(
            loss=[float(v) for v in d["loss"]],
            metrics={k: [float(x) for x in v] for k, v in d["metrics"].items()},
            elapsed=[float(v) for v in d["elapsed"]],
            epochs=int(d["epochs"]),
            evaluations=[dict(r) for r in d["evaluations"]],
            eval_seconds=float(d["eval_seconds"]),
        )

    @classmethod
    def concatenate(cls, *histories: History) -> History:
        """One history of consecutive training stages: the steps, epochs and evaluation
        records of each stage follow the previous ones, its wall times offset by their
        training time."""
        out = cls()
        for h in histories:
            n0, t0 = out.steps, out.seconds
            for k in {*out.metrics, *h.metrics}:
                before = out.metrics.get(k, [math.nan] * n0)
                out.metrics[k] = [*before, *h.metrics.get(k, [math.nan] * h.steps)]
            out.loss += h.loss
            out.elapsed += [t0 + t for t in h.elapsed]
            out.evaluations += [
                {
                    **r,
                    "step": r["step"] + n0,
                    "seconds": r["seconds"] + t0,
                    "epoch": r.get("epoch", 0) + out.epochs,
                }
                for r in h.evaluations
            ]
            out.epochs += h.epochs
            out.eval_seconds += h.eval_seconds
        return out
