"""A permutation-invariant GNN energy on graphs (dense GIN message passing).

``GraphEnergy(max_nodes)`` is a binary ``EnergyModel`` on state rows of width
``N(N−1)/2 + N`` (upper-triangle edge bits, then the node mask; see
``discrete_ebm.graphs.convert``).
For a batch it builds the dense adjacency ``A`` (B, N, N) and node mask ``m`` (B, N) and
computes

    h⁰_v = E_deg φ(deg_v) + E_miss φ(n − 1 − deg_v) + E_clu ψ(c_v) + w_tri t_v / N + e
    hˡ_v = GIN_l(hˡ⁻¹)_v = MLP_l((1 + ε_l) hˡ⁻¹_v + Σ_u A_vu hˡ⁻¹_u)   l = 1..L
    r    = [ Σ_v m_v hˡ_v / N , Σ_v m_v hˡ_v / n ]_{l=0..L} ⊕ [n / N, |E| / N] ⊕ hub
    U(x) = MLP_head(r)                                          (B,)

with the hub features (``hub_features=True``, the default) of the smallest missing degree
``g = max(0, softmin_v (n − 1 − deg_v))`` (softmin ``−τ log Σ_v m_v exp(−(n − 1 − deg_v)/τ)``,
τ = 0.25):
``hub = [g / N, g / (n − 1), exp(−g)]`` — how far the graph is from having a node adjacent
to all others (every Ego-small graph has one, its ego), on the same scale at every node
count, so what the energy learns about it on the many small training graphs carries over
to the few large ones (without them the learned energy preferred hub-less graphs at 12 and
more nodes; ``hub_features=False`` is the earlier architecture).

for existing nodes ``v`` (``m_v = 1``), with ``φ(d)_k = exp(−(d − k)² / (2·0.5²))``,
k = 0..N−1, a soft one-hot of the degree (so ``E_deg φ`` is a learned degree embedding that
stays differentiable in ``A``) and of the missing degree ``n − 1 − deg_v`` (an ego centre
has 0), ``ψ`` a soft one-hot (11 bumps of width 0.05 on [0, 1]) of the local clustering
coefficient ``c_v = t_v / C(deg_v, 2)``, ``t_v`` the number of triangles at ``v``, ``e`` a
learned embedding shared by all existing nodes, and
``GIN_l`` torch-geometric's ``DenseGINConv``. Every term is a sum or mean over nodes of
functions equivariant under relabelling, so ``U`` is invariant to node permutations
(applied to both ``A`` and ``m``). Edges at masked-out nodes are ignored. ``B·M`` graphs
are evaluated in one batched call; gradients w.r.t. the edge bits exist (relaxed
``A``), which Gibbs-with-gradients uses.
"""

from __future__ import annotations

import torch
from torch import nn

from discrete_ebm.models.base import EnergyModel

from .convert import fixed_mask, state_dim, states_to_dense

__all__ = ["GraphEnergy"]

#: centres of the soft one-hot of the local clustering coefficient.
CLUSTERING_BINS = tuple(k / 10 for k in range(11))


def _mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.SiLU(), nn.Linear(d_hidden, d_out))


