"""The sweep behind the energy-discrepancy notes in benchmarks/RESULTS_rbm.md.

One BernoulliED run of an RBM-500 on the first ``rows`` dynamically binarised training
images for ``steps`` Adam (or SGD) steps of batch 100. Prints saturation diagnostics at the
start and every quarter: ``Δ = U(x) − U(x')`` over 200 images × M negatives (median, 90th
percentile, max) and the softmax mass of the negatives against the ``log w`` term (the
loss is ``log w`` plus about that mass, and its gradient scales with it); then the AIS
test log-likelihood (100 chains, ``betas`` temperatures). Usage (one JSON config):
``python benchmarks/results_rbm/ed_sweep.py '{"eps": 0.001, "M": 8, "lr": 1e-3, "steps": 2000}'``
Keys: eps, M, lr, steps; optional w, opt ("adam" | "sgd"), warmup, rows, init ("data" |
"zero"), betas. The recorded runs' output is ``ed_sweep.log`` next to this file.
"""

from __future__ import annotations

import json
import math
import sys
import time

import torch

from discrete_ebm.data.images import load_mnist
from discrete_ebm.evaluation import ais
from discrete_ebm.models.rbm import RBM
from discrete_ebm.objectives.energy_discrepancy import BernoulliED
from discrete_ebm.training import Evaluation, fit


def main(cfg: dict) -> None:
    torch.set_num_threads(1)
    d = load_mnist(None, binarize="dynamic", seed=0)
    train = d.train.tensor()[: cfg.get("rows", 20000)]
    test = d.test.tensor()
    marginals = ais.data_marginals(d.train.tensor())
    g = torch.Generator().manual_seed(0)
    rbm = RBM(784, 500, generator=g, weight_std=0.01)
    if cfg.get("init", "data") == "data":
        rbm.init_from_data(d.train.tensor())
    M, log_w = cfg["M"], math.log(cfg.get("w", 1.0))
    obj = BernoulliED(epsilon=cfg["eps"], n_negatives=M, w=cfg.get("w", 1.0))

    def diagnose(tag: str) -> dict:
        with torch.no_grad():
            x = train[:200]
            gd = torch.Generator().manual_seed(9)
            xn = obj.negatives(obj.perturb(x, gd), M, gd)
            delta = rbm.energy(x).unsqueeze(1) - rbm.energy(xn.reshape(-1, 784)).view(200, M)
            full = torch.cat([delta, torch.full((200, 1), log_w)], 1)
            mass = torch.softmax(full, 1)[:, :-1].sum(1).mean()
            excess = full.logsumexp(1).mean() - log_w
        print(
            f"{tag} delta median {delta.median():.1f} p90 {delta.quantile(0.9):.1f} "
            f"max {delta.max():.1f} | softmax mass on negatives {mass:.2e} | "
            f"loss-logw {excess:.2e}",
            flush=True,
        )
        return {"softmax_mass": float(mass), "loss_minus_log_w": float(excess)}

    diagnose("start")
    steps, warm = cfg["steps"], cfg.get("warmup", 0)
    if cfg.get("opt", "adam") == "adam":
        opt = torch.optim.Adam(rbm.parameters(), lr=cfg["lr"])
    else:
        opt = torch.optim.SGD(rbm.parameters(), lr=cfg["lr"])
    every = max(1, steps // 4)
    done = [0]

    def quarterly(model) -> dict:
        done[0] += every
        return diagnose(f"step {done[0]}")

    t = time.perf_counter()
    fit(
        rbm,
        obj,
        train,
        steps=steps,
        batch_size=100,
        optimizer=opt,
        scheduler=(lambda s: min(1.0, (s + 1) / warm)) if warm else None,
        evaluations=[Evaluation(quarterly, every=every, at_end=False)],
        generator=g,
        progress=False,
    )
    secs = time.perf_counter() - t
    log_z, se = ais.log_partition(
        rbm,
        n_chains=100,
        n_betas=cfg.get("betas", 1000),
        base_marginals=marginals,
        generator=torch.Generator().manual_seed(1),
        progress=False,
    )
    with torch.no_grad():
        ll = float((-rbm.energy(test).double() - log_z).mean())
    res = {**cfg, "train_s": round(secs, 1), "log_z": round(log_z, 2), "se": round(se, 2)}
    print("RESULT", json.dumps({**res, "test_ll": round(ll, 2)}), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
