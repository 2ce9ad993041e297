"""Settings of one Ego-small run (``EgoConfig``) and their command-line flags (``FLAGS``,
``add_config_flags``, ``config_fields``, shared by ``discrete-ebm ego`` and
``benchmarks/ego_small.py``): a light module (no torch, no torch-geometric), so that the
parsers can show the defaults."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

#: training objectives of the Ego-small experiment (``discrete_ebm.graphs.experiment``)
OBJECTIVES = ("ed-bern", "ed-grid", "cd")


@dataclass
class EgoConfig:
    """Settings of one Ego-small run (defaults: under 5 minutes on one CPU thread).

    objective: ``"ed-bern"`` (Bernoulli ED, flip prob. ``epsilon``; several values: each
    training graph draws one, a multi-scale ED whose large flip probabilities show the energy
    graphs far from the data, the dense ones included), ``"ed-grid"`` (one-flip ED) or
    ``"cd"`` (persistent contrastive divergence, chains started at the data, with single-edge
    Gibbs (or GWG with ``sampler="gwg"``) making ``cd_updates`` updates per
    training step).

    refine_steps, refine_lr, refine_updates: after ED training (ED objectives only), a
    short CD refinement from the data (``discrete_ebm.graphs.refinement.refine_by_cd``:
    ``refine_steps`` steps at rate ``refine_lr``, each sampler step ``refine_updates``
    single-edge Gibbs updates); ``refine_steps=0`` skips it.

    hidden, n_layers, hub_features: the ``GraphEnergy`` (``hub_features``: the readout sees
    the smallest missing degree, i.e. how far the graph is from having an ego).

    ensemble: how many energies are trained (member ``k`` of a run seeded ``s`` is trained
    exactly as a run seeded ``s · ensemble + k``); the generated graphs come from their equal
    mixture ``(1/K) Σ_k exp(−U_k) / Z_k``, graph ``i`` drawn from member ``i mod K``. An MMD²
    is convex in the generated law, so the mixture scores at most the members' average (up
    to the draws): it averages away the energies' seed-to-seed errors. ``1``: one energy.

    Generation (``discrete_ebm.graphs.experiment.generate_ego``): each chain gets a node
    count drawn uniformly from the training graphs (GDSS and EDP-GNN draw node counts from
    the training set too) and starts from NOISE (``init="noise"``, the default: every free
    edge present with probability ``init_density``) or, labelled as such everywhere, from a
    drawn training graph (``init="data"``). ``sampler="annealed"`` (the default):
    single-edge heat-bath Gibbs annealed from ``beta_start`` to ``beta_end`` over the first
    ``anneal_fraction`` of ``sweeps`` sweeps of each graph's own free slots, with
    population-annealing resampling among chains of the same node count when ``resample``
    (``discrete_ebm.graphs.annealing``), at least ``population`` chains per node count, of
    which as many as requested are kept (``discrete_ebm.graphs.generation``). From noise, the
    node counts ``>= grow_from`` are instead GROWN node by node from ``grow_from`` nodes
    (sequential Monte Carlo over the node count, ``stage_sweeps`` Gibbs sweeps after each
    added node; ``discrete_ebm.graphs.growth``); ``grow_from=0``: every count annealed.
    ``"gibbs"``/``"gwg"``: ``sample_steps`` single-edge updates/proposals per chain, the
    inverse temperature ramping linearly from 1 to ``beta_end``. ``n_generated``: graphs
    generated per run (EDP-GNN's protocol: 1024; GDSS's 40 are the first 40 of them;
    ``None``: as many as the test set). Generated graphs left empty count as one isolated
    node (``protocol_graphs``).
    """

    objective: str = "ed-bern"
    epsilon: float | tuple[float, ...] = (0.05, 0.1, 0.2, 0.4, 0.8)
    n_negatives: int = 32
    w: float = 1.0
    cd_updates: int = 10
    steps: int = 1000
    batch_size: int = 32
    lr: float = 2e-3
    refine_steps: int = 50
    refine_lr: float = 2e-4
    refine_updates: int = 240
    hidden: int = 32
    n_layers: int = 3
    hub_features: bool = True
    ensemble: int = 3
    sampler: str = "annealed"
    sample_steps: int = 1000
    sweeps: float = 20.0
    beta_start: float = 0.3
    anneal_fraction: float = 0.8
    resample: bool = True
    population: int = 128
    grow_from: int = 8
    stage_sweeps: float = 2.0
    init: str = "noise"
    init_density: float = 0.3
    beta_end: float = 1.0
    n_generated: int | None = 1024
    seed: int = 0
    device: str = "auto"


#: generation samplers (``EgoConfig.sampler``)
SAMPLERS = ("annealed", "gibbs", "gwg")


def init_label(init: str) -> str:
    """How a run's chains started, as every JSON, figure and table states it."""
    if init == "noise":
        return "from noise"
    if init == "data":
        return "data-initialised chains (started at training graphs; not generation from noise)"
    raise ValueError(f"init must be 'noise' or 'data', got {init!r}")


