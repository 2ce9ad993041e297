"""``benchmarks/ego_small.py --cd-updates`` reaches ``EgoConfig.cd_updates`` (tiny budget)."""

from __future__ import annotations

import json
from pathlib import Path

from discrete_ebm.graphs.experiment import EgoConfig

DRIVER = Path(__file__).resolve().parents[2] / "benchmarks" / "ego_small.py"


def test_cd_updates_flag_sets_config(tmp_path, capsys, load_script):
    out = tmp_path / "ego.json"
    argv = ["--methods", "cd", "--seeds", "0", "--steps", "2", "--sample-steps", "2"]
    argv += ["--hidden", "8", "--layers", "1", "--n-generated", "3", "--split", "validation"]
    argv += ["--cd-updates", "3", "--lr", "5e-4", "--out", str(out)]
    assert load_script(DRIVER).main(argv) == 0
    run = json.loads(out.read_text())["runs"]["cd"][0]
    assert run["config"]["cd_updates"] == 3
    assert run["config"]["lr"] == 5e-4
    assert json.loads(capsys.readouterr().out)["split"] == "validation"


def test_cd_updates_default_unchanged(tmp_path, load_script):
    out = tmp_path / "ego.json"
    argv = ["--methods", "cd", "--seeds", "0", "--steps", "2", "--sample-steps", "2"]
    argv += ["--hidden", "8", "--layers", "1", "--n-generated", "3", "--split", "validation"]
    argv += ["--out", str(out)]
    assert load_script(DRIVER).main(argv) == 0
    run = json.loads(out.read_text())["runs"]["cd"][0]
    assert run["config"]["cd_updates"] == EgoConfig().cd_updates == 10
