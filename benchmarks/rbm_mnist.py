"""RBM / DBM on dynamically binarised MNIST: throughput vs scikit-learn, AIS test log-likelihood.

Parts (each can be switched off):
1. throughput: RBM 784×500 PCD-1 steps (batch 100) of our fast path (float32) against
   scikit-learn's ``BernoulliRBM`` (same n_components, batch size, learning rate) on float64
   and float32 input, and against the machine's float32 GEMM rate for the same five
   ``100×784×500`` products per batch, all measured in this run (medians of ``--repeats``).
2. RBM-500 trained by PCD (fast path) and by Bernoulli energy discrepancy (``fit``), and a
   784-500-1000 DBM by PCD with a mean-field positive phase; each evaluated by AIS
   (``log Ẑ`` ± standard error) on a fixed binarisation of the 10,000 test images (the DBM
   by its variational lower bound). Wall time per epoch.
3. PNGs: samples (visible probabilities after long block-Gibbs runs) and filters.

Prints ONE JSON line; also writes ``<out>/rbm_mnist.json`` and the PNGs.
Example: ``python benchmarks/rbm_mnist.py --out benchmarks/results_rbm``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from discrete_ebm.data.images import BinaryImages, load_mnist
from discrete_ebm.evaluation import ais
from discrete_ebm.models.dbm import DBM
from discrete_ebm.models.rbm import RBM
from discrete_ebm.objectives.dbm import DBMPersistentCD, greedy_pretrain
from discrete_ebm.objectives.energy_discrepancy import BernoulliED
from discrete_ebm.plotting.rbm import plot_filters, plot_image_grid
from discrete_ebm.training import fit

N_VIS, N_HID, BATCH = 784, 500, 100


def log(args, msg: str) -> None:
    if not args.quiet:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------- throughput
def gemm_rate(repeats: int, n_batches: int) -> float:
    """Vectors/s if a batch cost only its five float32 GEMMs (v·W, h·Wᵀ, v⁻·W and the two
    halves of the weight gradient), timed back to back."""
    g = torch.Generator().manual_seed(0)
    v = torch.rand(BATCH, N_VIS, generator=g)
    W = torch.rand(N_VIS, N_HID, generator=g)
    h = torch.rand(BATCH, N_HID, generator=g)
    out_h = torch.empty(BATCH, N_HID)
    out_v = torch.empty(BATCH, N_VIS)
    out_w = torch.empty(N_VIS, N_HID)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n_batches):
            torch.mm(v, W, out=out_h)
            torch.mm(h, W.T, out=out_v)
            torch.mm(v, W, out=out_h)
            torch.mm(v.T, h, out=out_w)
            torch.mm(v.T, h, out=out_w)
        times.append(time.perf_counter() - t)
    return BATCH * n_batches / statistics.median(times)


def ours_rate(x: torch.Tensor, repeats: int, lr: float) -> float:
    """Vectors/s of PCD-1 training steps (``RBM.pcd_step`` + SGD) on float32 batches."""
    g = torch.Generator().manual_seed(1)
    rbm = RBM(N_VIS, N_HID, generator=g)
    opt = torch.optim.SGD(rbm.parameters(), lr=lr)
    chains = rbm.init_chains(BATCH, generator=g)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for a in range(0, x.shape[0], BATCH):
            opt.zero_grad(set_to_none=False)
            chains = rbm.pcd_step(x[a : a + BATCH], chains, generator=g, check=False)
            opt.step()
        times.append(time.perf_counter() - t)
    return x.shape[0] / statistics.median(times)


def sklearn_rate(x: np.ndarray, repeats: int, lr: float) -> float:
    """Vectors/s of ``BernoulliRBM.fit`` (one pass, PCD-1) on ``x`` (its dtype kept)."""
    from sklearn.neural_network import BernoulliRBM

    times = []
    for r in range(repeats):
        model = BernoulliRBM(
            n_components=N_HID, learning_rate=lr, batch_size=BATCH, n_iter=1, random_state=r
        )
        t = time.perf_counter()
        model.fit(x)
        times.append(time.perf_counter() - t)
    return x.shape[0] / statistics.median(times)


def throughput(args, train) -> dict:
    from threadpoolctl import threadpool_limits

    x = train.tensor()[: args.throughput_rows].contiguous()
    x64 = x.double().numpy()
    x32 = x.numpy().astype(np.float32)
    res = {"gemm": [], "ours_f32": [], "sklearn_f64": [], "sklearn_f32": []}
    with threadpool_limits(limits=args.threads):
        for _ in range(args.repeats):  # interleaved, so load changes hit every method
            res["gemm"].append(gemm_rate(1, x.shape[0] // BATCH))
            res["ours_f32"].append(ours_rate(x, 1, args.lr))
            res["sklearn_f64"].append(sklearn_rate(x64, 1, args.lr))
            res["sklearn_f32"].append(sklearn_rate(x32, 1, args.lr))
    med = {k: statistics.median(v) for k, v in res.items()}
    return {
        "vectors_per_s": med,
        "ratio_vs_sklearn_f64": med["ours_f32"] / med["sklearn_f64"],
        "ratio_vs_sklearn_f32": med["ours_f32"] / med["sklearn_f32"],
        "fraction_of_gemm_rate": med["ours_f32"] / med["gemm"],
        "gemm_gflops": med["gemm"] * 5 * 2 * N_VIS * N_HID / 1e9,
        "rows": int(x.shape[0]),
        "repeats": args.repeats,
    }


# ----------------------------------------------------------------- training
def epoch_batches(train, generator: torch.Generator):
    """One epoch of freshly binarised, shuffled batches."""
    x = train.tensor()
    perm = torch.randperm(x.shape[0], generator=generator)
    for a in range(0, x.shape[0], BATCH):
        yield x[perm[a : a + BATCH]]


def train_rbm_pcd(args, data, g) -> tuple[RBM, list[float]]:
    rbm = RBM(N_VIS, N_HID, generator=g).init_from_data(data.train.tensor())
    opt = torch.optim.SGD(rbm.parameters(), lr=args.lr, momentum=0.5, weight_decay=1e-4)
    chains = rbm.init_chains(BATCH, generator=g)
    n_steps = args.epochs_pcd * (len(data.train) // BATCH)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / n_steps))
    secs = []
    for e in range(args.epochs_pcd):
        t = time.perf_counter()
        for xb in epoch_batches(data.train, g):
            opt.zero_grad(set_to_none=False)
            chains = rbm.pcd_step(xb, chains, generator=g, check=False)
            opt.step()
            sched.step()
        secs.append(time.perf_counter() - t)
        log(args, f"RBM PCD epoch {e + 1}/{args.epochs_pcd}: {secs[-1]:.1f} s")
    return rbm, secs


def train_rbm_ed(args, data, g) -> tuple[RBM, list[float]]:
    rbm = RBM(N_VIS, N_HID, generator=g)
    if args.ed_init == "data":
        rbm.init_from_data(data.train.tensor())
    obj = BernoulliED(epsilon=args.ed_epsilon, n_negatives=args.ed_negatives, w=args.ed_w)
    loader = data.train.loader(BATCH, generator=torch.Generator().manual_seed(args.seed + 1))
    secs = []

    def timer(step, model, history):
        if step % len(loader) == 0:
            secs.append(history.elapsed[-1] - sum(secs))
            log(args, f"RBM ED epoch {len(secs)}/{args.epochs_ed}: {secs[-1]:.1f} s")

    fit(
        rbm,
        obj,
        loader,
        epochs=args.epochs_ed,
        lr=args.ed_lr,
        generator=g,
        callbacks=[timer],
        progress=not args.quiet,
    )
    return rbm, secs


def train_dbm(args, data, g) -> tuple[DBM, dict]:
    dbm = DBM((N_VIS, 500, 1000), generator=g)
    t = time.perf_counter()
    if args.dbm_pretrain_epochs:
        greedy_pretrain(
            dbm, data.train.tensor(), epochs=args.dbm_pretrain_epochs, lr=args.lr, generator=g
        )
    pre = time.perf_counter() - t
    log(args, f"DBM pretraining: {pre:.1f} s")
    obj = DBMPersistentCD(n_chains=BATCH, k=1, mean_field_iters=10)
    loader = data.train.loader(BATCH, generator=torch.Generator().manual_seed(args.seed + 2))
    opt = torch.optim.SGD(dbm.parameters(), lr=args.dbm_lr, momentum=0.5)
    hist = fit(
        dbm,
        obj,
        loader,
        epochs=args.epochs_dbm,
        optimizer=opt,
        generator=g,
        progress=not args.quiet,
    )
    per_epoch = hist.seconds / max(args.epochs_dbm, 1)
    log(args, f"DBM PCD: {hist.seconds:.1f} s")
    return dbm, {"pretrain_seconds": pre, "seconds_per_epoch": per_epoch}


def evaluate(args, model, test_x, marginals, g) -> dict:
    t = time.perf_counter()
    log_z, se = ais.log_partition(
        model,
        n_chains=args.ais_chains,
        n_betas=args.ais_betas,
        base_marginals=marginals,
        generator=g,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    out = {"log_z": log_z, "log_z_stderr": se}
    with torch.no_grad():
        if isinstance(model, DBM):
            lb = torch.cat(
                [
                    model.variational_lower_bound(test_x[a : a + 1000], log_z)
                    for a in range(0, test_x.shape[0], 1000)
                ]
            )
            out["test_ll_lower_bound"] = float(lb.mean())
            out["test_ll_sem"] = float(lb.std() / lb.numel() ** 0.5)
        else:
            ll = -model.energy(test_x).double() - log_z
            out["test_ll"] = float(ll.mean())
            out["test_ll_sem"] = float(ll.std() / ll.numel() ** 0.5)
    out["ais_seconds"] = time.perf_counter() - t
    return out


def pictures(args, name, model, g, out: Path) -> list[str]:
    with torch.no_grad():
        if isinstance(model, DBM):
            layers = model.sample_joint(100, args.sample_steps, generator=g)
            probs = torch.sigmoid(model.layer_input(layers, 0))
            W = model.weights[0]
        else:
            v = model.sample(100, args.sample_steps, generator=g)
            probs = torch.sigmoid(model.visible_logits(model.sample_hidden(v, generator=g)))
            W = model.W
    s = plot_image_grid(
        probs,
        out / f"{name}_samples.png",
        title=f"{name}: p(v | h) after {args.sample_steps} block-Gibbs sweeps",
    )
    f = plot_filters(W, out / f"{name}_filters.png", title=f"{name}: first 100 filters")
    return [str(s), str(f)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=None, help="data directory (default $DISCRETE_EBM_DATA)")
    p.add_argument("--out", default="runs/rbm_mnist")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.05, help="SGD rate of PCD and scikit-learn")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--throughput-rows", type=int, default=5000)
    p.add_argument("--train-rows", type=int, default=None, help="use the first N training images")
    p.add_argument("--epochs-pcd", type=int, default=5)
    p.add_argument("--epochs-ed", type=int, default=1)
    p.add_argument("--ed-epsilon", type=float, default=0.01)
    p.add_argument("--ed-negatives", type=int, default=8)
    p.add_argument("--ed-lr", type=float, default=1e-3, help="Adam rate of ED")
    p.add_argument("--ed-w", type=float, default=1.0, help="ED stabiliser w")
    p.add_argument(
        "--ed-init",
        choices=["data", "zero"],
        default="data",
        help="ED start: visible bias at the data marginals or zero (the marginal start makes "
        "every Bernoulli negative far worse than the data, so the loss saturates at log w)",
    )
    p.add_argument("--epochs-dbm", type=int, default=1)
    p.add_argument("--dbm-pretrain-epochs", type=int, default=1)
    p.add_argument("--dbm-lr", type=float, default=0.005)
    p.add_argument("--ais-chains", type=int, default=100)
    p.add_argument("--ais-betas", type=int, default=2000)
    p.add_argument("--sample-steps", type=int, default=1000)
    p.add_argument("--skip", nargs="*", default=[], choices=["throughput", "pcd", "ed", "dbm"])
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(args.seed)
    data = load_mnist(args.root, binarize="dynamic", seed=args.seed)
    if args.train_rows:
        n = args.train_rows
        data.train = BinaryImages(
            data.train.grey[:n].numpy(),
            data.train.labels[:n].numpy(),
            binarize="dynamic",
            seed=args.seed,
        )
    test_x = data.test.tensor()  # one fixed binarisation of the test set (seeded)
    marginals = ais.data_marginals(data.train.tensor())
    result: dict = {"threads": args.threads, "settings": vars(args).copy(), "pngs": []}

    if "throughput" not in args.skip:
        log(args, "throughput ...")
        result["throughput"] = throughput(args, data.train)
        log(args, json.dumps(result["throughput"]))
    if "pcd" not in args.skip:
        rbm, secs = train_rbm_pcd(args, data, g)
        result["rbm_pcd"] = {
            "epochs": args.epochs_pcd,
            "seconds_per_epoch": statistics.median(secs),
            **evaluate(args, rbm, test_x, marginals, g),
        }
        result["pngs"] += pictures(args, "rbm_pcd", rbm, g, out)
        log(args, json.dumps(result["rbm_pcd"]))
    if "ed" not in args.skip:
        rbm, secs = train_rbm_ed(args, data, g)
        result["rbm_ed"] = {
            "epochs": args.epochs_ed,
            "seconds_per_epoch": statistics.median(secs) if secs else None,
            **evaluate(args, rbm, test_x, marginals, g),
        }
        result["pngs"] += pictures(args, "rbm_ed", rbm, g, out)
        log(args, json.dumps(result["rbm_ed"]))
    if "dbm" not in args.skip:
        dbm, info = train_dbm(args, data, g)
        result["dbm_pcd"] = {
            "epochs": args.epochs_dbm,
            **info,
            **evaluate(args, dbm, test_x, marginals, g),
        }
        result["pngs"] += pictures(args, "dbm_pcd", dbm, g, out)
        log(args, json.dumps(result["dbm_pcd"]))
    (out / "rbm_mnist.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
