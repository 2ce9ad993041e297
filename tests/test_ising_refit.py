"""The two-stage fit of ``learn_couplings(refit=True)``: L1 selects the support, the refit
removes the L1 shrinkage on it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from discrete_ebm.cli import main
from discrete_ebm.data.ising import benchmark_rmse, lattice_model
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.recipes.ising import build_objective, learn_couplings, select_support


def test_select_support_is_symmetric_without_diagonal():
    J = torch.tensor([[0.0, 0.3, -0.02], [0.3, 0.0, -0.2], [-0.02, -0.2, 0.0]])
    mask = select_support(J, 0.05)
    assert mask.tolist() == [[False, True, False], [True, False, True], [False, True, False]]
    # strict inequality: a pair exactly at the threshold is dropped
    assert select_support(J, 0.2).sum() == 2
    assert select_support(J, 0.0).sum() == 6
    with pytest.raises(ValueError, match="refit_threshold"):
        select_support(J, -0.1)
    with pytest.raises(ValueError, match="refit_threshold"):
        select_support(J, math.nan)


@pytest.mark.parametrize("objective", ["ed-bern", "pl"])
def test_refit_keeps_the_lattice_and_removes_the_shrinkage(lattice_data, objective):
    torch.set_num_threads(1)
    x, J_true = lattice_data
    steps_seen, stage1 = [], []

    def record(step, m, h):
        steps_seen.append(step)
        if step == 400:
            stage1.append(benchmark_rmse(m.J.detach(), J_true))

    model, history = learn_couplings(
        x,
        objective,
        steps=400,
        refit=True,
        refit_steps=300,
        generator=torch.Generator().manual_seed(1),
        callbacks=[record],
    )
    # one history over both stages; callbacks count steps from the start of stage 1
    assert history.steps == 700 and steps_seen == list(range(1, 701))
    assert all(b >= a for a, b in zip(history.elapsed, history.elapsed[1:]))
    # the support keeps all 32 lattice pairs (stage 1 has them at ≈ 0.3 > 0.075) and few of
    # the 88 absent ones (measured 2–3: noise of sd ≈ 0.023 beyond the threshold)
    assert not model.is_dense
    J = model.J.detach()
    assert bool((J[J_true != 0] != 0).all()) and 32 <= model.n_edges <= 32 + 10
    # Without the L1 bias the kept lattice couplings are unbiased: their mean over the 32
    # pairs has standard error ≈ 0.023 / sqrt(32) ≈ 0.004 (per-pair sd
    # 1/sqrt(2000·Var(s_i s_j)) for MLE; ED and PL are a little less efficient), so
    # 0.4 ± 0.03 is ≈ 7 standard errors; stage 1 alone sits at ≈ 0.30–0.33.
    assert J[J_true != 0].mean().item() == pytest.approx(0.4, abs=0.03)
    # the refit lowers the benchmark RMSE (measured 0.0207 -> 0.0133 for ED-Bern, 0.0174 ->
    # 0.0123 for PL); much of what remains is the few unpenalised spurious pairs
    assert benchmark_rmse(J, J_true) < 0.9 * stage1[0]
    assert benchmark_rmse(J, J_true) < 0.017


def test_stage_one_alone_is_shrunk(lattice_data):
    # the reference point of the test above: the one-stage L1 fit underestimates J
    torch.set_num_threads(1)
    x, J_true = lattice_data
    model, _ = learn_couplings(x, "pl", steps=400, generator=torch.Generator().manual_seed(1))
    J = model.J.detach()
    assert model.is_dense
    assert J[J_true != 0].mean().item() < 0.4 - 0.01


def test_refit_with_empty_support_fits_only_the_field():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    # independent bits with P(x_i = 1) = 0.8: no couplings, field h = atanh(0.6) ≈ 0.69
    x = (torch.rand(2000, 6, generator=g) < 0.8).float()
    model, history = learn_couplings(
        x, "pl", steps=50, refit=True, refit_steps=300, refit_threshold=10.0, generator=g
    )
    assert model.n_edges == 0 and torch.count_nonzero(model.J) == 0
    assert history.steps == 350
    # the mean of 2,000 Bernoulli(0.8) bits has sd 0.009 -> h within ±0.05 of atanh(0.6)
    assert model.h.detach().mean().item() == pytest.approx(math.atanh(0.6), abs=0.05)


def test_pcd_on_a_sparse_model_colours_its_graph():
    # a refit model: sparse storage of the lattice's pairs, no lattice metadata -> the greedy
    # colouring of its graph (checked proper by the sampler), at most max degree + 1 = 5
    sparse = IsingModel(lattice_model(4, 0.2).J.detach(), sparse=True)
    dense = IsingModel(torch.zeros(16, 16), torch.zeros(16))
    assert build_objective("pcd", sparse).sampler.n_colors <= 5
    assert build_objective("pcd", dense).sampler.n_colors == 16


def test_bad_refit_arguments_fail_before_training():
    x = torch.zeros(10, 4)
    with pytest.raises(ValueError, match="refit_steps"):
        learn_couplings(x, "pl", steps=5, refit=True, refit_steps=0)
    with pytest.raises(ValueError, match="refit_l1"):
        learn_couplings(x, "pl", steps=5, refit=True, refit_l1=-1.0)
    with pytest.raises(ValueError, match="refit_threshold"):
        learn_couplings(x, "pl", steps=5, refit=True, refit_threshold=-1.0)


def test_cli_refit(tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    args = ["ising", "--lattice", "4", "--sigma", "0.2", "--samples", "300", "--sweeps", "30"]
    args += ["--objective", "pl", "--steps", "40", "--refit", "--refit-steps", "30"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    result = json.loads((out / "ising.json").read_text())
    s = result["settings"]
    assert s["refit"] is True and s["refit_steps"] == 30 and s["refit_threshold"] == 0.075
    assert s["refit_l1"] == 0.0 and isinstance(s["refit_pairs"], int)
    assert len(result["history"]["loss"]) == 70
    with np.load(out / "couplings.npz") as f:
        J = f["J"]
    assert J.shape == (16, 16) and np.array_equal(J, J.T)
    assert np.count_nonzero(np.triu(J)) == s["refit_pairs"]
    for flag, value in (("--refit-threshold", "-1"), ("--refit-l1", "nan"), ("--refit-steps", "0")):
        with pytest.raises(SystemExit, match=flag.lstrip("-")):
            main(["ising", "--refit", flag, value, "--out", str(out), "--quiet"])
