"""The RBM recipe and command: PCD through fit raises the exact likelihood of data from a
known RBM; ``discrete-ebm rbm`` on a few MNIST rows writes its JSON, weights and PNGs."""

from __future__ import annotations

import json

import pytest
import torch

from discrete_ebm.cli import main
from discrete_ebm.data.images import mnist_path
from discrete_ebm.models.rbm import RBM
from discrete_ebm.recipes.rbm import evaluate_rbm, train_rbm


def _teacher_data():
    g = torch.Generator().manual_seed(1)
    W = 3.0 * torch.randn(8, 3, generator=g, dtype=torch.float64)
    teacher = RBM.from_parameters(W, -0.5 * W.sum(1), torch.full((3,), -1.0))
    return teacher.sample(2000, 50, generator=g).float()


def _avg_ll(model, data):
    with torch.no_grad():
        return float(-model.energy(data).double().mean() - model.exact_log_partition())


@pytest.mark.parametrize("n_chains", [100, 50])  # fused gradient; analytic (batch > chains)
def test_train_rbm_raises_the_exact_likelihood(n_chains):
    data = _teacher_data()
    start = RBM(8, 4, generator=torch.Generator().manual_seed(0)).init_from_data(data)
    rbm, history = train_rbm(
        data,
        n_hidden=4,
        epochs=20,
        lr=0.2,
        n_chains=n_chains,
        generator=torch.Generator().manual_seed(0),
    )
    assert history.steps == 20 * 20 and history.epochs == 20
    # 2000 samples: the average log-likelihood's noise is ~0.05 nats; the gain is far larger
    assert _avg_ll(rbm, data) > _avg_ll(start, data) + 0.3
    # AIS on an enumerable RBM brackets the exact log Z within a few standard errors
    result = evaluate_rbm(
        rbm,
        data,
        data.mean(0).double(),
        ais_chains=200,
        ais_betas=300,
        generator=torch.Generator().manual_seed(3),
    )
    exact = float(rbm.exact_log_partition())
    assert abs(result["log_z"] - exact) < 4 * result["log_z_stderr"] + 0.02
    assert result["test_log_likelihood"] == pytest.approx(_avg_ll(rbm, data), abs=0.1)


def test_rbm_command_writes_its_files(tmp_path):
    if not mnist_path().is_file():
        pytest.skip("MNIST file not found (set DISCRETE_EBM_DATA)")
    out = tmp_path / "rbm"
    code = main(
        [
            "rbm",
            "--train-rows",
            "500",
            "--epochs",
            "1",
            "--hidden",
            "20",
            "--ais-chains",
            "10",
            "--ais-betas",
            "50",
            "--sample-steps",
            "5",
            "--out",
            str(out),
            "--quiet",
            "--threads",
            "1",
        ]
    )
    assert code == 0
    result = json.loads((out / "rbm.json").read_text())
    assert -700 < result["test_log_likelihood"] < -60 and len(result["seconds_per_epoch"]) == 1
    for name in ("samples.png", "filters.png", "rbm.pt"):
        assert (out / name).stat().st_size > 0
    with pytest.raises(SystemExit, match="--train-rows"):
        main(["rbm", "--train-rows", "0", "--out", str(out), "--quiet"])


def test_centred_train_rbm_resumes_exactly(tmp_path):
    data = _teacher_data()[:400]

    def run(epochs, ckpt):
        return train_rbm(data, n_hidden=4, epochs=epochs, lr=0.1, n_chains=100, centred=True,
                         schedule="constant", checkpoint=ckpt, checkpoint_every=3,
                         generator=torch.Generator().manual_seed(0))[0]  # fmt: skip

    full = run(3, tmp_path / "a.pt")
    run(2, tmp_path / "b.pt")
    resumed = run(3, tmp_path / "b.pt")
    assert all(torch.equal(a, b) for a, b in zip(full.parameters(), resumed.parameters()))
    plain = train_rbm(data, n_hidden=4, epochs=3, lr=0.1, n_chains=100, schedule="constant",
                      generator=torch.Generator().manual_seed(0))[0]  # fmt: skip
    assert not torch.equal(plain.W, full.W)  # centring changes the path
    with pytest.raises(ValueError, match="schedule"):
        train_rbm(data, schedule="cosine")


def test_centred_recipe_command_reports_both_estimates_and_resumes(tmp_path):
    if not mnist_path().is_file():
        pytest.skip("MNIST file not found (set DISCRETE_EBM_DATA)")
    out, ckpt = tmp_path / "rbm", tmp_path / "ck.pt"
    argv = ["rbm", "--recipe", "centred", "--train-rows", "300", "--epochs", "2",
            "--hidden", "10", "--eval-every", "1", "--eval-betas", "20", "--ais-betas", "100",
            "--ais-chains", "10", "--reverse-chains", "10", "--reverse-sweeps", "10",
            "--sample-steps", "5", "--checkpoint", str(ckpt), "--out", str(out), "--quiet",
            "--threads", "1"]  # fmt: skip
    assert main(argv) == 0
    first = json.loads((out / "rbm.json").read_text())
    assert first["binarize"] == "threshold" and first["settings"]["centred"] is True
    assert [r["epoch"] for r in first["curve"]] == [1, 2]
    assert first["ais_betas"] == 100 and first["reverse_chains"] == 10
    assert -700 < first["test_log_likelihood_reverse"] < -60
    for name in ("samples.png", "filters.png", "likelihood.png", "rbm.pt"):
        assert (out / name).stat().st_size > 0
    # the same command again resumes the finished run: same model, same figures
    weights = torch.load(out / "rbm.pt")
    assert main(argv) == 0
    again = json.loads((out / "rbm.json").read_text())
    assert again["curve"] == first["curve"] and again["epochs"] == 2
    assert all(torch.equal(weights[k], v) for k, v in torch.load(out / "rbm.pt").items())
    # (float32 AIS on the re-laid-out W of the first run: equal up to rounding)
    assert again["log_z"] == pytest.approx(first["log_z"], abs=1e-5)
