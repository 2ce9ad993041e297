"""Generating graphs by MCMC on edges.

``EdgeSampler`` follows the discrete_ebm Sampler contract on graph state rows
(``discrete_ebm.graphs.convert``) and only ever moves FREE edge slots (both endpoints exist):
the node mask and the slots at missing nodes are clamped automatically, on top of any
``clamp`` the caller gives, so it can serve contrastive divergence unchanged. Two kernels:

- ``"gibbs"``: random-scan heat-bath Gibbs over edge flips. Each update picks a uniform free
  slot ``i`` per chain and sets ``x_i = 1`` with probability
  ``σ(β [U(x^{i←0}) − U(x^{i←1})])``; a step is ``n_updates`` updates (default: the
  ``N(N−1)/2`` edge slots of a full graph on ``max_nodes`` nodes, at least one sweep of
  every graph's free slots on average).
- ``"gwg"``: Gibbs-with-gradients with Metropolis–Hastings correction
  (``discrete_ebm.samplers.gwg``); a step is ``n_updates`` proposals.

``sample_graphs`` draws node counts from a reference set (the training graphs), starts
chains on those nodes, runs the sampler and returns networkx graphs with isolated nodes
removed, as the Ego-small protocol does.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import torch

from discrete_ebm._validation import check_positive_int, check_probability
from discrete_ebm.samplers.base import Sampler, heat_bath
from discrete_ebm.samplers.gwg import GWGSampler

from .convert import fixed_mask, num_edge_slots, states_to_graphs, triu_index
from .energy import GraphEnergy

__all__ = ["EdgeSampler", "sample_graphs", "initial_states"]


def initial_states(
    node_counts: Sequence[int],
    max_nodes: int,
    *,
    edge_density: float = 0.0,
    generator: torch.Generator | None = None,
    device=None,
    dtype=torch.float32,
) -> torch.Tensor:
    """State rows ``(len(node_counts), D + N)``: graph ``b`` has nodes ``0..node_counts[b]−1``
    and each free edge slot present with probability ``edge_density``."""
    counts = torch.as_tensor(np.asarray(node_counts, dtype=np.int64), device=device)
    if counts.dim() != 1 or (counts < 1).any() or (counts > max_nodes).any():
        raise ValueError(f"node_counts must be a 1-D sequence of ints in [1, {max_nodes}]")
    check_probability(edge_density, "edge_density", open_interval=False)
    mask = (torch.arange(max_nodes, device=device) < counts.unsqueeze(1)).to(dtype)
    iu = triu_index(max_nodes, device=device)
    free = mask[:, iu[0]] * mask[:, iu[1]]
    u = torch.rand(free.shape, generator=generator, device=device, dtype=dtype)
    edges = (u < edge_density).to(dtype) * free
    return torch.cat([edges, mask], dim=1)


class EdgeSampler(Sampler):
    """MCMC on the free edge slots of graph state rows (see the module docstring).

    Args:
        model: a ``GraphEnergy`` (or any binary EnergyModel with ``max_nodes`` and the same
            state layout).
        method: ``"gwg"`` (Gibbs-with-gradients) or ``"gibbs"`` (random-scan heat bath).
        n_updates: proposals (``"gwg"``) or single-edge updates (``"gibbs"``) per step;
            default: one per free slot of a full graph for Gibbs, 1 for GWG.
        node_counts: node counts that ``init_states`` draws from uniformly (e.g. those of the
            training graphs); default: every chain has ``max_nodes`` nodes.
        edge_density: probability of each free edge in ``init_states``.
    """

    def __init__(
        self,
        model: GraphEnergy,
        method: str = "gwg",
        n_updates: int | None = None,
        *,
        node_counts: Sequence[int] | None = None,
        edge_density: float = 0.0,
    ):
        super().__init__(model)
        if not hasattr(model, "max_nodes"):
            raise TypeError("EdgeSampler needs a graph model with a max_nodes attribute")
        if method not in ("gwg", "gibbs"):
            raise ValueError(f"method must be 'gwg' or 'gibbs', got {method!r}")
        self.method = method
        self.max_nodes = int(model.max_nodes)
        default = 1 if method == "gwg" else num_edge_slots(self.max_nodes)
        self.n_updates = (
            default if n_updates is None else check_positive_int(n_updates, "n_updates")
        )
        self.node_counts = None if node_counts is None else [int(n) for n in node_counts]
        self.edge_density = check_probability(edge_density, "edge_density", open_interval=False)
        self._gwg = GWGSampler(model, n_proposals=self.n_updates) if method == "gwg" else None

    def init_states(self, n_chains: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Chains on node counts drawn from ``node_counts``, edges Bernoulli(edge_density)."""
        N = self.max_nodes
        if self.node_counts is None:
            counts = [N] * n_chains
        else:
            pick = torch.randint(
                0, len(self.node_counts), (n_chains,), generator=generator, device=self.model.device
            )
            counts = [self.node_counts[i] for i in pick.tolist()]
        dtype = self.model.dtype if self.model.dtype.is_floating_point else torch.float32
        return initial_states(
            counts,
            N,
            edge_density=self.edge_density,
            generator=generator,
            device=self.model.device,
            dtype=dtype,
        )

    def step(self, x, beta, clamp, x0, generator):
        frozen = self._frozen(x, clamp)
        if self._gwg is not None:
            return self._gwg.step(x, beta, frozen, x, generator)
        x, stats, _ = self._gibbs_step(x, beta, frozen, generator, None)
        return x, stats

    def _frozen(self, x, clamp):
        frozen = fixed_mask(x, self.max_nodes)
        return frozen if clamp is None else frozen | clamp

    def run_chains(self, x, betas, clamp, x0, generator, *, thin=1, record=False):
        """Gibbs: one loop over all steps that carries each chain's current energy from
        update to update, so a single-edge update costs ONE batched energy call (of the
        flipped states) instead of two; GWG: the generic loop."""
        if self._gwg is not None:
            return super().run_chains(x, betas, clamp, x0, generator, thin=thin, record=record)
        frozen = self._frozen(x, clamp)
        u, trace, flips = None, [], 0.0
        for t, beta in enumerate(betas):
            x, stats, u = self._gibbs_step(x, beta, frozen, generator, u)
            flips += float(stats["flip_rate"])
            if record and (t + 1) % thin == 0:
                trace.append(u.clone())
        return x, trace, {"flip_rate": flips / max(len(betas), 1)}

    def _gibbs_step(self, x, beta, frozen, generator, u):
        """``n_updates`` heat-bath updates; ``u``: the energies of ``x`` (computed if None).
        Returns ``(x, stats, energies of the new x)``."""
        B, d = x.shape
        rows = torch.arange(B, device=x.device)
        movable = ~frozen.all(1)
        weights = (~frozen).to(torch.float32)
        weights[~movable] = 1.0  # any index; those rows are not updated
        flips = x.new_zeros(())
        if u is None:
            u = self.model.energy(x)
        for _ in range(self.n_updates):
            i = torch.multinomial(weights, 1, generator=generator).squeeze(1)
            old = x[rows, i]
            y = x.clone()
            y[rows, i] = 1.0 - old
            u_flip = self.model.energy(y)
            on = old > 0.5
            # heat bath on the slot: P(x_i = 1) = σ(β [U(x^{i←0}) − U(x^{i←1})])
            diff = torch.where(on, u_flip - u, u - u_flip)
            new = heat_bath(old, diff, beta, generator)
            new = torch.where(movable, new, old)
            changed = new != old
            flips = flips + changed.sum()
            x[rows, i] = new
            u = torch.where(changed, u_flip, u)
        return x, {"flip_rate": flips / (B * d)}, u


