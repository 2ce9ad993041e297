"""Block Gibbs on large lattices: the checkerboard kernel path builds no networkx graph, and
the lazily computed colour blocks and the sampled states are the ones of the eager path."""

from __future__ import annotations

import math

import networkx as nx
import pytest
import torch

from discrete_ebm.evaluation import exact
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.samplers import block_gibbs
from discrete_ebm.samplers.block_gibbs import BlockGibbsSampler, checkerboard_coloring


def _no_graph(*args, **kwargs):
    raise AssertionError("a networkx graph was built")


@pytest.fixture
def forbid_graphs(monkeypatch):
    """Every way a colouring could reach networkx raises."""
    monkeypatch.setattr(IsingModel, "interaction_graph", _no_graph)
    monkeypatch.setattr(nx, "Graph", _no_graph)
    monkeypatch.setattr(nx, "greedy_color", _no_graph)
    monkeypatch.setattr(block_gibbs, "greedy_coloring", _no_graph)


def states_key(x: torch.Tensor) -> list[int]:
    """Each state ``(d,)`` in {0,1} as the integer ``Σ_i x_i 2^i``."""
    return (x.double() @ 2 ** torch.arange(x.shape[1], dtype=torch.float64)).long().tolist()


def test_lattice_1024_builds_no_graph(forbid_graphs):
    model = IsingModel.lattice(1024)
    sampler = BlockGibbsSampler(model)
    assert sampler.lattice_kernel is not None
    x = sampler.sample(2, 1, beta=0.4, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2, 1024**2)
    assert set(x.unique().tolist()) == {0.0, 1.0}
    # the blocks, when asked for, are the checkerboard, checked against the edge list
    assert sampler.n_colors == 2
    for got, want in zip(sampler.blocks, checkerboard_coloring((1024, 1024))):
        assert (got == want).all()


def test_generic_path_checks_the_checkerboard_without_a_graph(forbid_graphs):
    model = IsingModel.lattice((6, 4))
    sampler = BlockGibbsSampler(model, fast_lattice=False)
    assert sampler.lattice_kernel is None and sampler.n_colors == 2
    with pytest.raises(ValueError, match="not proper: sites 0 and 1"):
        BlockGibbsSampler(model, coloring=[list(range(12)), list(range(12, 24))])


def test_greedy_colouring_still_uses_the_graph(monkeypatch):
    calls = []
    build = IsingModel.interaction_graph
    monkeypatch.setattr(IsingModel, "interaction_graph", lambda m: calls.append(1) or build(m))
    sampler = BlockGibbsSampler(IsingModel.lattice(5))  # odd torus: greedy colouring
    assert calls == [1] and sampler.n_colors == 4


def test_greedy_blocks_of_a_kernel_sampler_are_built_on_first_use(monkeypatch):
    calls = []
    build = IsingModel.interaction_graph
    monkeypatch.setattr(IsingModel, "interaction_graph", lambda m: calls.append(1) or build(m))
    sampler = BlockGibbsSampler(IsingModel.lattice((3, 5), periodic=False))  # odd: greedy
    assert sampler.lattice_kernel is not None and calls == []
    assert sampler.n_colors == 2 and calls == [1]


# states of 6 chains after 9 sweeps (β = 0.9, J = 0.4, h = 0.1, generator seed 7) and of 4
# chains after two ``step`` calls (β = 0.5, 1; seed 3), recorded with the eager colouring
RECORDED = {
    ((4, 4), True): (
        [65535, 48015, 32769, 28671, 65535, 65535],
        [28658, 32679, 65535, 36351, 65279, 35313],
        [65535, 0, 0, 29567],
    ),
    ((3, 5), False): (
        [4063, 7192, 28534, 31743, 29651, 16367],
        [17410, 29596, 31726, 3864, 32664, 31734],
        [32759, 25344, 15587, 6638],
    ),
    ((6, 4), True): (
        [16252924, 8173135, 16375769, 4063223, 16776700, 16738159],
        [16776447, 9851644, 9411071, 16506783, 12304379, 14697679],
        [6291567, 720892, 13042494, 4980708],
    ),
}


@pytest.mark.parametrize("shape,periodic", list(RECORDED))
def test_states_are_unchanged(shape, periodic):
    model = IsingModel.lattice(shape, 0.4, 0.1, periodic=periodic)
    kernel_states, generic_states, step_states = RECORDED[(shape, periodic)]
    for fast, want in ((True, kernel_states), (False, generic_states)):
        sampler = BlockGibbsSampler(model, fast_lattice=fast)
        x = sampler.sample(6, 9, beta=0.9, generator=torch.Generator().manual_seed(7))
        assert states_key(x) == want
    sampler = BlockGibbsSampler(model)
    g = torch.Generator().manual_seed(3)
    x = torch.zeros(4, model.dim)
    for beta in (0.5, 1.0):
        x, _ = sampler.step(x, beta, None, None, g)
    assert states_key(x) == step_states
    eager = BlockGibbsSampler(model, fast_lattice=False)
    assert [b.tolist() for b in sampler.blocks] == [b.tolist() for b in eager.blocks]


def test_kernel_matches_exact_enumeration_3x3():
    """Empirical distribution of 20,000 independent chains (40 sweeps from all-up) on an open
    3 × 3 lattice vs the exact one; TV within the bound of ``B`` iid draws (δ = 1e-6)."""
    model = IsingModel.lattice(3, 0.35, 0.1, periodic=False)
    sampler = BlockGibbsSampler(model)
    assert sampler.lattice_kernel is not None
    B = 20_000
    x = sampler.sample(x0=torch.ones(B, 9), n_steps=40, generator=torch.Generator().manual_seed(1))
    ref = exact.probabilities(model)
    emp = torch.bincount(exact.state_index(x), minlength=512).double() / B
    tol = 0.5 * float((ref * (1 - ref) / B).sqrt().sum()) + math.sqrt(math.log(1e6) / (2 * B))
    assert 0.5 * float((emp - ref).abs().sum()) < tol
