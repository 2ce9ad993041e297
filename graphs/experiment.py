"""The Ego-small experiment: train a GNN energy, generate graphs by MCMC, score them.

Protocol (EDP-GNN / GDSS): train on the 160 training graphs, generate as many graphs as the
test set (40) with node counts drawn from the training set, remove isolated nodes, and
report the degree, clustering and orbit MMD² against the 40 test graphs (and their
average). Used by ``discrete_ebm.recipes.ego.run_ego_small`` (the ``discrete-ebm ego``
command) and by the benchmark suite's Ego-small task.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import networkx as nx
import numpy as np
import torch

from discrete_ebm.devices import resolve_device
from discrete_ebm.objectives import make
from discrete_ebm.training import fit

from .config import OBJECTIVES, EgoConfig
from .convert import graphs_to_states
from .datasets import GraphSplit, ego_small
from .energy import GraphEnergy
from .metrics import graph_mmds
from .sampling import EdgeSampler, sample_graphs

__all__ = [
    "EgoConfig",
    "EgoResult",
    "make_objective",
    "run_ego",
    "train_ego",
    "generate_ego",
    "validation_split",
    "protocol_graphs",
]


@dataclass
class EgoResult:
    """What one run produced."""

    config: EgoConfig
    mmd: dict
    reference_mmd: dict
    train_seconds: float
    sample_seconds: float
    final_loss: float
    model: GraphEnergy = field(repr=False)
    generated: list = field(repr=False)
    split: GraphSplit = field(repr=False)

    def to_dict(self) -> dict:
        """JSON-ready summary (no model, no graphs)."""
        return {
            "config": asdict(self.config),
            "mmd_vs_test": self.mmd,
            "train_vs_test_reference": self.reference_mmd,
            "train_seconds": self.train_seconds,
            "sample_seconds": self.sample_seconds,
            "final_loss": self.final_loss,
            "n_generated": len(self.generated),
            "n_failed_single_node": sum(g.number_of_edges() == 0 for g in self.generated),
            "generated_nodes_mean": float(np.mean([g.number_of_nodes() for g in self.generated])),
            "generated_edges_mean": float(np.mean([g.number_of_edges() for g in self.generated])),
        }


def make_objective(config: EgoConfig, model: GraphEnergy, node_counts: list[int]):
    """The training objective named by ``config.objective`` (the graph ED objectives come
    from the objective registry, where ``discrete_ebm.graphs`` registered them on import)."""
    c = config
    if c.objective == "ed-bern":
        return make("graph-ed-bern", model, epsilon=c.epsilon, n_negatives=c.n_negatives, w=c.w)
    if c.objective == "ed-grid":
        return make("graph-ed-grid", model, n_negatives=c.n_negatives, w=c.w)
    if config.objective == "cd":
        sampler = EdgeSampler(model, config.sampler, config.cd_updates, node_counts=node_counts)
        return make("pcd", model, sampler=sampler, k=1, init="data")
    raise ValueError(f"objective must be one of {OBJECTIVES}, got {config.objective!r}")


def validation_split(split: GraphSplit, n_validation: int | None = None) -> GraphSplit:
    """Hold out the first ``n_validation`` TRAINING graphs (default: as many as the test set)
    as a validation "test" set; the rest train. Tune on this, never on ``split.test``."""
    k = len(split.test) if n_validation is None else int(n_validation)
    if not 0 < k < len(split.train):
        raise ValueError(f"n_validation must lie in [1, {len(split.train) - 1}], got {k}")
    return GraphSplit(train=list(split.train[k:]), test=list(split.train[:k]))


def protocol_graphs(graphs: list[nx.Graph]) -> list[nx.Graph]:
    """Generated graphs as GDSS scores them: nodes relabelled ``0..n−1`` and every graph left
    empty by the removal of isolated nodes replaced by ONE isolated node (GDSS
    ``utils/graph_utils.py::adjs_to_graphs``: ``if G.number_of_nodes() < 1: G.add_node(1)``),
    so failed chains count against the MMD instead of being dropped."""
    out = []
    for g in graphs:
        g = nx.convert_node_labels_to_integers(g)
        out.append(g if g.number_of_nodes() else nx.empty_graph(1))
    return out


def train_ego(
    config: EgoConfig, split: GraphSplit, *, progress: bool = False
) -> tuple[GraphEnergy, float, float]:
    """Train the energy of ``config`` on ``split.train``; returns ``(model, seconds, final
    loss)`` (mean of the last 50 losses). Seeds parameters and batches by ``config.seed``."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)  # parameter initialisation
    gen = torch.Generator(device="cpu").manual_seed(config.seed)
    N = split.max_nodes
    counts = [g.number_of_nodes() for g in split.train]
    model = GraphEnergy(N, config.hidden, config.n_layers).to(device)
    objective = make_objective(config, model, counts)
    data = graphs_to_states(split.train, N, device=device)
    start = time.perf_counter()
    history = fit(
        model,
        objective,
        data,
        steps=config.steps,
        batch_size=config.batch_size,
        lr=config.lr,
        generator=gen,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    model.eval()
    final = float(np.mean(history.loss[-50:])) if history.loss else float("nan")
    return model, seconds, final


def generate_ego(
    model: GraphEnergy, config: EgoConfig, split: GraphSplit, *, sample_seed: int | None = None
) -> tuple[list[nx.Graph], float]:
    """Generate ``config.n_generated`` graphs (default ``len(split.test)``, as GDSS) with the
    chain settings of ``config``; node counts (or starting graphs, ``init="data"``) are drawn
    uniformly from ``split.train``. Returns ``(protocol_graphs(...), seconds)``.

    ``sample_seed`` (default ``config.seed``) seeds the draws and the chains."""
    if config.init not in ("noise", "data"):
        raise ValueError(f"init must be 'noise' or 'data', got {config.init!r}")
    seed = config.seed if sample_seed is None else int(sample_seed)
    device = model.device
    N = model.max_nodes
    counts = [g.number_of_nodes() for g in split.train]
    n_gen = len(split.test) if config.n_generated is None else int(config.n_generated)
    if n_gen < 1:
        raise ValueError(f"n_generated must be >= 1, got {n_gen}")
    # a stream of its own (not the training one), so one trained model can be re-sampled
    gen = torch.Generator(device="cpu").manual_seed(seed + 2)
    pick = torch.randint(0, len(counts), (n_gen,), generator=gen)
    node_counts = [counts[i] for i in pick.tolist()]
    x0 = None
    if config.init == "data":
        data = graphs_to_states(split.train, N, device=device)
        x0 = data[pick.to(device)].clone()
    betas = np.linspace(1.0, config.beta_end, config.sample_steps).tolist()
    sample_gen = torch.Generator(device=device).manual_seed(seed + 1)
    start = time.perf_counter()
    generated = sample_graphs(
        model,
        node_counts,
        method=config.sampler,
        n_steps=config.sample_steps,
        n_updates=1,
        edge_density=config.init_density,
        beta=betas,
        generator=sample_gen,
        x0=x0,
    )
    return protocol_graphs(generated), time.perf_counter() - start


def run_ego(
    config: EgoConfig | None = None,
    *,
    split: GraphSplit | None = None,
    progress: bool = False,
) -> EgoResult:
    """Train on ``split.train``, generate ``len(split.test)`` graphs, score them (MMD²).

    ``split`` defaults to ``ego_small()``. Every random draw is seeded by ``config.seed``.
    """
    config = config or EgoConfig()
    split = split or ego_small()
    model, train_seconds, final = train_ego(config, split, progress=progress)
    generated, sample_seconds = generate_ego(model, config, split)
    mmd = graph_mmds(split.test, generated, ("degree", "clustering", "orbit", "spectral"))
    reference = graph_mmds(split.test, split.train)
    return EgoResult(
        config=config,
        mmd=mmd,
        reference_mmd=reference,
        train_seconds=train_seconds,
        sample_seconds=sample_seconds,
        final_loss=final,
        model=model,
        generated=generated,
        split=split,
    )
