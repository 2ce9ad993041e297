"""Train an MLP energy on a 2-D toy density with every continuous objective.

Objectives: Gaussian energy discrepancy, exact / sliced / denoising score matching and
Langevin contrastive divergence (replay buffer). Writes ``continuous_<density>.png``
(true density next to each learned one, data next to each model's Langevin samples) and
``continuous_<density>.json`` (time per step, log-density MSE, MMD²) into ``--out``.

    python examples/continuous_toy.py --density 8gaussians --steps 1000 --out runs/continuous

Same as ``discrete-ebm continuous``; this script only fixes the short defaults.
"""

from __future__ import annotations

import argparse
import sys

from discrete_ebm.commands import continuous
from discrete_ebm.data.toy import TOY_DENSITIES


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
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--quiet", action="store_true", help="no progress bars or messages")
    args = p.parse_args(argv)
    args.objectives = list(continuous.OBJECTIVES)
    args.batch_size, args.lr, args.sample_steps = 256, 3e-3, 500
    return continuous.run(args)


if __name__ == "__main__":
    sys.exit(main())
