"""Validity of generated graphs: connectivity, a dominating node, novelty, uniqueness.

For generated graphs ``G_1..G_m`` and training graphs ``T``:

- ``connected``: fraction of ``G_j`` that are connected (a one-node graph is connected);
- ``dominating``: fraction of ``G_j`` with a node adjacent to all others (degree ``n − 1``;
  every Ego-small graph has one: its ego);
- ``novel``: fraction of ``G_j`` isomorphic to no graph of ``T``;
- ``unique``: number of isomorphism classes among the ``G_j`` divided by ``m``.

Isomorphism is decided exactly (``nx.is_isomorphic``) within buckets of equal
Weisfeiler–Lehman hashes (isomorphic graphs always share a hash).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import networkx as nx
import numpy as np

__all__ = ["has_dominating_node", "isomorphism_classes", "validity"]


def has_dominating_node(g: nx.Graph) -> bool:
    """True if some node of ``g`` is adjacent to all other nodes (``n ≥ 1``)."""
    n = g.number_of_nodes()
    return n > 0 and any(d == n - 1 for _, d in g.degree())


def _key(g: nx.Graph) -> str:
    with warnings.catch_warnings():  # networkx 3.5 warns that its hashes changed: not stored
        warnings.simplefilter("ignore", UserWarning)
        return nx.weisfeiler_lehman_graph_hash(g, iterations=3)


def isomorphism_classes(graphs: Sequence[nx.Graph]) -> list[int]:
    """Class label of each graph (equal labels ⇔ isomorphic), labels in first-seen order."""
    buckets: dict[str, list[tuple[nx.Graph, int]]] = {}
    labels = []
    next_label = 0
    for g in graphs:
        bucket = buckets.setdefault(_key(g), [])
        for rep, label in bucket:
            if nx.is_isomorphic(rep, g):
                labels.append(label)
                break
        else:
            bucket.append((g, next_label))
            labels.append(next_label)
            next_label += 1
    return labels


def _in_set(g: nx.Graph, index: dict[str, list[nx.Graph]]) -> bool:
    return any(nx.is_isomorphic(g, t) for t in index.get(_key(g), ()))


def validity(generated: Sequence[nx.Graph], train: Sequence[nx.Graph]) -> dict[str, float]:
    """``{"connected", "dominating", "novel", "unique"}`` fractions of ``generated`` (see the
    module docstring); ``generated`` must be non-empty."""
    if len(generated) == 0:
        raise ValueError("generated must contain at least one graph")
    index: dict[str, list[nx.Graph]] = {}
    for t in train:
        index.setdefault(_key(t), []).append(t)
    connected = [g.number_of_nodes() > 0 and nx.is_connected(g) for g in generated]
    return {
        "connected": float(np.mean(connected)),
        "dominating": float(np.mean([has_dominating_node(g) for g in generated])),
        "novel": float(np.mean([not _in_set(g, index) for g in generated])),
        "unique": len(set(isomorphism_classes(generated))) / len(generated),
    }
