"""Ego-small benchmark: degree / clustering / orbit MMD² of generated vs test graphs.

    python benchmarks/ego_small.py [--seeds 0 1 2] [--methods ed-bern ed-grid cd]
                                   [--split test|validation] [--n-generated 40]

For each method and seed: train a GIN energy on the 160 training graphs
(``discrete_ebm.graphs.experiment.run_ego``), generate 40 graphs, score them against the
40 test graphs.
This is GDSS's protocol (harryjo97/GDSS ``sampler.py``: one batch of samples cut to
``len(test_graph_list)`` = 40; ``evaluation/stats.py``: biased MMD², Gaussian-EMD for degree
and clustering, Gaussian RBF σ = 30 on mean orbit counts; a graph left empty after removing
isolated nodes counts as one isolated node). ``--split validation`` trains on training
graphs 40..159 and scores against training graphs 0..39 (for tuning; never tune on test).
Prints ONE JSON line: mean and standard deviation over seeds of each MMD² per method,
training/sampling seconds (medians), the train-vs-test reference, and published figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import asdict

from discrete_ebm.graphs.datasets import ego_small
from discrete_ebm.graphs.experiment import (
    OBJECTIVES,
    EgoConfig,
    generate_ego,
    run_ego,
    validation_split,
)
from discrete_ebm.graphs.metrics import graph_mmds
from discrete_ebm.io import write_json
from discrete_ebm.threads import add_threads_argument, set_threads
from discrete_ebm.training import TrainingDiverged

# Published Ego-small MMD² (degree, clustering, orbit), as tabulated in GDSS (Jo, Lee &
# Hwang, ICML 2022, Table 2; GraphRNN's row comes from GNF, Liu et al. 2019), same split and
# kernels. Quoted from memory of those tables, not from a copy: verify before citing.
PUBLISHED = {
    "GraphRNN (You et al. 2018)": (0.090, 0.220, 0.003),
    "EDP-GNN (Niu et al. 2020)": (0.052, 0.093, 0.007),
    "GDSS (Jo et al. 2022)": (0.021, 0.024, 0.007),
}


def main(argv: list[str] | None = None) -> int:
    d = EgoConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", choices=OBJECTIVES, default=list(OBJECTIVES))
    p.add_argument("--steps", type=int, default=d.steps, help="training steps")
    p.add_argument("--cd-steps", type=int, default=None, help="training steps for CD")
    p.add_argument("--sampler", choices=("gwg", "gibbs"), default=d.sampler)
    p.add_argument("--sample-steps", type=int, default=d.sample_steps)
    p.add_argument("--init", choices=("noise", "data"), default=d.init, help="chain start")
    p.add_argument("--epsilon", type=float, default=d.epsilon, help="ED-Bern flip probability")
    p.add_argument("--negatives", type=int, default=d.n_negatives, help="ED negatives")
    p.add_argument(
        "--cd-updates",
        type=int,
        default=d.cd_updates,
        help="CD: single-edge sampler updates per training step",
    )
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--hidden", type=int, default=d.hidden)
    p.add_argument("--layers", type=int, default=d.n_layers)
    p.add_argument("--beta-end", type=float, default=d.beta_end, help="final inverse temp.")
    p.add_argument(
        "--n-generated", type=int, default=None, help="graphs per run (default: len(test))"
    )
    p.add_argument("--split", choices=("test", "validation"), default="test")
    p.add_argument(
        "--resample",
        type=int,
        default=0,
        help="also score K more 40-graph draws of each trained model (evaluation noise)",
    )
    add_threads_argument(p, default=1)
    p.add_argument("--out", default=None, help="also write the full per-run results here")
    args = p.parse_args(argv)
    set_threads(args.threads)

    split = ego_small()
    if args.split == "validation":
        split = validation_split(split)
    runs = {}
    for method in args.methods:
        runs[method] = []
        for seed in args.seeds:
            steps = args.cd_steps if (method == "cd" and args.cd_steps) else args.steps
            cfg = EgoConfig(
                objective=method,
                steps=steps,
                sampler=args.sampler,
                sample_steps=args.sample_steps,
                init=args.init,
                epsilon=args.epsilon,
                n_negatives=args.negatives,
                cd_updates=args.cd_updates,
                lr=args.lr,
                hidden=args.hidden,
                n_layers=args.layers,
                beta_end=args.beta_end,
                n_generated=args.n_generated,
                seed=seed,
                device="cpu",
            )
            try:
                r = run_ego(cfg, split=split)
            except TrainingDiverged as err:  # reported, not hidden: the row shows NaN
                print(f"{method} seed {seed}: {err}", file=sys.stderr, flush=True)
                nan = float("nan")
                runs[method].append(
                    {
                        "seed": seed,
                        "diverged": str(err),
                        "config": asdict(cfg),
                        "mmd": dict.fromkeys(("degree", "clustering", "orbit", "average"), nan),
                        "train_seconds": nan,
                        "sample_seconds": nan,
                    }
                )
                continue
            runs[method].append(
                {
                    "seed": seed,
                    "mmd": r.mmd,
                    "n_failed_single_node": r.to_dict()["n_failed_single_node"],
                    "generated_edges_mean": r.to_dict()["generated_edges_mean"],
                    "train_seconds": r.train_seconds,
                    "sample_seconds": r.sample_seconds,
                    "config": asdict(cfg),
                }
            )
            print(f"{method} seed {seed}: {r.mmd}", file=sys.stderr, flush=True)
            if args.resample:
                draws = []
                for k in range(1, args.resample + 1):
                    g, _ = generate_ego(r.model, cfg, split, sample_seed=1000 * (seed + 1) + k)
                    draws.append(graph_mmds(split.test, g))
                runs[method][-1]["resampled"] = draws
                avg = statistics.fmean(d["average"] for d in draws)
                print(f"  {args.resample} more draws: mean average {avg:.4f}", file=sys.stderr)

    summary = {}
    for method, rs in runs.items():
        row = {}
        for k in ("degree", "clustering", "orbit", "average"):
            vals = [r["mmd"][k] for r in rs]
            row[k] = {
                "mean": statistics.fmean(vals),
                "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
            }
        row["train_seconds_median"] = statistics.median(r["train_seconds"] for r in rs)
        row["sample_seconds_median"] = statistics.median(r["sample_seconds"] for r in rs)
        summary[method] = row
    reference = graph_mmds(split.test, split.train)
    gdss_avg = sum(PUBLISHED["GDSS (Jo et al. 2022)"]) / 3
    line = {
        "benchmark": "ego_small",
        "seeds": args.seeds,
        "sampler": args.sampler,
        "sample_steps": args.sample_steps,
        "init": args.init,
        "split": args.split,
        "n_generated": args.n_generated or len(split.test),
        "methods": summary,
        "train_vs_test_reference": reference,
        "published": {
            k: dict(zip(("degree", "clustering", "orbit"), v)) for k, v in PUBLISHED.items()
        },
        "gdss_average": gdss_avg,
        "ratio_average_vs_gdss": {m: s["average"]["mean"] / gdss_avg for m, s in summary.items()},
    }
    if args.out:
        write_json(args.out, {"summary": line, "runs": runs})
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
