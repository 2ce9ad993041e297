"""Energy discrepancy on graphs: perturbations stay symmetric, loop-free and masked."""

from __future__ import annotations

import math

import pytest
import torch

from discrete_ebm import objectives
from discrete_ebm.graphs.convert import dense_to_states, fixed_mask, free_edge_mask, states_to_dense
from discrete_ebm.graphs.energy import GraphEnergy
from discrete_ebm.graphs.objectives import GraphBernoulliED, GraphGridED

N = 6


def _data(B: int = 40, seed: int = 0) -> torch.Tensor:
    """Random graphs on random node subsets (not only prefixes)."""
    g = torch.Generator().manual_seed(seed)
    adj = torch.triu((torch.rand(B, N, N, generator=g) < 0.5).float(), 1)
    adj = adj + adj.transpose(1, 2)
    mask = torch.rand(B, N, generator=g) < 0.7
    mask[:, :2] = True
    return dense_to_states(adj, mask)


def _check_valid(x: torch.Tensor, ref: torch.Tensor) -> None:
    """Dense adjacency symmetric, zero diagonal; the fixed coordinates equal those of ref."""
    adj, mask = states_to_dense(x, N)
    assert torch.equal(adj, adj.transpose(1, 2))
    assert torch.all(torch.diagonal(adj, dim1=1, dim2=2) == 0)
    fixed = fixed_mask(ref, N)
    assert torch.equal(x[fixed], ref[fixed])  # node mask kept, missing nodes untouched
    assert torch.all(adj[~mask] == 0)


@pytest.mark.parametrize("objective", ["bern", "grid"])
def test_perturbations_are_valid_graphs(objective):
    x = _data()
    obj = GraphBernoulliED(N, 0.3, n_negatives=5) if objective == "bern" else GraphGridED(N, 5)
    g = torch.Generator().manual_seed(1)
    y = obj.perturb(x, g)
    _check_valid(y, x)
    xn = obj.negatives(y, 5, g)
    assert xn.shape == (40, 5, x.shape[1])
    for j in range(5):
        _check_valid(xn[:, j], x)


def test_bernoulli_flip_rate():
    x = _data(200, seed=2)
    free = free_edge_mask(states_to_dense(x, N)[1])
    eps = 0.2
    obj = GraphBernoulliED(N, eps, n_negatives=50)
    xn = obj.negatives(x, 50, torch.Generator().manual_seed(3))
    flips = (xn != x.unsqueeze(1)).float()
    n_free = int(free.sum()) * 50
    rate = float(flips.sum()) / n_free
    # Binomial(n_free, eps): 5 standard deviations of the flip frequency
    assert abs(rate - eps) < 5 * math.sqrt(eps * (1 - eps) / n_free)
    assert float(flips[:, :, : free.shape[1]][~free.unsqueeze(1).expand(-1, 50, -1)].sum()) == 0


def test_grid_flips_one_uniform_free_slot():
    x = _data(1, seed=4).repeat(20000, 1)
    free = free_edge_mask(states_to_dense(x[:1], N)[1])[0]
    k = int(free.sum())
    obj = GraphGridED(N, 1)
    y = obj.perturb(x, torch.Generator().manual_seed(5))
    diff = y != x
    assert torch.all(diff.sum(1) == 1)
    counts = diff[:, : free.numel()].sum(0).double()
    assert torch.all(counts[~free] == 0)
    # multinomial counts: each free slot ~ Binomial(n, 1/k); 5 standard deviations
    n, p = 20000, 1 / k
    assert torch.all((counts[free] - n * p).abs() < 5 * math.sqrt(n * p * (1 - p)))


def _constant_energy_model() -> GraphEnergy:
    m = GraphEnergy(N, hidden=8, n_layers=1)
    with torch.no_grad():
        m.head[-1].weight.zero_()
        m.head[-1].bias.fill_(0.7)
    return m


@pytest.mark.parametrize("objective", ["bern", "grid"])
def test_loss_at_constant_energy(objective):
    M, w = 7, 1.5
    obj = GraphBernoulliED(N, 0.1, M, w) if objective == "bern" else GraphGridED(N, M, w)
    loss = obj(_constant_energy_model(), _data(), torch.Generator().manual_seed(0))
    assert float(loss) == pytest.approx(math.log(M + w), abs=1e-6)


def test_loss_matches_manual_estimate():
    torch.manual_seed(0)
    m = GraphEnergy(N, hidden=8, n_layers=2)
    x = _data(11, seed=6)
    obj = GraphBernoulliED(N, 0.25, n_negatives=4, w=1.0)
    loss = obj(m, x, torch.Generator().manual_seed(7))
    # replay the same draws by hand
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        y = obj.perturb(x, g)
        xn = obj.negatives(y, 4, g)
        up = m.energy(x)
        un = m.energy(xn.reshape(-1, x.shape[1])).view(11, 4)
        terms = torch.cat([up[:, None] - un, torch.zeros(11, 1)], 1)
        manual = torch.logsumexp(terms, 1).mean()
    assert float(loss) == pytest.approx(float(manual), abs=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="shape"):
        GraphBernoulliED(N).flips((3, 5), torch.zeros(3, 5))
    x = dense_to_states(torch.zeros(2, N, N), torch.tensor([[True] + [False] * (N - 1)] * 2))
    with pytest.raises(ValueError, match="free edge"):
        GraphGridED(N).perturb(x)


def test_multiscale_bernoulli_uses_one_epsilon_per_row():
    x = _data(300, seed=8)
    free = free_edge_mask(states_to_dense(x, N)[1])
    obj = GraphBernoulliED(N, (0.02, 0.9), n_negatives=40)
    g = torch.Generator().manual_seed(9)
    y = obj.perturb(x, g)
    xn = obj.negatives(y, 40, g)
    eps = obj._row_eps
    assert sorted({round(e, 6) for e in eps.tolist()}) == [0.02, 0.9]
    # flip frequency of each row's 40 negatives (vs y) over its free slots: with >= 40
    # Bernoulli draws per row the two scales are > 10 standard deviations apart
    flips = (xn != y.unsqueeze(1))[:, :, : free.shape[1]].float().sum((1, 2))
    rate = flips / (40 * free.sum(1))
    small = eps < 0.5
    assert float(rate[small].max()) < 0.2 and float(rate[~small].min()) > 0.7
    _check_valid(y, x)
    for j in range(3):
        _check_valid(xn[:, j], x)
    with pytest.raises(ValueError, match="epsilon"):
        GraphBernoulliED(N, (0.1, 1.5))


def test_registered_by_name():
    """``objectives.make("graph-ed-*")`` builds the same objective (max_nodes from the model)."""
    torch.manual_seed(0)
    m = GraphEnergy(N, hidden=8, n_layers=2)
    x = _data(11, seed=6)
    by_name = objectives.make("graph-ed-bern", m, epsilon=0.25, n_negatives=4, w=1.0)
    assert type(by_name) is GraphBernoulliED and by_name.max_nodes == N
    direct = GraphBernoulliED(N, 0.25, n_negatives=4, w=1.0)
    a = by_name(m, x, torch.Generator().manual_seed(7))
    b = direct(m, x, torch.Generator().manual_seed(7))
    assert float(a) == float(b)
    grid = objectives.make("graph-ed-grid", max_nodes=N, n_negatives=3)
    assert type(grid) is GraphGridED and (grid.max_nodes, grid.n_negatives) == (N, 3)
    assert {"graph-ed-bern", "graph-ed-grid"} <= set(objectives.names())
    with pytest.raises(ValueError, match="max_nodes"):
        objectives.make("graph-ed-grid")
