"""The discrete-versus-continuous benchmark suite (``discrete-ebm benchmark``): which way of
training an EBM works best for this data, and at what cost?

Runs the declared (task × objective × seed) cells of ``discrete_ebm.benchmark.tasks``
(``run_suite``: resumable, a failing cell is recorded and the suite goes on) and writes the
report (``write_report``: tables, winners, one plot of quality against wall time per task).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..benchmark import run_suite, write_report
from ..benchmark.suite import SUITES
from ..benchmark.tasks import default_tasks

__all__ = ["BenchmarkRun", "run_benchmark"]


@dataclass
class BenchmarkRun:
    """The suite's results (``results.json`` as a dict), the report and the plots written."""

    data: dict
    results: Path
    report: Path
    plots: list[Path]

    @property
    def failed(self) -> list[str]:
        """Keys of the cells recorded as failed."""
        return [k for k, r in self.data["cells"].items() if r["status"] != "ok"]


def run_benchmark(
    out: str | Path,
    *,
    suite: str = "full",
    tasks: list[str] | None = None,
    only: list[str] | None = None,
    resume: bool = True,
    retry_failed: bool = False,
    seed: int = 0,
    progress: bool = False,
) -> BenchmarkRun:
    """Run the ``suite`` (``"tiny"``, ``"quick"`` or ``"full"``) of the default tasks (or of
    those named in ``tasks``) into ``out``, then write the report beside ``results.json``.

    ``only`` keeps the cells whose key contains one of the strings; with ``resume`` the
    cells already in ``out/results.json`` are skipped (failed ones too unless
    ``retry_failed``). ``seed`` seeds torch's global generator first (each cell seeds its
    own streams). Argument errors raise ``ValueError`` whose message starts with the
    argument's name (``tasks: ...``, ``only: ...``); cells run on the CPU."""
    if suite not in SUITES:
        raise ValueError(f"suite must be one of {SUITES}, got {suite!r}")
    torch.manual_seed(seed)
    chosen = default_tasks(tasks)
    data = run_suite(
        chosen,
        out,
        suite=suite,
        resume=resume,
        retry_failed=retry_failed,
        progress=progress,
        only=only,
    )
    md, pngs = write_report(data, out)
    return BenchmarkRun(data, Path(out) / "results.json", md, list(pngs))