class GraphEnergy(EnergyModel):
    """GIN energy on graphs with at most ``max_nodes`` nodes.

    Args:
        max_nodes: ``N``; states have width ``N(N−1)/2 + N``.
        hidden: width of node features and MLPs.
        n_layers: number of ``DenseGINConv`` message-passing layers.
        degree_width: width of the Gaussian bumps of the soft one-hot degree.
        hub_features: add the three features of the smallest missing degree to the readout.
        device, dtype: where to create the parameters.
    """

    def __init__(
        self,
        max_nodes: int,
        hidden: int = 64,
        n_layers: int = 3,
        *,
        degree_width: float = 0.5,
        hub_features: bool = True,
        device=None,
        dtype=None,
    ):
        from torch_geometric.nn import DenseGINConv  # heavy: imported when a model is built

        super().__init__(state_dim(max_nodes), binary=True)
        for name, v in (("hidden", hidden), ("n_layers", n_layers)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not degree_width > 0:
            raise ValueError(f"degree_width must be > 0, got {degree_width}")
        N = int(max_nodes)
        self.max_nodes = N
        self.hidden = hidden
        self.degree_width = float(degree_width)
        self.degree_embedding = nn.Linear(N, hidden, bias=False)
        self.missing_degree_embedding = nn.Linear(N, hidden, bias=False)
        self.clustering_embedding = nn.Linear(len(CLUSTERING_BINS), hidden, bias=False)
        self.triangle_weight = nn.Linear(1, hidden, bias=False)
        self.node_embedding = nn.Parameter(torch.zeros(hidden))
        self.convs = nn.ModuleList(
            DenseGINConv(_mlp(hidden, hidden, hidden), train_eps=True) for _ in range(n_layers)
        )
        self.hub_features = bool(hub_features)
        self.head = _mlp(2 * hidden * (n_layers + 1) + 2 + 3 * self.hub_features, hidden, 1)
        self.register_buffer("degree_bins", torch.arange(N, dtype=torch.get_default_dtype()))
        self.register_buffer("clustering_bins", torch.tensor(CLUSTERING_BINS))
        self.to(device=device, dtype=dtype)

    def fixed_mask(self, x: torch.Tensor) -> torch.Tensor:
        """Coordinates no sampler or perturbation may change: the node-mask bits and the edge
        slots at missing nodes, ``(B, d)`` bool."""
        return fixed_mask(x, self.max_nodes)

    @staticmethod
    def _bumps(v: torch.Tensor, centres: torch.Tensor, width: float) -> torch.Tensor:
        """Soft one-hot ``exp(−(v − c_k)² / (2 width²))``: ``(B, N) -> (B, N, K)``."""
        return torch.exp(-((v.unsqueeze(-1) - centres) ** 2) / (2 * width**2))

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """U(x) for state rows ``(B, N(N−1)/2 + N)``; returns ``(B,)``."""
        x = self.check_input(x)
        adj, mask = states_to_dense(x.to(self.degree_bins.dtype), self.max_nodes)
        return self.energy_dense(adj, mask)

    def energy_dense(self, adj: torch.Tensor, node_mask: torch.Tensor) -> torch.Tensor:
        """U from dense adjacency ``(B, N, N)`` (symmetric, zero diagonal, zero at missing
        nodes) and node mask ``(B, N)``; returns ``(B,)``."""
        B, N, _ = adj.shape
        if N != self.max_nodes or node_mask.shape != (B, N):
            raise ValueError(
                f"adj must have shape (B, {self.max_nodes}, {self.max_nodes}) and node_mask "
                f"(B, {self.max_nodes}); got {tuple(adj.shape)} and {tuple(node_mask.shape)}"
            )
        m = node_mask.to(adj.dtype)
        deg = adj.sum(-1)  # (B, N)
        tri = ((adj @ adj) * adj).sum(-1) / 2  # triangles at each node
        n = m.sum(-1, keepdim=True).clamp_min(1.0)
        # local clustering coefficient t_v / C(deg_v, 2) (0 where deg_v < 2)
        pairs = (deg * (deg - 1) / 2).clamp_min(1.0)
        clust = tri / pairs
        h = (
            self.degree_embedding(self._bumps(deg, self.degree_bins, self.degree_width))
            + self.missing_degree_embedding(
                self._bumps(n - 1 - deg, self.degree_bins, self.degree_width)
            )
            + self.clustering_embedding(self._bumps(clust, self.clustering_bins, 0.05))
            + self.triangle_weight(tri.unsqueeze(-1) / N)
        )
        h = (h + self.node_embedding) * m.unsqueeze(-1)
        feats = []
        for layer in range(len(self.convs) + 1):
            if layer:
                h = self.convs[layer - 1](h, adj, mask=node_mask, add_loop=True)
            s = h.sum(1)
            feats += [s / N, s / n]
        n_edges = adj.sum((1, 2)) / 2
        feats += [n / N, (n_edges / N).unsqueeze(-1)]
        if self.hub_features:
            feats.append(self._hub(n - 1 - deg, node_mask, n, N))
        return self.head(torch.cat(feats, dim=-1)).squeeze(-1)

    @staticmethod
    def _hub(missing: torch.Tensor, node_mask: torch.Tensor, n: torch.Tensor, N: int):
        """``[g / N, g / (n − 1), exp(−g)]`` ``(B, 3)`` for the soft minimum ``g`` over existing
        nodes of the missing degrees ``(B, N)``."""
        tau = 0.25
        z = (-missing / tau).masked_fill(~node_mask, float("-inf"))
        g = -tau * torch.logsumexp(z, dim=-1, keepdim=True)
        # >= 0: several dominating nodes earn nothing more than one (bounded features, so
        # the head cannot extrapolate to ever lower energies on dense graphs)
        g = torch.where(torch.isfinite(g), g, torch.zeros_like(g)).clamp_min(0.0)
        return torch.cat([g / N, g / (n - 1).clamp_min(1.0), torch.exp(-g)], dim=-1)
