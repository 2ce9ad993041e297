"""``discrete-ebm ising``: learn Ising couplings from binary data.

Generates the GWG / energy-discrepancy lattice benchmark data (a periodic D × D lattice,
``log p̃ = sᵀ(σA)s``, 2,000 samples from independent block-Gibbs chains) or loads rows from
an ``.npy`` / ``.npz`` (0/1 or ±1; an ``.npz`` may carry the true ``J`` and ``h``, our
convention, to score against). Fits a dense Ising model ``IsingModel(zeros(d, d), zeros(d))``
with the chosen objective and an L1 penalty on the couplings; with ``--refit`` a second stage
keeps only the pairs with ``|J_ij| > --refit-threshold`` and refits them without the penalty
(``discrete_ebm.recipes.ising``). Then writes into ``--out``:

- ``couplings.npz``: learned ``J`` and ``h`` (``U = −½ sᵀJs − hᵀs``), and ``J_true``/``h_true``
  when known; ``data.npz``: the generated data with its true ``J`` and ``h``;
- ``ising.json``: RMSE of ``J`` on the benchmark scale ``J/2`` over all d × d entries,
  ``−ln RMSE``, wall times, the settings and the loss per step;
- ``ising.png``: true vs learned coupling matrices, entry scatter, loss curve.
"""

from __future__ import annotations

import argparse
import math

from ..data.ising import LATTICE_SAMPLES, LATTICE_SWEEPS
from ..recipes.ising import DEFAULT_L1, DEFAULT_REFIT_THRESHOLD, OBJECTIVES
from ._common import add_common_arguments, report, say, show_progress

POSITIVE = ("samples", "sweeps", "steps", "batch_size", "negatives", "pcd_chains", "pcd_sweeps")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ising",
        help="learn Ising couplings from data (lattice benchmark by default)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    arg = p.add_argument
    arg("--data", default=None, help=".npy/.npz of 0/1 rows (default: generate)")
    arg("--lattice", type=int, default=10, help="lattice side D (default 10)")
    arg("--sigma", type=float, default=0.1, help="benchmark σ, J = 2σ (default 0.1)")
    arg("--samples", type=int, default=LATTICE_SAMPLES, help="samples (default 2000)")
    sweeps_help = f"block-Gibbs sweeps per sample chain (default {LATTICE_SWEEPS})"
    arg("--sweeps", type=int, default=LATTICE_SWEEPS, help=sweeps_help)
    arg("--objective", choices=OBJECTIVES, default="ed-bern", help="(default ed-bern)")
    arg("--steps", type=int, default=1000, help="optimiser steps (default 1000)")
    arg("--batch-size", type=int, default=256, help="rows per step (default 256)")
    arg("--lr", type=float, default=0.01, help="Adam learning rate (default 0.01)")
    l1_help = "per objective: " + ", ".join(f"{k} {v}" for k, v in DEFAULT_L1.items())
    arg("--l1", type=float, default=None, help=f"L1 weight on the couplings (default {l1_help})")
    arg("--epsilon", type=float, default=0.1, help="ed-bern flip probability")
    arg("--negatives", type=int, default=32, help="ED negatives per sample")
    arg("--pcd-chains", type=int, default=256, help="persistent chains (pcd)")
    arg("--pcd-sweeps", type=int, default=1, help="sweeps per step (pcd)")
    arg(
        "--refit",
        action="store_true",
        help="second stage: keep pairs with |J_ij| > --refit-threshold, refit them without L1",
    )
    arg("--refit-steps", type=int, default=None, help="steps of the refit (default: --steps)")
    arg(
        "--refit-threshold",
        type=float,
        default=DEFAULT_REFIT_THRESHOLD,
        help=f"|J_ij| (our scale) kept by the refit (default {DEFAULT_REFIT_THRESHOLD})",
    )
    arg("--refit-l1", type=float, default=0.0, help="L1 weight of the refit (0)")
    add_common_arguments(p, default_out="runs/ising")
    p.set_defaults(func=run)


def _check(args) -> None:
    """Every argument error, before any data is generated or written."""
    for name in (*POSITIVE, "refit_steps"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            raise SystemExit(f"--{name.replace('_', '-')} must be positive")
    for name in ("refit_threshold", "refit_l1", "l1"):
        value = getattr(args, name)
        if value is not None and not (value >= 0 and math.isfinite(value)):
            raise SystemExit(f"--{name.replace('_', '-')} must be a finite number >= 0")
    if not math.isfinite(args.sigma):
        raise SystemExit(f"--sigma must be a finite number, got {args.sigma}")
    if not (args.lr > 0 and math.isfinite(args.lr)):
        raise SystemExit("--lr must be a finite number > 0")
    if not 0.0 < args.epsilon < 1.0:
        raise SystemExit("--epsilon must lie in (0, 1)")
    if not args.data and args.lattice < 3:
        raise SystemExit("--lattice must be >= 3")


def run(args) -> int:
    _check(args)
    from ..recipes.ising import run_ising

    try:
        result = run_ising(
            data=args.data,
            lattice=args.lattice,
            sigma=args.sigma,
            samples=args.samples,
            sweeps=args.sweeps,
            objective=args.objective,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            l1=args.l1,
            epsilon=args.epsilon,
            n_negatives=args.negatives,
            pcd_chains=args.pcd_chains,
            pcd_k=args.pcd_sweeps,
            refit=args.refit,
            refit_steps=args.refit_steps,
            refit_threshold=args.refit_threshold,
            refit_l1=args.refit_l1,
            seed=args.seed,
            device=args.device,
            progress=show_progress(args),
            log=lambda message: say(args, message),
        )
    except (OSError, ValueError) as err:  # unreadable or inconsistent data
        raise SystemExit(str(err)) from None
    paths = result.save(args.out)
    rmse = result.rmse
    if rmse is not None:
        report(f"{args.objective}: RMSE(J/2) = {rmse:.5f}, −ln RMSE = {-math.log(rmse):.2f}")
    s = result.seconds
    wrote = ", ".join(str(paths[k]) for k in ("couplings", "json", "png"))
    report(f"data {s['data']:.1f}s, training {s['train']:.1f}s; wrote {wrote}")
    return 0
