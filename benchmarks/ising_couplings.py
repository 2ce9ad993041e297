"""Learning lattice Ising couplings: ED (Bernoulli, grid), pseudo-likelihood and persistent CD.

The GWG / energy-discrepancy protocol (``discrete_ebm.data.ising``): periodic D × D lattice,
``log p̃ = sᵀ(σA)s``, 2,000 samples from independent block-Gibbs chains; every method fits
the dense model ``IsingModel(zeros(d, d), zeros(d))`` with Adam (lr 0.01 decayed linearly
to 1e-4), batches of 256 and an L1 penalty on the couplings (``DEFAULT_L1`` of
``discrete_ebm.recipes.ising``: ED-Bern 0.01, ED-Grid 0.003, PL 0.001, PCD 0.03, each the
best of 3–4 values on seed 0 of D = 10, σ = 0.1). PCD: 256 persistent chains, one
block-Gibbs sweep per step (the dense model's colouring has one site per colour, so a sweep
is d single-site heat-bath updates).

Reported per cell and method: −ln RMSE of J/2 over all d × d entries (mean ± std over
seeds; each seed draws its own data set and its own training randomness), wall time, and
the wall time to first reach the cell's target RMSE (the larger of the final median RMSEs
of BernoulliED and PCD, so both reach it), checked every ``--eval-every`` steps.

Prints ONE JSON line (medians over seeds; ``time_to_target_ratio_vs_pcd`` is the method's
median time to target divided by PCD's, measured in the same run). ``--out`` also writes
the per-run records. ``--quick`` runs two cells (σ = ±0.1, where the measured IAT is below
2 sweeps, so 500 data sweeps suffice), one seed, 400 steps: under 5 minutes on 2 idle cores.

    python benchmarks/ising_couplings.py --quick
    python benchmarks/ising_couplings.py                 # the full grid, 3 seeds
    python benchmarks/ising_couplings.py --mixing        # the IAT table of data/ising.py
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

from discrete_ebm.data.ising import LATTICE_SWEEPS, benchmark_rmse, lattice_benchmark, lattice_model
from discrete_ebm.io import save_torch, write_json
from discrete_ebm.recipes.ising import learn_couplings
from discrete_ebm.samplers.block_gibbs import BlockGibbsSampler
from discrete_ebm.threads import add_threads_argument, set_threads

FULL_CELLS = [(10, 0.1), (10, 0.2), (10, 0.3), (10, 0.4), (10, 0.5), (9, -0.1), (9, -0.2)]
QUICK_CELLS = [(10, 0.1), (9, -0.1)]
OBJECTIVES = ["ed-bern", "ed-grid", "pl", "pcd"]
#: −ln RMSE published for EB-GFN (Zhang et al., ICML 2022, Table 1; quoted secondhand).
PUBLISHED_EBGFN = {(10, 0.1): 6.1, (9, -0.1): 5.7}


def get_data(D: int, sigma: float, seed: int, sweeps: int, cache: Path | None):
    """The data set of one seed (cached on disk: generating it is the slow part)."""
    path = None if cache is None else cache / f"lattice_D{D}_s{sigma}_seed{seed}_sw{sweeps}.pt"
    if path is not None and path.exists():
        blob = torch.load(path, weights_only=True)
        return blob["x"], blob["J"], 0.0
    start = time.perf_counter()
    g = torch.Generator().manual_seed(10_000 + seed)
    x, model = lattice_benchmark(D, sigma, n_sweeps=sweeps, generator=g)
    seconds = time.perf_counter() - start
    J = model.J.detach()
    if path is not None:
        save_torch({"x": x, "J": J}, path)
    return x, J, seconds


def run_one(x, J_true, objective, seed, steps, eval_every, refit_steps=0, n_negatives=32):
    """Train once (``refit_steps > 0``: then refit the support, ``learn_couplings(refit=True)``);
    return final RMSE, wall time, the (seconds, rmse) trace and the RMSE after stage 1."""
    trace = []
    start = time.perf_counter()
    paused = [0.0]
    total = steps + refit_steps
    stage1 = [None]

    def evaluate(step, model, history):
        if step == steps:
            stage1[0] = benchmark_rmse(model.J.detach(), J_true)
        if step % eval_every == 0 or step in (steps, total):
            t = time.perf_counter()
            trace.append((t - start - paused[0], benchmark_rmse(model.J.detach(), J_true)))
            paused[0] += time.perf_counter() - t  # evaluation time is not training time

    model, _ = learn_couplings(
        x,
        objective,
        steps=steps,
        refit=refit_steps > 0,
        refit_steps=refit_steps or None,
        n_negatives=n_negatives,
        generator=torch.Generator().manual_seed(seed),
        callbacks=[evaluate],
    )
    seconds = time.perf_counter() - start - paused[0]
    return benchmark_rmse(model.J.detach(), J_true), seconds, trace, stage1[0]


def time_to(trace, target):
    for seconds, rmse in trace:
        if rmse <= target:
            return seconds
    return None


def mixing_table(chains: int = 400, sweeps: int = 3000) -> list[dict]:
    """Integrated autocorrelation times (Sokal window) of U and |m| (staggered for σ < 0)
    after 1000 sweeps, and the ensemble mean energy in windows, for every cell."""
    rows = []
    for D, sigma in FULL_CELLS:
        model = lattice_model(D, sigma)
        sampler = BlockGibbsSampler(model)
        g = torch.Generator().manual_seed(0)
        x = sampler.init_states(chains, g)
        r, c = torch.arange(D * D) // D, torch.arange(D * D) % D
        stagger = (-1.0) ** (r + c) if sigma < 0 else torch.ones(D * D)
        E, M = [], []
        for _ in range(sweeps):
            x = sampler.sample(x0=x, n_steps=1, generator=g)
            E.append(model.energy(x))
            M.append(((2 * x - 1) * stagger).mean(1).abs())
        E, M = torch.stack(E), torch.stack(M)
        rows.append(
            {
                "D": D,
                "sigma": sigma,
                "iat_energy": _iat(E[1000:]),
                "iat_abs_m": _iat(M[1000:]),
                "mean_energy_windows": {
                    str(a): E[a : a + 100].mean().item() for a in (0, 100, 300, 1000, 2000)
                },
            }
        )
    return rows


def _iat(series: torch.Tensor) -> float:
    """Integrated autocorrelation time of ``(T, chains)`` with Sokal's window ``M ≥ 5 τ``."""
    x = series - series.mean(0)
    T = x.shape[0]
    f = torch.fft.rfft(x, n=2 * T, dim=0)
    ac = torch.fft.irfft(f * f.conj(), dim=0)[:T].mean(1)
    ac = ac / ac[0]
    tau = 1.0
    for M in range(1, T):
        tau = 1.0 + 2.0 * ac[1 : M + 1].sum().item()
        if M >= 5 * tau:
            break
    return tau


