"""``discrete-ebm continuous``: train an MLP energy on a 2-D toy density with each objective.

Objectives: Gaussian energy discrepancy, exact / sliced / denoising score matching and
contrastive divergence with persistent Langevin chains (a replay buffer). Every model is
``MLPEnergy(2, hidden, "silu", base=GaussianBase.from_data(data))`` trained by ``fit``
(``discrete_ebm.recipes.continuous``). Writes ``continuous_<density>.json`` (per objective:
time per training step, log-density MSE against the truth on a grid where the density is
known, MMD² of Langevin samples to held-out data) and ``continuous_<density>.png`` (true and
learned densities, samples).
"""

from __future__ import annotations

import argparse

from ..data.toy import TOY_DENSITIES
from ..recipes.continuous import OBJECTIVES
from ._common import add_common_arguments, report, say, show_progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "continuous",
        help="train MLP energies on a 2-D toy density with every continuous objective",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--density",
        default="8gaussians",
        choices=TOY_DENSITIES,
        help="toy density (default 8gaussians)",
    )
    p.add_argument(
        "--objectives",
        nargs="+",
        default=list(OBJECTIVES),
        choices=OBJECTIVES,
        help="objectives to train (default: all)",
    )
    p.add_argument(
        "--steps", type=int, default=1000, help="training steps per objective (default 1000)"
    )
    p.add_argument("--batch-size", type=int, default=256, help="batch size (default 256)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    p.add_argument(
        "--sample-steps", type=int, default=500, help="MALA steps for the samples (default 500)"
    )
    add_common_arguments(p, default_out="runs/continuous")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.steps <= 0 or args.batch_size <= 0 or args.sample_steps <= 0:
        raise SystemExit("--steps, --batch-size and --sample-steps must be positive")
    from ..recipes.continuous import run_toy_objectives

    toy = run_toy_objectives(
        args.density,
        args.objectives,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        sample_steps=args.sample_steps,
        seed=args.seed,
        device=args.device,
        progress=show_progress(args),
        log=lambda message: say(args, message),
    )
    path, png = toy.save(args.out)
    report(f"wrote {path} and {png}")
    return 0
