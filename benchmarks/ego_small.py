"""Ego-small benchmark: graphs generated FROM NOISE, scored under both published protocols.

    python benchmarks/ego_small.py [--seeds 0 1 2] [--methods ed-bern ed-grid cd]
                                   [--split test|validation] [--n-generated 1024]
                                   [--init noise|data] [--sampler annealed|gibbs|gwg]

For each method and seed: train ``--ensemble`` GIN energies (default 3) on the 160
training graphs (``discrete_ebm.graphs.experiment.run_ego``), generate ``--n-generated``
graphs (default 1,024) from noise, from the mixture of the energies, with node counts
drawn from the training graphs (``--init data`` starts the chains at training graphs
instead; every output says so), and score them against the 40 test graphs: EDP-GNN's
protocol (all generated graphs) and GDSS's (the first 40; and the mean ± std over every
disjoint block of 40), each with degree, clustering, orbit, spectral and average MMD²
(GDSS's kernels: biased MMD², Gaussian-EMD for degree / clustering / spectral, Gaussian RBF
σ = 30 on mean orbit counts; a graph left empty after removing isolated nodes counts as one
isolated node), and validity (connected, dominating node, novel, unique). ``--split
validation`` trains on training graphs 40..159 and scores against training graphs 0..39
(for tuning; never tune on test).
Prints ONE JSON line: mean and standard deviation over seeds of every figure per method,
training/sampling seconds (medians), the references (training graphs vs test, and the
40-vs-40 floor of real graphs over 30 draws) and published figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import asdict

from discrete_ebm.graphs.config import add_config_flags, config_fields, init_label
from discrete_ebm.graphs.datasets import ego_small
from discrete_ebm.graphs.experiment import (
    OBJECTIVES,
    EgoConfig,
    generate_ego,
    run_ego,
    validation_split,
)
from discrete_ebm.graphs.metrics import graph_mmds
from discrete_ebm.graphs.protocols import evaluate_generated, mean_std, real_floor
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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", choices=OBJECTIVES, default=list(OBJECTIVES))
    add_config_flags(p, skip=("--objective",))  # the flags of ``discrete-ebm ego``
    p.add_argument("--cd-steps", type=int, default=None, help="training steps for CD")
    p.add_argument(
        "--plain-annealing",
        dest="population_annealing",
        action="store_false",
        help="annealed: no population-annealing resampling",
    )
    p.add_argument("--no-hub-features", dest="hub_features", action="store_false")
    p.add_argument("--split", choices=("test", "validation"), default="test")
    p.add_argument(
        "--resample",
        type=int,
        default=0,
        help="also score K more draws of --n-generated graphs of each trained model",
    )
    add_threads_argument(p, default=1)
    p.add_argument("--out", default=None, help="also write the full per-run results here")
    return p


def _config(args, method: str, seed: int) -> EgoConfig:
    steps = args.cd_steps if (method == "cd" and args.cd_steps) else args.steps
    fields = {**config_fields(args, skip=("--objective",)), "steps": steps}
    return EgoConfig(
        **fields,
        objective=method,
        resample=args.population_annealing,
        hub_features=args.hub_features,
        seed=seed,
        device="cpu",
    )


def _run_one(args, method: str, seed: int, split) -> dict:
    """Train, generate, score one (method, seed); a diverged run is reported as NaN."""
    cfg = _config(args, method, seed)
    try:
        r = run_ego(cfg, split=split)
    except TrainingDiverged as err:  # reported, not hidden: the row shows NaN
        print(f"{method} seed {seed}: {err}", file=sys.stderr, flush=True)
        return {"seed": seed, "diverged": str(err), "config": asdict(cfg)}
    d = r.to_dict()
    run = {"seed": seed, **{k: d[k] for k in RUN_KEYS}, "config": asdict(cfg)}
    e = d["edp_gnn"]
    print(
        f"{method} seed {seed} ({d['init_label']}): average {e['average']:.4f} "
        f"({e['n_generated']} graphs), first 40 {d['gdss']['average']:.4f}, "
        f"validity {d['validity']}",
        file=sys.stderr,
        flush=True,
    )
    if args.resample:
        draws = []
        for k in range(1, args.resample + 1):
            g, _ = generate_ego(r.models, cfg, split, sample_seed=1000 * (seed + 1) + k)
            draws.append(evaluate_generated(split.test, split.train, g))
        run["resampled"] = draws
    return run


#: per-run keys copied from ``EgoResult.to_dict()``
RUN_KEYS = (
    "init",
    "init_label",
    "edp_gnn",
    "gdss",
    "gdss_blocks",
    "validity",
    "train_seconds",
    "sample_seconds",
    "final_loss",
    "n_generated",
    "n_failed_single_node",
    "generated_nodes_mean",
    "generated_edges_mean",
)


def _summary(rs: list[dict]) -> dict:
    """Mean ± std over seeds of every protocol figure and validity rate."""
    ok = [r for r in rs if "diverged" not in r]
    row: dict = {"n_seeds": len(ok), "n_diverged": len(rs) - len(ok)}
    if not ok:
        return row
    for proto in ("edp_gnn", "gdss", "validity"):
        keys = [k for k in ok[0][proto] if not k.startswith("n_")]
        row[proto] = mean_std([{k: r[proto][k] for k in keys} for r in ok])
    row["gdss_blocks_mean"] = mean_std(
        [{k: v["mean"] for k, v in r["gdss_blocks"].items() if k != "n_blocks"} for r in ok]
    )
    for k in ("generated_nodes_mean", "generated_edges_mean"):
        row[k] = mean_std([{k: r[k]} for r in ok])[k]
    row["train_seconds_median"] = statistics.median(r["train_seconds"] for r in ok)
    row["sample_seconds_median"] = statistics.median(r["sample_seconds"] for r in ok)
    return row


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    set_threads(args.threads)
    split = ego_small()
    if args.split == "validation":
        split = validation_split(split)
    runs = {m: [_run_one(args, m, seed, split) for seed in args.seeds] for m in args.methods}
    summary = {m: _summary(rs) for m, rs in runs.items()}
    gdss_avg = sum(PUBLISHED["GDSS (Jo et al. 2022)"]) / 3
    line = {
        "benchmark": "ego_small",
        "seeds": args.seeds,
        "init": args.init,
        "init_label": init_label(args.init),
        "sampler": args.sampler,
        "split": args.split,
        "n_generated": args.n_generated,
        "methods": summary,
        "references": {
            "train_vs_test": graph_mmds(
                split.test, split.train, ("degree", "clustering", "orbit", "spectral")
            ),
            "real_floor_40": real_floor(split.test, split.train, size=len(split.test)),
        },
        "published": {
            k: dict(zip(("degree", "clustering", "orbit"), v)) for k, v in PUBLISHED.items()
        },
        "gdss_average": gdss_avg,
    }
    if args.out:
        write_json(args.out, {"summary": line, "runs": runs})
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