#: flag -> (EgoConfig field, type or choices, help); the default is the field's
FLAGS = {
    "--objective": ("objective", OBJECTIVES, "training objective"),
    "--epsilon": ("epsilon", float, "ED-Bern flip probabilities (several: one drawn per graph)"),
    "--negatives": ("n_negatives", int, "ED negatives per graph"),
    "--cd-updates": (
        "cd_updates",
        int,
        "CD: updates of the --sampler kernel per training step (single-edge Gibbs updates or "
        "GWG proposals)",
    ),
    "--steps": ("steps", int, "training steps"),
    "--batch-size": ("batch_size", int, "graphs per step"),
    "--lr": ("lr", float, "Adam learning rate"),
    "--refine-steps": ("refine_steps", int, "ED only: CD refinement steps after ED (0: none)"),
    "--refine-lr": ("refine_lr", float, "ED only: Adam rate of the CD refinement"),
    "--refine-updates": ("refine_updates", int, "CD refinement: single-edge updates per step"),
    "--hidden": ("hidden", int, "GNN width"),
    "--layers": ("n_layers", int, "GIN layers"),
    "--ensemble": (
        "ensemble",
        int,
        "energies trained (seeds s·K+k); graphs drawn from their equal mixture (1: one energy)",
    ),
    "--sampler": ("sampler", SAMPLERS, "generating sampler (CD trains with gibbs, or gwg)"),
    "--sample-steps": ("sample_steps", int, "gibbs/gwg: single-edge updates per chain"),
    "--sweeps": ("sweeps", float, "annealed: sweeps of each graph's own free edge slots"),
    "--beta-start": ("beta_start", float, "annealed: first inverse temperature"),
    "--anneal-fraction": ("anneal_fraction", float, "annealed: share of sweeps in the ramp"),
    "--population": ("population", int, "annealed, from noise: least chains per node count"),
    "--grow-from": (
        "grow_from",
        int,
        "annealed, from noise: node counts >= this are grown node by node (0: none)",
    ),
    "--stage-sweeps": ("stage_sweeps", float, "growth: Gibbs sweeps after each added node"),
    "--init": ("init", ("noise", "data"), "chains start from random graphs or training graphs"),
    "--init-density": ("init_density", float, "edge probability of the noise graphs"),
    "--beta-end": ("beta_end", float, "final inverse temperature (gibbs/gwg: ramp from 1)"),
    "--n-generated": ("n_generated", int, "graphs generated (GDSS's protocol: the first 40)"),
}


def add_config_flags(p: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """The ``FLAGS`` (but ``skip``) as options of ``p``, defaults from ``EgoConfig``."""
    d = EgoConfig()
    for flag, (name, kind, text) in FLAGS.items():
        if flag in skip:
            continue
        default = getattr(d, name)
        typed = {"choices": kind} if isinstance(kind, tuple) else {"type": kind}
        if name == "epsilon":
            typed["nargs"] = "+"
            default = [default] if isinstance(default, float) else list(default)
        p.add_argument(flag, default=default, help=f"{text} (default {default})", **typed)


def config_fields(args, skip: tuple[str, ...] = ()) -> dict:
    """``EgoConfig`` fields from the parsed ``FLAGS`` (but ``skip``); one ε is a float."""
    fields = {
        name: getattr(args, flag[2:].replace("-", "_"))
        for flag, (name, *_) in FLAGS.items()
        if flag not in skip
    }
    eps = fields["epsilon"]
    fields["epsilon"] = eps[0] if len(eps) == 1 else tuple(eps)
    return fields
