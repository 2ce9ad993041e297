"""Every script in ``examples/`` runs in its quick mode (``DISCRETE_EBM_QUICK=1``) and writes
sane outputs.

The scripts run as subprocesses, all started at once (one intra-op thread each), in their
own temporary folders, so their default ``runs/...`` outputs land there; the environment
(``DISCRETE_EBM_DATA``) passes through. A script that needs a data file which is missing is
skipped, never silently passed.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from discrete_ebm.data.images import mnist_path

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
TIMEOUT = 300  # seconds per script (each takes a few seconds on an idle machine)


def _json(path: Path) -> dict:
    assert path.is_file(), f"{path} was not written"
    return json.loads(path.read_text())


def _png(path: Path) -> None:
    assert path.is_file(), f"{path} was not written"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


def check_ising(cwd: Path, log: str) -> None:
    out = cwd / "runs" / "example_ising"
    result = _json(out / "couplings.json")
    _png(out / "couplings.png")
    # 4×4 lattice, J/2 = σ = 0.2 on 64 of the 256 entries: the zero matrix has RMSE 0.1;
    # 150 steps of ED on 2,000 samples reach ≈ 0.05 (measured 0.049)
    assert result["d"] == 16 and result["steps"] == 150
    assert 0.0 < result["rmse"] < 0.075
    assert result["neg_log_rmse"] == pytest.approx(-math.log(result["rmse"]))


def check_continuous(cwd: Path, log: str) -> None:
    out = cwd / "runs" / "continuous"
    result = _json(out / "continuous_8gaussians.json")
    _png(out / "continuous_8gaussians.png")
    assert set(result["results"]) == {
        "gaussian_ed",
        "score_matching",
        "sliced_score_matching",
        "denoising_score_matching",
        "langevin_cd",
    }
    for name, m in result["results"].items():
        assert m["steps"] == 40 and m["seconds_per_step"] > 0, name
        # MMD² of 2,000 samples is an unbiased estimate: small, may dip below 0
        assert -0.01 < m["mmd2"] < 1.0, (name, m)
        assert m["log_density_mse"] >= 0 and math.isfinite(m["log_density_mse"]), (name, m)


def check_denoise(cwd: Path, log: str) -> None:
    out = cwd / "runs" / "denoise_example"
    result = _json(out / "results.json")
    _png(out / "denoise.png")
    _png(out / "inpaint.png")
    # flip noise of rate 0.1 on 4 digits (3,136 pixels): the noisy error is 0.1 ± 0.006
    assert result["noisy_error"] == pytest.approx(0.1, abs=0.03)
    assert len(result["methods"]) == 9  # 3 priors × (mpm, map, icm)
    for name, m in result["methods"].items():
        # every prior at least halves the error even with short chains (measured 1.4-2.9 %)
        assert 0 <= m["error"] < 0.5 * result["noisy_error"], (name, m)
    assert 0.03 < result["estimated_noise"] < 0.2  # EM from the noisy digits (measured 0.08)
    assert 0 <= result["inpainting"]["error_on_missing_pixels"] < 0.1  # measured 0.026


def check_ego(cwd: Path, log: str) -> None:
    out = cwd / "runs" / "ego_example"
    result = _json(out / "ego_example.json")
    _png(out / "ego_example.png")
    mmd = result["mmd_vs_test"]
    assert {"degree", "clustering", "orbit", "average"} <= set(mmd)
    assert all(0 <= v < 2 and math.isfinite(v) for v in mmd.values()), mmd
    assert result["train_seconds"] > 0 and result["generated_edges_mean"] > 0


def check_benchmark(cwd: Path, log: str) -> None:
    out = cwd / "runs" / "benchmark_example"
    data = _json(out / "results.json")
    assert (out / "results.md").is_file()
    _png(out / "ising.png")
    assert data["suite"] == "tiny" and len(data["cells"]) == 4  # ed-bern, ed-grid, pl, pcd
    for key, cell in data["cells"].items():
        assert cell["status"] == "ok", (key, cell.get("error"))
        assert cell["steps"] == 8 and [p["step"] for p in cell["curve"]] == [4, 8]
        # a 3×3 lattice, σ = 0.2: the zero matrix has RMSE 0.2·sqrt(36/81) ≈ 0.133
        assert 0 < cell["metrics"]["rmse"] < 0.133, (key, cell["metrics"])


#: script -> (check, data file it needs or None)
EXAMPLES = {
    "learn_ising_couplings.py": (check_ising, None),
    "continuous_toy.py": (check_continuous, None),
    "denoise_binary_images.py": (check_denoise, mnist_path),
    "generate_ego_graphs.py": (check_ego, None),
    "benchmark_discrete_vs_continuous.py": (check_benchmark, None),
}


def test_every_example_is_checked():
    assert {p.name for p in EXAMPLES_DIR.glob("*.py")} == set(EXAMPLES)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Start every example at once; ``{script: (folder, process) or None if skipped}``."""
    env = {**os.environ, "DISCRETE_EBM_QUICK": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    if "DISCRETE_EBM_DATA" in env:  # the scripts run in their own folders: an absolute path
        env["DISCRETE_EBM_DATA"] = str(Path(env["DISCRETE_EBM_DATA"]).resolve())
    started = {}
    for script, (_, needs) in EXAMPLES.items():
        if needs is not None and not needs().is_file():
            started[script] = None
            continue
        cwd = tmp_path_factory.mktemp(script.removesuffix(".py"))
        log = open(cwd / "log.txt", "w")  # closed by the fixture teardown
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLES_DIR / script)],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started[script] = (cwd, proc, log)
    yield started
    for entry in started.values():
        if entry is not None:
            entry[1].kill()
            entry[1].wait()
            entry[2].close()


@pytest.mark.parametrize("script", sorted(EXAMPLES))
def test_example_runs_in_quick_mode(runs, script):
    if runs[script] is None:
        pytest.skip(f"{script} needs a data file that is not available")
    cwd, proc, log = runs[script]
    code = proc.wait(timeout=TIMEOUT)
    log.flush()
    text = (cwd / "log.txt").read_text()
    assert code == 0, text[-3000:]
    EXAMPLES[script][0](cwd, text)
