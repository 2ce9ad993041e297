"""Objectives by name: every registered name builds its class with its settings; the ones
that own a sampler need the model; unknown names and misuse are clear errors. And the
doubled-input CD-1 of DBM pre-training writes the gradient of its surrogate."""

from __future__ import annotations

import pytest
import torch

from discrete_ebm import objectives
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.models.neural import MLPEnergy
from discrete_ebm.models.rbm import RBM
from discrete_ebm.objectives.dbm_pretraining import DoubledInputCD
from discrete_ebm.samplers.block_gibbs import BlockGibbsSampler
from discrete_ebm.samplers.gibbs import GibbsSampler
from discrete_ebm.samplers.langevin import LangevinSampler

PLAIN = {
    "ed-bern": ("BernoulliED", {"epsilon": 0.2, "n_negatives": 5}, "epsilon", 0.2),
    "ed-grid": ("GridED", {"n_negatives": 7}, "n_negatives", 7),
    "pl": ("PseudoLikelihood", {}, None, None),
    "gaussian-ed": ("GaussianED", {"t": 0.3}, "t", 0.3),
    "score-matching": ("ScoreMatching", {}, None, None),
    "sliced-score-matching": ("SlicedScoreMatching", {"n_projections": 3}, "n_projections", 3),
    "denoising-score-matching": ("DenoisingScoreMatching", {"sigma": 0.5}, "sigma", 0.5),
    "rbm-pcd": ("RBMPersistentCD", {"n_chains": 11, "k": 2}, "k", 2),
    "fused-pcd": ("FusedPCD", {"n_chains": 13}, "n_chains", 13),
    "dbm-pcd": ("DBMPersistentCD", {"n_chains": 5}, "n_chains", 5),
    "dbm-ed": ("DBMEnergyDiscrepancy", {"epsilon": 0.05}, "epsilon", 0.05),
}


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_plain_names_build_their_class_with_the_settings(name):
    cls, settings, attr, value = PLAIN[name]
    obj = objectives.make(name, **settings)
    assert type(obj).__name__ == cls
    if attr is not None:
        assert getattr(obj, attr) == value


def test_sampler_objectives_need_the_model_and_build_the_sampler():
    ising = IsingModel(torch.zeros(5, 5), torch.zeros(5))
    pcd = objectives.make("pcd", model=ising, n_chains=7, k=3)
    assert isinstance(pcd.sampler, BlockGibbsSampler) and pcd.sampler.model is ising
    assert pcd.persistent and pcd.n_chains == 7 and pcd.k == 3
    cd = objectives.make("cd", model=ising, sampler="gibbs")
    assert isinstance(cd.sampler, GibbsSampler) and not cd.persistent
    net = MLPEnergy(2, (8,))
    lcd = objectives.make("langevin-cd", model=net, step_size=0.02, k=5, buffer_size=64)
    assert isinstance(lcd.sampler, LangevinSampler) and lcd.sampler.step_size == 0.02
    assert lcd.buffer_size == 64 and lcd.k == 5
    with pytest.raises(ValueError, match="'pcd' needs model="):
        objectives.make("pcd")
    own = GibbsSampler(ising)
    assert objectives.make("pcd", model=ising, sampler=own).sampler is own
    with pytest.raises(ValueError, match="sampler must be built on the model being trained"):
        objectives.make("pcd", model=IsingModel(torch.zeros(5, 5), torch.zeros(5)), sampler=own)
    with pytest.raises(ValueError, match="sampler must be 'block-gibbs', 'gibbs', 'gwg' or a"):
        objectives.make("pcd", model=ising, sampler="metropolis")
    with pytest.raises(ValueError, match="coloring applies to sampler='block-gibbs' only"):
        objectives.make("pcd", model=ising, sampler="gibbs", coloring=[[0]])


def test_unknown_names_and_registration_errors():
    with pytest.raises(ValueError, match="objective must be one of .*ed-bern.*got 'ed'"):
        objectives.make("ed")
    with pytest.raises(TypeError, match="unexpected keyword"):
        objectives.make("ed-bern", epsilonn=0.1)
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        objectives.register("", lambda model=None: None)
    with pytest.raises(TypeError, match="factory must be callable"):
        objectives.register("x", 3)
    assert {"ed-bern", "pcd", "fused-pcd", "langevin-cd"} <= set(objectives.names())


@pytest.mark.parametrize(("up", "down"), [(1.0, 1.0), (2.0, 1.0), (2.0, 2.0)])
def test_doubled_input_cd_writes_the_gradient_of_its_surrogate(up, down):
    g = torch.Generator().manual_seed(0)
    rbm = RBM.from_parameters(
        0.5 * torch.randn(7, 3, generator=g, dtype=torch.float64),
        0.3 * torch.randn(7, generator=g, dtype=torch.float64),
        0.3 * torch.randn(3, generator=g, dtype=torch.float64),
    )
    x = (torch.rand(11, 7, generator=g) < 0.5).double()
    objective = DoubledInputCD(up, down)
    error = objective.write_gradients(rbm, x, torch.Generator().manual_seed(4))
    written = [p.grad.clone() for p in rbm.parameters()]
    for p in rbm.parameters():
        p.grad = None
    objective(rbm, x, torch.Generator().manual_seed(4)).backward()
    for a, p in zip(written, rbm.parameters()):
        torch.testing.assert_close(a, p.grad, rtol=0, atol=1e-12)
    assert 0 < float(error) < 1 and objective.metrics == {"rows": 11.0}
    with pytest.raises(ValueError, match="up and down must be > 0"):
        DoubledInputCD(0.0, 1.0)
