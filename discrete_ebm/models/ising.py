"""Ising model on any graph: ``U(x) = −½ sᵀJs − hᵀs`` with ``s = 2x − 1``.

``J`` is symmetric with a zero diagonal; positive ``J_ij`` is ferromagnetic. Couplings are
stored as an edge list ``edges (E, 2)`` (``i < j``) with one trainable weight per edge, so
``J`` stays symmetric with a zero diagonal under any gradient step. Dense storage keeps
every pair ``i < j``; sparse storage keeps only the graph's edges. The public API is the
same for both; ``J`` and ``h`` always return the dense current values.

Other sign conventions appear at the boundary only:
- dimod: ``E(s) = Σ_i h'_i s_i + Σ_{i<j} J'_ij s_i s_j`` (minimised), so ``h' = −h``,
  ``J' = −J`` (``to_dimod`` / ``from_dimod``);
- the GWG / energy-discrepancy lattice benchmark: ``log p̃(x) = sᵀ(σA)s`` over the full
  symmetric adjacency ``A``, i.e. ``J = 2σA`` here (see ``discrete_ebm.data.ising``).
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import torch
from torch import nn

from .._validation import as_tensor
from .base import EnergyModel


def _check_coupling_matrix(J: torch.Tensor, name: str = "J") -> None:
    if J.dim() != 2 or J.shape[0] != J.shape[1]:
        raise ValueError(f"{name} must be a square (d, d) matrix, got shape {tuple(J.shape)}")
    if not torch.isfinite(J).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if not torch.allclose(J, J.T, atol=1e-6, rtol=1e-5):
        raise ValueError(f"{name} must be symmetric (J == J.T)")
    if (J.diagonal() != 0).any():
        raise ValueError(f"{name} must have a zero diagonal (no self-couplings)")


class IsingModel(EnergyModel):
    """Pairwise binary model ``U(x) = −½ sᵀJs − hᵀs``, ``s = 2x − 1 ∈ {−1, +1}^d``.

    Args:
        J: ``(d, d)`` symmetric coupling matrix with zero diagonal (tensor or array).
        h: ``(d,)`` external field (zeros if ``None``).
        sparse: store only the nonzero pairs of ``J`` (an edge list) instead of all pairs.
            Dense storage (the default) is what a trainable fully-connected model needs:
            ``IsingModel(torch.zeros(d, d), torch.zeros(d))`` learns every pair.
        dtype: floating dtype of the parameters (default: ``J``'s if floating, else float32).

    Parameters: ``weights`` (one per stored pair, ``J[i, j] = J[j, i] = weights[e]``) and
    ``h``. The local field is ``φ(s) = Js + h`` and ``p(x_i = 1 | x_−i) = σ(2 φ_i)``.
    """

    def __init__(self, J, h=None, *, sparse: bool = False, dtype: torch.dtype | None = None):
        J = as_tensor(J, name="J")
        if dtype is None:
            dtype = J.dtype if J.is_floating_point() else torch.float32
        J = J.to(dtype)
        _check_coupling_matrix(J)
        d = J.shape[0]
        if sparse:
            iu = torch.nonzero(torch.triu(J, diagonal=1) != 0)
        else:
            iu = torch.triu_indices(d, d, offset=1, device=J.device).T
        self._init_storage(d, iu, J[iu[:, 0], iu[:, 1]], h, dense=not sparse, dtype=dtype)

    # ----------------------------------------------------------------- storage
    def _init_storage(self, d, edges, weights, h, *, dense, dtype):
        super().__init__(d, binary=True)
        edges = torch.as_tensor(edges, dtype=torch.long).reshape(-1, 2)
        if h is None:
            h = torch.zeros(d, dtype=dtype)
        h = as_tensor(h, name="h").to(dtype).reshape(-1)
        if h.shape != (d,):
            raise ValueError(f"h must have shape ({d},), got {tuple(h.shape)}")
        if not torch.isfinite(h).all():
            raise ValueError("h contains NaN or infinite values")
        weights = torch.as_tensor(weights, dtype=dtype).reshape(-1)
        if not torch.isfinite(weights).all():
            raise ValueError("couplings (weights) contain NaN or infinite values")
        self.is_dense = bool(dense)
        self.register_buffer("edges", edges.to(h.device))
        self.weights = nn.Parameter(torch.as_tensor(weights, dtype=dtype).reshape(-1).clone())
        self.h = nn.Parameter(h.clone())
        self.lattice_shape: tuple[int, int] | None = None
        self.periodic = False
        self.node_labels: list | None = None
        self._nbr_cache = None
        self._J_cache = None

    @classmethod
    def from_edges(
        cls, n: int, edges, weights, h=None, *, sparse: bool = True, dtype=torch.float32
    ) -> IsingModel:
        """Model on ``n`` sites from an edge list ``(E, 2)`` and weights ``(E,)``.

        Repeated pairs are merged by summing their weights; ``(i, j)`` and ``(j, i)`` are the
        same pair. Self-loops raise a ``ValueError``.
        """
        edges = torch.as_tensor(np.asarray(edges), dtype=torch.long).reshape(-1, 2)
        weights = torch.as_tensor(np.asarray(weights), dtype=dtype).reshape(-1)
        if edges.shape[0] != weights.shape[0]:
            raise ValueError(
                f"weights must have one entry per edge ({edges.shape[0]}), got {weights.shape[0]}"
            )
        if edges.numel() and (edges.min() < 0 or edges.max() >= n):
            raise ValueError(f"edges must index sites 0..{n - 1}")
        if (edges[:, 0] == edges[:, 1]).any():
            raise ValueError("edges contain a self-loop; an Ising model has no self-couplings")
        if not sparse:
            J = torch.zeros(n, n, dtype=dtype)
            J.index_put_((edges[:, 0], edges[:, 1]), weights, accumulate=True)
            J.index_put_((edges[:, 1], edges[:, 0]), weights, accumulate=True)
            return cls(J, h, sparse=False, dtype=dtype)
        lo, hi = edges.min(1).values, edges.max(1).values
        key = lo * n + hi
        uniq, inv = torch.unique(key, return_inverse=True)
        w = torch.zeros(uniq.numel(), dtype=dtype).index_add_(0, inv, weights)
        uedges = torch.stack([uniq // n, uniq % n], 1)
        model = cls.__new__(cls)
        model._init_storage(n, uedges, w, h, dense=False, dtype=dtype)
        return model

    # ------------------------------------------------------------ constructors
    @classmethod
    def lattice(
        cls,
        L: int | tuple[int, int],
        coupling: float = 1.0,
        field: float = 0.0,
        periodic: bool = True,
        *,
        dtype=torch.float32,
    ) -> IsingModel:
        """Square ``L × L`` (or ``L1 × L2``) lattice with uniform nearest-neighbour coupling.

        Site ``(r, c)`` has index ``r * L2 + c``. With ``periodic`` the lattice is a torus;
        on a side of length 2 the two wrapped bonds join the same pair and are merged (their
        couplings add), on a side of length 1 there is no bond.
        """
        L1, L2 = (L, L) if isinstance(L, int | np.integer) else tuple(L)
        if L1 < 1 or L2 < 1:
            raise ValueError(f"L must be positive, got {L}")
        idx = torch.arange(L1 * L2).view(L1, L2)
        pairs = []
        for dr, dc in ((0, 1), (1, 0)):
            n_side = L2 if dc else L1
            if n_side < 2:
                continue
            nb = torch.roll(idx, shifts=(-dr, -dc), dims=(0, 1))
            a, b = idx, nb
            if not periodic:
                keep = (idx // L2 + dr < L1) & (idx % L2 + dc < L2)
                a, b = idx[keep], nb[keep]
            pairs.append(torch.stack([a.reshape(-1), b.reshape(-1)], 1))
        edges = torch.cat(pairs) if pairs else torch.zeros(0, 2, dtype=torch.long)
        weights = torch.full((edges.shape[0],), float(coupling), dtype=dtype)
        h = torch.full((L1 * L2,), float(field), dtype=dtype)
        model = cls.from_edges(L1 * L2, edges, weights, h, sparse=True, dtype=dtype)
        model.lattice_shape = (L1, L2)
        model.periodic = bool(periodic)
        return model

    @classmethod
    def from_networkx(
        cls, G: nx.Graph, *, sparse: bool | None = None, dtype=torch.float32
    ) -> IsingModel:
        """Model from a networkx graph: edge attribute ``weight`` (default 1.0) is ``J_ij``,
        node attribute ``field`` (default 0.0) is ``h_i``. Nodes keep ``G``'s order and labels.

        ``sparse=None`` stores an edge list when fewer than a quarter of the pairs are edges.
        """
        if not isinstance(G, nx.Graph) or G.is_directed():
            raise TypeError("G must be an undirected networkx.Graph")
        if nx.number_of_selfloops(G):
            raise ValueError("G has self-loops; an Ising model has no self-couplings")
        if G.is_multigraph():
            raise TypeError("G must be a simple graph (not a MultiGraph)")
        nodes = list(G.nodes)
        index = {u: i for i, u in enumerate(nodes)}
        n = len(nodes)
        edges = [(index[u], index[v]) for u, v in G.edges]
        weights = [float(w) for _, _, w in G.edges(data="weight", default=1.0)]
        h = [float(G.nodes[u].get("field", 0.0)) for u in nodes]
        if sparse is None:
            sparse = len(edges) < 0.25 * n * (n - 1) / 2
        model = cls.from_edges(n, edges, weights, h, sparse=sparse, dtype=dtype)
        model.node_labels = nodes
        return model

    @classmethod
    def erdos_renyi(
        cls,
        n: int,
        p: float,
        *,
        coupling_std: float = 1.0,
        field_std: float = 0.0,
        generator: torch.Generator | None = None,
        sparse: bool | None = None,
        dtype=torch.float32,
    ) -> IsingModel:
        """Random model on a G(n, p) graph with ``J_ij ~ N(0, coupling_std²)`` on its edges and
        ``h_i ~ N(0, field_std²)``. ``sparse=None`` stores an edge list when ``p < 0.25``."""
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must lie in [0, 1], got {p}")
        iu = torch.triu_indices(n, n, offset=1).T
        keep = torch.rand(iu.shape[0], generator=generator, dtype=torch.float64) < p
        edges = iu[keep]
        w = coupling_std * torch.randn(edges.shape[0], generator=generator, dtype=torch.float64)
        h = field_std * torch.randn(n, generator=generator, dtype=torch.float64)
        return cls.from_edges(
            n,
            edges,
            w.to(dtype),
            h.to(dtype),
            sparse=p < 0.25 if sparse is None else sparse,
            dtype=dtype,
        )

    @classmethod
    def from_dimod(cls, h: dict, J: dict, *, dtype=torch.float32) -> IsingModel:
        """Model from dimod-convention dicts ``E(s) = Σ h_i s_i + Σ J_ij s_i s_j`` (minimised).

        Our energy equals dimod's for every spin configuration: ``h_ours = −h``,
        ``J_ours = −J``. Variables are ordered as first seen in ``h`` then ``J``;
        ``node_labels`` keeps their labels. Both orders of a pair add up, as in dimod.
        """
        labels = list(h)
        for u, v in J:
            for a in (u, v):
                if a not in h and a not in labels:
                    labels.append(a)
        index = {u: i for i, u in enumerate(labels)}
        edges = [(index[u], index[v]) for (u, v) in J]
        weights = [-float(w) for w in J.values()]
        field = [-float(h.get(u, 0.0)) for u in labels]
        n = len(labels)
        model = cls.from_edges(
            n, edges, weights, field, sparse=len(edges) < 0.25 * n * (n - 1) / 2, dtype=dtype
        )
        model.node_labels = labels
        return model

    # ---------------------------------------------------------------- views
    @property
    def J(self) -> torch.Tensor:
        """Dense symmetric ``(d, d)`` couplings (differentiable w.r.t. ``weights``)."""
        d = self.dim
        J = self.weights.new_zeros(d, d)
        i, j = self.edges[:, 0], self.edges[:, 1]
        J = J.index_put((i, j), self.weights, accumulate=True)
        return J.index_put((j, i), self.weights, accumulate=True)

    @property
    def n_edges(self) -> int:
        return int(self.edges.shape[0])

    def interaction_graph(self) -> nx.Graph:
        """Graph on sites ``0..d−1`` whose edges are the stored pairs.

        Every stored pair counts, zero or not: the couplings are trainable, and a colouring
        computed from this graph must stay proper while they change (a dense model is a
        complete graph)."""
        G = nx.Graph()
        G.add_nodes_from(range(self.dim))
        G.add_edges_from(self.edges.cpu().tolist())
        return G

    def to_networkx(self) -> nx.Graph:
        """Graph with edge attribute ``weight`` (= ``J_ij``) and node attribute ``field``.

        Sparse storage keeps every stored edge; dense storage keeps the nonzero pairs.
        Node labels are those the model was built from (``0..d−1`` otherwise).
        """
        labels = self.node_labels or list(range(self.dim))
        G = nx.Graph()
        for u, f in zip(labels, self.h.detach().cpu().tolist()):
            G.add_node(u, field=f)
        w = self.weights.detach().cpu()
        keep = torch.ones_like(w, dtype=torch.bool) if not self.is_dense else w != 0
        for (i, j), wij in zip(self.edges[keep].cpu().tolist(), w[keep].tolist()):
            G.add_edge(labels[i], labels[j], weight=wij)
        return G

    def to_dimod(self) -> tuple[dict, dict]:
        """``(h, J)`` dicts in dimod's convention ``E(s) = Σ h_i s_i + Σ_{i<j} J_ij s_i s_j``
        (the same energy as ours: ``h_dimod = −h``, ``J_dimod = −J``); zero couplings omitted."""
        labels = self.node_labels or list(range(self.dim))
        h = {u: -float(v) for u, v in zip(labels, self.h.detach().cpu().tolist())}
        J = {}
        for (i, j), w in zip(self.edges.cpu().tolist(), self.weights.detach().cpu().tolist()):
            if w != 0:
                J[(labels[i], labels[j])] = -float(w)
        return h, J

    # -------------------------------------------------------------- energies
    def _neighbour_table(self):
        """Padded neighbour table ``(nbr (d, K), eidx (d, K))``; padding points at edge E."""
        if self._nbr_cache is None or self._nbr_cache[0].device != self.edges.device:
            d, E = self.dim, self.n_edges
            e = self.edges.cpu()
            src = torch.cat([e[:, 0], e[:, 1]])
            dst = torch.cat([e[:, 1], e[:, 0]])
            eid = torch.cat([torch.arange(E), torch.arange(E)])
            deg = torch.bincount(src, minlength=d)
            K = max(int(deg.max()) if E else 0, 1)
            order = torch.argsort(src, stable=True)
            src, dst, eid = src[order], dst[order], eid[order]
            start = torch.cumsum(deg, 0) - deg
            slot = torch.arange(src.numel()) - start[src]
            nbr = torch.zeros(d, K, dtype=torch.long)
            eidx = torch.full((d, K), E, dtype=torch.long)
            nbr[src, slot] = dst
            eidx[src, slot] = eid
            self._nbr_cache = (nbr.to(self.edges.device), eidx.to(self.edges.device))
        return self._nbr_cache

    def _dense_J(self) -> torch.Tensor:
        """``self.J`` for internal reads. Without autograd (samplers) the matrix is cached until
        the weights change (in-place updates bump their version), so a chromatic sweep of a
        dense model builds it once instead of once per colour."""
        w = self.weights
        if torch.is_grad_enabled() and w.requires_grad:
            return self.J
        key = (w._version, w.data_ptr(), w.device, w.dtype)
        if self._J_cache is None or self._J_cache[0] != key:
            with torch.no_grad():
                self._J_cache = (key, self.J)
        return self._J_cache[1]

    def _fields_of_spins(self, s: torch.Tensor, sites: torch.Tensor | None = None) -> torch.Tensor:
        """Local fields ``φ = Js + h`` at ``sites`` (all sites if ``None``) for spins ``s``."""
        if self.is_dense:
            J = self._dense_J()
            if sites is None:
                return s @ J + self.h
            return s @ J[:, sites] + self.h[sites]
        nbr, eidx = self._neighbour_table()
        w = torch.cat([self.weights, self.weights.new_zeros(1)])
        if sites is not None:
            nbr, eidx = nbr[sites], eidx[sites]
        h = self.h if sites is None else self.h[sites]
        return (s[:, nbr] * w[eidx]).sum(-1) + h

    def local_fields(self, x: torch.Tensor) -> torch.Tensor:
        """``φ(x) = J s + h`` with ``s = 2x − 1``; shape ``(B, d)``.

        ``p(x_i = 1 | x_−i) = σ(2 φ_i)`` and flipping ``s_i`` changes the energy by ``2 s_i φ_i``.
        """
        x = self.check_input(x)
        return self._fields_of_spins(2 * x - 1)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``U(x) = −½ sᵀJs − hᵀs = −Σ_{i<j} J_ij s_i s_j − Σ_i h_i s_i``; shape ``(B,)``."""
        x = self.check_input(x)
        return self._energy_of_spins(2 * x - 1)

    def _energy_of_spins(self, s: torch.Tensor) -> torch.Tensor:
        if self.is_dense:  # one quadratic form: a matmul instead of a gather over d²/2 pairs
            return -0.5 * ((s @ self.J) * s).sum(1) - s @ self.h
        # pair products s_i s_j as rows of sᵀ: two contiguous row gathers (3× faster on CPU
        # than gathering columns of s)
        sT = s.T.contiguous()
        pair = sT.index_select(0, self.edges[:, 0]) * sT.index_select(0, self.edges[:, 1])
        return -(self.weights @ pair) - s @ self.h

    def site_logits(self, x: torch.Tensor, sites: torch.Tensor) -> torch.Tensor:
        """``U(x^{s←0}) − U(x^{s←1}) = 2 φ_s`` at ``sites``; shape ``(B, len(sites))``."""
        return 2 * self._fields_of_spins(2 * x - 1, sites)

    def conditional_logits(self, x: torch.Tensor) -> torch.Tensor:
        """``2 φ(x)``, shape ``(B, d)``: logits of ``p(x_i = 1 | x_−i)``."""
        return 2 * self._fields_of_spins(2 * x - 1)

    def coupling_l1(self) -> torch.Tensor:
        """``Σ_{i<j} |J_ij|`` (for an L1 penalty on couplings)."""
        return self.weights.abs().sum()

    def extra_repr(self) -> str:
        kind = "dense" if self.is_dense else "sparse"
        lat = (
            f", lattice={self.lattice_shape}, periodic={self.periodic}"
            if self.lattice_shape
            else ""
        )
        return f"dim={self.dim}, edges={self.n_edges} ({kind}){lat}"


def ising_chain_log_partition(n: int, coupling: float, field: float = 0.0) -> float:
    """Transfer-matrix ``log Z`` of a periodic 1-D chain of ``n`` spins (``Z = tr Tⁿ``).

    ``T_{ss'} = exp(J s s' + h (s + s')/2)``, so ``Z = λ₊ⁿ + λ₋ⁿ`` with
    ``λ± = e^J cosh h ± sqrt(e^{2J} sinh² h + e^{−2J})``.
    """
    J, h = float(coupling), float(field)
    a = math.exp(J) * math.cosh(h)
    b = math.sqrt(math.exp(2 * J) * math.sinh(h) ** 2 + math.exp(-2 * J))
    lp, lm = a + b, a - b
    # log(λ₊ⁿ + λ₋ⁿ) computed stably (λ₋ may be negative or tiny)
    ratio = (lm / lp) ** n
    return n * math.log(lp) + math.log1p(ratio)
