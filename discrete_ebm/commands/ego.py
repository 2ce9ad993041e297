"""``discrete-ebm ego``: generate Ego-small graphs with a GNN energy-based model.

Trains a GIN energy on the 160 Ego-small training graphs (Bernoulli or grid energy
discrepancy, or persistent contrastive divergence with an edge sampler), generates 40
graphs by MCMC on edges (heat-bath Gibbs over edge flips, or Gibbs-with-gradients with a
Metropolis-Hastings correction; chains start at randomly drawn training graphs, or at
random graphs with the node counts of training graphs with ``--init noise``; isolated nodes
removed, a graph left empty counted as one node, as GDSS does) and writes ``ego.json``
(degree / clustering / orbit MMD² against the 40 test graphs, the train-vs-test reference,
training and sampling time), ``generated.json`` (the graphs) and ``ego_graphs.png``
(training graphs beside generated ones). The run is
``discrete_ebm.recipes.ego.run_ego_small``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math

from ..graphs.config import OBJECTIVES, EgoConfig
from ._common import add_common_arguments, report, say, show_progress

POSITIVE = ("negatives", "steps", "batch_size", "hidden", "layers", "sample_steps", "cd_updates")
#: flag -> (EgoConfig field, type or choices, help); the default is the field's
FLAGS = {
    "--objective": ("objective", OBJECTIVES, "training objective"),
    "--epsilon": ("epsilon", float, "ED-Bern flip probability of each free edge"),
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
    "--hidden": ("hidden", int, "GNN width"),
    "--layers": ("n_layers", int, "GIN layers"),
    "--sampler": ("sampler", ("gwg", "gibbs"), "edge sampler for generation and for CD's chains"),
    "--sample-steps": ("sample_steps", int, "single-edge proposals/updates per chain"),
    "--init": ("init", ("noise", "data"), "chains start from random graphs or training graphs"),
    "--init-density": ("init_density", float, "initial edge probability of the chains"),
    "--beta-end": ("beta_end", float, "final inverse temperature of the linear ramp from 1"),
}


def register(sub: argparse._SubParsersAction) -> None:
    d = EgoConfig()
    p = sub.add_parser(
        "ego",
        help="train a GNN energy on Ego-small and generate graphs (MMD vs test set)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for flag, (name, kind, text) in FLAGS.items():
        default = getattr(d, name)
        typed = {"choices": kind} if isinstance(kind, tuple) else {"type": kind}
        p.add_argument(flag, default=default, help=f"{text} (default {default})", **typed)
    p.add_argument(
        "--data",
        default=None,
        help="data directory with ego_small/ego_small.json (default: the shipped copy)",
    )
    add_common_arguments(p, default_out="runs/ego")
    p.set_defaults(func=run)


def run(args) -> int:
    for name in POSITIVE:
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1")
    if not (args.lr > 0 and math.isfinite(args.lr)):
        raise SystemExit("--lr must be a finite number > 0")
    if not (args.beta_end >= 0 and math.isfinite(args.beta_end)):
        raise SystemExit("--beta-end must be a finite number >= 0")
    if not 0.0 < args.epsilon < 1.0:
        raise SystemExit("--epsilon must lie in (0, 1)")
    if not 0.0 <= args.init_density <= 1.0:
        raise SystemExit("--init-density must lie in [0, 1]")
    from pathlib import Path

    from ..graphs.datasets import save_graphs_json
    from ..io import write_json
    from ..plotting.graphs import plot_graph_grid
    from ..recipes.ego import run_ego_small

    fields = {name: getattr(args, flag[2:].replace("-", "_")) for flag, (name, *_) in FLAGS.items()}
    config = EgoConfig(**fields, seed=args.seed, device=args.device)
    result = run_ego_small(
        config, data=args.data, progress=show_progress(args), log=lambda m: say(args, m)
    )
    out = Path(args.out)
    summary = result.to_dict()
    summary["config"] = dataclasses.asdict(config)
    json_path = write_json(out / "ego.json", summary)
    save_graphs_json(result.generated, out / "generated.json")
    m = result.mmd
    png = plot_graph_grid(
        result.split.train,
        result.generated,
        out / "ego_graphs.png",
        suptitle=(
            f"Ego-small, {config.objective} + {config.sampler}: MMD² degree "
            f"{m['degree']:.4f}, clustering {m['clustering']:.4f}, orbit {m['orbit']:.4f}"
        ),
    )
    report(
        f"MMD² vs test: degree {m['degree']:.4f} clustering {m['clustering']:.4f} "
        f"orbit {m['orbit']:.4f} (average {m['average']:.4f}); "
        f"train {result.train_seconds:.0f}s, sample {result.sample_seconds:.0f}s",
    )
    report(f"wrote {json_path}, {out / 'generated.json'} and {png}")
    return 0
