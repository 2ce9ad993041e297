"""The benchmark suite: a tiny real suite end to end, failure isolation, resume."""

from __future__ import annotations

import json
import math

import pytest

from discrete_ebm.benchmark import Cell, CellResult, run_suite, write_report
from discrete_ebm.benchmark.tasks import default_tasks

RECORD_KEYS = {
    "task",
    "view",
    "objective",
    "seed",
    "settings",
    "status",
    "metrics",
    "steps",
    "train_seconds",
    "seconds_per_step",
    "curve",
    "peak_memory_mb",
    "wall_seconds",
}


class CountingTask:
    """A fake task whose cells report known metrics; one objective always fails."""

    name = "fake"
    description = "fake task"
    metrics = {"loss": "min"}

    def __init__(self):
        self.calls = []

    def cells(self, suite):
        return [Cell("fake", "discrete", o, 0, {}) for o in ("good", "broken", "also-good")]

    def run(self, cell, *, progress=False):
        self.calls.append(cell.objective)
        if cell.objective == "broken":
            raise RuntimeError("this objective always fails")
        value = 1.0 if cell.objective == "good" else 2.0
        return CellResult(
            metrics={"loss": value},
            steps=10,
            train_seconds=0.5,
            curve=[{"step": 10, "seconds": 0.5, "loss": value}],
        )


def test_tiny_real_suite_end_to_end(tmp_path):
    tasks = default_tasks(["ising", "toy2d-8gaussians"])
    data = run_suite(tasks, tmp_path, suite="tiny", progress=False)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["schema_version"] == 1 and saved["suite"] == "tiny"
    records = list(saved["cells"].values())
    expected = sum(len(t.cells("tiny")) for t in tasks)
    assert len(records) == expected >= 14
    for rec in records:
        assert rec["status"] == "ok", rec.get("error")
        assert RECORD_KEYS <= set(rec)
        metric_names = set(saved["tasks"][rec["task"]]["metrics"])
        assert set(rec["metrics"]) == metric_names
        assert all(math.isfinite(v) for v in rec["metrics"].values())
        assert rec["steps"] == 8 and rec["train_seconds"] > 0 and rec["peak_memory_mb"] > 0
        assert rec["curve"][-1]["step"] == 8
    md, pngs = write_report(data, tmp_path)
    text = md.read_text()
    assert "### ising" in text and "ed-bern" in text and "Winners" in text
    assert len(pngs) == 2 and all(p.stat().st_size > 1000 for p in pngs)


def test_failing_cell_is_recorded_and_suite_goes_on(tmp_path):
    task = CountingTask()
    data = run_suite([task], tmp_path, suite="tiny", progress=False)
    assert task.calls == ["good", "broken", "also-good"]
    cells = data["cells"]
    assert cells["fake/discrete/broken/seed0"]["status"] == "failed"
    assert "always fails" in cells["fake/discrete/broken/seed0"]["error"]
    assert cells["fake/discrete/also-good/seed0"]["status"] == "ok"
    md, _ = write_report(data, tmp_path)
    assert "failed: discrete/broken" in md.read_text()


def test_resume_skips_finished_cells(tmp_path):
    first = CountingTask()
    run_suite([first], tmp_path, suite="tiny", progress=False, only=["good"])
    assert first.calls == ["good", "also-good"]
    second = CountingTask()
    run_suite([second], tmp_path, suite="tiny", progress=False)
    assert second.calls == ["broken"]  # the finished cells are not run again
    third = CountingTask()
    run_suite([third], tmp_path, suite="tiny", progress=False)
    assert third.calls == []  # failed cells count as done...
    run_suite([third], tmp_path, suite="tiny", progress=False, retry_failed=True)
    assert third.calls == ["broken"]  # ...unless asked to retry


def test_resuming_with_other_tasks_keeps_the_earlier_tasks_in_the_report(tmp_path):
    class OtherTask(CountingTask):
        name = "other"

        def cells(self, suite):
            return [Cell("other", "continuous", "good", 0, {})]

    run_suite([CountingTask()], tmp_path, suite="tiny", progress=False)
    data = run_suite([OtherTask()], tmp_path, suite="tiny", progress=False)
    assert set(data["tasks"]) == {"fake", "other"}
    text = write_report(data, tmp_path)[0].read_text()
    assert "### fake" in text and "### other" in text


def test_unknown_task_and_suite_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown task"):
        default_tasks(["nope"])
    with pytest.raises(ValueError, match="suite must be one of"):
        run_suite([CountingTask()], tmp_path, suite="huge")
