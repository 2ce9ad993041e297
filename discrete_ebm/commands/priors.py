"""``discrete-ebm priors``: rebuild the default MNIST denoising priors.

Fits the learned offset Ising prior and the two-stage RBM prior on the 50,000 MNIST training
digits (settings tuned on the validation digits; ``discrete_ebm.denoise.pretrain``) and
writes ``ising_mnist.npz`` / ``rbm_mnist.npz`` to ``--out`` (default: a folder under the
output root, not the shipped files; pass ``--out`` the package's ``denoise/pretrained``
folder to replace them). ``--rbm-init FILE`` fine-tunes a saved stage-(1) RBM instead of
training one by PCD. ``--seed`` seeds the training streams (the shipped priors: 0). The
priors are built on the CPU.
"""

from __future__ import annotations

import argparse

from ..denoise.pretrain import PRETRAINED_FILES, build_priors
from ._common import add_common_arguments, report, show_progress


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "priors",
        help="rebuild the default MNIST denoising priors (learned Ising, RBM)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data",
        default=None,
        help="data folder with mnist/ (default: $DISCRETE_EBM_DATA, else the cache folder)",
    )
    p.add_argument(
        "--only", choices=sorted(PRETRAINED_FILES), default=None, help="build one prior only"
    )
    p.add_argument(
        "--rbm-init", default=None, help="saved stage-(1) RBM to fine-tune (skips PCD training)"
    )
    add_common_arguments(p, default_out="runs/priors")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.device not in ("auto", "cpu"):
        raise SystemExit(f"--device: the priors are built on the CPU, got {args.device!r}")
    kinds = [args.only] if args.only else sorted(PRETRAINED_FILES)
    paths = build_priors(
        args.out,
        kinds=kinds,
        root=args.data,
        progress=show_progress(args),
        rbm_init=args.rbm_init,
        seed=args.seed,
    )
    for path in paths.values():
        report(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0
