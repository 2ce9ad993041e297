"""``discrete-ebm dbm``: a 784-500-1000 deep Boltzmann machine on binarised MNIST.

The recipe of Salakhutdinov & Hinton (2009), ``discrete_ebm.recipes.dbm.run_dbm_mnist``:
greedy pre-training (CD-1 RBMs with doubled input/output), then PCD with a mean-field
positive phase and persistent joint chains (the fused analytic update), SGD with momentum
and the rate ``lr · τ / (τ + t)``. Every stage checkpoints into ``--checkpoint-dir``;
``--resume`` continues an interrupted run exactly (same flags; a larger ``--epochs``
extends it, ``--epochs`` at or below the checkpoint's epoch only evaluates it). Then the
test log-likelihood as S&H report it: forward AIS ``log Z`` (and reverse AIS), the
mean-field bound per test digit, and the bound's gap on the first test digits. Writes
``samples.png``, ``filters.png`` (first layer), ``bound.png`` (test bound over training),
``dbm.json`` and ``dbm.pt``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ._common import add_common_arguments, check_ranges, report, show_progress

# flag -> (type, default, DBMSettings field or None, help)
SETTINGS = {
    "pretrain-epochs": (int, 20, "pretrain_epochs", "epochs per pre-training RBM (0: none)"),
    "pretrain-lr": (float, 0.05, "pretrain_lr", "pre-training SGD rate"),
    "epochs": (int, 600, "epochs", "PCD epochs over the 50,000 images (600 = S&H's 300k updates)"),
    "lr": (float, 0.005, "lr", "initial PCD rate"),
    "lr-decay-steps": (float, 2000.0, "lr_decay_steps", "tau of the rate lr·tau/(tau + t)"),
    "momentum": (float, 0.5, "momentum", "momentum of the first --momentum-epochs"),
    "final-momentum": (float, 0.9, "final_momentum", "momentum afterwards"),
    "weight-decay": (float, 2e-4, "weight_decay", "on the weights (PCD)"),
    "k": (int, 5, "k", "block-Gibbs sweeps of the chains per update"),
    "mean-field-iters": (int, 10, "mean_field_iters", "mean-field iterations per update"),
    "chains": (int, 100, "n_chains", "persistent joint chains"),
    "batch-size": (int, 100, "batch_size", None),
}
EVALUATION = {
    "ais-chains": (int, 100, "ais_chains", None),
    "ais-betas": (int, 20000, "ais_betas", "temperatures of the final forward and reverse AIS"),
    "reverse-sweeps": (int, 1000, "reverse_sweeps", "sweeps before reverse AIS (0: skip it)"),
    "gap-digits": (int, 100, "gap_digits", "test digits for the bound's gap (0: skip)"),
    "gap-chains": (int, 20, "gap_chains", None),
    "gap-betas": (int, 2000, "gap_betas", None),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dbm",
        help="train a DBM on binarised MNIST (S&H 2009); AIS test log-likelihood, samples",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--hidden", type=int, nargs="+", default=[500, 1000], help="hidden layers")
    for flag, (kind, default, _, text) in {**SETTINGS, **EVALUATION}.items():
        p.add_argument(f"--{flag}", type=kind, default=default, help=text)
    p.add_argument("--track-every", type=int, default=5, help="epochs between tracked bounds")
    p.add_argument("--track-digits", type=int, default=1000, help="test digits tracked")
    p.add_argument("--track-betas", type=int, default=1000, help="AIS temperatures tracked")
    p.add_argument("--sample-steps", type=int, default=1000, help="Gibbs sweeps for samples.png")
    p.add_argument("--data", default=None, help="folder with mnist/ (default $DISCRETE_EBM_DATA)")
    p.add_argument("--train-rows", type=int, default=None, help="train on the first N images")
    p.add_argument("--checkpoint-dir", default=None, help="default: <out>/checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints")
    add_common_arguments(p, default_out="runs/dbm")
    p.set_defaults(func=run)


def run(args) -> int:
    positive = ("epochs", "k", "mean_field_iters", "chains", "batch_size", "ais_chains")
    check_ranges(args, dict.fromkeys(positive, (0, math.inf, False)))
    folder = Path(args.out)
    ckpt = Path(args.checkpoint_dir or folder / "checkpoints")
    if not args.resume and any(ckpt.glob("*.pt")):
        raise SystemExit(f"{ckpt} holds checkpoints: pass --resume to continue, or another --out")
    from ..recipes.dbm import DBMSettings, describe_dbm, run_dbm_mnist, save_dbm

    values = {f: getattr(args, k.replace("-", "_")) for k, (_, _, f, _) in SETTINGS.items()}
    settings = DBMSettings(layer_sizes=(784, *args.hidden), **values)
    evaluation = {f: getattr(args, k.replace("-", "_")) for k, (_, _, f, _) in EVALUATION.items()}
    try:
        out = run_dbm_mnist(
            settings,
            root=args.data,
            checkpoint_dir=ckpt,
            resume=args.resume,
            track_every=args.track_every,
            track_digits=args.track_digits,
            track_betas=args.track_betas,
            evaluation=evaluation,
            sample_steps=args.sample_steps,
            train_rows=args.train_rows,
            seed=args.seed,
            device=args.device,
            progress=show_progress(args),
        )
    except ValueError as err:
        if "train_rows" in str(err):
            raise SystemExit(f"--train-rows: {err}") from None
        raise
    settings_record = {k: v for k, v in vars(args).items() if k != "func"}
    title = f"{args.track_betas}-temperature AIS, first {args.track_digits} test digits"
    path = save_dbm(out, folder, settings=settings_record, track_title=title)
    report(f"{describe_dbm(out['result'])} -> {path}")
    return 0
