"""Settings of one Ego-small run (``EgoConfig``): a light module (no torch, no
torch-geometric), so that the ``discrete-ebm ego`` parser can show the defaults."""

from __future__ import annotations

from dataclasses import dataclass

#: training objectives of the Ego-small experiment (``discrete_ebm.graphs.experiment``)
OBJECTIVES = ("ed-bern", "ed-grid", "cd")


@dataclass
class EgoConfig:
    """Settings of one Ego-small run (defaults: a few minutes on 2 CPU cores).

    objective: ``"ed-bern"`` (Bernoulli ED, flip prob. ``epsilon``), ``"ed-grid"`` (one-flip
    ED) or ``"cd"`` (persistent contrastive divergence, chains started at the data, with the
    edge sampler ``sampler`` making ``cd_updates`` single-edge updates/proposals per training
    step). ``sampler``/``sample_steps``: the generating chain (``"gibbs"`` single-edge
    heat-bath updates or ``"gwg"`` Gibbs-with-gradients proposals), started from graphs whose
    free edges are present with probability ``init_density`` (``init="noise"``) or from
    randomly drawn training graphs (``init="data"``, data-initialised chains, the default:
    from random graphs the ED-trained energy leads many chains to sparse or empty graphs:
    14 of 40 empty for an ED-Bern model on 2026-11-22); the inverse temperature ramps linearly
    from 1 to ``beta_end``. ``n_generated``: graphs generated per run (default ``None``: as
    many as the test set, 40, as GDSS's ``sampler.py`` keeps; EDP-GNN's ``sample.py``
    generates 1024). Generated graphs left empty count as one isolated node
    (``protocol_graphs``).
    """

    objective: str = "ed-bern"
    epsilon: float = 0.05
    n_negatives: int = 32
    w: float = 1.0
    cd_updates: int = 10
    steps: int = 1000
    batch_size: int = 32
    lr: float = 2e-3
    hidden: int = 32
    n_layers: int = 3
    sampler: str = "gibbs"
    sample_steps: int = 1000
    init: str = "data"
    init_density: float = 0.3
    beta_end: float = 1.0
    n_generated: int | None = None
    seed: int = 0
    device: str = "auto"
