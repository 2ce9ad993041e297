"""``benchmarks/ego_seeds.py``: mean ± sample std over seeds, and the goal check."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ego_seeds.py"


def _run(seed: int, average: float, dominating: float) -> dict:
    mmd = {"degree": 0.01, "clustering": 0.02, "orbit": 0.0, "spectral": 0.03, "average": average}
    rates = {"connected": 1.0, "dominating": dominating, "novel": 0.2, "unique": 0.2}
    return {
        "config": {"seed": seed},
        "init_label": "from noise",
        "edp_gnn": mmd,
        "gdss": dict(mmd, average=2 * average),
        "validity": rates,
        "train_seconds": 100.0,
        "sample_seconds": 10.0 + seed,
    }


def test_summary_is_the_mean_and_sample_std_and_checks_the_goals(
    tmp_path, monkeypatch, capsys, load_script
):
    mod = load_script(SCRIPT)
    runs = [_run(0, 0.015, 0.99), _run(1, 0.016, 0.97), _run(2, 0.020, 0.95)]
    s = mod.summarize(runs, target=0.017, validity=0.95)
    avg = s["edp_gnn"]["average"]
    assert avg["mean"] == pytest.approx(0.017)  # (0.015 + 0.016 + 0.020) / 3
    assert avg["std"] == pytest.approx(((0.002**2 + 0.001**2 + 0.003**2) / 2) ** 0.5)
    assert avg["per_seed"] == [0.015, 0.016, 0.020]
    assert s["gdss"]["average"]["mean"] == pytest.approx(0.034)
    assert s["validity"]["dominating"]["mean"] == pytest.approx(0.97)
    assert s["goals"]["met"] and s["seeds"] == [0, 1, 2]
    assert not mod.summarize(runs, target=0.0169, validity=0.95)["goals"]["met"]
    assert not mod.summarize(runs, target=0.017, validity=0.98)["goals"]["met"]
    assert s["wall_seconds_train_sample"] == [110.0, 111.0, 112.0]
    # the command line: run directories in, one JSON line out (and the same JSON in --out)
    dirs = []
    for r in runs:
        d = tmp_path / f"s{r['config']['seed']}"
        d.mkdir()
        (d / "ego.json").write_text(json.dumps(r))
        dirs.append(str(d))
    out = tmp_path / "summary.json"
    monkeypatch.setattr(sys, "argv", ["ego_seeds.py", *dirs, "--out", str(out)])
    mod.main()
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert printed["edp_gnn"]["average"]["mean"] == pytest.approx(0.017)
    monkeypatch.setattr(sys, "argv", ["ego_seeds.py", str(tmp_path / "missing")])
    with pytest.raises(SystemExit, match="no ego.json"):
        mod.main()
