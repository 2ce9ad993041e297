"""The Ego-small protocol helpers of ``discrete_ebm.graphs.experiment``."""

from __future__ import annotations

import networkx as nx
import pytest
import torch

from discrete_ebm.graphs.convert import num_edge_slots
from discrete_ebm.graphs.datasets import ego_small
from discrete_ebm.graphs.energy import GraphEnergy
from discrete_ebm.graphs.experiment import (
    EgoConfig,
    generate_ego,
    member_seeds,
    protocol_graphs,
    train_ego,
    train_ensemble,
    validation_split,
)
from discrete_ebm.graphs.metrics import graph_mmds


def test_validation_split_holds_out_training_graphs_only():
    s = ego_small()
    v = validation_split(s)
    assert len(v.test) == 40 and len(v.train) == 120
    assert v.test == s.train[:40] and v.train == s.train[40:]
    assert not any(g is t for g in v.graphs for t in s.test)  # the test set is never used
    assert len(validation_split(s, 10).test) == 10
    with pytest.raises(ValueError, match="n_validation"):
        validation_split(s, 160)


def test_protocol_graphs_keep_failed_chains_as_one_node():
    g = nx.Graph([(3, 5), (5, 7)])
    out = protocol_graphs([g, nx.Graph()])
    assert sorted(out[0].nodes()) == [0, 1, 2] and out[0].number_of_edges() == 2
    assert out[1].number_of_nodes() == 1 and out[1].number_of_edges() == 0
    # an empty chain now costs MMD (GDSS counts it), instead of being silently dropped
    s = ego_small()
    with_failures = graph_mmds(s.test, s.train[:30] + out[1:] * 10)
    without = graph_mmds(s.test, s.train[:30])
    assert with_failures["average"] > without["average"] + 0.03


def test_nothing_assumes_node_0_is_the_ego_centre(device):
    """The data README's claim "node 0 is the ego centre" is false for most graphs: every
    graph has a node adjacent to all others, but node 0 is one in only 46 of 200."""
    graphs = ego_small().graphs
    assert all(max(d for _, d in g.degree()) == g.number_of_nodes() - 1 for g in graphs)
    assert sum(g.degree(0) == g.number_of_nodes() - 1 for g in graphs) == 46
    # the trained energy and the whole sampling/scoring path are label-free: relabelling
    # every training graph leaves energies (to float precision) unchanged
    s = validation_split(ego_small(), 150)  # 10 training graphs
    cfg = EgoConfig(
        steps=2,
        n_negatives=2,
        hidden=8,
        n_layers=1,
        sweeps=0.5,
        n_generated=None,
        population=2,
        refine_steps=2,
        refine_updates=4,
        device=device,
    )
    model, _, _ = train_ego(cfg, s)
    gen = torch.Generator().manual_seed(0)
    from discrete_ebm.graphs.convert import graphs_to_states

    perm = [
        nx.relabel_nodes(g, dict(zip(g.nodes(), torch.randperm(len(g), generator=gen).tolist())))
        for g in s.train
    ]
    perm = [nx.convert_node_labels_to_integers(g, ordering="sorted") for g in perm]
    with torch.no_grad():
        u0 = model.energy(graphs_to_states(s.train, model.max_nodes).to(device))
        u1 = model.energy(graphs_to_states(perm, model.max_nodes).to(device))
    torch.testing.assert_close(u0, u1, atol=1e-5, rtol=1e-5)
    graphs, seconds = generate_ego(model, cfg, s)
    assert len(graphs) == len(s.test) and seconds >= 0
    assert len(generate_ego(model, EgoConfig(**{**cfg.__dict__, "n_generated": 7}), s)[0]) == 7


class EdgeCostEnergy(GraphEnergy):
    """U(x) = cost · (number of edges): cost ≫ 0 leaves every edge off, cost ≪ 0 on."""

    def __init__(self, max_nodes: int, cost: float):
        super().__init__(max_nodes, hidden=1, n_layers=1)
        self.cost = cost

    def energy(self, x):
        x = self.check_input(x)
        return self.cost * x[:, : num_edge_slots(self.max_nodes)].sum(1)


@pytest.mark.parametrize("grow_from", [0, 8])
def test_the_mixture_draws_graph_i_from_member_i_mod_k(grow_from):
    """Two members whose laws do not overlap (every edge off at cost +40: e^-40 per slot;
    every edge on at −40): graph i is member (i mod 2)'s, at the node count drawn for it.
    (30 random-scan sweeps: a slot is left unvisited with probability ~e^-30.)"""
    s = ego_small()
    cfg = EgoConfig(n_generated=12, sweeps=30.0, population=2, grow_from=grow_from, seed=3)
    models = [EdgeCostEnergy(s.max_nodes, 40.0), EdgeCostEnergy(s.max_nodes, -40.0)]
    graphs, _ = generate_ego(models, cfg, s)
    pick = torch.randint(0, 160, (12,), generator=torch.Generator().manual_seed(cfg.seed + 2))
    counts = [s.train[i].number_of_nodes() for i in pick.tolist()]
    for i, g in enumerate(graphs):
        if i % 2 == 0:  # no edge left: one isolated node, as GDSS scores an empty chain
            assert g.number_of_nodes() == 1 and g.number_of_edges() == 0
        else:
            assert nx.is_isomorphic(g, nx.complete_graph(counts[i]))
    # one member alone is the single-model path, draw for draw (cost 0: fair coins)
    coin = EdgeCostEnergy(s.max_nodes, 0.0)
    one, alone = generate_ego(coin, cfg, s)[0], generate_ego([coin], cfg, s)[0]
    assert [sorted(g.edges()) for g in one] == [sorted(g.edges()) for g in alone]
    assert len({len(g.edges()) for g in one}) > 3  # random graphs, not a fixed point
    with pytest.raises(ValueError, match="models must hold"):
        generate_ego([], cfg, s)


def test_ensemble_members_are_the_runs_of_their_seeds():
    """Member k of a run seeded s is, parameter for parameter, the one-energy run seeded
    s·K + k; the seeds of different runs never collide."""
    assert member_seeds(EgoConfig(seed=2, ensemble=3)) == [6, 7, 8]
    assert member_seeds(EgoConfig(seed=5, ensemble=1)) == [5]
    runs = [set(member_seeds(EgoConfig(seed=r, ensemble=3))) for r in range(4)]
    assert len(set().union(*runs)) == 12
    with pytest.raises(ValueError, match="ensemble must be >= 1"):
        member_seeds(EgoConfig(ensemble=0))
    s = validation_split(ego_small(), 150)  # 10 training graphs
    tiny = dict(steps=3, n_negatives=2, hidden=8, n_layers=1, refine_steps=2, refine_updates=4)
    models, seconds, finals = train_ensemble(EgoConfig(**tiny, seed=1, ensemble=2), s)
    assert len(models) == len(finals) == 2 and seconds > 0
    alone, _, final = train_ego(EgoConfig(**tiny, seed=3, ensemble=1), s)
    assert final == finals[1]
    for a, b in zip(models[1].state_dict().values(), alone.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    first = train_ego(EgoConfig(**tiny, seed=2, ensemble=1), s)[0]
    assert not torch.equal(models[1].head[0].weight, first.head[0].weight)
