"""Chromatic (block) Gibbs sampler.

A proper colouring of the interaction graph splits the sites into blocks of conditionally
independent sites; a sweep redraws each block at once from its exact conditionals
``p_β(x_s = 1 | x_−s) = σ(β · logit_s)`` (thrml's block programs; D-Wave's BlockSampler).
Models with their own block structure (e.g. bipartite RBM layers) provide a
``block_gibbs_sweep`` and are sampled through it with the same contract.

Fast path: a plain ``IsingModel`` built by ``IsingModel.lattice`` (open, or periodic with even
sides ``≥ 4``) with the default colouring is swept by the checkerboard kernel of
``discrete_ebm.samplers.lattice`` (same distribution, same contract, much faster); any other
model or an explicit ``coloring`` uses the generic colour-block path. The kernel needs no
colouring and no interaction graph: with it, the colour blocks are computed only if ``step``
or ``blocks`` asks for them, and a plain ``IsingModel``'s colouring is checked against its
edge list (a networkx graph is built only for a greedy colouring).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import networkx as nx
import numpy as np
import torch

from ..models.base import EnergyModel
from ..models.ising import IsingModel
from .base import Sampler, heat_bath
from .lattice import LatticeKernel, lattice_supported


def checkerboard_coloring(shape: tuple[int, int]) -> list[np.ndarray]:
    """The two colours ``(r + c) mod 2`` of an ``L1 × L2`` lattice (row-major site indices)."""
    L1, L2 = shape
    r, c = np.divmod(np.arange(L1 * L2), L2)
    parity = (r + c) % 2
    return [np.flatnonzero(parity == k) for k in (0, 1)]


def greedy_coloring(G: nx.Graph) -> list[np.ndarray]:
    """Blocks of a greedy colouring (``largest_first``) of ``G`` (nodes ``0..d−1``)."""
    colors = nx.greedy_color(G, strategy="largest_first")
    n_colors = max(colors.values(), default=-1) + 1
    blocks = [[] for _ in range(n_colors)]
    for node, c in colors.items():
        blocks[c].append(node)
    return [np.array(sorted(b), dtype=np.int64) for b in blocks]


def normalise_coloring(coloring, d: int) -> list[np.ndarray]:
    """Accept a dict ``site -> colour``, a length-``d`` sequence/tensor of colour ids, or a
    sequence of blocks (sequences of sites); return the blocks (sorted site arrays)."""
    if isinstance(coloring, Mapping):
        ids = np.full(d, -1, dtype=np.int64)
        for site, c in coloring.items():
            if not 0 <= int(site) < d:
                raise ValueError(f"coloring names site {site}, outside 0..{d - 1}")
            ids[int(site)] = int(c)
        return normalise_coloring(ids, d)
    if isinstance(coloring, torch.Tensor):
        coloring = coloring.cpu().numpy()
    if (
        isinstance(coloring, np.ndarray)
        and coloring.ndim == 1
        and len(coloring) == d
        and np.issubdtype(coloring.dtype, np.integer)
    ):
        if (coloring < 0).any():
            raise ValueError("coloring must give every site a colour id >= 0")
        return [np.flatnonzero(coloring == c) for c in np.unique(coloring)]
    if isinstance(coloring, Sequence) and all(
        isinstance(b, Sequence | np.ndarray | torch.Tensor) for b in coloring
    ):
        blocks = [np.sort(np.asarray(b, dtype=np.int64).reshape(-1)) for b in coloring]
        blocks = [b for b in blocks if b.size]
        flat = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int64)
        if flat.size != d or not np.array_equal(np.sort(flat), np.arange(d)):
            raise ValueError(f"coloring blocks must cover each site 0..{d - 1} exactly once")
        return blocks
    if isinstance(coloring, Sequence) and len(coloring) == d:
        return normalise_coloring(np.asarray(coloring, dtype=np.int64), d)
    raise TypeError(
        "coloring must be a dict site->colour, a length-d sequence of colour ids, "
        "or a list of blocks"
    )


def check_proper(blocks: list[np.ndarray], G: nx.Graph) -> None:
    """Raise ``ValueError`` if two interacting sites share a colour."""
    color = {}
    for k, b in enumerate(blocks):
        for s in b.tolist():
            color[s] = k
    for u, v in G.edges:
        if color[u] == color[v]:
            raise ValueError(
                f"coloring is not proper: sites {u} and {v} interact and share colour {color[u]}"
            )


def check_proper_edges(blocks: list[np.ndarray], edges: np.ndarray, d: int) -> None:
    """``check_proper`` for an edge list ``edges (E, 2)`` on sites ``0..d−1`` (vectorised,
    no graph object)."""
    color = np.full(d, -1, dtype=np.int64)
    for k, b in enumerate(blocks):
        color[b] = k
    same = np.flatnonzero(color[edges[:, 0]] == color[edges[:, 1]])
    if same.size:
        u, v = edges[same[0]].tolist()
        raise ValueError(
            f"coloring is not proper: sites {u} and {v} interact and share colour {color[u]}"
        )


def _ising_edges(model: EnergyModel) -> np.ndarray | None:
    """The interaction graph of an ``IsingModel`` as its stored edge list ``(E, 2)`` (exactly
    the edges ``interaction_graph()`` would hold), or ``None`` for other models."""
    if isinstance(model, IsingModel) and (
        type(model).interaction_graph is IsingModel.interaction_graph
    ):
        return model.edges.detach().cpu().numpy()
    return None


class BlockGibbsSampler(Sampler):
    """Chromatic Gibbs sampler; one step is a sweep over all colour blocks.

    Args:
        model: a binary EnergyModel with an ``interaction_graph()`` (e.g. ``IsingModel``), or
            a model with its own ``block_gibbs_sweep`` (RBM, DBM). For the latter the sweep
            runs on the joint state with the hidden layers, and ``beta`` tempers the JOINT
            energy ``E(v, h)``: at ``β ≠ 1`` the visible states follow the marginal of
            ``exp(−β E(v, h))``, not ``exp(−β F(v))`` (the path AIS for RBMs uses);
            ``GibbsSampler`` targets ``exp(−β F(v))``.
        coloring: ``None`` picks the checkerboard for lattices with even sides and a greedy
            colouring of the interaction graph otherwise; or a dict / sequence of colour ids /
            list of blocks, which is checked to be a proper colouring (a model without an
            interaction graph only accepts one site per block).
        fast_lattice: with ``coloring=None``, sweep ``IsingModel.lattice`` models with the
            checkerboard kernel (``discrete_ebm.samplers.lattice``); ``False`` forces the
            generic path (same distribution, slower).
    """

    def __init__(self, model: EnergyModel, coloring=None, *, fast_lattice: bool = True):
        super().__init__(model)
        model.require_domain(True, "BlockGibbsSampler", "; use LangevinSampler on R^d")
        self.lattice_kernel: LatticeKernel | None = None
        if coloring is None and fast_lattice and type(model) is IsingModel:
            shape = model.lattice_shape
            if lattice_supported(shape, bool(model.periodic)):
                try:
                    self.lattice_kernel = LatticeKernel(model)
                except ValueError:  # edges are not the lattice's bonds: generic path
                    self.lattice_kernel = None
        self._model_sweep = getattr(model, "block_gibbs_sweep", None)
        self._block_tensors: dict = {}
        self._blocks: list[np.ndarray] | None = None
        if self._model_sweep is not None and coloring is None:
            return
        if self.lattice_kernel is None:
            self._blocks = self._colour_blocks(coloring)

    @property
    def blocks(self) -> list[np.ndarray] | None:
        """The colour blocks of a generic sweep (``None`` for a model's own block sweep).

        With the lattice kernel they are computed on first use only (``step`` or this
        property): the kernel never needs them, and on a large lattice the interaction
        graph is the costly part of a colouring."""
        if self._blocks is None and self.lattice_kernel is not None:
            self._blocks = self._colour_blocks(None)
        return self._blocks

    def _colour_blocks(self, coloring) -> list[np.ndarray]:
        """Blocks of ``coloring`` (or of the default colouring if ``None``), checked proper.

        A plain ``IsingModel`` is checked against its edge list; a networkx graph is built
        only for the greedy colouring or for models that only offer ``interaction_graph()``."""
        model, d = self.model, self.model.dim
        edges = _ising_edges(model)
        G = model.interaction_graph() if edges is None else None
        has_graph = edges is not None or G is not None
        if coloring is None:
            if not has_graph:
                raise TypeError(
                    f"{type(model).__name__} has no interaction_graph(); "
                    "give a coloring or use GibbsSampler"
                )
            shape = getattr(model, "lattice_shape", None)
            if shape is not None and shape[0] % 2 == 0 and shape[1] % 2 == 0:
                blocks = checkerboard_coloring(shape)
            else:
                blocks = greedy_coloring(G if G is not None else model.interaction_graph())
        else:
            blocks = normalise_coloring(coloring, model.require_dim("BlockGibbsSampler"))
            if not has_graph and any(len(b) > 1 for b in blocks):
                raise ValueError(
                    f"coloring cannot be checked for {type(model).__name__}: it has no "
                    "interaction_graph(), and the sites of a block are only conditionally "
                    "independent when no two of them interact; give one site per block "
                    "(always proper)"
                    + (" or coloring=None (its own block sweep)" if self._model_sweep else "")
                )
        if edges is not None:
            check_proper_edges(blocks, edges, d)
        elif G is not None:
            check_proper(blocks, G)
        return blocks

    @property
    def n_colors(self) -> int | None:
        return None if self.blocks is None else len(self.blocks)

    def _blocks_on(self, device):
        if device not in self._block_tensors:
            self._block_tensors[device] = [torch.as_tensor(b, device=device) for b in self.blocks]
        return self._block_tensors[device]

    def step(self, x, beta, clamp, x0, generator):
        if self.blocks is None:
            return self._model_sweep(x, beta=beta, clamp=clamp, x0=x0, generator=generator)
        flips = x.new_zeros(())
        for sites in self._blocks_on(x.device):
            old = x[:, sites]
            new = heat_bath(old, self.model.site_logits(x, sites), beta, generator)
            if clamp is not None:
                new = torch.where(clamp[:, sites], x0[:, sites], new)
            flips = flips + (new != old).sum()
            x[:, sites] = new
        return x, {"flip_rate": flips / x.numel()}

    def run_chains(self, x, betas, clamp, x0, generator, *, thin=1, record=False):
        """Lattice models go through the checkerboard kernel, which keeps the chains in its
        own int8 sublattice layout for the whole run; others take one ``step`` per sweep."""
        if self.lattice_kernel is None:
            return super().run_chains(x, betas, clamp, x0, generator, thin=thin, record=record)
        out, stats = self.lattice_kernel.run(
            x,
            betas,
            clamp=clamp,
            generator=generator,
            thin=thin,
            trace_fn=self._energy if record else None,
            count_flips=record,
        )
        extra = {"flip_rate": stats["flip_rate"]} if record else {}
        return out, stats["energy_trace"], extra
