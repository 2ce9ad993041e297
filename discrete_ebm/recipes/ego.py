"""Ego-small graph generation with a GNN energy (``discrete-ebm ego``).

Trains GIN energies (three by default) on the 160 Ego-small training graphs (Bernoulli or
grid energy discrepancy, or persistent contrastive divergence with an edge sampler),
generates graphs from noise (1,024 by default) from their mixture by annealed MCMC on edges
(the larger graphs grown node by node) and scores them against the 40 test
graphs under EDP-GNN's protocol (all generated graphs) and GDSS's (the first 40), with
validity and references. The experiment itself lives in ``discrete_ebm.graphs.experiment``;
this module re-exports it and adds the loading of the data and the writing of the outputs
the command does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..graphs.config import OBJECTIVES, EgoConfig, init_label
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
    "save_ego",
    "figure_title",
    "describe_ego",
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
    generate ``config.n_generated`` graphs, score them against the 40 test graphs.
    ``result.split`` holds the data, ``result.to_dict()`` the JSON summary. ``log``
    (optional) receives one line before training."""
    config = config or EgoConfig()
    split = ego_small(data)
    if log:
        energies = f"{config.ensemble} energies" if config.ensemble > 1 else "one energy"
        log(
            f"ego: training {energies} by {config.objective} on {len(split.train)} graphs "
            f"({config.steps} steps each)"
        )
    return run_ego(config, split=split, progress=progress)


def figure_title(c: EgoConfig, evaluation: dict) -> str:
    """The PNG's title: objective, sampler, how the chains started, both protocols' average
    MMD² and the validity rates."""
    edp, gdss, v = evaluation["edp_gnn"], evaluation["gdss"], evaluation["validity"]
    refined = c.objective != "cd" and c.refine_steps
    objective = f"{c.objective} + {c.refine_steps} CD steps" if refined else c.objective
    grown = c.sampler == "annealed" and c.init == "noise" and c.grow_from
    sampler = f"{c.sampler} sampler" + (f", grown from {c.grow_from} nodes" if grown else "")
    energies = f"mixture of {c.ensemble} energies, " if c.ensemble > 1 else ""
    return (
        f"Ego-small, {energies}{objective} + {sampler}, {init_label(c.init)}\n"
        f"average MMD²: {edp['n_generated']} generated vs {edp['n_test']} test "
        f"{edp['average']:.4f} (EDP-GNN protocol); first {gdss['n_generated']} "
        f"{gdss['average']:.4f} (GDSS protocol)\nconnected {v['connected']:.1%}, with a "
        f"dominating node {v['dominating']:.1%}, novel {v['novel']:.1%}, unique {v['unique']:.1%}"
    )


def describe_ego(result: EgoResult) -> str:
    """One line: how the chains started, both protocols' MMD², validity and the seconds."""
    e, g = result.evaluation["edp_gnn"], result.evaluation["gdss"]
    v = result.evaluation["validity"]
    return (
        f"{result.to_dict()['init_label']}: average MMD² {e['average']:.4f} ({e['n_generated']} "
        f"vs {e['n_test']} test graphs; degree {e['degree']:.4f} clustering "
        f"{e['clustering']:.4f} orbit {e['orbit']:.4f} spectral {e['spectral']:.4f}), "
        f"{g['average']:.4f} (first {g['n_generated']}); connected {v['connected']:.1%}, "
        f"dominating node {v['dominating']:.1%}, novel {v['novel']:.1%}, unique "
        f"{v['unique']:.1%}; train {result.train_seconds:.0f}s, sample {result.sample_seconds:.0f}s"
    )


def save_ego(result: EgoResult, out: str | Path) -> list[Path]:
    """Write ``ego.json`` (``result.to_dict()``), ``generated.json`` (every generated graph)
    and ``ego_graphs.png`` (generated beside test graphs, degree / clustering / orbit
    histograms of both; the title states how the chains started) into ``out``."""
    from ..graphs.datasets import save_graphs_json
    from ..io import write_json
    from ..plotting.ego import plot_ego_figure

    out = Path(out)
    summary = result.to_dict()
    title = figure_title(result.config, result.evaluation)
    return [
        write_json(out / "ego.json", summary),
        save_graphs_json(result.generated, out / "generated.json"),
        plot_ego_figure(result.split.test, result.generated, out / "ego_graphs.png", title=title),
    ]
