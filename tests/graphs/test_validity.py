"""Validity rates on hand-made graphs, and the protocol helpers against ``graph_mmds``."""

from __future__ import annotations

import networkx as nx
import pytest

from discrete_ebm.graphs.datasets import ego_small
from discrete_ebm.graphs.metrics import graph_mmds
from discrete_ebm.graphs.protocols import evaluate_generated, real_floor, subset_mmds
from discrete_ebm.graphs.validity import has_dominating_node, isomorphism_classes, validity


def test_dominating_node_on_hand_made_graphs():
    assert has_dominating_node(nx.star_graph(4))  # the ego of a star
    assert has_dominating_node(nx.complete_graph(3))
    assert has_dominating_node(nx.empty_graph(1))  # one node: adjacent to all 0 others
    assert not has_dominating_node(nx.path_graph(4))  # degrees 1, 2, 2, 1 of n − 1 = 3
    assert not has_dominating_node(nx.cycle_graph(4))
    assert not has_dominating_node(nx.Graph())


def test_validity_rates_are_exact_fractions():
    star, path, cycle = nx.star_graph(3), nx.path_graph(4), nx.cycle_graph(4)
    two_edges = nx.Graph([(0, 1), (2, 3)])  # disconnected, no dominating node
    relabelled_star = nx.relabel_nodes(star, {0: 3, 3: 0})  # isomorphic to the star
    generated = [star, path, cycle, two_edges, relabelled_star]
    v = validity(generated, train=[star, nx.complete_graph(4)])
    assert v["connected"] == 4 / 5
    assert v["dominating"] == 2 / 5  # the star twice
    assert v["novel"] == 3 / 5  # both stars are training graphs
    assert v["unique"] == 4 / 5  # star, path, cycle, 2K2
    assert isomorphism_classes(generated) == [0, 1, 2, 3, 0]
    with pytest.raises(ValueError, match="generated"):
        validity([], [star])


def test_isomorphism_is_exact_within_hash_buckets():
    # same degree sequence and Weisfeiler–Lehman colours, not isomorphic: C6 vs two triangles
    c6, two_triangles = nx.cycle_graph(6), nx.disjoint_union(nx.cycle_graph(3), nx.cycle_graph(3))
    assert isomorphism_classes([c6, two_triangles, nx.cycle_graph(6)]) == [0, 1, 0]


def test_the_test_set_is_30_percent_novel_and_all_valid():
    s = ego_small()
    v = validity(s.test, s.train)
    assert v["connected"] == v["dominating"] == 1.0
    assert v["novel"] == 12 / 40
    assert v["unique"] == 25 / 40


def test_subset_mmds_equal_graph_mmds():
    s = ego_small()
    methods = ("degree", "clustering", "orbit", "spectral")
    subsets = [range(0, 40), [5, 7, 9, 100, 150, 7]]
    rows = subset_mmds(s.test, s.train, subsets, methods)
    for row, idx in zip(rows, subsets):
        direct = graph_mmds(s.test, [s.train[i] for i in idx], methods)
        for k in (*methods, "average"):
            assert row[k] == pytest.approx(direct[k], abs=1e-12)


def test_references_reproduce_the_published_floors():
    s = ego_small()
    assert subset_mmds(s.test, s.train, [range(160)])[0]["average"] == pytest.approx(
        0.01531, abs=1e-5
    )
    floor = real_floor(s.test, s.train, size=40, draws=30, seed=0)
    assert floor["average"]["mean"] == pytest.approx(0.02376, abs=1e-5)
    assert floor["average"]["std"] == pytest.approx(0.00884, abs=1e-5)


def test_evaluate_generated_reports_both_protocols():
    s = ego_small()
    gen = s.train[:100]
    ev = evaluate_generated(s.test, s.train, gen)
    assert ev["edp_gnn"]["n_generated"] == 100 and ev["gdss"]["n_generated"] == 40
    assert ev["edp_gnn"]["average"] == pytest.approx(graph_mmds(s.test, gen)["average"], abs=1e-12)
    assert ev["gdss"]["average"] == pytest.approx(
        graph_mmds(s.test, gen[:40])["average"], abs=1e-12
    )
    assert ev["gdss_blocks"]["n_blocks"] == 2  # graphs 0-39 and 40-79
    assert ev["validity"]["novel"] == 0.0  # training graphs are not novel


def test_floor_at_edp_gnn_size_draws_with_replacement():
    s = ego_small()
    floor = real_floor(s.test, s.train, size=1024, draws=30, seed=0, replace=True)
    # a perfect model of the 160 training graphs, 1,024 graphs: 0.0150 ± 0.0016 (2026-12-05)
    assert floor["average"]["mean"] == pytest.approx(0.01502, abs=1e-4)
    assert floor["average"]["std"] == pytest.approx(0.0016, abs=2e-4)
    with pytest.raises(ValueError, match="size"):
        real_floor(s.test, s.train, size=161)
