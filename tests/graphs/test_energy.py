"""The GNN energy: node-permutation invariance, masking, batching and gradients."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from torch_geometric.nn import DenseGINConv

from discrete_ebm.graphs.convert import (
    dense_to_states,
    graphs_to_states,
    num_edge_slots,
    states_to_dense,
)
from discrete_ebm.graphs.energy import GraphEnergy

N = 7


def _random_states(B: int, generator: torch.Generator, prefix: bool = False) -> torch.Tensor:
    """Random graphs with random node masks (not prefixes unless ``prefix``)."""
    adj = (torch.rand(B, N, N, generator=generator) < 0.45).float()
    adj = torch.triu(adj, 1)
    adj = adj + adj.transpose(1, 2)
    if prefix:
        n = torch.randint(2, N + 1, (B, 1), generator=generator)
        mask = torch.arange(N) < n
    else:
        mask = torch.rand(B, N, generator=generator) < 0.7
        mask[:, 0] = True
    return dense_to_states(adj, mask)


def _permute(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    adj, mask = states_to_dense(x, N)
    return dense_to_states(adj[:, perm][:, :, perm], mask[:, perm])


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(3)
    return GraphEnergy(N, hidden=16, n_layers=3)


def test_uses_torch_geometric_layers(model):
    assert sum(isinstance(m, DenseGINConv) for m in model.modules()) == 3
    assert model.dim == num_edge_slots(N) + N == 28


def test_permutation_invariance(model):
    g = torch.Generator().manual_seed(0)
    x = _random_states(64, g)
    u = model.energy(x)
    assert u.std() > 1e-3  # the energy is not trivially constant
    for _ in range(5):
        perm = torch.randperm(N, generator=g)
        torch.testing.assert_close(model.energy(_permute(x, perm)), u, atol=1e-5, rtol=0)


def test_isomorphic_networkx_graphs_have_equal_energy(model):
    g = nx.gnp_random_graph(6, 0.5, seed=4)
    relabel = {v: (5 * v + 1) % 6 for v in g}  # a permutation of 0..5
    h = nx.Graph()
    h.add_nodes_from(range(6))
    h.add_edges_from((relabel[u], relabel[v]) for u, v in g.edges())
    assert nx.is_isomorphic(g, h) and sorted(g.edges()) != sorted(h.edges())
    u = model.energy(graphs_to_states([g, h], N)).detach()
    assert abs(float(u[0] - u[1])) < 1e-5


def test_edges_at_missing_nodes_are_ignored(model):
    g = torch.Generator().manual_seed(1)
    x = _random_states(16, g, prefix=True)
    junk = (torch.rand(x.shape, generator=g) < 0.5).float()
    fixed = model.fixed_mask(x)
    fixed[:, -N:] = False  # keep the node mask itself
    y = torch.where(fixed, junk, x)
    assert not torch.equal(x, y)
    torch.testing.assert_close(model.energy(y), model.energy(x), atol=1e-6, rtol=0)


def test_batched_equals_rowwise(model):
    x = _random_states(9, torch.Generator().manual_seed(2))
    u = model.energy(x)
    rows = torch.stack([model.energy(x[i : i + 1])[0] for i in range(9)])
    torch.testing.assert_close(u, rows, atol=1e-6, rtol=0)


def test_gradient_in_relaxed_edges_matches_finite_differences(model):
    m = GraphEnergy(N, hidden=8, n_layers=2, dtype=torch.float64)
    torch.manual_seed(0)
    x = _random_states(3, torch.Generator().manual_seed(5), prefix=True).double()
    adj, mask = states_to_dense(x, N)
    a = (adj * 0.6 + 0.2 * (adj == 0)).requires_grad_(True)  # a relaxed adjacency
    a_sym = (a + a.transpose(1, 2)) / 2 * mask[:, None, :] * mask[:, :, None]
    a_sym = a_sym * (1 - torch.eye(N, dtype=torch.float64))
    u = m.energy_dense(a_sym, mask)
    (grad,) = torch.autograd.grad(u.sum(), a)
    h = 1e-6
    for b, i, j in ((0, 0, 1), (1, 1, 2), (2, 0, 2)):
        ap, am = a.detach().clone(), a.detach().clone()
        ap[b, i, j] += h
        am[b, i, j] -= h

        def f(t, b=b):
            s = (t + t.transpose(1, 2)) / 2 * mask[:, None, :] * mask[:, :, None]
            return m.energy_dense(s * (1 - torch.eye(N, dtype=torch.float64)), mask)[b]

        with torch.no_grad():
            fd = (f(ap) - f(am)) / (2 * h)
        assert float(grad[b, i, j].detach()) == pytest.approx(float(fd), rel=1e-5, abs=1e-8)


def test_bad_input(model):
    with pytest.raises(ValueError, match="width"):
        model.energy(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="binary"):
        model.energy(torch.full((2, 28), 0.5))
    with pytest.raises(ValueError, match="hidden"):
        GraphEnergy(N, hidden=0)
    with pytest.raises(ValueError, match="max_nodes"):
        GraphEnergy(1)


def test_hub_features_measure_the_smallest_missing_degree():
    """``[g/N, g/(n−1), exp(−g)]`` with g the clamped soft minimum of n − 1 − deg_v."""
    graphs = [nx.star_graph(4), nx.cycle_graph(5), nx.complete_graph(4), nx.path_graph(4)]
    x = graphs_to_states(graphs, N).double()
    adj, mask = states_to_dense(x, N)
    n = mask.double().sum(-1, keepdim=True)
    hub = GraphEnergy._hub(n - 1 - adj.sum(-1), mask, n, N)
    log = torch.log(torch.tensor(2.0, dtype=torch.float64))
    # star: the ego misses nothing (its four leaves miss 3 each: e^{-12} of the sum, clamped);
    # C5: five nodes missing 2 each -> 2 − τ log 5; K4: four hubs earn no more than one -> 0;
    # P4: two inner nodes missing 1 -> 1 − τ log 2 (the ends, missing 2, add e^{-4} terms)
    g = torch.tensor([0.0, 2 - 0.25 * float(torch.log(torch.tensor(5.0))), 0.0, 1 - 0.25 * log])
    torch.testing.assert_close(hub[:, 0] * N, g, atol=5e-3, rtol=0)
    torch.testing.assert_close(hub[:, 1], g / (n[:, 0] - 1), atol=5e-3, rtol=0)
    torch.testing.assert_close(hub[:, 2], torch.exp(-g), atol=5e-3, rtol=0)
    assert hub[0, 0] == hub[2, 0] == 0.0  # exactly: clamped at 0
    assert GraphEnergy(N, hidden=8, n_layers=1, hub_features=False).head[0].in_features == (
        GraphEnergy(N, hidden=8, n_layers=1).head[0].in_features - 3
    )
