"""Orbit counts vs brute-force enumeration of induced subgraphs and known values."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from networkx.algorithms.isomorphism import GraphMatcher

from discrete_ebm.graphs.orbits import N_ORBITS, orbit_counts


def _templates():
    """(template graph, orbit label of each template node), built independently of the table."""
    t = []
    t.append((nx.path_graph(2), {0: 0, 1: 0}))
    t.append((nx.path_graph(3), {0: 1, 1: 2, 2: 1}))
    t.append((nx.complete_graph(3), {0: 3, 1: 3, 2: 3}))
    t.append((nx.path_graph(4), {0: 4, 1: 5, 2: 5, 3: 4}))
    t.append((nx.star_graph(3), {0: 7, 1: 6, 2: 6, 3: 6}))
    t.append((nx.cycle_graph(4), {v: 8 for v in range(4)}))
    paw = nx.Graph([(0, 1), (1, 2), (0, 2), (2, 3)])
    t.append((paw, {0: 10, 1: 10, 2: 11, 3: 9}))
    diamond = nx.complete_graph(4)
    diamond.remove_edge(0, 1)
    t.append((diamond, {0: 12, 1: 12, 2: 13, 3: 13}))
    t.append((nx.complete_graph(4), {v: 14 for v in range(4)}))
    return t


def brute_force(g: nx.Graph) -> np.ndarray:
    """Enumerate every connected induced subgraph on 2-4 nodes and map it onto a template
    by a graph isomorphism; the image of each node gives its orbit."""
    nodes = list(g.nodes())
    pos = {v: i for i, v in enumerate(nodes)}
    out = np.zeros((len(nodes), N_ORBITS), dtype=np.int64)
    templates = _templates()
    for k in (2, 3, 4):
        for sub in itertools.combinations(nodes, k):
            h = g.subgraph(sub)
            if not nx.is_connected(h):
                continue
            for tmpl, label in templates:
                if tmpl.number_of_nodes() != k:
                    continue
                gm = GraphMatcher(h, tmpl)
                if gm.is_isomorphic():
                    for v, w in gm.mapping.items():
                        out[pos[v], label[w]] += 1
                    break
            else:
                raise AssertionError("connected subgraph matched no template")
    return out


def test_known_path():
    c = orbit_counts(nx.path_graph(4))
    np.testing.assert_array_equal(c[0], [1, 1, 0, 0, 1] + [0] * 10)
    np.testing.assert_array_equal(c[1], [2, 1, 1, 0, 0, 1] + [0] * 9)


def test_known_star():
    c = orbit_counts(nx.star_graph(3))  # centre 0, leaves 1..3
    centre = np.zeros(N_ORBITS, int)
    centre[[0, 2, 7]] = [3, 3, 1]
    leaf = np.zeros(N_ORBITS, int)
    leaf[[0, 1, 6]] = [1, 2, 1]
    np.testing.assert_array_equal(c[0], centre)
    for v in (1, 2, 3):
        np.testing.assert_array_equal(c[v], leaf)


def test_known_clique():
    c = orbit_counts(nx.complete_graph(4))
    row = np.zeros(N_ORBITS, int)
    row[[0, 3, 14]] = [3, 3, 1]  # degree 3, 3 triangles, one 4-clique; no induced paths
    np.testing.assert_array_equal(c, np.tile(row, (4, 1)))


def test_known_paw_and_diamond():
    paw = nx.Graph([(0, 1), (1, 2), (0, 2), (2, 3)])
    c = orbit_counts(paw)
    assert c[3, 9] == 1 and c[0, 10] == 1 and c[1, 10] == 1 and c[2, 11] == 1
    diamond = nx.complete_graph(4)
    diamond.remove_edge(0, 1)
    c = orbit_counts(diamond)
    assert c[0, 12] == c[1, 12] == 1 and c[2, 13] == c[3, 13] == 1


@pytest.mark.parametrize("seed", range(6))
def test_random_graphs_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 10))
    p = float(rng.uniform(0.2, 0.8))
    g = nx.gnp_random_graph(n, p, seed=int(rng.integers(1 << 30)))
    np.testing.assert_array_equal(orbit_counts(g), brute_force(g))


def test_adjacency_input_and_errors():
    g = nx.gnp_random_graph(7, 0.5, seed=3)
    a = nx.to_numpy_array(g)
    np.testing.assert_array_equal(orbit_counts(a), orbit_counts(g))
    with pytest.raises(ValueError, match="symmetric"):
        orbit_counts(np.triu(np.ones((4, 4)), 1))
    loop = nx.Graph([(0, 0), (0, 1)])
    with pytest.raises(ValueError, match="self-loops"):
        orbit_counts(loop)
    with pytest.raises(TypeError, match="networkx Graph or numpy"):
        orbit_counts([[0, 1], [1, 0]])
