"""Graph data sets: Ego-small (shipped) and ego graphs re-extracted from any graph.

Ego-small (EDP-GNN, GDSS, energy-discrepancy papers): 200 radius-1 ego graphs of the
largest connected component of Citeseer with 4-17 nodes; split ``test = graphs[:40]``,
``train = graphs[40:]`` (no shuffle). The JSON ships inside the package, so ``ego_small()``
needs no data directory.

``load_citeseer`` reads the Planetoid pickle with an unpickler that admits only the two
globals the file holds (``collections.defaultdict`` and ``list``) after checking the
file's SHA-256 against the published file's, so a crafted file can run no code.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from discrete_ebm.data.paths import data_dir, missing_data
from discrete_ebm.io import atomic_write

__all__ = [
    "GraphSplit",
    "ego_small",
    "load_citeseer",
    "ego_graphs",
    "save_graphs_json",
    "EGO_SMALL_TEST_SIZE",
    "CITESEER_FILE",
    "CITESEER_SHA256",
]

#: size of the Ego-small test split (the first 40 graphs).
EGO_SMALL_TEST_SIZE = 40
#: the Planetoid graph file under the data folder, and the SHA-256 of the published file
#: (kimiyoung/planetoid ``data/ind.citeseer.graph``, 61,987 bytes; the GraphRNN, EDP-GNN
#: and GDSS repositories hold the same bytes)
CITESEER_FILE = Path("citeseer") / "ind.citeseer.graph"
CITESEER_SHA256 = "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7"


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
        raise missing_data(
            "Ego-small",
            Path("ego_small") / "ego_small.json",
            root,
            get="Leave --data out (root=None) to use the copy shipped with the package.",
        )
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


class _PlanetoidUnpickler(pickle.Unpickler):
    """Unpickles only what a Planetoid graph file holds: a ``defaultdict(list)`` of lists of
    ints (Python-2 pickle, protocol 2). Any other global is refused before it is looked up,
    so nothing in the file can be called."""

    ALLOWED = frozenset(
        {("collections", "defaultdict"), ("__builtin__", "list"), ("builtins", "list")}
    )

    def __init__(self, raw: bytes, path: Path):
        super().__init__(io.BytesIO(raw), encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise ValueError(
                f"{self.path}: refused global {module}.{name} (a Planetoid graph file holds "
                "only a defaultdict of lists); the file is not the Citeseer graph"
            )
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise ValueError(f"{self.path}: refused persistent id {pid!r}")


def _read_planetoid_graph(path: Path, sha256: str | None) -> dict[int, list[int]]:
    """The adjacency lists of a Planetoid ``ind.*.graph`` file, its SHA-256 checked first."""
    raw = path.read_bytes()
    if sha256 is not None:
        got = hashlib.sha256(raw).hexdigest()
        if got != sha256.lower():
            raise ValueError(
                f"{path}: SHA-256 {got} differs from the expected {sha256.lower()}; fetch the "
                "published file with `discrete-ebm data fetch citeseer`, or pass sha256=None "
                "to load another file (still through the restricted unpickler)"
            )
    try:
        adj = _PlanetoidUnpickler(raw, path).load()
    except ValueError:  # a refused global, named by find_class
        raise
    except Exception as err:  # truncated or malformed: pickle raises many kinds
        raise ValueError(f"{path}: not a Planetoid graph pickle ({err!r})") from None
    ok = isinstance(adj, dict) and all(
        isinstance(k, int) and isinstance(v, list) and all(isinstance(u, int) for u in v)
        for k, v in adj.items()
    )
    if not ok:
        raise ValueError(f"{path}: expected a dict of int -> list of int adjacency lists")
    return adj


def load_citeseer(
    root: str | os.PathLike | None = None, *, sha256: str | None = CITESEER_SHA256
) -> nx.Graph:
    """The largest connected component of the Citeseer citation graph.

    Reads ``citeseer/ind.citeseer.graph`` (Planetoid, a Python-2 pickle of adjacency lists)
    from the data directory (``root``, else ``$DISCRETE_EBM_DATA``, else the cache folder;
    ``discrete-ebm data fetch citeseer`` puts it there), removes self-loops, keeps the
    largest connected component and relabels its nodes ``0..K−1`` in increasing order of
    their Planetoid ids (K = 2120).

    Args:
        sha256: the file's expected SHA-256 (default: the published file's); ``None`` skips
            the check (a re-extracted or modified file), the restricted unpickler still
            refusing every global but ``defaultdict`` and ``list``.

    Raises :class:`~discrete_ebm.data.paths.DataNotFoundError` if the file is missing and
    ``ValueError`` naming the file for a checksum mismatch, a refused global or bad content.
    """
    path = data_dir(root) / CITESEER_FILE
    if not path.is_file():
        raise missing_data(
            "Citeseer",
            CITESEER_FILE,
            root,
            get="Get it with `discrete-ebm data fetch citeseer`, or point --data / "
            "$DISCRETE_EBM_DATA at a folder holding citeseer/ind.citeseer.graph.",
        )
    adj_lists = _read_planetoid_graph(path, sha256)
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