def summarise_cell(runs: dict, data_seconds: list[float], target: float | None = None) -> dict:
    """Per-method figures of one cell from its runs ``{objective: [{rmse, seconds, trace}]}``.

    The target RMSE (unless given) is the WORST final RMSE over all seeds of BernoulliED and
    PCD, so every run of those two reaches it; other methods may not (``None``).
    """
    objectives = list(runs)
    ref = [o for o in ("ed-bern", "pcd") if o in objectives] or objectives
    if target is None:
        target = max(r["rmse"] for o in ref for r in runs[o])
    out = {"target_rmse": target, "data_seconds": statistics.median(data_seconds)}
    for o in objectives:
        nl = [-math.log(r["rmse"]) for r in runs[o]]
        tt = [time_to(r["trace"], target) for r in runs[o]]
        nl1 = [-math.log(r["rmse_stage1"]) for r in runs[o] if r.get("rmse_stage1")]
        out[o] = {
            "neg_log_rmse_mean": statistics.fmean(nl),
            "neg_log_rmse_std": statistics.stdev(nl) if len(nl) > 1 else 0.0,
            "stage1_neg_log_rmse_mean": statistics.fmean(nl1) if nl1 else None,
            "seconds_median": statistics.median(r["seconds"] for r in runs[o]),
            "time_to_target_median": None if None in tt else statistics.median(tt),
        }
    pcd_time = out["pcd"]["time_to_target_median"] if "pcd" in out else None
    for o in objectives:
        t = out[o]["time_to_target_median"]
        out[o]["time_to_target_ratio_vs_pcd"] = (
            t / pcd_time if (t is not None and pcd_time) else None
        )
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 cells, 1 seed, 400 steps (< 5 min)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--sweeps", type=int, default=LATTICE_SWEEPS, help="data chain sweeps")
    p.add_argument("--cells", default=None, help="e.g. '10:0.1,9:-0.1' (default: full grid)")
    p.add_argument("--objectives", default=",".join(OBJECTIVES))
    p.add_argument(
        "--refit-steps",
        type=int,
        default=0,
        help="> 0: after the L1 fit, refit its support (|J_ij| > 0.075) for this many steps "
        "without L1, for every objective (learn_couplings(refit=True))",
    )
    p.add_argument(
        "--negatives",
        dest="n_negatives",
        type=int,
        default=32,
        help="M of BernoulliED and GridED (default 32)",
    )
    p.add_argument("--eval-every", type=int, default=25)
    add_threads_argument(p, default=2)
    p.add_argument("--cache", default="runs/ising_benchmark_data", help="data cache ('' off)")
    p.add_argument("--out", default=None, help="also write all records to this JSON file")
    p.add_argument("--resummarise", default=None, help="recompute the line from an --out file")
    p.add_argument(
        "--target",
        type=float,
        default=None,
        help="with --resummarise: time to this -ln RMSE instead of the default target",
    )
    p.add_argument("--mixing", action="store_true", help="print the mixing (IAT) table")
    args = p.parse_args(argv)
    set_threads(args.threads)
    if args.mixing:
        print(json.dumps({"mixing": mixing_table()}))
        return 0
    if args.resummarise:
        saved = json.loads(Path(args.resummarise).read_text())
        line = saved["summary"]
        for cell in line["cells"]:
            runs = {}
            for r in saved["records"]:
                if r["cell"] == cell:
                    runs.setdefault(r["objective"], []).append(r)
            published = line["cells"][cell].get("published_ebgfn_neg_log_rmse")
            target = None if args.target is None else math.exp(-args.target)
            line["cells"][cell] = summarise_cell(
                runs, [line["cells"][cell]["data_seconds"]], target
            )
            if published is not None:
                line["cells"][cell]["published_ebgfn_neg_log_rmse"] = published
        print(json.dumps(line))
        return 0
    cells = FULL_CELLS
    if args.quick:
        cells, args.seeds, args.steps, args.sweeps = QUICK_CELLS, 1, 400, 500
    if args.cells:
        cells = [(int(a), float(b)) for a, b in (c.split(":") for c in args.cells.split(","))]
    objectives = args.objectives.split(",")
    cache = Path(args.cache) if args.cache else None

    records, summary = [], {}
    for D, sigma in cells:
        cell = f"D={D},sigma={sigma}"
        runs = {o: [] for o in objectives}
        data_seconds = []
        for seed in range(args.seeds):
            x, J_true, ds = get_data(D, sigma, seed, args.sweeps, cache)
            data_seconds.append(ds)
            for o in objectives:
                rmse, seconds, trace, rmse1 = run_one(
                    x,
                    J_true,
                    o,
                    seed,
                    args.steps,
                    args.eval_every,
                    args.refit_steps,
                    args.n_negatives,
                )
                runs[o].append(
                    {"rmse": rmse, "seconds": seconds, "trace": trace, "rmse_stage1": rmse1}
                )
                records.append(
                    {
                        "cell": cell,
                        "objective": o,
                        "seed": seed,
                        "rmse": rmse,
                        "rmse_stage1": rmse1,
                        "seconds": seconds,
                        "trace": trace,
                    }
                )
                print(
                    f"{cell} {o} seed {seed}: -ln RMSE {-math.log(rmse):.2f} "
                    f"(stage 1: {-math.log(rmse1):.2f}) in {seconds:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )
        cell_summary = summarise_cell(runs, data_seconds)
        if (D, sigma) in PUBLISHED_EBGFN:
            cell_summary["published_ebgfn_neg_log_rmse"] = PUBLISHED_EBGFN[(D, sigma)]
        summary[cell] = cell_summary
    line = {
        "benchmark": "ising_couplings",
        "quick": args.quick,
        "seeds": args.seeds,
        "steps": args.steps,
        "refit_steps": args.refit_steps,
        "n_negatives": args.n_negatives,
        "data_sweeps": args.sweeps,
        "threads": args.threads,
        "cells": summary,
    }
    report(line, records, args.out)
    return 0


def report(line: dict, records: list, out: str | None) -> None:
    """Print the one JSON line; with ``out``, also write it and every record there."""
    if out:
        write_json(out, {"summary": line, "records": records}, indent=1)
    print(json.dumps(line))


if __name__ == "__main__":
    sys.exit(main())
