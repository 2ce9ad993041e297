"""The Ego-small experiment: train GNN energies, generate graphs by MCMC, score them.

Protocols: train on the 160 training graphs (an ensemble of energies, by default three),
generate graphs (1,024 by default) from noise, from the equal mixture of the energies,
with node counts drawn from the training set, remove isolated nodes, and report degree,
clustering, orbit and spectral MMD² (and the average of the first three) against the 40
test graphs for all generated graphs (EDP-GNN's protocol) and for the first 40 (GDSS's),
with validity, the train-vs-test reference and the 40-against-40 floor of real graphs
(``discrete_ebm.graphs.protocols``). Used by ``discrete_ebm.recipes.ego.run_ego_small``
(the ``discrete-ebm ego`` command) and by the benchmark suite's Ego-small task.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import networkx as nx
import numpy as np
import torch

from discrete_ebm.devices import resolve_device
from discrete_ebm.objectives import make
from discrete_ebm.training import fit

from .annealing import annealed_edge_gibbs
from .config import OBJECTIVES, SAMPLERS, EgoConfig, init_label
from .convert import graphs_to_states, states_to_graphs
from .datasets import GraphSplit, ego_small
from .energy import GraphEnergy
from .generation import generate_from_noise
from .metrics import graph_mmds
from .protocols import evaluate_generated, real_floor
from .refinement import refine_by_cd
from .sampling import EdgeSampler, sample_graphs

__all__ = [
    "EgoConfig",
    "EgoResult",
    "make_objective",
    "run_ego",
    "member_seeds",
    "train_ego",
    "train_ensemble",
    "generate_ego",
    "validation_split",
    "protocol_graphs",
    "evaluate_ego",
]


@dataclass
class EgoResult:
    """What one run produced (``models``: the trained energies, one per ensemble member;
    ``train_seconds``: all of them; ``final_loss``: their mean)."""

    config: EgoConfig
    mmd: dict
    reference_mmd: dict
    train_seconds: float
    sample_seconds: float
    final_loss: float
    models: list = field(repr=False)
    generated: list = field(repr=False)
    split: GraphSplit = field(repr=False)
    evaluation: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready summary (no model, no graphs)."""
        return {
            "config": asdict(self.config),
            "init": self.config.init,
            "init_label": init_label(self.config.init),
            "mmd_vs_test": self.mmd,
            **self.evaluation,
            "train_vs_test_reference": self.reference_mmd,
            "train_seconds": self.train_seconds,
            "sample_seconds": self.sample_seconds,
            "final_loss": self.final_loss,
            "ensemble": len(self.models),
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
        kernel = "gwg" if config.sampler == "gwg" else "gibbs"
        sampler = EdgeSampler(model, kernel, config.cd_updates, node_counts=node_counts)
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
    """Train the energy of ``config`` on ``split.train``, then (ED objectives, when
    ``config.refine_steps``) refine it by CD from the data (``refine_by_cd``); returns
    ``(model, seconds of both stages, final loss of the first stage)`` (mean of its last 50
    losses). Seeds parameters and batches by ``config.seed``."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)  # parameter initialisation
    gen = torch.Generator(device="cpu").manual_seed(config.seed)
    N = split.max_nodes
    counts = [g.number_of_nodes() for g in split.train]
    model = GraphEnergy(N, config.hidden, config.n_layers, hub_features=config.hub_features)
    model = model.to(device)
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
    if config.objective != "cd" and config.refine_steps:
        refine_by_cd(
            model,
            data,
            steps=config.refine_steps,
            lr=config.refine_lr,
            updates=config.refine_updates,
            batch_size=config.batch_size,
            generator=gen,
            progress=progress,
        )
    seconds = time.perf_counter() - start
    model.eval()
    final = float(np.mean(history.loss[-50:])) if history.loss else float("nan")
    return model, seconds, final


def member_seeds(config: EgoConfig) -> list[int]:
    """Seeds of the ``config.ensemble`` energies of a run seeded ``s``: ``s · K + k``
    (distinct across runs; ``K = 1``: ``[s]``)."""
    K = int(config.ensemble)
    if K < 1:
        raise ValueError(f"ensemble must be >= 1, got {config.ensemble}")
    return [config.seed * K + k for k in range(K)]


def train_ensemble(
    config: EgoConfig, split: GraphSplit, *, progress: bool = False
) -> tuple[list[GraphEnergy], float, list[float]]:
    """``train_ego`` once per seed of ``member_seeds(config)``; returns ``(models, seconds
    of all, final loss of each)``."""
    models, seconds, finals = [], 0.0, []
    for s in member_seeds(config):
        model, secs, final = train_ego(replace(config, seed=s), split, progress=progress)
        models.append(model)
        seconds += secs
        finals.append(final)
    return models, seconds, finals


def generate_ego(
    models: GraphEnergy | Sequence[GraphEnergy],
    config: EgoConfig,
    split: GraphSplit,
    *,
    sample_seed: int | None = None,
) -> tuple[list[nx.Graph], float]:
    """Generate ``config.n_generated`` graphs (``None``: ``len(split.test)``) with the chain
    settings of ``config`` (see ``EgoConfig``); node counts (or starting graphs,
    ``init="data"``) are drawn uniformly from ``split.train``. Several ``models``: graph
    ``i`` comes from ``models[i % K]`` (the equal mixture of their laws; one model: as the
    single one). Returns ``(protocol_graphs(...), seconds)``.

    ``sample_seed`` (default ``config.seed``) seeds the draws and the chains."""
    if config.init not in ("noise", "data"):
        raise ValueError(f"init must be 'noise' or 'data', got {config.init!r}")
    if config.sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {config.sampler!r}")
    models = [models] if isinstance(models, GraphEnergy) else list(models)
    if not models:
        raise ValueError("models must hold at least one GraphEnergy, got none")
    seed = config.seed if sample_seed is None else int(sample_seed)
    device = models[0].device
    N = models[0].max_nodes
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
    sample_gen = torch.Generator(device=device).manual_seed(seed + 1)
    start = time.perf_counter()
    generated: list = [None] * n_gen
    for k, model in enumerate(models):  # one stream, member after member
        mine = list(range(k, n_gen, len(models)))
        if not mine:
            continue
        graphs = _sample(
            model,
            config,
            [node_counts[i] for i in mine],
            None if x0 is None else x0[mine],
            sample_gen,
        )
        for i, g in zip(mine, graphs, strict=True):
            generated[i] = g
    return protocol_graphs(generated), time.perf_counter() - start


def _sample(
    model: GraphEnergy,
    config: EgoConfig,
    node_counts: list[int],
    x0: torch.Tensor | None,
    generator: torch.Generator,
) -> list[nx.Graph]:
    """Graphs of ``node_counts`` by the sampler of ``config``, from noise or from ``x0``;
    isolated nodes removed."""
    N = model.max_nodes
    if config.sampler == "annealed":
        settings = dict(
            sweeps=config.sweeps,
            beta_start=config.beta_start,
            beta_end=config.beta_end,
            anneal_fraction=config.anneal_fraction,
            resample=config.resample,
            generator=generator,
        )
        if x0 is None:  # from noise, at least config.population chains per node count
            x = generate_from_noise(
                model,
                node_counts,
                population=config.population,
                edge_density=config.init_density,
                grow_from=config.grow_from or None,
                stage_sweeps=config.stage_sweeps,
                **settings,
            )
        else:
            x = annealed_edge_gibbs(model, x0, **settings)
        return states_to_graphs(x, N, remove_isolated=True)
    return sample_graphs(
        model,
        node_counts,
        method=config.sampler,
        n_steps=config.sample_steps,
        n_updates=1,
        edge_density=config.init_density,
        beta=np.linspace(1.0, config.beta_end, config.sample_steps).tolist(),
        generator=generator,
        x0=x0,
    )


def evaluate_ego(split: GraphSplit, generated: list[nx.Graph]) -> dict:
    """Both protocols and validity of ``generated`` (``evaluate_generated``) with the
    references: the training graphs against the test graphs, the 40-against-40 floor of
    real graphs (30 draws of ``len(test)`` training graphs) and the floor at the number
    generated (30 draws of ``len(generated)`` training graphs with replacement)."""
    out = evaluate_generated(split.test, split.train, generated)
    out["references"] = {
        "train_vs_test": graph_mmds(
            split.test, split.train, ("degree", "clustering", "orbit", "spectral")
        ),
        "real_floor_40": {
            "draws": 30,
            "size": len(split.test),
            **real_floor(split.test, split.train, size=len(split.test)),
        },
        "real_floor_all": {
            "draws": 30,
            "size": len(generated),
            "replace": True,
            **real_floor(split.test, split.train, size=len(generated), replace=True),
        },
    }
    return out


def run_ego(
    config: EgoConfig | None = None,
    *,
    split: GraphSplit | None = None,
    progress: bool = False,
) -> EgoResult:
    """Train ``config.ensemble`` energies on ``split.train`` (``train_ensemble``), generate
    ``config.n_generated`` graphs from their mixture, score them (``evaluate_ego``: both
    protocols, validity, references). ``final_loss``: the members' mean.

    ``split`` defaults to ``ego_small()``. Every random draw is seeded by ``config.seed``.
    """
    config = config or EgoConfig()
    split = split or ego_small()
    if not 0 <= config.grow_from <= split.max_nodes:  # checked before training
        raise ValueError(
            f"grow_from must lie in [0, {split.max_nodes}] (0: no growth), got {config.grow_from}"
        )
    member_seeds(config)  # refuses a bad ensemble size before training
    models, train_seconds, finals = train_ensemble(config, split, progress=progress)
    generated, sample_seconds = generate_ego(models, config, split)
    evaluation = evaluate_ego(split, generated)
    mmd = {k: v for k, v in evaluation["edp_gnn"].items() if not k.startswith("n_")}
    reference = graph_mmds(split.test, split.train)
    return EgoResult(
        config=config,
        mmd=mmd,
        reference_mmd=reference,
        train_seconds=train_seconds,
        sample_seconds=sample_seconds,
        final_loss=float(np.mean(finals)),
        models=models,
        generated=generated,
        split=split,
        evaluation=evaluation,
    )
