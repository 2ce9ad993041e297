"""Edge samplers and Gibbs-with-gradients against exact enumeration."""

from __future__ import annotations

import itertools

import networkx as nx
import torch

from discrete_ebm.evaluation import exact
from discrete_ebm.evaluation.metrics import total_variation, tv_tolerance
from discrete_ebm.graphs.convert import (
    dense_to_states,
    fixed_mask,
    graphs_to_states,
    num_edge_slots,
)
from discrete_ebm.graphs.energy import GraphEnergy
from discrete_ebm.graphs.sampling import EdgeSampler, initial_states, sample_graphs
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.samplers.gwg import GWGSampler

N_CHAINS = 2000


def test_gwg_matches_exact_ising():
    g = torch.Generator().manual_seed(0)
    model = IsingModel.erdos_renyi(6, 0.7, coupling_std=0.5, field_std=0.3, generator=g)
    p = exact.probabilities(model)
    x = GWGSampler(model, n_proposals=1).sample(N_CHAINS, 30, generator=g)
    # TV of N_CHAINS independent exact draws is below tv_tolerance with prob. 1 − 1e−6;
    # 30 proposals on 6 bits are many mixing times for these weak couplings.
    assert total_variation(x, p) < tv_tolerance(p, N_CHAINS)


def test_gwg_at_inverse_temperature_and_clamp():
    g = torch.Generator().manual_seed(1)
    model = IsingModel.erdos_renyi(5, 0.8, coupling_std=0.5, field_std=0.3, generator=g)
    beta = 0.6
    p = exact.probabilities(model, beta=beta)
    x = GWGSampler(model, n_proposals=2).sample(N_CHAINS, 12, beta=beta, generator=g)
    assert total_variation(x, p) < tv_tolerance(p, N_CHAINS)
    x0 = torch.randint(0, 2, (50, 5), generator=g).float()
    clamp = torch.tensor([True, False, True, False, False])
    y, diag = GWGSampler(model).sample(
        x0=x0, n_steps=20, clamp=clamp, generator=g, return_diagnostics=True
    )
    assert torch.equal(y[:, clamp], x0[:, clamp])
    assert 0.0 < diag["acceptance_rate"] <= 1.0


def _tiny_graph_model(N: int = 4) -> GraphEnergy:
    torch.manual_seed(0)
    m = GraphEnergy(N, hidden=8, n_layers=2, hub_features=False)  # the energy these tests chose
    with torch.no_grad():  # sharpen the energy so the target is far from uniform
        m.head[-1].weight.mul_(100.0)
    return m


def _exact_edge_distribution(model: GraphEnergy, n: int) -> torch.Tensor:
    """p over the 2^(n(n-1)/2) edge sets of a graph on nodes 0..n-1 (lexicographic order of
    the free slots, first slot most significant)."""
    N = model.max_nodes
    k = n * (n - 1) // 2
    rows = []
    for bits in itertools.product([0.0, 1.0], repeat=k):
        adj = torch.zeros(N, N)
        iu = torch.triu_indices(n, n, 1)
        adj[iu[0], iu[1]] = torch.tensor(bits)
        adj = adj + adj.T
        rows.append(dense_to_states(adj[None], (torch.arange(N) < n)[None]))
    x = torch.cat(rows)
    with torch.no_grad():
        return torch.softmax(-model.energy(x).double(), 0), x


def _free_bits(x: torch.Tensor, n: int, N: int) -> torch.Tensor:
    iu = torch.triu_indices(N, N, 1)
    keep = (iu[0] < n) & (iu[1] < n)
    return x[:, : num_edge_slots(N)][:, keep]


def test_edge_samplers_match_exact_graph_distribution():
    model = _tiny_graph_model(4)
    p, _ = _exact_edge_distribution(model, 4)
    assert float(p.max() / p.min()) > 100  # a non-trivial target
    g = torch.Generator().manual_seed(2)
    n = 1000
    x0 = initial_states([4] * n, 4, edge_density=0.5, generator=g)
    for method in ("gibbs", "gwg"):
        # 24 single-edge updates/proposals = 4 sweeps of the 6 free slots
        x = EdgeSampler(model, method, n_updates=1).sample(x0=x0, n_steps=24, generator=g)
        bits = _free_bits(x, 4, 4)
        assert total_variation(bits, p) < tv_tolerance(p, n), method


def test_masked_nodes_never_touched():
    model = _tiny_graph_model(5)
    g = torch.Generator().manual_seed(3)
    x0 = initial_states([3, 5, 2, 4] * 25, 5, edge_density=0.5, generator=g)
    fixed = fixed_mask(x0, 5)
    for method in ("gibbs", "gwg"):
        x = EdgeSampler(model, method, n_updates=3).sample(x0=x0, n_steps=3, generator=g)
        assert torch.equal(x[fixed], x0[fixed]), method
        assert (x[~fixed] != x0[~fixed]).any(), method


def test_init_states_draw_node_counts():
    model = _tiny_graph_model(5)
    s = EdgeSampler(model, "gwg", node_counts=[2, 4], edge_density=1.0)
    x = s.init_states(400, torch.Generator().manual_seed(4))
    n = x[:, -5:].sum(1)
    assert set(n.tolist()) == {2.0, 4.0}
    edges = x[:, : num_edge_slots(5)].sum(1)
    assert torch.equal(edges, n * (n - 1) / 2)  # density 1: complete graphs on the nodes
    frac = float((n == 2).double().mean())
    assert abs(frac - 0.5) < 5 * (0.25 / 400) ** 0.5  # Binomial(400, 1/2), 5 sd


def test_sample_graphs_removes_isolated_nodes():
    model = _tiny_graph_model(6)
    gs = sample_graphs(
        model, [6, 5, 4, 6], n_steps=5, edge_density=0.2, generator=torch.Generator().manual_seed(5)
    )
    assert len(gs) == 4
    for g in gs:
        assert all(d > 0 for _, d in g.degree())
        assert g.number_of_nodes() <= 6 and nx.number_of_selfloops(g) == 0


def test_sample_graphs_from_given_states():
    model = _tiny_graph_model(5)
    graphs = [nx.cycle_graph(5), nx.star_graph(3), nx.path_graph(4)]
    x0 = graphs_to_states(graphs, 5)
    out = sample_graphs(model, [5, 4, 4], n_steps=0, x0=x0)
    for g, h in zip(graphs, out):
        assert sorted(g.edges()) == sorted(h.edges())
