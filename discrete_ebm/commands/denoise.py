"""``discrete-ebm denoise``: denoise binary images with Ising / RBM priors.

Input (one of): binarised MNIST test digits (default), ``--images`` clean images (``.npy``
array ``(n, H, W)`` of 0/1, or a folder of PNGs) corrupted here with flip noise
``--noise P`` (and optionally ``--missing F`` hidden pixels), or ``--noisy`` images that are
already corrupted (no clean reference, so no error rates; the flip rate is estimated by EM
unless ``--noise`` is given). Writes ``OUT/denoise.png`` (clean | noisy | each method),
``OUT/denoise.json`` and ``OUT/denoised.npz``
(``discrete_ebm.recipes.denoise.denoise_images`` and ``write_outputs``).
"""

from __future__ import annotations

import argparse
import math

import torch

from ..denoise.pipeline import ESTIMATORS
from ..recipes.denoise import PRIORS, denoise_images, write_outputs
from ._common import add_common_arguments, report, say, show_progress


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "denoise",
        help="denoise (or inpaint) binary images with Ising / RBM priors",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--images", help="clean images: .npy (n, H, W) of 0/1, or a folder of PNGs")
    src.add_argument("--noisy", help="already-noisy images: .npy (n, H, W) of 0/1 or PNG folder")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="binarise grey-level --images/--noisy: pixels >= T become 1 (e.g. 128 for 0-255)",
    )
    p.add_argument("--n", type=int, default=100, help="MNIST test digits to use (default: 100)")
    p.add_argument(
        "--data",
        default=None,
        help="data folder with mnist/ (default: $DISCRETE_EBM_DATA, else the cache folder)",
    )
    p.add_argument(
        "--noise",
        type=float,
        default=None,
        help="flip rate P (default 0.1; with --noisy: estimate)",
    )
    p.add_argument(
        "--missing", type=float, default=0.0, help="fraction of pixels hidden (inpainting)"
    )
    p.add_argument(
        "--priors",
        default="lattice,ising,rbm",
        help="comma list of lattice (hand-set), ising (learned, any size), rbm (28x28 only), "
        "or .npz prior files (default: lattice,ising,rbm; rbm skipped for other sizes)",
    )
    p.add_argument("--methods", default="mpm,map,icm", help="comma list of mpm, map, icm")
    p.add_argument("--sweeps", type=int, default=60, help="MPM sweeps after burn-in (default: 60)")
    p.add_argument("--burn-in", type=int, default=20, help="MPM burn-in sweeps (default: 20)")
    p.add_argument(
        "--chains",
        type=int,
        default=None,
        help="MPM chains per image, marginals averaged (default: 4 for the RBM prior, else 1)",
    )
    p.add_argument("--anneal-sweeps", type=int, default=60, help="annealing sweeps (default: 60)")
    p.add_argument("--estimate-noise", action="store_true", help="estimate the flip rate by EM")
    p.add_argument("--rows", type=int, default=8, help="images shown in denoise.png (default: 8)")
    add_common_arguments(p, default_out="runs/denoise")
    p.set_defaults(func=run)


def _check_flags(args) -> None:
    """Reject bad flag values before any image is read (messages name the flags)."""
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in ESTIMATORS]
    if bad or not methods:
        raise SystemExit(f"--methods must be a comma list of {', '.join(ESTIMATORS)}; got {bad}")
    if args.noise is not None and not 0 < args.noise < 0.5:
        raise SystemExit(f"--noise must lie in (0, 0.5), got {args.noise}")
    if args.chains is not None and args.chains < 1:
        raise SystemExit(f"--chains must be >= 1, got {args.chains}")
    if not 0 <= args.missing < 1:
        raise SystemExit(f"--missing must lie in [0, 1), got {args.missing}")
    if args.noisy and args.missing > 0:
        raise SystemExit(
            "--missing hides pixels of the images this command corrupts itself; "
            "it cannot be combined with --noisy (already corrupted images)"
        )
    if args.threshold is not None and not math.isfinite(args.threshold):
        raise SystemExit(f"--threshold must be a finite number, got {args.threshold}")
    if not (args.images or args.noisy) and args.n < 1:
        raise SystemExit(f"--n must be >= 1, got {args.n}")
    for name in _split(args.priors):
        if name not in PRIORS and not name.endswith(".npz"):
            raise SystemExit(
                f"--priors entries must be {', '.join(PRIORS)} or .npz files, got {name!r}"
            )


def _split(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def run(args) -> int:
    _check_flags(args)
    torch.manual_seed(args.seed)
    result = denoise_images(
        images=args.images,
        noisy=args.noisy,
        n=args.n,
        root=args.data,
        noise=args.noise,
        missing=args.missing,
        priors=_split(args.priors),
        methods=_split(args.methods),
        sweeps=args.sweeps,
        burn_in=args.burn_in,
        chains=args.chains,
        anneal_sweeps=args.anneal_sweeps,
        estimate_noise=args.estimate_noise,
        threshold=args.threshold,
        seed=args.seed,
        device=args.device,
        progress=show_progress(args),
        log=lambda message: say(args, message),
    )
    paths = write_outputs(result, args.out, rows=args.rows)
    best = result.summary["best"]
    if best is not None:
        error = result.summary["methods"][best]["error"]
        report(f"best: {best} ({100 * error:.2f}% wrong pixels)")
    report("wrote " + ", ".join(str(p) for p in paths))
    return 0
