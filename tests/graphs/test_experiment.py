"""The Ego-small protocol helpers of ``discrete_ebm.graphs.experiment``."""

from __future__ import annotations

import networkx as nx
import pytest
import torch

from discrete_ebm.graphs.datasets import ego_small
from discrete_ebm.graphs.experiment import (
    EgoConfig,
    generate_ego,
    protocol_graphs,
    train_ego,
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
