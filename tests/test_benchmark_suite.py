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


def _record(task, view, objective, seed, curve, metrics, steps, train_seconds, status="ok"):
    """A results.json cell record with a hand-made curve of ``(step, seconds, value)``."""
    metric = next(iter(metrics), None)
    rec = {
        "task": task,
        "view": view,
        "objective": objective,
        "seed": seed,
        "status": status,
        "metrics": metrics,
        "steps": steps,
        "train_seconds": train_seconds,
        "seconds_per_step": train_seconds / steps,
        "peak_memory_mb": 100.0,
        "curve": [{"step": st, "seconds": s, metric: v} for st, s, v in curve],
    }
    if status != "ok":
        rec["error"] = "boom"
    return rec


def _data(tasks, records):
    cells = {f"{r['task']}/{r['view']}/{r['objective']}/seed{r['seed']}": r for r in records}
    return {"suite": "hand", "tasks": tasks, "cells": cells}


def test_time_to_quality_min_metric_by_hand():
    from discrete_ebm.benchmark.report import markdown_table, time_to_quality, winners

    data = _data(
        {"t": {"metrics": {"loss": "min"}}},
        [
            # a: final losses 1.0 and 1.5, mean 1.25
            _record("t", "discrete", "a", 0, [(10, 1.0, 3.0), (20, 2.0, 2.0), (30, 3.0, 1.0)],
                    {"loss": 1.0}, 30, 3.0),
            _record("t", "discrete", "a", 1, [(10, 1.5, 2.5), (20, 2.5, 1.5), (30, 3.5, 1.5)],
                    {"loss": 1.5}, 30, 3.5),
            # b: final losses 2.0 and 2.5, mean 2.25 = the worst row mean = the target;
            # seed 0's curve stops at step 10, so its final loss at 1.25 s closes it
            _record("t", "discrete", "b", 0, [(10, 0.5, 2.5)], {"loss": 2.0}, 20, 1.25),
            _record("t", "discrete", "b", 1, [(10, 0.5, 3.0), (20, 1.0, 2.5)],
                    {"loss": 2.5}, 20, 1.0),
        ],
    )  # fmt: skip
    q = time_to_quality(data)["t"]
    assert q["metric"] == "loss" and q["direction"] == "min"
    assert q["target"] == 2.25
    # a: seed 0 first ≤ 2.25 at 2.0 s (loss 2.0), seed 1 at 2.5 s (loss 1.5); median 2.25
    assert q["rows"]["discrete/a"] == {
        "seconds": 2.25,
        "reached": 2,
        "seeds": 2,
        "per_seed": [2.0, 2.5],
    }
    # b: seed 0 only at its appended final point (1.25 s); seed 1 ends at 2.5 > 2.25
    assert q["rows"]["discrete/b"] == {
        "seconds": 1.25,
        "reached": 1,
        "seeds": 2,
        "per_seed": [1.25, None],
    }
    assert q["quickest"] == "discrete/b" and q["quickest_seconds"] == 1.25
    w = winners(data)["t"]
    assert w["best"] == "discrete/a" and w["fastest"] == "discrete/b"
    assert w["target"] == 2.25
    assert w["quickest_to_target"] == "discrete/b" and w["quickest_to_target_seconds"] == 1.25
    text = markdown_table(data)
    assert "| train s | s to target | s/step |" in text
    assert "| 2.25 (2/2) |" in text and "| 1.25 (1/2) |" in text
    assert "quickest to target discrete/b (1.25 s to loss ≤ 2.25)" in text


