"""Ego-small loading, the Citeseer re-extraction, and the converters."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from discrete_ebm.data.paths import data_dir
from discrete_ebm.graphs.convert import (
    dense_to_pyg,
    dense_to_states,
    fixed_mask,
    free_edge_mask,
    graphs_to_dense,
    graphs_to_states,
    num_edge_slots,
    pyg_to_dense,
    state_dim,
    states_to_dense,
    states_to_graphs,
)
from discrete_ebm.graphs.datasets import ego_graphs, ego_small, load_citeseer


def test_ego_small_split():
    d = ego_small()
    assert len(d.train) == 160 and len(d.test) == 40
    assert d.max_nodes == 17
    assert min(g.number_of_nodes() for g in d.graphs) == 4
    assert sum(g.number_of_edges() for g in d.graphs) == 1739
    for g in d.graphs:
        assert nx.is_connected(g) and nx.number_of_selfloops(g) == 0
    # the first test graph of the file: 6 nodes, 10 edges
    assert sorted(d.test[0].edges()) == [
        (0, 1),
        (0, 2),
        (0, 3),
        (0, 4),
        (0, 5),
        (1, 2),
        (1, 5),
        (2, 5),
        (3, 5),
        (4, 5),
    ]


def _citeseer_available() -> bool:
    return (data_dir() / "citeseer" / "ind.citeseer.graph").is_file()


@pytest.mark.skipif(not _citeseer_available(), reason="Citeseer not in $DISCRETE_EBM_DATA")
def test_ego_graphs_reproduce_shipped_set():
    cs = load_citeseer()
    assert cs.number_of_nodes() == 2120
    shipped = ego_small(with_ids=True).graphs
    # every radius-1 ego graph with 4..17 nodes (the shipped ones are a random 200 of them)
    every = ego_graphs(cs, min_nodes=4, max_nodes=17, limit=None)
    assert len(every) > 200
    key = {(frozenset(g.nodes()), frozenset(frozenset(e) for e in g.edges())) for g in every}
    matched_centres = []
    for g in shipped:
        ids = nx.get_node_attributes(g, "citeseer_id")
        nodes = frozenset(ids.values())
        edges = frozenset(frozenset((ids[u], ids[v])) for u, v in g.edges())
        assert (nodes, edges) in key
        # its centre: a node adjacent to every other node whose ego graph is exactly it
        centre = [
            ids[v]
            for v in g
            if g.degree(v) == g.number_of_nodes() - 1
            and set(nx.ego_graph(cs, ids[v]).nodes()) == nodes
        ]
        matched_centres.append(centre[0])
    # extracting at those centres gives the same 200 labelled graphs in file order
    again = ego_graphs(cs, centres=matched_centres, limit=None, max_nodes=17)
    assert len(again) == 200
    for g, h in zip(shipped, again):
        ids = nx.get_node_attributes(g, "citeseer_id")
        assert set(ids.values()) == set(h.nodes())
        assert {frozenset((ids[u], ids[v])) for u, v in g.edges()} == {
            frozenset(e) for e in h.edges()
        }


def test_ego_graphs_small_example_and_errors():
    g = nx.path_graph(6)  # ego of an inner node: 3 nodes
    out = ego_graphs(g, min_nodes=3, max_nodes=3, limit=None)
    assert [h.graph["centre"] for h in out] == [1, 2, 3, 4]
    assert list(out[0].nodes()) == [1, 0, 2]
    assert len(ego_graphs(g, radius=2, min_nodes=5, max_nodes=5, limit=None)) == 2
    assert len(ego_graphs(g, min_nodes=3, max_nodes=3, limit=2)) == 2
    with pytest.raises(ValueError, match="radius"):
        ego_graphs(g, radius=0)
    with pytest.raises(TypeError, match="undirected"):
        ego_graphs(nx.DiGraph(g))


def test_state_round_trip_and_masks():
    gs = [nx.cycle_graph(5), nx.complete_graph(3), nx.path_graph(7)]
    N = 7
    x = graphs_to_states(gs, N)
    assert x.shape == (3, state_dim(N)) and state_dim(N) == num_edge_slots(N) + N == 28
    adj, mask = states_to_dense(x, N)
    assert torch.equal(adj, adj.transpose(1, 2))
    assert torch.all(torch.diagonal(adj, dim1=1, dim2=2) == 0)
    assert mask.sum(1).tolist() == [5, 3, 7]
    assert torch.equal(dense_to_states(adj, mask), x)
    back = states_to_graphs(x, N)
    for g, h in zip(gs, back):
        assert nx.is_isomorphic(g, h) and list(g.edges()) == list(h.edges())
    free = free_edge_mask(mask)
    assert free.sum(1).tolist() == [10, 3, 21]
    fm = fixed_mask(x, N)
    assert fm[:, -N:].all() and torch.equal(~fm[:, : num_edge_slots(N)], free)


def test_pyg_round_trip_and_isolated_removal():
    gs = [nx.cycle_graph(4), nx.star_graph(4)]
    adj, mask = graphs_to_dense(gs, 6)
    batch = dense_to_pyg(adj, mask)
    assert batch.num_graphs == 2 and batch.num_nodes == 9 and batch.edge_index.shape[1] == 16
    adj2, mask2 = pyg_to_dense(batch, 6)
    assert torch.equal(adj2, adj) and torch.equal(mask2, mask)
    # an isolated node inside the mask is removed when converting back (protocol)
    a = adj.clone()
    a[1, 0, :] = 0
    a[1, :, 0] = 0
    out = states_to_graphs(dense_to_states(a, mask), 6)
    assert out[1].number_of_nodes() == 0  # star without its centre: all isolated
    kept = states_to_graphs(dense_to_states(a, mask), 6, remove_isolated=False)
    assert kept[1].number_of_nodes() == 5
    assert np.array_equal(nx.to_numpy_array(out[0]), nx.to_numpy_array(gs[0]))


def test_bad_input():
    with pytest.raises(ValueError, match="max_nodes"):
        graphs_to_states([nx.path_graph(5)], 4)
    with pytest.raises(ValueError, match="self-loops"):
        graphs_to_states([nx.Graph([(0, 0), (0, 1)])], 4)
    with pytest.raises(ValueError, match="shape"):
        states_to_dense(torch.zeros(2, 5), 4)
