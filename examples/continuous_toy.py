"""Train an MLP energy on a 2-D toy density with every continuous objective.

Objectives: Gaussian energy discrepancy, exact / sliced / denoising score matching and
Langevin contrastive divergence (replay buffer), with the settings of
``discrete_ebm.recipes.continuous.SETTINGS``. Writes ``continuous_<density>.png`` (true
density next to each learned one, data next to each model's Langevin samples) and
``continuous_<density>.json`` (time per step, log-density MSE, MMD²) into ``--out``.

    python examples/continuous_toy.py --density 8gaussians --steps 1000 --out runs/continuous

Same as ``discrete-ebm continuous``. ``--quick`` (or ``DISCRETE_EBM_QUICK=1``) shrinks the
run to seconds (40 steps, 20 Langevin steps for the samples).
"""

from __future__ import annotations

import argparse
import os

from discrete_ebm.data.toy import TOY_DENSITIES
from discrete_ebm.recipes.continuous import OBJECTIVES, run_toy_objectives
from discrete_ebm.threads import add_threads_argument, set_threads


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--out", default="runs/continuous", help="output folder (default runs/continuous)"
    )
    p.add_argument("--density", default="8gaussians", choices=TOY_DENSITIES, help="toy density")
    p.add_argument(
        "--steps", type=int, default=1000, help="training steps per objective (default 1000)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", default="auto", help="'auto' (CUDA if available), 'cpu', ...")
    add_threads_argument(p)
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.add_argument("--quick", action="store_true", help="a few seconds: 40 steps per objective")
    args = p.parse_args(argv)
    set_threads(args.threads)
    quick = args.quick or os.environ.get("DISCRETE_EBM_QUICK") == "1"
    steps, sample_steps = (40, 20) if quick else (args.steps, 500)

    toy = run_toy_objectives(
        args.density,
        OBJECTIVES,
        steps=steps,
        sample_steps=sample_steps,
        seed=args.seed,
        device=args.device,
        log=None if args.quiet else print,
    )
    path, png = toy.save(args.out)
    if not args.quiet:
        print(f"wrote {path} and {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