def test_time_to_quality_max_metric_unreached_and_failed_seeds():
    from discrete_ebm.benchmark.report import markdown_table, time_to_quality, winners

    data = _data(
        {"t": {"metrics": {"acc": "max"}}},
        [
            # x: final accuracies 0.25, 0.25, 1.0, mean 0.5 = the worst row mean = the target
            _record("t", "discrete", "x", 0, [(10, 1.0, 0.0), (20, 2.0, 0.25)],
                    {"acc": 0.25}, 20, 2.0),
            _record("t", "discrete", "x", 1, [(10, 1.0, 0.25), (20, 2.0, 0.25)],
                    {"acc": 0.25}, 20, 2.0),
            _record("t", "discrete", "x", 2, [(10, 2.0, 0.5), (20, 4.0, 1.0)],
                    {"acc": 1.0}, 20, 4.0),
            # y: final accuracies 0.75 and 0.75 (mean 0.75), and a failed seed
            _record("t", "discrete", "y", 0, [(10, 3.0, 0.25), (20, 6.0, 0.75)],
                    {"acc": 0.75}, 20, 6.0),
            _record("t", "discrete", "y", 1, [(10, 2.0, 0.5), (20, 4.0, 0.75)],
                    {"acc": 0.75}, 20, 4.0),
            _record("t", "discrete", "y", 2, [], {}, 20, 0.0, status="failed"),
        ],
    )  # fmt: skip
    q = time_to_quality(data)["t"]
    assert q["direction"] == "max" and q["target"] == 0.5
    # x: only seed 2 reaches 0.5 (at 2.0 s): 1 of 3 is fewer than half, so no median
    assert q["rows"]["discrete/x"] == {
        "seconds": None,
        "reached": 1,
        "seeds": 3,
        "per_seed": [None, None, 2.0],
    }
    # y: seed 0 at 6.0 s, seed 1 at 2.0 s (exactly the target counts), the failed seed not
    assert q["rows"]["discrete/y"] == {
        "seconds": 4.0,
        "reached": 2,
        "seeds": 3,
        "per_seed": [6.0, 2.0, None],
    }
    assert q["quickest"] == "discrete/y" and q["quickest_seconds"] == 4.0
    w = winners(data)["t"]
    assert w["best"] == "discrete/y" and w["quickest_to_target"] == "discrete/y"
    text = markdown_table(data)
    assert "| — (1/3) |" in text and "| 4 (2/3) |" in text
    assert "quickest to target discrete/y (4 s to acc ≥ 0.5)" in text


def test_time_to_quality_per_view_when_views_have_different_metrics():
    from discrete_ebm.benchmark.report import time_to_quality, winners

    data = _data(
        {"t": {"metrics": {"ll": "max", "gain": "max"}}},
        [
            _record("t", "discrete", "p", 0, [(10, 1.0, -3.0), (20, 2.0, -1.0)],
                    {"ll": -1.0}, 20, 2.0),
            _record("t", "discrete", "q", 0, [(10, 5.0, -2.0), (20, 9.0, -2.0)],
                    {"ll": -2.0}, 20, 9.0),
            _record("t", "continuous", "r", 0, [(10, 1.0, 0.5), (20, 2.0, 1.0)],
                    {"gain": 1.0}, 20, 2.0),
            _record("t", "continuous", "s", 0, [(10, 0.5, 0.25), (20, 1.0, 0.5)],
                    {"gain": 0.5}, 20, 1.0),
        ],
    )  # fmt: skip
    q = time_to_quality(data)
    assert set(q) == {"t (continuous)", "t (discrete)"}
    assert q["t (discrete)"]["metric"] == "ll" and q["t (discrete)"]["target"] == -2.0
    assert q["t (discrete)"]["quickest"] == "discrete/p"
    assert q["t (discrete)"]["quickest_seconds"] == 2.0
    assert q["t (continuous)"]["metric"] == "gain" and q["t (continuous)"]["target"] == 0.5
    assert q["t (continuous)"]["quickest"] == "continuous/r"
    assert q["t (continuous)"]["quickest_seconds"] == 1.0
    assert set(winners(data)) == set(q)


def test_only_that_matches_no_cell_is_an_error(tmp_path):
    from discrete_ebm.cli import main

    with pytest.raises(ValueError, match="no cell key contains"):
        run_suite([CountingTask()], tmp_path / "a", suite="tiny", progress=False, only=["nope"])
    with pytest.raises(SystemExit, match="--only: no cell key contains"):
        main(
            [
                "benchmark",
                "--quick",
                "--tasks",
                "ising",
                "--only",
                "nope",
                "--out",
                str(tmp_path / "b"),
                "--quiet",
            ]
        )
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
