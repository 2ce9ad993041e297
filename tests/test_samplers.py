"""Gibbs and block-Gibbs samplers against exact enumeration (TV with a sample-size bound)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from discrete_ebm import BlockGibbsSampler, EnergyModel, GibbsSampler, IsingModel
from discrete_ebm.evaluation import exact
from discrete_ebm.evaluation.metrics import total_variation as tv_distance
from discrete_ebm.evaluation.metrics import tv_tolerance
from discrete_ebm.models.rbm import RBM
from discrete_ebm.samplers import geometric_beta_schedule
from discrete_ebm.samplers.base import resolve_beta

N_CHAINS = 20_000


def ferromagnet() -> IsingModel:
    g = torch.Generator().manual_seed(1)
    m = IsingModel.erdos_renyi(7, 0.6, coupling_std=0.4, generator=g)
    with torch.no_grad():
        m.weights.abs_()
    return m


def frustrated() -> IsingModel:
    """Random-sign couplings on a dense graph: many frustrated triangles, plus fields."""
    g = torch.Generator().manual_seed(2)
    return IsingModel.erdos_renyi(10, 0.7, coupling_std=0.6, field_std=0.5, generator=g)


def antiferro_lattice() -> IsingModel:
    return IsingModel.lattice((3, 4), coupling=-0.5, field=0.2, periodic=False)


MODELS = {"ferro": ferromagnet, "frustrated": frustrated, "antiferro_lattice": antiferro_lattice}


class CubicEnergy(EnergyModel):
    """A non-pairwise binary energy defined only by ``energy`` (samplers must use differences)."""

    def __init__(self, d: int):
        super().__init__(d)
        g = torch.Generator().manual_seed(5)
        self.a = torch.nn.Parameter(torch.randn(d, generator=g))
        self.b = torch.nn.Parameter(0.5 * torch.randn(d, generator=g))

    def energy(self, x):
        return -(x @ self.a) - (x * x.roll(1, 1) * x.roll(2, 1)) @ self.b


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("sampler", ["systematic", "random", "block"])
def test_samplers_match_exact_distribution(name, sampler):
    model = MODELS[name]()
    S = BlockGibbsSampler(model) if sampler == "block" else GibbsSampler(model, scan=sampler)
    gen = torch.Generator().manual_seed(10)
    x = S.sample(N_CHAINS, 60, generator=gen)
    p = exact.probabilities(model)
    assert tv_distance(x, p) < tv_tolerance(p, N_CHAINS)
    # marginals: each within 5 binomial standard deviations
    m = exact.marginals(model).float()
    assert ((x.mean(0) - m).abs() < 5 * (m * (1 - m) / N_CHAINS).sqrt() + 1e-3).all()


def test_gibbs_on_generic_energy_uses_energy_differences():
    model = CubicEnergy(6)
    x = GibbsSampler(model).sample(N_CHAINS, 40, generator=torch.Generator().manual_seed(0))
    p = exact.probabilities(model)
    assert tv_distance(x, p) < tv_tolerance(p, N_CHAINS)


def test_block_gibbs_with_explicit_coloring_on_generic_model():
    model = CubicEnergy(6)
    # every site interacts with its two neighbours on each side: colour i mod 3 is not proper
    # for the cubic ring of 6, so give singletons (always proper)
    x = BlockGibbsSampler(model, coloring=[[i] for i in range(6)]).sample(
        N_CHAINS, 40, generator=torch.Generator().manual_seed(1)
    )
    p = exact.probabilities(model)
    assert tv_distance(x, p) < tv_tolerance(p, N_CHAINS)


@pytest.mark.parametrize("sampler", ["gibbs", "block"])
def test_tempered_sampling_matches_exact_at_beta(sampler):
    model = frustrated()
    S = BlockGibbsSampler(model) if sampler == "block" else GibbsSampler(model)
    x = S.sample(N_CHAINS, 60, beta=0.4, generator=torch.Generator().manual_seed(3))
    p = exact.probabilities(model, beta=0.4)
    assert tv_distance(x, p) < tv_tolerance(p, N_CHAINS)


@pytest.mark.parametrize("sampler", ["gibbs", "block"])
def test_clamped_sampling_matches_exact_conditional(sampler):
    model = frustrated()
    d = model.dim
    clamp = torch.zeros(d, dtype=torch.bool)
    clamp[[0, 3, 7]] = True
    values = torch.tensor([1.0, 0.0, 1.0])
    x0 = torch.randint(0, 2, (N_CHAINS, d), generator=torch.Generator().manual_seed(4)).float()
    x0[:, clamp] = values
    S = BlockGibbsSampler(model) if sampler == "block" else GibbsSampler(model)
    x = S.sample(x0=x0, n_steps=60, clamp=clamp, generator=torch.Generator().manual_seed(5))
    assert torch.equal(x[:, clamp], x0[:, clamp])
    states = exact.all_states(d)
    p = exact.probabilities(model) * (states[:, clamp] == values.double()).all(1)
    p = p / p.sum()
    assert tv_distance(x, p) < tv_tolerance(p[p > 0], N_CHAINS)


def test_per_chain_clamp_mask():
    model = antiferro_lattice()
    clamp = torch.zeros(4, model.dim, dtype=torch.bool)
    clamp[0, :5] = True
    clamp[2, 7:] = True
    x0 = torch.randint(0, 2, (4, model.dim), generator=torch.Generator().manual_seed(0)).float()
    for S in (GibbsSampler(model), BlockGibbsSampler(model)):
        x = S.sample(x0=x0, n_steps=20, clamp=clamp, generator=torch.Generator().manual_seed(1))
        assert torch.equal(x[clamp], x0[clamp])


@pytest.mark.parametrize("sampler", ["gibbs", "block"])
def test_annealing_finds_exact_ground_state(sampler):
    g = torch.Generator().manual_seed(7)
    model = IsingModel.erdos_renyi(12, 0.8, coupling_std=1.0, field_std=0.3, generator=g)
    _, umin = exact.ground_states(model)
    S = BlockGibbsSampler(model) if sampler == "block" else GibbsSampler(model)
    schedule = geometric_beta_schedule(0.1, 30.0, 200)
    x = S.sample(32, 200, beta=schedule, generator=torch.Generator().manual_seed(8))
    best = model.energy(x).min().item()
    assert best == pytest.approx(umin, abs=1e-4)


def test_beta_schedule_as_callable_and_zero_temperature_limit():
    model = antiferro_lattice()
    S = BlockGibbsSampler(model)
    x = S.sample(16, 50, beta=lambda t: 0.2 + 0.4 * t, generator=torch.Generator().manual_seed(0))
    assert x.shape == (16, model.dim)
    # beta = 0 samples the uniform distribution
    x0 = S.sample(N_CHAINS, 3, beta=0.0, generator=torch.Generator().manual_seed(1))
    assert (x0.mean(0) - 0.5).abs().max() < 5 * (0.25 / N_CHAINS) ** 0.5


def test_diagnostics_and_reproducibility():
    model = frustrated()
    S = GibbsSampler(model)
    a, diag = S.sample(
        50, 12, thin=4, return_diagnostics=True, generator=torch.Generator().manual_seed(9)
    )
    b = S.sample(50, 12, thin=4, generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b)
    assert diag["energy_trace"].shape == (3, 50)
    torch.testing.assert_close(diag["energy"], model.energy(a).detach())
    torch.testing.assert_close(diag["energy_trace"][-1], diag["energy"])
    assert 0.0 < diag["flip_rate"] < 1.0 and diag["seconds"] > 0 and diag["n_steps"] == 12


def test_improper_coloring_is_rejected():
    model = IsingModel.lattice(4)
    with pytest.raises(ValueError, match="not proper"):
        BlockGibbsSampler(model, coloring=[list(range(8)), list(range(8, 16))])
    with pytest.raises(ValueError, match="exactly once"):
        BlockGibbsSampler(model, coloring=[[0, 1], [2]])
    S = BlockGibbsSampler(model, coloring={i: (i // 4 + i % 4) % 2 for i in range(16)})
    assert S.n_colors == 2
    assert BlockGibbsSampler(IsingModel.lattice(5)).n_colors >= 3  # an odd torus is not bipartite


def test_sampler_bad_inputs():
    model = IsingModel.lattice(3)
    S = GibbsSampler(model)
    with pytest.raises(ValueError, match="clamp needs x0"):
        S.sample(4, 2, clamp=torch.ones(9, dtype=torch.bool))
    with pytest.raises(ValueError, match="x0 must be binary"):
        S.sample(x0=torch.full((2, 9), 0.3))
    with pytest.raises(ValueError, match="x0 must have width 9"):
        S.sample(x0=torch.zeros(2, 4))
    with pytest.raises(ValueError, match="n_steps=3"):
        S.sample(2, 3, beta=[1.0, 2.0])
    with pytest.raises(ValueError, match="n_chains"):
        S.sample()
    with pytest.raises(TypeError, match="boolean"):
        S.sample(x0=torch.zeros(2, 9), clamp=torch.ones(9))
    with pytest.raises(ValueError, match="scan"):
        GibbsSampler(model, scan="diagonal")
    with pytest.raises(TypeError, match="interaction_graph"):
        BlockGibbsSampler(CubicEnergy(4))
    # a colouring of a model without an interaction graph cannot be checked: blocks of more
    # than one site would update interacting sites together (wrong distribution)
    with pytest.raises(ValueError, match="coloring cannot be checked"):
        BlockGibbsSampler(CubicEnergy(4), coloring=[[0, 2], [1, 3]])
    with pytest.raises(ValueError, match="its own block sweep"):
        BlockGibbsSampler(RBM(4, 2), coloring=[[0, 1, 2, 3]])


@pytest.mark.parametrize(
    "beta,expected",
    [
        (torch.tensor(0.5), [0.5] * 3),
        (np.float64(0.5), [0.5] * 3),
        (np.array(0.25), [0.25] * 3),
        (np.array([0.1, 0.2, 0.3]), [0.1, 0.2, 0.3]),
        (torch.tensor([1.0, 2.0, 3.0]), [1.0, 2.0, 3.0]),
        ((0.5, 1.0, 2.0), [0.5, 1.0, 2.0]),
        (lambda t: 1.0 + t, [1.0, 2.0, 3.0]),
    ],
)
def test_beta_accepts_scalars_tensors_arrays_and_schedules(beta, expected):
    assert resolve_beta(beta, 3) == pytest.approx(expected)


def test_beta_rejects_bad_schedules():
    with pytest.raises(ValueError, match="1-D"):
        resolve_beta(torch.ones(3, 1), 3)
    with pytest.raises(ValueError, match="finite"):
        resolve_beta([1.0, float("nan"), 1.0], 3)
    with pytest.raises(TypeError, match="beta must be"):
        resolve_beta("hot", 3)


def test_block_gibbs_colouring_of_a_trainable_dense_model_stays_proper():
    # a dense model that starts at J = 0 must still be coloured as a complete graph, or its
    # sampler would update interacting sites together once training makes J nonzero
    model = IsingModel(torch.zeros(6, 6), torch.zeros(6))
    S = BlockGibbsSampler(model)
    assert S.n_colors == 6
    with torch.no_grad():
        model.weights.copy_(torch.linspace(-1.0, 1.2, model.weights.numel()))
    x = S.sample(N_CHAINS, 40, generator=torch.Generator().manual_seed(2))
    p = exact.probabilities(model)
    assert tv_distance(x, p) < tv_tolerance(p, N_CHAINS)
