"""RBM / DBM on dynamically binarised MNIST: throughput vs scikit-learn, AIS test log-likelihood.

Parts (each can be switched off):
1. throughput: RBM 784×500 PCD-1 epochs over ``--throughput-rows`` rows (batch 100) of our
   fast path (the ``FusedPCD`` objective with SGD, float32, run by ``fit``: its progress,
   checkpoint, divergence checks and history included) against scikit-learn's
   ``BernoulliRBM`` (same n_components, batch size, learning rate; its per-batch ``_fit``
   over the same rows) on float64 and float32 input, and against the machine's float32 GEMM
   rate for the same five ``100×784×500`` products per batch; the four are interleaved pass
   by pass in ``--repeats`` rounds; medians of the per-round ratios, on the wall and the CPU
   clock.
2. RBM-500 trained by PCD (``recipes.rbm.train_rbm``) and by Bernoulli energy discrepancy,
   and a 784-500-1000 DBM by PCD with a mean-field positive phase
   (``recipes.dbm.train_dbm``), all through ``fit``; each evaluated by AIS
   (``log Ẑ`` ± standard error) on a fixed binarisation of the 10,000 test images (the DBM
   by its variational lower bound). Wall time per epoch.
3. PNGs: samples (visible probabilities after long block-Gibbs runs) and filters.

Prints ONE JSON line; also writes ``<out>/rbm_mnist.json`` and the PNGs.
Example: ``python benchmarks/rbm_mnist.py --out benchmarks/results_rbm``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from discrete_ebm.data.images import BinaryImages, load_mnist
from discrete_ebm.evaluation import ais
from discrete_ebm.io import write_json
from discrete_ebm.models.dbm import DBM
from discrete_ebm.models.rbm import RBM
from discrete_ebm.objectives import BernoulliED, FusedPCD
from discrete_ebm.plotting.rbm import plot_filters, plot_image_grid
from discrete_ebm.recipes.dbm import train_dbm
from discrete_ebm.recipes.rbm import train_rbm
from discrete_ebm.threads import add_threads_argument, set_threads
from discrete_ebm.training import fit

N_VIS, N_HID, BATCH = 784, 500, 100


def log(args, msg: str) -> None:
    if not args.quiet:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------- throughput
# On a shared machine the load changes within seconds, so the methods are interleaved: each
# round passes over the same rows with each method in turn (order rotated), each pass timed
# on two clocks, wall and CPU time of the process. With one thread (--threads 1) the CPU
# clock leaves out the time the scheduler gives to other processes.
def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


class _Gemm:
    """The five float32 GEMMs of one PCD-1 batch (v·W, h·Wᵀ, v⁻·W and the two halves of
    the weight gradient) as separate calls, per batch: the work's GEMM-only cost."""

    def __init__(self, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.v = torch.rand(BATCH, N_VIS, generator=g)
        self.W = torch.rand(N_VIS, N_HID, generator=g)
        self.h = torch.rand(BATCH, N_HID, generator=g)
        self.out_h = torch.empty(BATCH, N_HID)
        self.out_v = torch.empty(BATCH, N_VIS)
        self.out_w = torch.empty(N_VIS, N_HID)

    def run(self, x) -> None:
        v, W, h = self.v, self.W, self.h
        for _ in range(0, x.shape[0], BATCH):
            torch.mm(v, W, out=self.out_h)
            torch.mm(h, W.T, out=self.out_v)
            torch.mm(v, W, out=self.out_h)
            torch.mm(v.T, h, out=self.out_w)
            torch.mm(v.T, h, out=self.out_w)


class _Ours:
    """One epoch of ``fit`` with the ``FusedPCD`` objective (PCD-1, uniforms from numpy's
    PCG64) and SGD, float32, in order: the data are validated (binary, no NaN) inside
    ``fit`` as part of the timed work."""

    def __init__(self, seed: int, lr: float):
        self.rbm = RBM(N_VIS, N_HID, generator=torch.Generator().manual_seed(seed))
        self.objective = FusedPCD(BATCH, uniforms="numpy")
        self.optimizer = torch.optim.SGD(self.rbm.parameters(), lr=lr)
        self.generator = torch.Generator().manual_seed(seed)

    def run(self, x: torch.Tensor) -> None:
        fit(
            self.rbm,
            self.objective,
            x,
            epochs=1,
            batch_size=BATCH,
            shuffle=False,
            optimizer=self.optimizer,
            generator=self.generator,
            progress=False,
        )


class _Sklearn:
    """scikit-learn's ``BernoulliRBM``: ``fit`` on the first batch initialises it exactly as
    ``fit`` does (weights, biases, chains in the input's dtype); then each timed pass calls
    ``_fit(batch, rng)``, the per-batch PCD-1 update that ``fit`` loops over (so the
    comparison leaves out scikit-learn's input validation and initialisation)."""

    def __init__(self, seed: int, lr: float, first: np.ndarray):
        from sklearn.neural_network import BernoulliRBM

        self.model = BernoulliRBM(
            n_components=N_HID, learning_rate=lr, batch_size=BATCH, n_iter=1, random_state=seed
        ).fit(first)
        self.rng = np.random.RandomState(seed)

    def run(self, x: np.ndarray) -> None:
        for a in range(0, x.shape[0], BATCH):
            self.model._fit(x[a : a + BATCH], self.rng)


def throughput(args, train) -> dict:
    """Rounds over the same rows of {GEMM-only, ours float32, scikit-learn float64,
    scikit-learn float32}, interleaved per pass. Per clock (wall, CPU): the median rates
    over rounds, the medians of the per-round ratios ours ÷ method (``ratio_vs_gemm`` is the
    fraction of the GEMM-only rate) and their ranges."""
    from threadpoolctl import threadpool_limits

    x = train.tensor()[: args.throughput_rows].contiguous()
    n = int(x.shape[0]) // BATCH * BATCH
    x = x[:n]
    data = {
        "gemm": x,
        "ours_f32": x,
        "sklearn_f64": x.double().numpy(),
        "sklearn_f32": x.numpy().astype(np.float32),
    }
    names = list(data)
    secs = {k: np.zeros((args.repeats, 2)) for k in names}
    with threadpool_limits(limits=args.threads):
        for r in range(-1, args.repeats):  # round -1: warm-up, not recorded
            runners = {
                "gemm": _Gemm(r + 1),
                "ours_f32": _Ours(r + 1, args.lr),
                "sklearn_f64": _Sklearn(r + 1, args.lr, data["sklearn_f64"][:BATCH]),
                "sklearn_f32": _Sklearn(r + 1, args.lr, data["sklearn_f32"][:BATCH]),
            }
            i = r % 4
            for k in names[i:] + names[:i]:
                t0 = _now()
                runners[k].run(data[k])
                t1 = _now()
                if r >= 0:
                    secs[k][r] += (t1[0] - t0[0], t1[1] - t0[1])
    out: dict = {}
    for i, clock in enumerate(("wall", "cpu")):
        rate = {k: n / v[:, i] for k, v in secs.items()}
        ratios = {k: rate["ours_f32"] / rate[k] for k in ("sklearn_f64", "sklearn_f32", "gemm")}
        out[clock] = {
            "vectors_per_s": {k: round(float(np.median(v)), 1) for k, v in rate.items()},
            **{f"ratio_vs_{k}": round(float(np.median(v)), 4) for k, v in ratios.items()},
            "ratio_range": {
                f"vs_{k}": [round(float(v.min()), 3), round(float(v.max()), 3)]
                for k, v in ratios.items()
            },
            "gemm_gflops": round(float(np.median(rate["gemm"])) * 10 * N_VIS * N_HID / 1e9, 2),
        }
    return {
        **out,
        "rows_per_round": n,
        "rounds": args.repeats,
        "threads": args.threads,
        "load_average_1_5_15min": [round(a, 2) for a in os.getloadavg()],
    }


# ----------------------------------------------------------------- training
def _epoch_seconds(history, epochs: int) -> list[float]:
    per = history.steps // max(epochs, 1)
    ends = [0.0] + [history.elapsed[e * per - 1] for e in range(1, epochs + 1)]
    return [b - a for a, b in zip(ends, ends[1:])]


def train_rbm_pcd(args, data, g) -> tuple[RBM, list[float]]:
    rbm, history = train_rbm(
        data.train,
        n_hidden=N_HID,
        epochs=args.epochs_pcd,
        batch_size=BATCH,
        lr=args.lr,
        momentum=0.5,
        weight_decay=1e-4,
        n_chains=BATCH,
        generator=g,
        progress=not args.quiet,
    )
    secs = _epoch_seconds(history, args.epochs_pcd)
    log(args, f"RBM PCD: {sum(secs):.1f} s")
    return rbm, secs


def train_rbm_ed(args, data, g, epsilon=None) -> tuple[RBM, list[float]]:
    rbm = RBM(N_VIS, N_HID, generator=g)
    if args.ed_init == "data":
        rbm.init_from_data(data.train.tensor())
    eps = args.ed_epsilon if epsilon is None else epsilon
    obj = BernoulliED(epsilon=eps, n_negatives=args.ed_negatives, w=args.ed_w)
    loader = data.train.loader(BATCH, generator=torch.Generator().manual_seed(args.seed + 1))
    history = fit(
        rbm, obj, loader, epochs=args.epochs_ed, lr=args.ed_lr, generator=g, progress=not args.quiet
    )
    secs = _epoch_seconds(history, args.epochs_ed)
    log(args, f"RBM ED: {sum(secs):.1f} s")
    return rbm, secs


def ed_sweep(args, data, test_x, marginals, g, out: Path) -> dict:
    """One RBM per ``--ed-epsilons`` value (same seed, ``--epochs-ed`` each), each scored by
    forward AIS; the best by test log-likelihood is reported with its PNGs."""
    runs, models = [], {}
    for eps in args.ed_epsilons:
        rbm, secs = train_rbm_ed(args, data, torch.Generator().manual_seed(args.seed), eps)
        runs.append(
            {
                "epsilon": eps,
                "epochs": args.epochs_ed,
                "seconds_per_epoch": statistics.median(secs) if secs else None,
                **evaluate(args, rbm, test_x, marginals, g),
            }
        )
        models[eps] = rbm
        log(args, json.dumps(runs[-1]))
    best = max(runs, key=lambda r: r["test_ll"])
    pngs = pictures(args, f"rbm_ed_eps{best['epsilon']:g}", models[best["epsilon"]], g, out)
    return {"runs": runs, "best_epsilon": best["epsilon"], "best": best, "pngs": pngs}


def train_dbm_pcd(args, data, g) -> tuple[DBM, dict]:
    t = time.perf_counter()
    loader = data.train.loader(BATCH, generator=torch.Generator().manual_seed(args.seed + 2))
    dbm, history, _ = train_dbm(
        loader,
        (N_VIS, 500, 1000),
        pretrain_epochs=args.dbm_pretrain_epochs,
        pretrain_lr=args.lr,
        epochs=args.epochs_dbm,
        lr=args.dbm_lr,
        n_chains=BATCH,
        generator=g,
        progress=not args.quiet,
    )
    pre = time.perf_counter() - t - history.seconds
    log(args, f"DBM pretraining {pre:.1f} s, PCD {history.seconds:.1f} s")
    return dbm, {"pretrain_seconds": pre, "seconds_per_epoch": history.seconds / args.epochs_dbm}


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
    add_threads_argument(p, default=2)
    p.add_argument("--lr", type=float, default=0.05, help="SGD rate of PCD and scikit-learn")
    p.add_argument("--repeats", type=int, default=11, help="interleaved throughput rounds")
    p.add_argument("--throughput-rows", type=int, default=5000)
    p.add_argument("--train-rows", type=int, default=None, help="use the first N training images")
    p.add_argument("--epochs-pcd", type=int, default=5)
    p.add_argument("--epochs-ed", type=int, default=1)
    p.add_argument("--ed-epsilon", type=float, default=0.01)
    p.add_argument(
        "--ed-epsilons",
        type=float,
        nargs="*",
        default=None,
        help="ED sweep: train one RBM per epsilon (--epochs-ed each) and report each and the "
        "best by forward AIS (replaces the single --ed-epsilon run)",
    )
    p.add_argument(
        "--binarize",
        choices=["dynamic", "threshold"],
        default="dynamic",
        help="training and test binarisation (threshold: g > 127, fixed)",
    )
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
    set_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(args.seed)
    data = load_mnist(args.root, binarize=args.binarize, seed=args.seed)
    if args.train_rows:
        n = args.train_rows
        data.train = BinaryImages(
            data.train.grey[:n].numpy(),
            data.train.labels[:n].numpy(),
            binarize=args.binarize,
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
    if "ed" not in args.skip and args.ed_epsilons:
        result["rbm_ed_sweep"] = ed_sweep(args, data, test_x, marginals, g, out)
        result["pngs"] += result["rbm_ed_sweep"]["pngs"]
    elif "ed" not in args.skip:
        rbm, secs = train_rbm_ed(args, data, g)
        result["rbm_ed"] = {
            "epochs": args.epochs_ed,
            "seconds_per_epoch": statistics.median(secs) if secs else None,
            **evaluate(args, rbm, test_x, marginals, g),
        }
        result["pngs"] += pictures(args, "rbm_ed", rbm, g, out)
        log(args, json.dumps(result["rbm_ed"]))
    if "dbm" not in args.skip:
        dbm, info = train_dbm_pcd(args, data, g)
        result["dbm_pcd"] = {
            "epochs": args.epochs_dbm,
            **info,
            **evaluate(args, dbm, test_x, marginals, g),
        }
        result["pngs"] += pictures(args, "dbm_pcd", dbm, g, out)
        log(args, json.dumps(result["dbm_pcd"]))
    write_json(out / "rbm_mnist.json", result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
