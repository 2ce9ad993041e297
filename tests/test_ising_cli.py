"""``discrete-ebm ising``: files written, their contents, loading data back, bad arguments."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from discrete_ebm.cli import main
from discrete_ebm.data.ising import benchmark_rmse


def _run(tmp_path, *extra):
    out = tmp_path / "run"
    args = ["ising", "--lattice", "4", "--sigma", "0.2", "--samples", "300", "--sweeps", "30"]
    args += ["--steps", "40"]
    code = main([*args, "--out", str(out), "--quiet", *extra])
    assert code == 0
    return out


def test_default_pipeline_writes_couplings_json_png(tmp_path):
    torch.set_num_threads(1)
    out = _run(tmp_path)
    result = json.loads((out / "ising.json").read_text())
    with np.load(out / "couplings.npz") as f:
        J, h, J_true = f["J"], f["h"], f["J_true"]
    assert J.shape == (16, 16) and h.shape == (16,)
    assert np.array_equal(J, J.T) and np.all(np.diag(J) == 0)
    # the true model of the lattice benchmark: J = 2σA with σ = 0.2, 4 neighbours per site
    assert np.allclose(J_true[J_true != 0], 0.4) and (J_true != 0).sum(1).tolist() == [4] * 16
    rmse = benchmark_rmse(torch.as_tensor(J), torch.as_tensor(J_true))
    assert result["rmse"] == pytest.approx(rmse, rel=1e-9)
    assert result["neg_log_rmse"] == pytest.approx(-math.log(rmse), rel=1e-9)
    assert result["objective"] == "ed-bern" and result["n_samples"] == 300 and result["d"] == 16
    assert len(result["history"]["loss"]) == 40
    assert result["seconds"]["total"] >= result["seconds"]["train"] > 0
    png = (out / "ising.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with np.load(out / "data.npz") as f:
        assert f["x"].shape == (300, 16) and np.array_equal(f["J"], J_true)


@pytest.mark.parametrize("objective", ["ed-grid", "pl", "pcd"])
def test_objectives_on_saved_data(tmp_path, objective):
    torch.set_num_threads(1)
    first = _run(tmp_path)
    out = tmp_path / objective
    code = main(
        [
            "ising",
            "--data",
            str(first / "data.npz"),
            "--objective",
            objective,
            "--steps",
            "20",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    result = json.loads((out / "ising.json").read_text())
    assert result["objective"] == objective and result["settings"]["data"].endswith("data.npz")
    assert result["rmse"] is not None and math.isfinite(result["rmse"])
    if objective == "pl":
        assert result["settings"]["l1"] == pytest.approx(0.001)


def test_data_without_truth_and_bad_arguments(tmp_path):
    torch.set_num_threads(1)
    rows = (np.random.default_rng(0).random((50, 5)) < 0.5).astype(np.float32)
    np.save(tmp_path / "rows.npy", rows)
    out = tmp_path / "plain"
    assert (
        main(
            [
                "ising",
                "--data",
                str(tmp_path / "rows.npy"),
                "--steps",
                "5",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    result = json.loads((out / "ising.json").read_text())
    assert result["rmse"] is None and result["d"] == 5
    with pytest.raises(SystemExit):
        main(["ising", "--objective", "mle", "--out", str(out), "--quiet"])
    with pytest.raises(SystemExit, match="steps"):
        main(["ising", "--steps", "0", "--out", str(out), "--quiet"])
    # checked before any data is generated or written
    bad = tmp_path / "bad"
    for flag, value in (("--epsilon", "1.5"), ("--lr", "-1"), ("--lr", "nan"), ("--l1", "-0.1")):
        with pytest.raises(SystemExit, match=flag):
            main(["ising", flag, value, "--out", str(bad), "--quiet"])
    assert not bad.exists()
    with pytest.raises(SystemExit, match="does not exist"):
        main(["ising", "--data", str(tmp_path / "none.npy"), "--out", str(out), "--quiet"])
