"""Graph data sets: Ego-small (shipped) and ego graphs re-extracted from any graph.

Ego-small (EDP-GNN, GDSS, energy-discrepancy papers): 200 radius-1 ego graphs of the
largest connected component of Citeseer with 4-17 nodes; split ``test = graphs[:40]``,
``train = graphs[40:]`` (no shuffle). The JSON ships inside the package, so ``ego_small()``
needs no data directory.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from discrete_ebm.data.paths import data_dir
from discrete_ebm.io import atomic_write

__all__ = [
    "GraphSplit",
    "ego_small",
    "load_citeseer",
    "ego_graphs",
    "save_graphs_json",
    "EGO_SMALL_TEST_SIZE",
]

#: size of the Ego-small test split (the first 40 graphs).
EGO_SMALL_TEST_SIZE = 40


@dataclass
class GraphSplit:
    """A train/test split of networkx graphs (nodes labelled ``0..n−1``)."""

    train: list[nx.Graph]
    test: list[nx.Graph]

    @property
    def graphs(self) -> list[nx.Graph]:
        """All graphs in file order (test first)."""
        return self.test + self.train

    @property
    def max_nodes(self) -> int:
        """Largest node count over both splits."""
        return max(g.number_of_nodes() for g in self.graphs)


def _read_ego_json(root: str | os.PathLike | None) -> dict:
    if root is None:
        # next to this file (works for an installed wheel and an editable checkout alike)
        return json.loads((Path(__file__).parent / "data" / "ego_small.json").read_text())
    path = data_dir(root) / "ego_small" / "ego_small.json"
    if not path.is_file():
        raise FileNotFoundError(f"ego_small.json not found at {path} (root={root!r})")
    return json.loads(path.read_text())


def ego_small(root: str | os.PathLike | None = None, *, with_ids: bool = False) -> GraphSplit:
    """The 200 Ego-small graphs with the standard split (test = first 40, train = other 160).

    Args:
        root: data directory holding ``ego_small/ego_small.json``; ``None`` reads the copy
            shipped in the package.
        with_ids: store each node's Citeseer-LCC id as node attribute ``"citeseer_id"``.

    Each graph has nodes ``0..n−1`` in file order (no self-loops, no isolated nodes).
    """
    raw = _read_ego_json(root)
    graphs = []
    for rec in raw["graphs"]:
        g = nx.Graph()
        g.add_nodes_from(range(int(rec["n"])))
        g.add_edges_from((int(u), int(v)) for u, v in rec["edges"])
        if with_ids:
            nx.set_node_attributes(g, dict(enumerate(rec["citeseer_lcc_ids"])), "citeseer_id")
        graphs.append(g)
    k = EGO_SMALL_TEST_SIZE
    return GraphSplit(train=graphs[k:], test=graphs[:k])


def load_citeseer(root: str | os.PathLike | None = None) -> nx.Graph:
    """The largest connected component of the Citeseer citation graph.

    Reads ``citeseer/ind.citeseer.graph`` (Planetoid, a Python-2 pickle of adjacency lists)
    from the data directory (``root`` or ``$DISCRETE_EBM_DATA``), removes self-loops, keeps
    the largest connected component and relabels its nodes ``0..K−1`` in increasing order of
    their Planetoid ids (K = 2120).
    """
    path = data_dir(root) / "citeseer" / "ind.citeseer.graph"
    if not path.is_file():
        raise FileNotFoundError(
            f"Citeseer graph not found at {path}; pass root= or set $DISCRETE_EBM_DATA"
        )
    with open(path, "rb") as f:
        adj_lists = pickle.load(f, encoding="latin1")  # noqa: S301 - trusted local data file
    g = nx.from_dict_of_lists(adj_lists)
    g.remove_edges_from(list(nx.selfloop_edges(g)))
    lcc = sorted(max(nx.connected_components(g), key=len))
    sub = nx.Graph()
    sub.add_nodes_from(range(len(lcc)))
    index = {v: i for i, v in enumerate(lcc)}
    sub.add_edges_from((index[u], index[v]) for u, v in g.subgraph(lcc).edges())
    return sub


def ego_graphs(
    graph: nx.Graph,
    radius: int = 1,
    min_nodes: int = 4,
    max_nodes: int = 18,
    limit: int | None = 200,
    *,
    centres: Iterable | None = None,
) -> list[nx.Graph]:
    """Ego graphs of ``graph``: for each centre ``c`` the subgraph induced by the nodes within
    ``radius`` hops of ``c``, kept when ``min_nodes <= n <= max_nodes``.

    Args:
        graph: an undirected networkx graph (self-loops are ignored).
        radius: hop radius of the ego neighbourhood (>= 1).
        min_nodes, max_nodes: node-count filter (inclusive).
        limit: keep at most this many (the first in centre order); ``None`` keeps all.
        centres: centres to use, in this order (default: every node in ``graph.nodes()``
            order).

    Returns graphs whose nodes keep their labels in ``graph`` (the centre first, then
    increasing labels); ``g.graph["centre"]`` is the centre. Relabel with
    ``nx.convert_node_labels_to_integers`` for training.
    """
    if not isinstance(graph, nx.Graph) or graph.is_directed():
        raise TypeError(f"graph must be an undirected networkx Graph, got {type(graph).__name__}")
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 1:
        raise ValueError(f"radius must be an int >= 1, got {radius!r}")
    if not (
        isinstance(min_nodes, int) and isinstance(max_nodes, int) and 1 <= min_nodes <= max_nodes
    ):
        raise ValueError(f"need ints 1 <= min_nodes <= max_nodes, got {min_nodes!r}, {max_nodes!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be None or an int >= 0, got {limit!r}")
    g = graph
    if nx.number_of_selfloops(g):
        g = g.copy()
        g.remove_edges_from(list(nx.selfloop_edges(g)))
    out: list[nx.Graph] = []
    for c in graph.nodes() if centres is None else centres:
        if c not in g:
            raise ValueError(f"centre {c!r} is not a node of graph")
        if limit is not None and len(out) >= limit:
            break
        near = nx.single_source_shortest_path_length(g, c, cutoff=radius)
        if not min_nodes <= len(near) <= max_nodes:
            continue
        order = [c] + sorted((v for v in near if v != c), key=_sort_key)
        ego = nx.Graph(centre=c)
        ego.add_nodes_from(order)
        ego.add_edges_from(g.subgraph(order).edges())
        out.append(ego)
    return out


def _sort_key(v):
    return (0, v) if isinstance(v, int) else (1, str(v))


def save_graphs_json(graphs: list[nx.Graph], path: str | os.PathLike) -> Path:
    """Write graphs as ``{"graphs": [{"n": n, "edges": [[u, v], ...]}, ...]}`` (nodes
    relabelled ``0..n−1`` in ``nodes()`` order), atomically (creating the folder)."""
    recs = []
    for g in graphs:
        h = nx.convert_node_labels_to_integers(g)
        recs.append({"n": h.number_of_nodes(), "edges": [[int(u), int(v)] for u, v in h.edges()]})
    text = json.dumps({"graphs": recs}) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))
