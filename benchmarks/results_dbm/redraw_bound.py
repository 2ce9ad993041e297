"""Redraw ``run1/bound.png`` from the tracked bounds that used the h² AIS base.

The run's first 54 epochs were tracked by an AIS whose base was uniform on h² (it
under-estimates log Z, so those bounds are too high); ``trajectory.json`` holds the same
epochs re-evaluated with the h² base of the final code. This script marks the old track
entries ``invalid`` in ``run1/dbm.json`` (the recipe copies them from the training history
on every resumed run) and draws the curve from ``trajectory.json`` (epochs 26-54) and the
track from epoch 55 on. Run it after each ``discrete-ebm dbm --out run1 --resume ...``:

    python benchmarks/results_dbm/redraw_bound.py benchmarks/results_dbm/run1
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from discrete_ebm.io import write_json
from discrete_ebm.plotting.dbm import plot_bound_curve

LAST_UNIFORM_BASE_EPOCH = 54
NOTE = "tracked with the uniform h2 AIS base (under-estimates log Z); see trajectory.json"


def main(folder: str) -> None:
    run = Path(folder)
    record = json.loads((run / "dbm.json").read_text())
    for entry in record["track"]:
        if entry["epoch"] <= LAST_UNIFORM_BASE_EPOCH:
            entry["invalid"] = NOTE
    write_json(run / "dbm.json", record)
    trajectory = json.loads((run / "trajectory.json").read_text())
    points = [
        {"step": r["step"], "test_bound": r["bound_fwd_first1000"], "log_z_stderr": r["se"]}
        for r in trajectory
        if r["epoch"] > 0
    ]
    points += record["track"]  # plot_bound_curve leaves the invalid ones out
    settings = record["settings"]
    plot_bound_curve(
        points,
        run / "bound.png",
        steps_per_epoch=record["steps_done"] / record["epochs_done"],
        title=f"{settings['track_betas']}-temperature AIS (h² base), "
        f"first {settings['track_digits']} test digits",
    )


if __name__ == "__main__":
    main(sys.argv[1])
