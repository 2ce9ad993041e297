"""Graphs from noise with a population of chains per node count.

``generate_from_noise(model, node_counts, population=P, ...)`` returns one graph per entry
of ``node_counts``. For each distinct node count ``n`` requested ``k_n`` times it runs
``max(k_n, P)`` chains from random edges (each free slot present with probability
``edge_density``) through ``annealed_edge_gibbs`` (population annealing among chains of
equal node count), then keeps ``k_n`` of them drawn uniformly without replacement. The
population-annealing estimator is only as good as its population: a node count that one
training graph in a hundred has would otherwise get a handful of chains (measured on
Ego-small: 6 of 1,024 chains at a 16-node count), too few to correct a ramp that leaves
chains in metastable graphs. The kept chains follow the same law as the whole population,
so the output is the law of ``annealed_edge_gibbs`` run with at least ``P`` chains per node
count. Cost: ``Σ_n max(k_n, P) · ⌈sweeps · n(n−1)/2⌉`` energy evaluations.

With ``grow_from=s`` the node counts from ``s`` on are not annealed from noise one by one:
one population drawn as above at ``s`` nodes is grown node by node to the largest count
(``discrete_ebm.graphs.growth``), where annealing from noise does not find the low-energy
graphs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from discrete_ebm._validation import check_positive_int
from discrete_ebm.devices import generator_device

from .annealing import annealed_edge_gibbs
from .convert import state_dim
from .growth import grow_from_noise
from .sampling import initial_states

__all__ = ["generate_from_noise"]


def generate_from_noise(
    model,
    node_counts: Sequence[int],
    *,
    population: int = 1,
    edge_density: float = 0.3,
    sweeps: float = 20.0,
    beta_start: float = 1.0,
    beta_end: float = 1.0,
    anneal_fraction: float = 1.0,
    resample: bool = True,
    grow_from: int | None = None,
    stage_sweeps: float = 2.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """State rows ``(len(node_counts), D + N)``; row ``b`` is a graph on ``node_counts[b]``
    nodes (module docstring). ``population``: the least number of chains run per node count
    (1: exactly one chain per requested graph). The other arguments are those of
    ``initial_states`` and ``annealed_edge_gibbs``; no training graph is used.

    ``grow_from=s``: the counts ``>= s`` are grown node by node
    (``discrete_ebm.graphs.growth.grow_from_noise``, ``stage_sweeps`` Gibbs sweeps after
    each added node) from one population of ``max(population, k_n)`` chains drawn at ``s``
    nodes as above."""
    population = check_positive_int(population, "population")
    counts = np.asarray(node_counts, dtype=np.int64)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError("node_counts must be a non-empty 1-D sequence of ints")
    anneal = dict(
        sweeps=sweeps,
        beta_start=beta_start,
        beta_end=beta_end,
        anneal_fraction=anneal_fraction,
        resample=resample,
        generator=generator,
    )
    if grow_from is None:
        return _annealed(model, counts, population, edge_density, anneal)
    s = check_positive_int(grow_from, "grow_from")
    if s > int(model.max_nodes):
        raise ValueError(f"grow_from must lie in [1, {model.max_nodes}], got {s}")
    grown = counts >= s
    width = state_dim(int(model.max_nodes))
    out = torch.empty(counts.size, width, dtype=model.dtype, device=model.device)
    if grown.any():
        size = max(int(np.unique(counts[grown], return_counts=True)[1].max()), population)
        start = _annealed(model, np.full(size, s), size, edge_density, anneal)
        out[torch.as_tensor(np.flatnonzero(grown), device=out.device)] = grow_from_noise(
            model,
            counts[grown].tolist(),
            start=start,
            stage_sweeps=stage_sweeps,
            beta=beta_end,
            generator=generator,
        )
    if not grown.all():
        rest = torch.as_tensor(np.flatnonzero(~grown), device=out.device)
        out[rest] = _annealed(model, counts[~grown], population, edge_density, anneal)
    return out


def _annealed(model, counts: np.ndarray, population: int, edge_density: float, anneal: dict):
    """Rows for ``counts`` by ``annealed_edge_gibbs`` (``anneal``: its settings) from noise,
    ``max(k_n, population)`` chains per node count, ``k_n`` kept uniformly."""
    generator = anneal["generator"]
    values, requested = np.unique(counts, return_counts=True)
    run_counts = np.repeat(values, np.maximum(requested, population))
    x0 = initial_states(
        run_counts.tolist(),
        int(model.max_nodes),
        edge_density=edge_density,
        generator=generator,
        device=model.device,
        dtype=model.dtype,
    )
    x = annealed_edge_gibbs(model, x0, **anneal)
    out = torch.empty(counts.size, x.shape[1], dtype=x.dtype, device=x.device)
    draw_on = generator_device(generator)
    start = 0
    for n, k in zip(values.tolist(), requested.tolist()):
        size = max(k, population)
        keep = start + torch.randperm(size, generator=generator, device=draw_on)[:k]
        out[torch.as_tensor(np.flatnonzero(counts == n), device=x.device)] = x[keep.to(x.device)]
        start += size
    return out