def sample_graphs(
    model: GraphEnergy,
    node_counts: Sequence[int],
    *,
    method: str = "gwg",
    n_steps: int = 500,
    n_updates: int | None = None,
    edge_density: float = 0.0,
    beta: float = 1.0,
    generator: torch.Generator | None = None,
    remove_isolated: bool = True,
    return_diagnostics: bool = False,
    x0: torch.Tensor | None = None,
):
    """Generate one graph per entry of ``node_counts`` by MCMC on edges.

    Args:
        model: a trained ``GraphEnergy``.
        node_counts: node count of each chain (draw them from the training set, e.g.
            ``rng.choice([g.number_of_nodes() for g in train], size)``).
        method, n_updates: the ``EdgeSampler`` kernel and updates per step.
        n_steps: sampler steps.
        edge_density: initial probability of each free edge (0: start from empty graphs).
        beta: inverse temperature (a float or a schedule of ``n_steps`` values).
        generator: seeds the initial edges and the chains.
        remove_isolated: drop nodes without edges at the end (the Ego-small protocol).
        x0: start the chains here instead (state rows, e.g. training graphs; their node masks
            then replace ``node_counts`` and ``edge_density`` is unused).

    Returns a list of networkx graphs, and the sampler diagnostics with
    ``return_diagnostics``.
    """
    sampler = EdgeSampler(model, method, n_updates, edge_density=edge_density)
    if x0 is None:
        with torch.no_grad():
            x0 = initial_states(
                node_counts,
                model.max_nodes,
                edge_density=edge_density,
                generator=generator,
                device=model.device,
                dtype=model.dtype,
            )
    x, diag = sampler.sample(
        x0=x0, n_steps=n_steps, beta=beta, generator=generator, return_diagnostics=True
    )
    graphs: list[nx.Graph] = states_to_graphs(x, model.max_nodes, remove_isolated=remove_isolated)
    return (graphs, diag) if return_diagnostics else graphs
