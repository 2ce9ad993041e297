"""Time of one DBM PCD update (784-500-1000, batch 100, 100 chains) against the fused RBM
PCD-1 step (784×500, batch 100), one thread, float32; also the autograd DBM update.

Each update is timed over ``--rounds`` rounds of ``--steps`` steps (median reported), and
converted to multiply-adds per second from the products it performs, so the DBM's update can
be compared with the RBM's at equal work::

    OMP_NUM_THREADS=1 python benchmarks/dbm_step.py --out benchmarks/results_dbm/step_speed.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from discrete_ebm.models.dbm import DBM
from discrete_ebm.models.rbm import RBM
from discrete_ebm.objectives.dbm import DBMPersistentCD
from discrete_ebm.objectives.fused_dbm_pcd import FusedDBMPCD
from discrete_ebm.objectives.fused_pcd import FusedPCD


def dbm_macs(B: int, C: int, n: tuple[int, int, int], k: int, iters: int) -> int:
    """Multiply-adds of one fused update (module docstring of ``fused_dbm_pcd``)."""
    a, b = n[0] * n[1], n[1] * n[2]
    mean_field = B * (a + b) + iters * 2 * B * b
    sweeps = k * C * 2 * (a + b)
    gradient = (B + C) * (a + b)
    return mean_field + sweeps + gradient


def timed(step, steps: int, rounds: int) -> float:
    step()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - t) / steps)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(100, 784, generator=g) < 0.13).float()
    dbm = DBM((784, 500, 1000), generator=g)
    out = {}
    for k in (1, 5):
        fused = FusedDBMPCD(100, k, 10)
        reference = DBMPersistentCD(100, k, 10)

        def autograd_step(r=reference):
            dbm.zero_grad()
            r(dbm, x, g).backward()

        t_f = timed(lambda f=fused: f.write_gradients(dbm, x, g), args.steps, args.rounds)
        t_a = timed(autograd_step, args.steps, args.rounds)
        macs = dbm_macs(100, 100, (784, 500, 1000), k, 10)
        out[f"dbm_k{k}"] = {
            "fused_ms": 1e3 * t_f,
            "autograd_ms": 1e3 * t_a,
            "gmacs_per_s": macs / t_f / 1e9,
            "macs": macs,
        }
    rbm = RBM(784, 500, generator=g)
    fp = FusedPCD(100, 1)
    t_r = timed(lambda: fp.write_gradients(rbm, x, g), 5 * args.steps, args.rounds)
    macs = 5 * 100 * 784 * 500
    out["rbm_pcd1"] = {"fused_ms": 1e3 * t_r, "gmacs_per_s": macs / t_r / 1e9, "macs": macs}
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
