"""``discrete-ebm ego``: generate Ego-small graphs with a GNN energy-based model.

Trains a GIN energy on the 160 Ego-small training graphs (Bernoulli or grid energy
discrepancy, then --refine-steps of CD from the data; or persistent contrastive divergence
with an edge sampler) and generates --n-generated graphs FROM NOISE (default; --init data
starts the chains at training graphs and is labelled so in every output): each chain takes a
node count drawn from the training graphs, starts from random edges, and runs single-edge
heat-bath Gibbs annealed from --beta-start to --beta-end with population-annealing
resampling among at least --population chains of each node count (--sampler annealed;
"gibbs"/"gwg" run --sample-steps plain updates instead). Isolated nodes are removed; a graph
left empty counts as one node, as GDSS does. Writes ``ego.json`` (degree / clustering /
orbit / spectral MMD² against the 40 test graphs for all generated graphs, EDP-GNN's
protocol, and for the first 40, GDSS's; validity: connected, dominating node, novel, unique;
the train-vs-test reference and the 40-vs-40 floor of real graphs), ``generated.json``
(every generated graph) and ``ego_graphs.png`` (generated beside test graphs, degree /
clustering / orbit histograms). The run is ``discrete_ebm.recipes.ego.run_ego_small``.
"""

from __future__ import annotations

import argparse
import math

from ..graphs.config import OBJECTIVES, SAMPLERS, EgoConfig
from ._common import add_common_arguments, check_ranges, report, say, show_progress

INF = math.inf
#: argument -> (low, high, closed): the values the run accepts (checked before training)
RANGES = {
    **dict.fromkeys(
        ("negatives", "steps", "batch_size", "hidden", "layers", "sample_steps", "cd_updates"),
        (0, INF, False),
    ),
    "n_generated": (0, INF, False),
    "population": (0, INF, False),
    "refine_steps": (0, INF, True),
    "refine_updates": (0, INF, False),
    "refine_lr": (0, INF, False),
    "lr": (0, INF, False),
    "sweeps": (0, INF, False),
    "beta_end": (0, INF, True),
    "beta_start": (0, INF, True),
    "epsilon": (0, 1, False),
    "init_density": (0, 1, True),
    "anneal_fraction": (0, 1, True),
}
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
    "--sampler": ("sampler", SAMPLERS, "generating sampler (CD trains with gibbs, or gwg)"),
    "--sample-steps": ("sample_steps", int, "gibbs/gwg: single-edge updates per chain"),
    "--sweeps": ("sweeps", float, "annealed: sweeps of each graph's own free edge slots"),
    "--beta-start": ("beta_start", float, "annealed: first inverse temperature"),
    "--anneal-fraction": ("anneal_fraction", float, "annealed: share of sweeps in the ramp"),
    "--population": ("population", int, "annealed, from noise: least chains per node count"),
    "--init": ("init", ("noise", "data"), "chains start from random graphs or training graphs"),
    "--init-density": ("init_density", float, "edge probability of the noise graphs"),
    "--beta-end": ("beta_end", float, "final inverse temperature (gibbs/gwg: ramp from 1)"),
    "--n-generated": ("n_generated", int, "graphs generated (GDSS's protocol: the first 40)"),
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
        if name == "epsilon":
            typed["nargs"] = "+"
            default = [default] if isinstance(default, float) else list(default)
        p.add_argument(flag, default=default, help=f"{text} (default {default})", **typed)
    p.add_argument(
        "--data",
        default=None,
        help="data directory with ego_small/ego_small.json (default: the shipped copy)",
    )
    p.add_argument(
        "--no-hub-features",
        dest="hub_features",
        action="store_false",
        help="the GNN energy without the missing-degree (ego) features of its readout",
    )
    p.add_argument(
        "--plain-annealing",
        dest="resample",
        action="store_false",
        help="annealed: no population-annealing resampling among chains of equal node count",
    )
    add_common_arguments(p, default_out="runs/ego")
    p.set_defaults(func=run)


def run(args) -> int:
    check_ranges(args, RANGES)
    from ..recipes.ego import describe_ego, run_ego_small, save_ego

    fields = {name: getattr(args, flag[2:].replace("-", "_")) for flag, (name, *_) in FLAGS.items()}
    eps = args.epsilon
    fields["epsilon"] = eps[0] if len(eps) == 1 else tuple(eps)
    config = EgoConfig(
        **fields,
        resample=args.resample,
        hub_features=args.hub_features,
        seed=args.seed,
        device=args.device,
    )
    result = run_ego_small(
        config, data=args.data, progress=show_progress(args), log=lambda m: say(args, m)
    )
    paths = save_ego(result, args.out)
    report(describe_ego(result))
    report("wrote " + ", ".join(str(p) for p in paths))
    return 0
