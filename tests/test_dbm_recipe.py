"""The S&H 2009 DBM recipe: the fused PCD gradient, doubled-input pre-training, the DBM's
AIS (forward, reverse, per-image), exact resume of the recipe, the ``dbm`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from discrete_ebm.cli import main
from discrete_ebm.data.images import BinaryImages
from discrete_ebm.evaluation import ais
from discrete_ebm.evaluation.dbm_ais import (
    conditional_log_partition,
    forward_log_partition,
    reverse_log_partition,
)
from discrete_ebm.models.dbm import DBM
from discrete_ebm.models.rbm import RBM, _bernoulli
from discrete_ebm.objectives.dbm import DBMPersistentCD
from discrete_ebm.objectives.dbm_pretraining import DoubledInputCD
from discrete_ebm.objectives.fused_dbm_pcd import FusedDBMPCD
from discrete_ebm.recipes.dbm import DBMSettings, evaluate_dbm, train_dbm
from discrete_ebm.states import all_states


def random_dbm(sizes, scale=1.0, seed=0, dtype=torch.float64) -> DBM:
    g = torch.Generator().manual_seed(seed)
    dbm = DBM(sizes, weight_std=scale, generator=g, dtype=dtype)
    with torch.no_grad():
        for b in dbm.biases:
            b.copy_(0.5 * torch.randn(b.shape, generator=g, dtype=torch.float64))
    return dbm


@pytest.mark.parametrize("sizes", [(7, 5, 4), (6, 5, 4, 3)])
def test_fused_gradient_equals_autograd_of_the_mean_field_surrogate(sizes):
    dbm = random_dbm(sizes, seed=sum(sizes))
    x = (torch.rand(9, sizes[0], generator=torch.Generator().manual_seed(1)) < 0.5).double()
    fused = FusedDBMPCD(n_chains=6, k=3, mean_field_iters=4)
    reference = DBMPersistentCD(n_chains=6, k=3, mean_field_iters=4)
    for step in range(3):  # chains start, then persist
        dbm.zero_grad()
        loss = fused.write_gradients(dbm, x, torch.Generator().manual_seed(step))
        written = [p.grad.clone() for p in dbm.parameters()]
        dbm.zero_grad()
        surrogate = reference(dbm, x, torch.Generator().manual_seed(step))
        surrogate.backward()
        for a, p in zip(written, dbm.parameters()):
            torch.testing.assert_close(a, p.grad, rtol=0, atol=1e-12)
        for a, b in zip(fused.chains, reference.chains):
            assert torch.equal(a, b)  # the same draws in the same order
        assert abs(float(loss) - float(surrogate.detach())) < 1e-12  # from cached products
    mu = fused.positive_phase(dbm, x)[0][1:]
    for a, b in zip(mu, dbm.mean_field(x, 4)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_doubled_input_and_output_conditionals_match_their_definition():
    """The bottom RBM is an RBM with two tied copies of ``v`` (weights ``[W; W]``), the top
    one has two tied copies of ``h`` (``[W, W]``): their exact conditionals."""
    g = torch.Generator().manual_seed(0)
    W = torch.randn(6, 4, generator=g, dtype=torch.float64)
    b, c = (
        torch.randn(6, generator=g, dtype=torch.float64),
        torch.randn(4, generator=g, dtype=torch.float64),
    )
    rbm = RBM.from_parameters(W, b, c)
    x = (torch.rand(5, 6, generator=g) < 0.5).double()
    for up, down in ((2.0, 1.0), (1.0, 2.0), (2.0, 2.0)):
        p, p_x, x_r, p_r = DoubledInputCD(up, down)._phases(
            rbm, x, torch.Generator().manual_seed(3)
        )
        Wv = torch.cat([W] * int(up))  # visible copies
        big_up = RBM.from_parameters(Wv, torch.cat([b] * int(up)), c)
        torch.testing.assert_close(
            p, torch.sigmoid(big_up.hidden_logits(torch.cat([x] * int(up), 1)))
        )
        torch.testing.assert_close(
            p_r, torch.sigmoid(big_up.hidden_logits(torch.cat([x_r] * int(up), 1)))
        )
        h = _bernoulli(p, torch.Generator().manual_seed(3))
        Wh = torch.cat([W] * int(down), 1)  # hidden copies
        big_down = RBM.from_parameters(Wh, b, torch.cat([c] * int(down)))
        torch.testing.assert_close(
            p_x, torch.sigmoid(big_down.visible_logits(torch.cat([h] * int(down), 1)))
        )


def test_dbm_ais_forward_reverse_and_per_image_against_exact():
    dbm = random_dbm((6, 4, 5), scale=1.0, seed=5).float()
    truth = float(dbm.exact_log_partition())
    g = torch.Generator().manual_seed(2)
    fwd, se = ais.log_partition(dbm, 200, 1000, generator=g)
    start = dbm.sample_joint(200, 200, generator=g)
    rev, rse = reverse_log_partition(dbm, start, 1000, generator=g)
    assert abs(fwd - truth) < 3 * se + 1e-3
    assert abs(rev - truth) < 3 * rse + 1e-3
    base = {
        "base_marginals": torch.full((6,), 0.3),
        "hidden_marginals": {2: torch.rand(5, generator=g)},
    }
    fwd, se = forward_log_partition(dbm, 200, 1000, generator=g, **base)
    rev, rse = reverse_log_partition(dbm, start, 1000, generator=g, **base)
    assert abs(fwd - truth) < 3 * se + 1e-3  # a Bernoulli base on h² too
    assert abs(rev - truth) < 3 * rse + 1e-3
    v = all_states(6, dtype=torch.float32)[::5]
    log_zv, zse = conditional_log_partition(dbm, v, 50, 300, generator=g)
    exact_zv = -dbm.energy(v).double()
    assert ((log_zv - exact_zv).abs() < 3 * zse + 1e-3).all()
    with torch.no_grad():  # the bound is below the exact log p(v) for every v
        bound = dbm.variational_lower_bound(v, truth).double()
    assert (bound <= exact_zv - truth + 1e-5).all()


def test_evaluate_dbm_brackets_and_gap_on_an_enumerable_dbm():
    dbm = random_dbm((6, 4, 5), scale=1.0, seed=6).float()
    truth = float(dbm.exact_log_partition())
    v = dbm.sample(300, 50, generator=torch.Generator().manual_seed(4))
    out = evaluate_dbm(
        dbm,
        v,
        torch.full((6,), 0.5),
        ais_chains=200,
        ais_betas=1000,
        reverse_sweeps=100,
        gap_digits=30,
        gap_chains=30,
        gap_betas=300,
        base_rows=v[:100],
    )
    assert abs(out["log_z"] - truth) < 3 * out["log_z_stderr"] + 1e-3
    assert abs(out["log_z_reverse"] - truth) < 3 * out["log_z_reverse_stderr"] + 1e-3
    with torch.no_grad():
        exact_ll = -dbm.energy(v).double() - truth
        bound = dbm.variational_lower_bound(v, truth, n_iter=30).double()
    gap = (exact_ll - bound)[:30]
    assert abs(out["gap"] - float(gap.mean())) < 3 * out["gap_sem"] + 1e-3
    assert out["gap"] > -3 * out["gap_sem"]


def _images(seed=0, n=120, d=12):
    rng = np.random.default_rng(seed)
    grey = (rng.random((n, d)) ** 2 * 255).astype(np.uint8)
    return BinaryImages(grey, np.zeros(n, dtype=np.int64), seed=seed)


def _run(tmp, fail_at=None, monkeypatch=None):
    if fail_at is not None:  # interrupt the n-th pre-training or PCD step
        calls = {"n": 0}
        for cls in (DoubledInputCD, FusedDBMPCD):
            original = cls.write_gradients

            def counting(self, *a, _orig=original, **k):
                calls["n"] += 1
                if calls["n"] == fail_at:
                    raise KeyboardInterrupt
                return _orig(self, *a, **k)

            monkeypatch.setattr(cls, "write_gradients", counting)
    images = _images()
    loader = images.loader(20, generator=torch.Generator().manual_seed(1))
    s = DBMSettings(
        layer_sizes=(12, 6, 5),
        pretrain_epochs=2,
        epochs=3,
        k=2,
        n_chains=20,
        batch_size=20,
        momentum_epochs=1,
        mean_field_iters=3,
    )
    dbm, history, errors = train_dbm(
        loader,
        s,
        generator=torch.Generator().manual_seed(0),
        checkpoint_dir=tmp,
        checkpoint_every=4,
    )
    return dbm, history, errors


@pytest.mark.parametrize("fail_at", [15, 30])  # in the second RBM; in the PCD stage
def test_resumed_recipe_equals_the_uninterrupted_one_bit_for_bit(tmp_path, monkeypatch, fail_at):
    ref, ref_hist, ref_err = _run(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "b", fail_at, monkeypatch)
    monkeypatch.undo()
    dbm, hist, err = _run(tmp_path / "b")
    for a, b in zip(ref.state_dict().values(), dbm.state_dict().values()):
        assert torch.equal(a, b)
    assert err == ref_err and hist.loss == ref_hist.loss


def test_dbm_command_runs_at_tiny_size_and_writes_its_files(tmp_path):
    rng = np.random.default_rng(0)
    x_train = np.zeros((60000, 784), np.uint8)
    x_train[:200] = (rng.random((200, 784)) < 0.2) * 255
    x_test = np.zeros((10000, 784), np.uint8)
    x_test[:100] = (rng.random((100, 784)) < 0.2) * 255
    (tmp_path / "mnist").mkdir()
    np.savez_compressed(
        tmp_path / "mnist" / "mnist_uint8.npz",
        x_train=x_train,
        y_train=np.zeros(60000, np.uint8),
        x_test=x_test,
        y_test=np.zeros(10000, np.uint8),
    )
    out = tmp_path / "out"
    args = [
        "dbm",
        "--data",
        str(tmp_path),
        "--out",
        str(out),
        "--train-rows",
        "200",
        "--hidden",
        "8",
        "6",
        "--pretrain-epochs",
        "1",
        "--epochs",
        "2",
        "--ais-betas",
        "50",
        "--gap-digits",
        "3",
        "--gap-betas",
        "20",
        "--track-every",
        "1",
        "--track-betas",
        "20",
        "--track-digits",
        "50",
        "--sample-steps",
        "5",
        "--reverse-sweeps",
        "5",
        "--threads",
        "1",
        "--quiet",
    ]
    assert main(args) == 0
    for name in ("samples.png", "filters.png", "bound.png", "dbm.pt", "dbm.json"):
        assert (out / name).is_file()
    res = json.loads((out / "dbm.json").read_text())
    assert res["steps_done"] == 2 * 2 and len(res["track"]) == 2
    assert np.isfinite(res["test_bound"]) and res["test_bound"] < 0
    assert res["hidden_base"]  # the AIS base of h² from the training images
    with pytest.raises(SystemExit, match="--resume"):  # checkpoints exist
        main(args)
    i = args.index("--epochs")
    evaluate_only = [*args[: i + 1], "1", *args[i + 2 :], "--resume"]
    assert main(evaluate_only) == 0  # --epochs below the checkpoint's: evaluation only
    again = json.loads((out / "dbm.json").read_text())
    assert again["steps_done"] == res["steps_done"]
