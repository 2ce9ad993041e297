"""Run a suite of (task × objective × seed) cells with resume and failure isolation.

A *task* is an object with ``name``, ``description``, ``metrics`` (name -> ``"min"`` or
``"max"``; the first is the task's primary quality metric), ``cells(suite) -> list[Cell]``
(``suite`` is ``"tiny"`` (seconds, for tests), ``"quick"`` or ``"full"``) and
``run(cell, progress) -> CellResult``. The runner times each cell, records its peak memory,
catches any exception (a diverged or failing cell is recorded with its error and the
suite goes on) and rewrites ``results.json`` atomically after every cell, so an
interrupted suite resumes from the cells already done.
"""

from __future__ import annotations

import json
import math
import platform
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..io import write_json
from .memory import PeakMemory

SCHEMA_VERSION = 1
SUITES = ("tiny", "quick", "full")


@dataclass
class Cell:
    """One training run: ``task`` × ``objective`` (with ``settings``) × ``seed``.

    ``view`` is ``"discrete"`` or ``"continuous"`` (how the task's data is modelled)."""

    task: str
    view: str
    objective: str
    seed: int = 0
    settings: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.task}/{self.view}/{self.objective}/seed{self.seed}"


@dataclass
class CellResult:
    """What a task reports for a cell.

    ``metrics``: final quality metrics on held-out data; ``curve``: list of dicts with
    ``seconds`` (training wall time so far), ``step`` and metric values, for the plots;
    ``steps`` and ``train_seconds``: optimiser steps and their wall time (evaluation excluded).
    """

    metrics: dict
    steps: int
    train_seconds: float
    curve: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def _finite(metrics: dict) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in metrics.values())


def load_results(path: Path) -> dict:
    """Read ``results.json`` (empty suite if missing)."""
    if path.exists():
        data = json.loads(path.read_text())
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"{path} has schema_version {data.get('schema_version')}, expected {SCHEMA_VERSION}"
            )
        return data
    return {"schema_version": SCHEMA_VERSION, "cells": {}}


def _save(path: Path, data: dict) -> None:
    """Write ``results.json`` whole or not at all (one-space indent; NaN written as null)."""
    write_json(path, data, indent=1)


def run_cell(task, cell: Cell, *, progress: bool = False) -> dict:
    """Run one cell and return its JSON record (``status`` ``"ok"`` or ``"failed"``)."""
    record = {
        "task": cell.task,
        "view": cell.view,
        "objective": cell.objective,
        "seed": cell.seed,
        "settings": cell.settings,
    }
    start = time.perf_counter()
    try:
        with PeakMemory() as mem:
            result = task.run(cell, progress=progress)
        if not _finite(result.metrics):
            raise FloatingPointError(f"non-finite metrics {result.metrics}")
        record.update(
            status="ok",
            metrics={k: float(v) for k, v in result.metrics.items()},
            steps=int(result.steps),
            train_seconds=float(result.train_seconds),
            seconds_per_step=float(result.train_seconds) / max(int(result.steps), 1),
            curve=result.curve,
            extra=result.extra,
            peak_memory_mb=round(mem.peak_mb, 1),
            peak_memory_delta_mb=round(mem.delta_mb, 1),
        )
    except KeyboardInterrupt:
        raise
    except Exception as err:  # a failing cell is recorded; the suite goes on
        record.update(
            status="failed",
            error=f"{type(err).__name__}: {err}",
            traceback=traceback.format_exc(limit=6)[-4000:],
        )
    record["wall_seconds"] = time.perf_counter() - start
    return record


def run_suite(
    tasks: list,
    out_dir: str | Path,
    *,
    suite: str = "full",
    resume: bool = True,
    retry_failed: bool = False,
    progress: bool = True,
    only: list[str] | None = None,
) -> dict:
    """Run every cell of ``tasks`` and write ``out_dir/results.json`` after each one.

    With ``resume`` the cells already in ``results.json`` are skipped (failed ones too,
    unless ``retry_failed``). ``only`` keeps the cells whose key contains one of the
    strings (``ValueError`` if a string matches no cell). Returns the results dict.
    """
    if suite not in SUITES:
        raise ValueError(f"suite must be one of {SUITES}, got {suite!r}")
    if only:
        keys = [cell.key for task in tasks for cell in task.cells(suite)]
        unmatched = [s for s in only if not any(s in k for k in keys)]
        if unmatched:
            raise ValueError(
                f"only: no cell key contains {unmatched} (keys look like {keys[0]!r})"
                if keys
                else "only: there are no cells to choose from"
            )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    data = load_results(path) if resume else {"schema_version": SCHEMA_VERSION, "cells": {}}
    data["suite"] = suite
    data["machine"] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }
    # update, not replace: a run restricted to some tasks keeps the others' cells reportable
    data.setdefault("tasks", {}).update(
        {t.name: {"metrics": t.metrics, "description": t.description} for t in tasks}
    )
    todo = []
    for task in tasks:
        for cell in task.cells(suite):
            if only and not any(s in cell.key for s in only):
                continue
            done = data["cells"].get(cell.key)
            if done and (done["status"] == "ok" or not retry_failed):
                continue
            todo.append((task, cell))
    from tqdm.auto import tqdm

    # one bar over the cells; each cell shows its own (its training steps) beneath it
    bar = tqdm(todo, desc="benchmark", disable=not progress, unit="cell")
    for task, cell in bar:
        bar.set_postfix_str(cell.key)
        data["cells"][cell.key] = run_cell(task, cell, progress=progress)
        _save(path, data)
    _save(path, data)
    return data
