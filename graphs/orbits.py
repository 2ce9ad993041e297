"""Graphlet orbit counts of 2- to 4-node graphlets, in the ORCA orbit order.

``orbit_counts(graph)[v, k]`` is the number of INDUCED connected subgraphs on 2-4 nodes
that contain ``v`` with ``v`` in orbit ``k`` (Pržulj 2007; ORCA, Hočevar & Demšar 2014):

====  ================================  ====  ===================================
 0    edge (the degree)                  8    4-cycle
 1    3-path, end node                   9    paw (tailed triangle), tail end
 2    3-path, middle node               10    paw, triangle node of degree 2
 3    triangle                          11    paw, triangle node of degree 3
 4    4-path, end node                  12    diamond, node of degree 2
 5    4-path, inner node                13    diamond, node of degree 3
 6    3-star, leaf                      14    4-clique
 7    3-star, centre
====  ================================  ====  ===================================

Computed here by enumerating every 3- and 4-node subset at once with NumPy: the induced
edge pattern of a subset (3 or 6 bits) indexes a table giving each member's orbit. The cost
is O(n^4) in time and memory chunked by the first node, ample for the small graphs of
the graph-generation benchmarks (n <= ~60).
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np

__all__ = ["orbit_counts", "N_ORBITS", "ORBIT_NAMES"]

N_ORBITS = 15
ORBIT_NAMES = (
    "edge",
    "path3_end",
    "path3_middle",
    "triangle",
    "path4_end",
    "path4_inner",
    "star_leaf",
    "star_centre",
    "cycle4",
    "paw_tail",
    "paw_degree2",
    "paw_degree3",
    "diamond_degree2",
    "diamond_degree3",
    "clique4",
)

_PAIRS3 = ((0, 1), (0, 2), (1, 2))
_PAIRS4 = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


def _pattern_degrees(code: int, k: int, pairs) -> tuple[np.ndarray, int, bool]:
    adj = np.zeros((k, k), dtype=int)
    for bit, (a, b) in enumerate(pairs):
        if code >> bit & 1:
            adj[a, b] = adj[b, a] = 1
    connected = nx.is_connected(nx.from_numpy_array(adj))
    return adj.sum(1), int(adj.sum() // 2), connected


def _table3() -> np.ndarray:
    """``(8, 3)`` orbit of each member for every 3-bit edge pattern (−1: not connected)."""
    table = np.full((8, 3), -1, dtype=np.int64)
    for code in range(8):
        deg, m, connected = _pattern_degrees(code, 3, _PAIRS3)
        if not connected:
            continue
        table[code] = 3 if m == 3 else np.where(deg == 1, 1, 2)
    return table


def _table4() -> np.ndarray:
    """``(64, 4)`` orbit of each member for every 6-bit edge pattern (−1: not connected)."""
    table = np.full((64, 4), -1, dtype=np.int64)
    by_degree = {
        # (number of edges, max degree) -> {node degree: orbit}
        (3, 2): {1: 4, 2: 5},  # path
        (3, 3): {1: 6, 3: 7},  # star
        (4, 2): {2: 8},  # cycle
        (4, 3): {1: 9, 2: 10, 3: 11},  # paw
        (5, 3): {2: 12, 3: 13},  # diamond
        (6, 3): {3: 14},  # clique
    }
    for code in range(64):
        deg, m, connected = _pattern_degrees(code, 4, _PAIRS4)
        if not connected:
            continue
        orbit_of = by_degree[(m, int(deg.max()))]
        table[code] = [orbit_of[int(d)] for d in deg]
    return table


_TABLE3 = _table3()
_TABLE4 = _table4()


def _accumulate(out: np.ndarray, adj: np.ndarray, combos: np.ndarray, pairs, table) -> None:
    if combos.size == 0:
        return
    code = np.zeros(len(combos), dtype=np.int64)
    for bit, (a, b) in enumerate(pairs):
        code |= adj[combos[:, a], combos[:, b]].astype(np.int64) << bit
    orbits = table[code]  # (S, k)
    ok = orbits[:, 0] >= 0
    nodes, orb = combos[ok].reshape(-1), orbits[ok].reshape(-1)
    np.add.at(out, (nodes, orb), 1)


def orbit_counts(graph: nx.Graph | np.ndarray) -> np.ndarray:
    """Orbit counts ``(n_nodes, 15)`` (int64) of a graph in ORCA order (see module doc).

    Args:
        graph: an undirected networkx graph without self-loops (rows follow
            ``graph.nodes()`` order), or a symmetric 0/1 adjacency matrix ``(n, n)``.
    """
    if isinstance(graph, nx.Graph):
        if graph.is_directed():
            raise TypeError("graph must be undirected")
        if nx.number_of_selfloops(graph):
            raise ValueError("graph has self-loops; orbit counts need a simple graph")
        adj = nx.to_numpy_array(graph, nodelist=list(graph.nodes()), dtype=np.int8) != 0
    elif isinstance(graph, np.ndarray):
        if graph.ndim != 2 or graph.shape[0] != graph.shape[1]:
            raise ValueError(f"graph adjacency must be square (n, n), got shape {graph.shape}")
        adj = graph != 0
        if not np.array_equal(adj, adj.T) or adj.diagonal().any():
            raise ValueError("graph adjacency must be symmetric with a zero diagonal")
    else:
        raise TypeError(
            f"graph must be a networkx Graph or numpy array, got {type(graph).__name__}"
        )
    n = adj.shape[0]
    out = np.zeros((n, N_ORBITS), dtype=np.int64)
    out[:, 0] = adj.sum(1)
    if n >= 3:
        combos3 = np.array(list(itertools.combinations(range(n), 3)), dtype=np.int64)
        _accumulate(out, adj, combos3, _PAIRS3, _TABLE3)
    for first in range(n - 3):
        rest = itertools.combinations(range(first + 1, n), 3)
        tail = np.array(list(rest), dtype=np.int64)
        combos4 = np.concatenate([np.full((len(tail), 1), first, dtype=np.int64), tail], 1)
        _accumulate(out, adj, combos4, _PAIRS4, _TABLE4)
    return out
