"""Energy discrepancy on graphs: Bernoulli and grid perturbations of the free edge slots.

A state row is ``[upper-triangle edge bits | node mask]`` (``discrete_ebm.graphs.convert``). The
perturbation acts on the upper triangle only, so the adjacency matrix it describes stays
symmetric with a zero diagonal, and only on FREE slots (both endpoints exist): node-mask
bits and slots at missing nodes never change, so every negative has the node set of its
data graph. Both kernels stay symmetric (``q(y|x) = q(x|y)``) because the free set is the
same for ``x``, ``y`` and ``x'``. The loss is the one of
``discrete_ebm.objectives.energy_discrepancy``:

    loss = mean_i logsumexp([U(x_i) − U(x'_ij)]_{j=1..M} ∪ {log w})

Importing this module registers both with the objective registry:
``discrete_ebm.objectives.make("graph-ed-bern", model=energy, epsilon=0.05)`` (``max_nodes``
defaults to the model's) and ``"graph-ed-grid"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from discrete_ebm._validation import check_probability
from discrete_ebm.objectives import register
from discrete_ebm.objectives.energy_discrepancy import BernoulliED, GridED

from .convert import fixed_mask, split_state

__all__ = ["GraphBernoulliED", "GraphGridED", "free_coordinates"]


def free_coordinates(x: torch.Tensor, max_nodes: int) -> torch.Tensor:
    """``(B, d)`` bool: the edge slots of state rows ``x`` whose two endpoints exist."""
    return ~fixed_mask(x, max_nodes)


class GraphBernoulliED(BernoulliED):
    """Bernoulli energy discrepancy on graphs: each free edge slot flips with probability ε.

    Args:
        max_nodes: ``N`` of the state rows.
        epsilon: flip probability of every free edge slot, or a sequence of them: each data
            graph then draws its own ε uniformly from the sequence, used for its ``y`` and
            all its negatives (a multi-scale ED: the average of ED losses with symmetric
            kernels, each minimised by the data distribution; large ε teaches the energy
            about graphs far from the data, small ε about the fine structure).
        n_negatives: ``M`` negatives per data graph.
        w: stabiliser.
    """

    def __init__(
        self,
        max_nodes: int,
        epsilon: float | Sequence[float] = 0.1,
        n_negatives: int = 32,
        w: float = 1.0,
    ):
        eps = [float(e) for e in epsilon] if isinstance(epsilon, Sequence) else [float(epsilon)]
        if not eps:
            raise ValueError("epsilon must be a float or a non-empty sequence of floats")
        for e in eps:
            check_probability(e, "epsilon")
        super().__init__(max(eps), n_negatives, w)
        self.epsilons = eps
        self.max_nodes = int(max_nodes)
        self._row_eps: torch.Tensor | None = None

    def perturb(self, x, generator=None):
        """``y``: flips with a per-row ε (drawn here and reused by ``negatives``)."""
        idx = torch.randint(
            0, len(self.epsilons), (x.shape[0],), generator=generator, device=x.device
        )
        self._row_eps = torch.tensor(self.epsilons, device=x.device, dtype=x.dtype)[idx]
        return super().perturb(x, generator)

    def flip(self, z, generator=None):
        """``z XOR flips(z.shape, ...)``: flip the free edge slots of ``z`` (``(B, d)`` or
        ``(B, n, d)`` state rows), each with its row's ε; a new tensor."""
        ref = z if z.dim() == 2 else z[:, 0]  # the negatives of a row share its free slots
        return (z != self.flips(tuple(z.shape), ref, generator)).to(z.dtype)

    def flips(self, shape, x, generator=None):
        """Bernoulli(ε_row) flips restricted to the free edge slots of ``x`` (``(B, d)`` rows)."""
        split_state(x, self.max_nodes)
        eps = self._row_eps
        if eps is None or eps.shape[0] != x.shape[0]:
            eps = x.new_full((x.shape[0],), self.epsilons[0])
        eps = eps.view(-1, *([1] * (len(shape) - 1)))
        u = torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype)
        f = (u < eps).to(x.dtype)
        free = free_coordinates(x, self.max_nodes).to(f.dtype)
        return f * (free if len(shape) == 2 else free.unsqueeze(1))


class GraphGridED(GridED):
    """Grid (one-flip) energy discrepancy on graphs: ``y`` flips one uniformly chosen free
    edge slot of ``x``, each negative one more of ``y``.

    Args:
        max_nodes: ``N`` of the state rows.
        n_negatives: ``M`` negatives per data graph.
        w: stabiliser.
    """

    def __init__(self, max_nodes: int, n_negatives: int = 32, w: float = 1.0):
        super().__init__(n_negatives, w)
        self.max_nodes = int(max_nodes)

    def sites(self, shape, x, generator=None):
        """Uniform free edge slots of each row of ``x``, long tensor of ``shape``."""
        split_state(x, self.max_nodes)
        free = free_coordinates(x, self.max_nodes)
        if not free.any(1).all():
            raise ValueError("every graph needs at least one free edge slot (>= 2 nodes)")
        per_row = 1
        for s in shape[1:]:
            per_row *= s
        idx = torch.multinomial(
            free.to(torch.float32), per_row, replacement=True, generator=generator
        )
        return idx.reshape(shape)


def _factory(cls):
    """``factory(model=None, **settings)``: ``max_nodes`` defaults to ``model.max_nodes``."""

    def factory(model=None, **settings):
        if "max_nodes" not in settings:
            if getattr(model, "max_nodes", None) is None:
                raise ValueError(
                    f"{cls.__name__} needs max_nodes= or model= (a GraphEnergy) to take it from"
                )
            settings["max_nodes"] = model.max_nodes
        return cls(**settings)

    return factory


register("graph-ed-bern", _factory(GraphBernoulliED))
register("graph-ed-grid", _factory(GraphGridED))
