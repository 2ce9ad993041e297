"""``discrete-ebm ego``: generate Ego-small graphs with a GNN energy-based model.

Trains --ensemble GIN energies (default 3; seeds s·K + k) on the 160 Ego-small training
graphs (Bernoulli or grid energy discrepancy, then --refine-steps of CD from the data; or
persistent contrastive divergence with an edge sampler) and generates --n-generated graphs
from their equal mixture (graph i from energy i mod K) FROM NOISE (default; --init data
starts the chains at training graphs and is labelled so in every output): each chain takes a
node count drawn from the training graphs, starts from random edges, and runs single-edge
heat-bath Gibbs annealed from --beta-start to --beta-end with population-annealing
resampling among at least --population chains of each node count; the node counts from
--grow-from on are grown node by node from that count instead (sequential Monte Carlo over
the node count, --stage-sweeps Gibbs sweeps after each added node) (--sampler annealed;
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

from ..graphs.config import EgoConfig, add_config_flags, config_fields
from ._common import add_common_arguments, check_ranges, report, say, show_progress

INF = math.inf
#: argument -> (low, high, closed): the values the run accepts (checked before training)
RANGES = {
    **dict.fromkeys(
        (
            "negatives",
            "steps",
            "batch_size",
            "hidden",
            "layers",
            "ensemble",
            "sample_steps",
            "cd_updates",
        ),
        (0, INF, False),
    ),
    "n_generated": (0, INF, False),
    "population": (0, INF, False),
    "grow_from": (0, INF, True),
    "stage_sweeps": (0, INF, False),
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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ego",
        help="train a GNN energy on Ego-small and generate graphs (MMD vs test set)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_flags(p)
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

    config = EgoConfig(
        **config_fields(args),
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
