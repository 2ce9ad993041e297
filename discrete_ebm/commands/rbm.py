"""``discrete-ebm rbm``: train a Bernoulli RBM on dynamically binarised MNIST by PCD.

Uses the fast PCD path (``RBM.pcd_step``: analytic gradient, persistent hidden chains) with
SGD, a linearly decaying learning rate and fresh binarisations every epoch; then estimates
``log Z`` by AIS (base = the training pixel marginals) and reports the average test
log-likelihood in nats (exact free energy − log Ẑ) on one seeded binarisation of the
10,000 test images. Writes ``samples.png`` (visible probabilities after long block-Gibbs
runs), ``filters.png`` (the first 100 receptive fields), ``rbm.json`` and ``rbm.pt``
(the state dict).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from ..data.images import BinaryImages, load_mnist
from ..devices import resolve_device
from ..evaluation import ais
from ..models.rbm import RBM
from ._common import add_common_arguments, say, show_progress, write_json


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
    p.add_argument("--data", default=None, help="data directory (default $DISCRETE_EBM_DATA)")
    p.add_argument(
        "--train-rows", type=int, default=None, help="train on the first N images (quick runs)"
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    add_common_arguments(p, default_out="runs/rbm")
    p.set_defaults(func=run)


def run(args) -> int:
    for name in ("hidden", "epochs", "batch_size", "chains", "ais_chains", "ais_betas"):
        if getattr(args, name) <= 0:
            raise SystemExit(f"--{name.replace('_', '-')} must be positive")
    if args.threads:
        torch.set_num_threads(args.threads)
    from tqdm.auto import tqdm

    from ..plotting.rbm import plot_filters, plot_image_grid

    device = resolve_device(args.device)
    out = Path(args.out)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    data = load_mnist(args.data, binarize="dynamic", seed=args.seed)
    if args.train_rows is not None:
        if not 0 < args.train_rows <= len(data.train):
            raise SystemExit(f"--train-rows must lie in 1..{len(data.train)}")
        n = args.train_rows
        data.train = BinaryImages(
            data.train.grey[:n].numpy(), data.train.labels[:n].numpy(), seed=args.seed
        )
    train_once = data.train.tensor().to(device)
    rbm = RBM(784, args.hidden, generator=gen, device=device).init_from_data(train_once)
    opt = torch.optim.SGD(rbm.parameters(), lr=args.lr, momentum=args.momentum)
    n_batches = (len(data.train) + args.batch_size - 1) // args.batch_size
    total = args.epochs * n_batches
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / total))
    chains = rbm.init_chains(args.chains, train_once, generator=gen)
    epoch_seconds = []
    for epoch in tqdm(range(args.epochs), desc="epochs", disable=not show_progress(args)):
        start = time.perf_counter()
        x = data.train.tensor().to(device)  # a fresh binarisation every epoch
        perm = torch.randperm(x.shape[0], generator=gen, device=device)
        for a in range(0, x.shape[0], args.batch_size):
            opt.zero_grad(set_to_none=False)
            chains = rbm.pcd_step(x[perm[a : a + args.batch_size]], chains, generator=gen)
            opt.step()
            sched.step()
        epoch_seconds.append(time.perf_counter() - start)
        say(args, f"epoch {epoch + 1}/{args.epochs}: {epoch_seconds[-1]:.1f} s")
    if not all(torch.isfinite(p).all() for p in rbm.parameters()):
        raise SystemExit("training diverged (non-finite parameters); lower --lr")

    say(args, "AIS ...")
    log_z, se = ais.log_partition(
        rbm,
        n_chains=args.ais_chains,
        n_betas=args.ais_betas,
        base_marginals=ais.data_marginals(train_once),
        generator=gen,
        progress=show_progress(args),
    )
    test = data.test.tensor().to(device)
    with torch.no_grad():
        ll = -rbm.energy(test).double() - log_z
        v = rbm.sample(100, args.sample_steps, generator=gen)
        probs = torch.sigmoid(rbm.visible_logits(rbm.sample_hidden(v, generator=gen)))
    samples = plot_image_grid(
        probs.cpu(), out / "samples.png", title=f"p(v | h) after {args.sample_steps} sweeps"
    )
    filters = plot_filters(rbm.W.cpu(), out / "filters.png", title="first 100 filters")
    torch.save(rbm.state_dict(), out / "rbm.pt")
    result = {
        "n_hidden": args.hidden,
        "epochs": args.epochs,
        "seconds_per_epoch": epoch_seconds,
        "log_z": log_z,
        "log_z_stderr": se,
        "test_log_likelihood": float(ll.mean()),
        "test_log_likelihood_sem": float(ll.std() / ll.numel() ** 0.5),
        "settings": {k: v for k, v in vars(args).items() if k != "func"},
        "files": [str(samples), str(filters), str(out / "rbm.pt")],
    }
    path = write_json(out / "rbm.json", result)
    say(
        args,
        f"test log-likelihood {result['test_log_likelihood']:.2f} nats (± {se:.2f} from the AIS "
        f"log Z, ± {result['test_log_likelihood_sem']:.2f} s.e.m. over test images) -> {path}",
    )
    return 0
