"""``discrete-ebm rbm``: train a Bernoulli RBM on dynamically binarised MNIST by PCD.

PCD-1 through ``fit`` (the fused three-GEMM gradient, persistent hidden chains) with SGD, a
linearly decaying learning rate and a fresh binarisation every epoch; then ``log Z`` by AIS
(base = the training pixel marginals) and the average test log-likelihood in nats (exact
free energy − log Ẑ) on one seeded binarisation of the 10,000 test images
(``discrete_ebm.recipes.rbm.run_rbm_mnist``). Writes ``samples.png`` (visible probabilities
after long block-Gibbs runs), ``filters.png`` (the first 100 receptive fields), ``rbm.json``
and ``rbm.pt`` (the state dict).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_common_arguments, report, show_progress

POSITIVE = ("hidden", "epochs", "batch_size", "chains", "ais_chains", "ais_betas", "sample_steps")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rbm",
        help="train an RBM on binarised MNIST by PCD; samples, filters and AIS log-likelihood",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--hidden", type=int, default=500, help="hidden units (default 500)")
    p.add_argument("--epochs", type=int, default=5, help="passes over the 50,000 images")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.05, help="initial SGD rate (decays to 0)")
    p.add_argument("--momentum", type=float, default=0.5)
    p.add_argument("--chains", type=int, default=100, help="persistent chains")
    p.add_argument("--ais-chains", type=int, default=100)
    p.add_argument("--ais-betas", type=int, default=2000)
    p.add_argument("--sample-steps", type=int, default=1000, help="Gibbs sweeps for samples.png")
    p.add_argument(
        "--data",
        default=None,
        help="data folder with mnist/ (default: $DISCRETE_EBM_DATA, else the cache folder)",
    )
    p.add_argument(
        "--train-rows", type=int, default=None, help="train on the first N images (quick runs)"
    )
    add_common_arguments(p, default_out="runs/rbm")
    p.set_defaults(func=run)


def run(args) -> int:
    for name in POSITIVE:
        if getattr(args, name) <= 0:
            raise SystemExit(f"--{name.replace('_', '-')} must be positive")
    from ..io import save_torch, write_json
    from ..plotting.rbm import plot_filters, plot_image_grid
    from ..recipes.rbm import run_rbm_mnist

    try:
        out = run_rbm_mnist(
            root=args.data,
            n_hidden=args.hidden,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            momentum=args.momentum,
            n_chains=args.chains,
            ais_chains=args.ais_chains,
            ais_betas=args.ais_betas,
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
    folder = Path(args.out)
    samples = plot_image_grid(
        out["samples"], folder / "samples.png", title=f"p(v | h) after {args.sample_steps} sweeps"
    )
    filters = plot_filters(
        out["rbm"].W.detach().cpu(), folder / "filters.png", title="first 100 filters"
    )
    weights = save_torch(out["rbm"].state_dict(), folder / "rbm.pt")
    result = {
        "n_hidden": args.hidden,
        "epochs": args.epochs,
        **out["result"],
        "settings": {k: v for k, v in vars(args).items() if k != "func"},
        "files": [str(samples), str(filters), str(weights)],
    }
    path = write_json(folder / "rbm.json", result)
    report(
        f"test log-likelihood {result['test_log_likelihood']:.2f} nats (± "
        f"{result['log_z_stderr']:.2f} from the AIS log Z, ± "
        f"{result['test_log_likelihood_sem']:.2f} s.e.m. over test images) -> {path}",
    )
    return 0
