"""Converters between graph representations.

A graph on ``n <= N`` nodes (``N = max_nodes``) is stored as a binary STATE ROW of length
``D + N`` with ``D = N(N−1)/2``:

- ``x[:, :D]``: the upper triangle of the adjacency matrix, row-major
  (``torch.triu_indices(N, N, 1)`` order: (0,1), (0,2), ..., (0,N−1), (1,2), ...);
- ``x[:, D:]``: the node mask (1 = the node exists). Datasets use prefix masks
  (nodes ``0..n−1``), but any mask is valid.

An edge slot is FREE when both its endpoints exist; the other slots are 0 and are never
touched by perturbations or samplers (see ``free_edge_mask``). The other representations
are dense adjacency ``(B, N, N)`` with a boolean node mask ``(B, N)``, networkx graphs and
torch-geometric ``Data`` / ``Batch``.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import torch

__all__ = [
    "num_edge_slots",
    "state_dim",
    "triu_index",
    "split_state",
    "states_to_dense",
    "dense_to_states",
    "free_edge_mask",
    "fixed_mask",
    "graph_to_dense",
    "graphs_to_dense",
    "graphs_to_states",
    "dense_to_graphs",
    "states_to_graphs",
    "dense_to_pyg",
    "pyg_to_dense",
    "graphs_to_pyg",
]


def _check_max_nodes(max_nodes) -> int:
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int | np.integer) or max_nodes < 2:
        raise ValueError(f"max_nodes must be an int >= 2, got {max_nodes!r}")
    return int(max_nodes)


def num_edge_slots(max_nodes: int) -> int:
    """``D = N(N−1)/2``, the number of upper-triangle entries."""
    n = _check_max_nodes(max_nodes)
    return n * (n - 1) // 2


def state_dim(max_nodes: int) -> int:
    """Width ``D + N`` of a state row (edge bits, then node-mask bits)."""
    return num_edge_slots(max_nodes) + _check_max_nodes(max_nodes)


def triu_index(max_nodes: int, device=None) -> torch.Tensor:
    """Row-major upper-triangle index pairs, shape ``(2, D)`` (long)."""
    n = _check_max_nodes(max_nodes)
    return torch.triu_indices(n, n, 1, device=device)


def split_state(x: torch.Tensor, max_nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(edges (B, D), node_mask (B, N))`` views of state rows ``x`` of shape ``(B, D + N)``."""
    d_e = num_edge_slots(max_nodes)
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != d_e + max_nodes:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"x must have shape (B, {d_e + max_nodes}) for max_nodes={max_nodes}, got {shape}"
        )
    return x[:, :d_e], x[:, d_e:]


