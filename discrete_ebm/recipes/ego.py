"""Ego-small graph generation with a GNN energy (``discrete-ebm ego``).

Trains a GIN energy on the 160 Ego-small training graphs (Bernoulli or grid energy
discrepancy, or persistent contrastive divergence with an edge sampler), generates as many
graphs as the test set (40) by MCMC on edges and scores them by degree / clustering / orbit
MMD² against the 40 test graphs (the GDSS protocol). The experiment itself lives in
``discrete_ebm.graphs.experiment``; this module re-exports it and adds the loading of the
data the command does.
"""

from __future__ import annotations

from collections.abc import Callable

from ..graphs.config import OBJECTIVES, EgoConfig
from ..graphs.datasets import ego_small
from ..graphs.experiment import (
    EgoResult,
    generate_ego,
    protocol_graphs,
    run_ego,
    train_ego,
    validation_split,
)

__all__ = [
    "OBJECTIVES",
    "EgoConfig",
    "EgoResult",
    "generate_ego",
    "protocol_graphs",
    "run_ego",
    "run_ego_small",
    "train_ego",
    "validation_split",
]


def run_ego_small(
    config: EgoConfig | None = None,
    *,
    data: str | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> EgoResult:
    """Load Ego-small from ``data`` (a folder holding ``ego_small/ego_small.json``; default:
    the shipped copy) and ``run_ego(config)`` on it: train on the 160 training graphs,
    generate 40 graphs, score them against the 40 test graphs. ``result.split`` holds the
    data, ``result.to_dict()`` the JSON summary. ``log`` (optional) receives one line
    before training."""
    config = config or EgoConfig()
    split = ego_small(data)
    if log:
        log(f"ego: training {config.objective} on {len(split.train)} graphs ({config.steps} steps)")
    return run_ego(config, split=split, progress=progress)
