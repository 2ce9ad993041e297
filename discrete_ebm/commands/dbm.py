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
    from ..io import save_torch, write_json
    from ..plotting.dbm import plot_bound_curve
    from ..plotting.rbm import plot_filters, plot_image_grid
    from ..recipes.dbm import DBMSettings, run_dbm_mnist

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
    res, dbm = out["result"], out["dbm"]
    steps_per_epoch = res["steps_done"] / max(res["epochs_done"], 1e-12)
    files = [
        plot_image_grid(out["samples"], folder / "samples.png", title="p(v | h¹) of 100 chains"),
        plot_filters(dbm.weights[0].detach().cpu(), folder / "filters.png", title="layer 1"),
        plot_bound_curve(
            res["track"],
            folder / "bound.png",
            steps_per_epoch=steps_per_epoch,
            title=f"{args.track_betas}-temperature AIS, first {args.track_digits} test digits",
        ),
        save_torch(dbm.state_dict(), folder / "dbm.pt"),
    ]
    settings_record = {k: v for k, v in vars(args).items() if k != "func"}
    path = write_json(
        folder / "dbm.json", {**res, "settings": settings_record, "files": [str(f) for f in files]}
    )
    report(
        f"test bound {res['test_bound']:.2f} nats (log Z ± {res['log_z_stderr']:.2f} by "
        f"{res['ais_betas']}-temperature AIS, ± {res['test_bound_sem']:.2f} s.e.m.) after "
        f"{res['epochs_done']:.2f} epochs, {res['training_seconds']:.0f} s of training -> {path}"
    )
    return 0
