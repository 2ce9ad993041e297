"""``discrete-ebm rbm``: train a Bernoulli RBM on binarised MNIST by PCD.

PCD-1 through ``fit`` (the fused three-GEMM gradient, persistent hidden chains) with SGD, a
linearly decaying learning rate and a fresh binarisation every epoch; then ``log Z`` by AIS
(base = the training pixel marginals) and the average test log-likelihood in nats (exact
free energy − log Ẑ) on one seeded binarisation of the 10,000 test images
(``discrete_ebm.recipes.rbm.run_rbm_mnist``). ``--recipe centred`` is the centred RBM-500
(Melchior, Fischer & Wiskott 2016) on thresholded MNIST, scored by forward AIS (optimistic)
and reverse AIS (conservative) at 10,000 temperatures, with a quick AIS likelihood every 10
epochs; flags given explicitly override the recipe's values. With ``--checkpoint FILE`` a
long run is resumable: the same command run again continues where it stopped and ends
equal to an uninterrupted run. Writes ``samples.png`` (visible probabilities after long
block-Gibbs runs from noise), ``filters.png`` (the first 100 receptive fields),
``likelihood.png`` (the test log-likelihood over training), ``rbm.json`` and ``rbm.pt``.
"""

from __future__ import annotations

import argparse
import math

from ._common import add_common_arguments, check_ranges, report, say, show_progress

POSITIVE = ("hidden", "epochs", "batch_size", "chains", "ais_chains", "ais_betas", "sample_steps")
#: flag -> run_rbm_mnist keyword (``None`` defaults: the recipe's value applies)
TUNABLE = {
    "hidden": "n_hidden", "epochs": "epochs", "batch_size": "batch_size", "lr": "lr",
    "momentum": "momentum", "weight_decay": "weight_decay", "chains": "n_chains",
    "centred": "centred", "offset_rate": "offset_rate", "schedule": "schedule",
    "binarize": "binarize", "ais_chains": "ais_chains", "ais_betas": "ais_betas",
    "reverse_chains": "reverse_chains", "reverse_sweeps": "reverse_sweeps",
    "eval_every": "eval_every", "eval_betas": "eval_betas", "sample_steps": "sample_steps",
}  # fmt: skip


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rbm",
        help="train an RBM on binarised MNIST by PCD; samples, filters and AIS log-likelihood",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = p.add_argument
    add("--recipe", choices=("default", "centred"), default="default", help="named settings")
    add("--hidden", type=int, help="hidden units (default 500)")
    add("--epochs", type=int, help="passes over the 50,000 images (default 5; centred 60)")
    add("--batch-size", type=int)
    add("--lr", type=float, help="initial SGD rate (default 0.05, decaying to 0)")
    add("--momentum", type=float, help="(default 0.5)")
    add("--weight-decay", type=float, help="(default 0)")
    add("--chains", type=int, help="persistent chains (default 100)")
    add("--centred", action=argparse.BooleanOptionalAction, default=None, help="centred RBM")
    add("--offset-rate", type=float, help="moving-average rate of the hidden offsets (0.01)")
    add("--schedule", choices=("linear", "constant"), help="learning-rate schedule")
    add("--binarize", choices=("dynamic", "static", "threshold"), help="(default dynamic)")
    add("--ais-chains", type=int)
    add("--ais-betas", type=int)
    add("--reverse-chains", type=int, help="reverse-AIS runs (0: none)")
    add("--reverse-sweeps", type=int, help="Gibbs sweeps from test digits before reverse AIS")
    add("--eval-every", type=int, help="quick AIS test likelihood every N epochs (0: never)")
    add("--eval-betas", type=int, help="temperatures of the quick AIS (default 1000)")
    add("--sample-steps", type=int, help="Gibbs sweeps for samples.png")
    add("--checkpoint", default=None, help="checkpoint file: resume the run if it exists")
    add(
        "--data",
        default=None,
        help="data folder with mnist/ (default: $DISCRETE_EBM_DATA, else the cache folder)",
    )
    add("--train-rows", type=int, default=None, help="train on the first N images (quick runs)")
    add_common_arguments(p, default_out="runs/rbm")
    p.set_defaults(func=run)


def run(args) -> int:
    check_ranges(args, dict.fromkeys(POSITIVE, (0, math.inf, False)))
    from ..recipes.rbm import describe_rbm, recipe_settings, run_rbm_mnist, save_rbm

    settings = recipe_settings(args.recipe, **{v: getattr(args, k) for k, v in TUNABLE.items()})
    try:
        out = run_rbm_mnist(
            root=args.data,
            train_rows=args.train_rows,
            seed=args.seed,
            device=args.device,
            progress=show_progress(args),
            checkpoint=args.checkpoint,
            log=lambda message: say(args, message),
            **settings,
        )
    except ValueError as err:
        if "train_rows" in str(err):
            raise SystemExit(f"--train-rows: {err}") from None
        raise
    record = {k: v for k, v in vars(args).items() if k != "func" and v is not None}
    path = save_rbm(out, args.out, settings={**record, **settings})
    report(f"{describe_rbm(out['result'])} -> {path}")
    return 0