def states_to_dense(x: torch.Tensor, max_nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense symmetric adjacency ``(B, N, N)`` (zero diagonal, rows/columns of missing nodes
    zeroed) and boolean node mask ``(B, N)`` from state rows ``(B, D + N)``.

    Differentiable in the edge bits (used by gradient-informed samplers).
    """
    edges, mask = split_state(x, max_nodes)
    B, N = x.shape[0], max_nodes
    iu = triu_index(N, device=x.device)
    flat = iu[0] * N + iu[1]
    upper = x.new_zeros(B, N * N).index_copy(1, flat, edges).view(B, N, N)
    adj = upper + upper.transpose(1, 2)
    m = mask.to(x.dtype)
    adj = adj * m.unsqueeze(1) * m.unsqueeze(2)
    return adj, mask > 0.5


def dense_to_states(adj: torch.Tensor, node_mask: torch.Tensor | None = None) -> torch.Tensor:
    """State rows ``(B, D + N)`` from dense adjacency ``(B, N, N)`` (upper triangle read) and a
    node mask ``(B, N)`` (default: every node exists). Edges at missing nodes are dropped."""
    if not isinstance(adj, torch.Tensor) or adj.dim() != 3 or adj.shape[1] != adj.shape[2]:
        raise ValueError(f"adj must have shape (B, N, N), got {tuple(getattr(adj, 'shape', ()))}")
    B, N, _ = adj.shape
    dtype = adj.dtype if adj.is_floating_point() else torch.float32
    if node_mask is None:
        node_mask = torch.ones(B, N, dtype=torch.bool, device=adj.device)
    if node_mask.shape != (B, N):
        raise ValueError(f"node_mask must have shape {(B, N)}, got {tuple(node_mask.shape)}")
    m = node_mask.to(dtype)
    a = (adj.to(dtype) != 0).to(dtype) * m.unsqueeze(1) * m.unsqueeze(2)
    iu = triu_index(N, device=adj.device)
    return torch.cat([a[:, iu[0], iu[1]], m], dim=1)


def free_edge_mask(node_mask: torch.Tensor) -> torch.Tensor:
    """Edge slots whose two endpoints exist, ``(B, D)`` bool, from a node mask ``(B, N)``."""
    nm = node_mask > 0.5 if node_mask.is_floating_point() else node_mask.bool()
    iu = triu_index(nm.shape[1], device=nm.device)
    return nm[:, iu[0]] & nm[:, iu[1]]


def fixed_mask(x: torch.Tensor, max_nodes: int) -> torch.Tensor:
    """Coordinates of state rows that must never change, ``(B, D + N)`` bool: the node-mask
    bits and the edge slots at missing nodes (the complement of the free edge slots)."""
    _, mask = split_state(x, max_nodes)
    free = free_edge_mask(mask)
    return torch.cat([~free, torch.ones_like(mask, dtype=torch.bool)], dim=1)


# ------------------------------------------------------------------ networkx
def _check_graph(g, name: str) -> nx.Graph:
    if not isinstance(g, nx.Graph) or g.is_directed():
        raise TypeError(f"{name} must be an undirected networkx Graph, got {type(g).__name__}")
    if nx.number_of_selfloops(g):
        raise ValueError(f"{name} has self-loops; remove them first (nx.selfloop_edges)")
    return g


def graph_to_dense(graph: nx.Graph, max_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Adjacency ``(N, N)`` float32 and node mask ``(N,)`` bool of one graph, its nodes taken
    in ``graph.nodes()`` order as ``0..n−1``."""
    g = _check_graph(graph, "graph")
    N = _check_max_nodes(max_nodes)
    n = g.number_of_nodes()
    if n > N:
        raise ValueError(f"graph has {n} nodes, more than max_nodes={N}")
    adj = np.zeros((N, N), dtype=np.float32)
    adj[:n, :n] = nx.to_numpy_array(g, nodelist=list(g.nodes()), dtype=np.float32)
    mask = np.zeros(N, dtype=bool)
    mask[:n] = True
    return (adj != 0).astype(np.float32), mask


def graphs_to_dense(
    graphs: Sequence[nx.Graph], max_nodes: int, *, device=None, dtype=torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense adjacency ``(B, N, N)`` and node mask ``(B, N)`` of a list of graphs."""
    if isinstance(graphs, nx.Graph) or not isinstance(graphs, Sequence):
        raise TypeError("graphs must be a list of networkx graphs")
    pairs = [graph_to_dense(g, max_nodes) for g in graphs]
    N = _check_max_nodes(max_nodes)
    adj = np.stack([p[0] for p in pairs]) if pairs else np.zeros((0, N, N), np.float32)
    mask = np.stack([p[1] for p in pairs]) if pairs else np.zeros((0, N), bool)
    return (
        torch.as_tensor(adj, dtype=dtype, device=device),
        torch.as_tensor(mask, device=device),
    )


def graphs_to_states(
    graphs: Sequence[nx.Graph], max_nodes: int, *, device=None, dtype=torch.float32
) -> torch.Tensor:
    """State rows ``(B, D + N)`` of a list of networkx graphs (prefix node masks)."""
    adj, mask = graphs_to_dense(graphs, max_nodes, device=device, dtype=dtype)
    return dense_to_states(adj, mask)


def dense_to_graphs(
    adj: torch.Tensor, node_mask: torch.Tensor | None = None, *, remove_isolated: bool = True
) -> list[nx.Graph]:
    """networkx graphs from dense adjacency ``(B, N, N)`` and node mask ``(B, N)``.

    Self-loops are dropped; with ``remove_isolated`` (the Ego-small protocol) so are nodes
    without edges. Nodes are relabelled ``0..n−1`` in index order.
    """
    a = adj.detach().cpu().numpy() != 0
    B, N, _ = a.shape
    m = np.ones((B, N), bool) if node_mask is None else node_mask.detach().cpu().numpy() > 0.5
    out = []
    for b in range(B):
        keep = np.flatnonzero(m[b])
        sub = a[b][np.ix_(keep, keep)]
        sub = np.triu(sub, 1)
        sub = sub | sub.T
        g = nx.from_numpy_array(sub.astype(np.int8))
        g.remove_edges_from(list(nx.selfloop_edges(g)))
        if remove_isolated:
            g.remove_nodes_from([v for v in list(g.nodes()) if g.degree(v) == 0])
        out.append(nx.convert_node_labels_to_integers(g))
    return out


def states_to_graphs(
    x: torch.Tensor, max_nodes: int, *, remove_isolated: bool = True
) -> list[nx.Graph]:
    """networkx graphs from state rows ``(B, D + N)`` (see ``dense_to_graphs``)."""
    adj, mask = states_to_dense(x.detach(), max_nodes)
    return dense_to_graphs(adj, mask, remove_isolated=remove_isolated)


# ---------------------------------------------------------- torch-geometric
def dense_to_pyg(adj: torch.Tensor, node_mask: torch.Tensor | None = None):
    """A torch-geometric ``Batch`` (one ``Data`` per graph, ``edge_index`` in both directions,
    ``num_nodes`` = number of existing nodes) from dense adjacency and node mask."""
    from torch_geometric.data import Batch, Data

    B, N, _ = adj.shape
    if node_mask is None:
        node_mask = torch.ones(B, N, dtype=torch.bool, device=adj.device)
    data = []
    for b in range(B):
        keep = torch.nonzero(node_mask[b]).reshape(-1)
        sub = adj[b][keep][:, keep] != 0
        sub = sub & ~torch.eye(len(keep), dtype=torch.bool, device=adj.device)
        data.append(Data(edge_index=torch.nonzero(sub).T.contiguous(), num_nodes=len(keep)))
    return Batch.from_data_list(data)


def pyg_to_dense(batch, max_nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense adjacency ``(B, N, N)`` and node mask ``(B, N)`` from a ``Data`` or ``Batch``."""
    from torch_geometric.data import Batch
    from torch_geometric.utils import to_dense_adj, to_dense_batch

    N = _check_max_nodes(max_nodes)
    if not isinstance(batch, Batch):
        batch = Batch.from_data_list([batch])
    idx = batch.batch
    counts = torch.bincount(idx, minlength=batch.num_graphs)
    if counts.numel() and int(counts.max()) > N:
        raise ValueError(f"a graph has {int(counts.max())} nodes, more than max_nodes={N}")
    adj = to_dense_adj(batch.edge_index, idx, max_num_nodes=N, batch_size=batch.num_graphs)
    ones = torch.ones(batch.num_nodes, 1, device=idx.device)
    _, mask = to_dense_batch(ones, idx, max_num_nodes=N, batch_size=batch.num_graphs)
    adj = ((adj + adj.transpose(1, 2)) > 0).float()
    adj = adj * (1 - torch.eye(N, device=adj.device))
    return adj, mask


def graphs_to_pyg(graphs: Sequence[nx.Graph]):
    """A torch-geometric ``Batch`` of a list of networkx graphs (nodes in ``nodes()`` order)."""
    n_max = max([g.number_of_nodes() for g in graphs] + [2])
    adj, mask = graphs_to_dense(graphs, n_max)
    return dense_to_pyg(adj, mask)
