"""``discrete-ebm ego``: generate Ego-small graphs with a GNN energy-based model.

Trains a GIN energy on the 160 Ego-small training graphs (Bernoulli or grid energy
discrepancy, or persistent contrastive divergence with an edge sampler), generates 40
graphs by MCMC on edges (heat-bath Gibbs over edge flips, or Gibbs-with-gradients with a
Metropolis-Hastings correction; chains start at randomly drawn training graphs, or at
random graphs with the node counts of training graphs with ``--init noise``; isolated nodes
removed, a graph left empty counted as one node, as GDSS does) and writes ``ego.json``
(degree / clustering / orbit MMD² against the 40 test graphs, the train-vs-test reference,
training and sampling time), ``generated.json`` (the graphs) and ``ego_graphs.png``
(training graphs beside generated ones).
"""

from __future__ import annotations

import argparse
import dataclasses
import math

from ._common import add_common_arguments, say, show_progress, write_json


def register(sub: argparse._SubParsersAction) -> None:
    from graphs.experiment import OBJECTIVES, EgoConfig

    d = EgoConfig()
    p = sub.add_parser(
        "ego",
        help="train a GNN energy on Ego-small and generate graphs (MMD vs test set)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default=d.objective,
        help=f"training objective (default {d.objective})",
    )
    p.add_argument(
        "--epsilon",
        type=float,
        default=d.epsilon,
        help=f"ED-Bern flip probability of each free edge (default {d.epsilon})",
    )
    p.add_argument(
        "--negatives",
        type=int,
        default=d.n_negatives,
        help=f"ED negatives per graph (default {d.n_negatives})",
    )
    p.add_argument(
        "--cd-updates",
        type=int,
        default=d.cd_updates,
        help="CD: updates of the --sampler kernel per training step (single-edge Gibbs "
        f"updates or GWG proposals; default {d.cd_updates})",
    )
    p.add_argument("--steps", type=int, default=d.steps, help=f"training steps (default {d.steps})")
    p.add_argument(
        "--batch-size",
        type=int,
        default=d.batch_size,
        help=f"graphs per step (default {d.batch_size})",
    )
    p.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate (default {d.lr})")
    p.add_argument("--hidden", type=int, default=d.hidden, help=f"GNN width (default {d.hidden})")
    p.add_argument(
        "--layers", type=int, default=d.n_layers, help=f"GIN layers (default {d.n_layers})"
    )
    p.add_argument(
        "--sampler",
        choices=("gwg", "gibbs"),
        default=d.sampler,
        help=f"edge sampler for generation and for CD's chains (default {d.sampler})",
    )
    p.add_argument(
        "--sample-steps",
        type=int,
        default=d.sample_steps,
        help=f"single-edge proposals/updates per chain (default {d.sample_steps})",
    )
    p.add_argument(
        "--init",
        choices=("noise", "data"),
        default=d.init,
        help=f"chains start from random graphs or from training graphs (default {d.init})",
    )
    p.add_argument(
        "--init-density",
        type=float,
        default=d.init_density,
        help=f"initial edge probability of the chains (default {d.init_density})",
    )
    p.add_argument(
        "--beta-end",
        type=float,
        default=d.beta_end,
        help=f"final inverse temperature of the linear ramp from 1 (default {d.beta_end})",
    )
    p.add_argument(
        "--data",
        default=None,
        help="data directory with ego_small/ego_small.json (default: the shipped copy)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    add_common_arguments(p, default_out="runs/ego")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    import torch

    from graphs.datasets import ego_small, save_graphs_json
    from graphs.experiment import EgoConfig, run_ego

    from ..plotting.graphs import plot_graph_grid

    for name in (
        "negatives",
        "steps",
        "batch_size",
        "hidden",
        "layers",
        "sample_steps",
        "cd_updates",
    ):
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
    if args.threads:
        torch.set_num_threads(args.threads)
    config = EgoConfig(
        objective=args.objective,
        epsilon=args.epsilon,
        n_negatives=args.negatives,
        cd_updates=args.cd_updates,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        hidden=args.hidden,
        n_layers=args.layers,
        sampler=args.sampler,
        sample_steps=args.sample_steps,
        init=args.init,
        init_density=args.init_density,
        beta_end=args.beta_end,
        seed=args.seed,
        device=args.device,
    )
    split = ego_small(args.data)
    say(
        args,
        f"ego: training {config.objective} on {len(split.train)} graphs ({config.steps} steps)",
    )
    result = run_ego(config, split=split, progress=show_progress(args))
    out = Path(args.out)
    summary = result.to_dict()
    summary["config"] = dataclasses.asdict(config)
    json_path = write_json(out / "ego.json", summary)
    save_graphs_json(result.generated, out / "generated.json")
    png = plot_graph_grid(
        split.train,
        result.generated,
        out / "ego_graphs.png",
        suptitle=(
            f"Ego-small, {config.objective} + {config.sampler}: MMD² degree "
            f"{result.mmd['degree']:.4f}, clustering {result.mmd['clustering']:.4f}, "
            f"orbit {result.mmd['orbit']:.4f}"
        ),
    )
    m = result.mmd
    say(
        args,
        f"MMD² vs test: degree {m['degree']:.4f} clustering {m['clustering']:.4f} "
        f"orbit {m['orbit']:.4f} (average {m['average']:.4f}); "
        f"train {result.train_seconds:.0f}s, sample {result.sample_seconds:.0f}s",
    )
    say(args, f"wrote {json_path}, {out / 'generated.json'} and {png}")
    return 0
