"""Cost of one training step: Bernoulli ED against persistent CD on the Ising benchmark.

The step of ``learn_couplings`` (Adam, a batch of 256 rows of the D = 10, σ = 0.1 lattice data)
for the dense model of stage 1 and the sparse model of the refit (the 200 lattice pairs):
BernoulliED (ε = 0.1, M = 32: 8,192 perturbed energies in one call) and PCD (256 persistent
chains, one block-Gibbs sweep: 100 single-site updates on the dense model, 2 colours on the
sparse one). The four are timed round-robin in one process, ``--rounds`` rounds of
``--steps`` steps each; medians of the per-round milliseconds per step. Prints ONE JSON line
with the four figures and the ratios ED / PCD. Like the CLI, it first raises glibc's malloc
thresholds (``discrete_ebm.cpu_allocator``); ``--default-malloc`` leaves them alone, to
measure what that buys.

    python benchmarks/ed_step_cost.py --threads 1
    python benchmarks/ed_step_cost.py --threads 1 --default-malloc
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from discrete_ebm.cpu_allocator import keep_freed_memory
from discrete_ebm.data.ising import lattice_benchmark, trainable_ising
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.recipes.ising import build_objective
from discrete_ebm.threads import add_threads_argument, set_threads


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--steps", type=int, default=10, help="steps per round")
    add_threads_argument(p, default=1)
    p.add_argument("--default-malloc", action="store_true", help="do not tune glibc malloc")
    args = p.parse_args(argv)
    set_threads(args.threads)
    tuned = False if args.default_malloc else keep_freed_memory()

    x, truth = lattice_benchmark(10, 0.1, n_sweeps=200, generator=torch.Generator().manual_seed(0))
    batch = x[:256]
    cases = {}
    for objective in ("ed-bern", "pcd"):
        for kind in ("dense", "sparse"):
            model = (
                trainable_ising(100)
                if kind == "dense"
                else IsingModel(truth.J.detach(), torch.zeros(100), sparse=True)
            )
            obj = build_objective(objective, model)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            cases[f"{objective}_{kind}"] = (model, obj, opt, torch.Generator().manual_seed(0))

    ms = {k: [] for k in cases}
    for _ in range(args.rounds):
        for key, (model, obj, opt, gen) in cases.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                opt.zero_grad()
                obj(model, batch, gen).backward()
                opt.step()
            ms[key].append((time.perf_counter() - start) / args.steps * 1e3)
    # the first rounds warm up allocators and caches
    med = {k: statistics.median(v[2:] if len(v) > 4 else v) for k, v in ms.items()}
    line = {
        "benchmark": "ed_step_cost",
        "threads": args.threads,
        "malloc_tuned": tuned,
        "ms_per_step": {k: round(v, 2) for k, v in med.items()},
        "ratio_ed_over_pcd_dense": round(med["ed-bern_dense"] / med["pcd_dense"], 3),
        "ratio_ed_over_pcd_sparse": round(med["ed-bern_sparse"] / med["pcd_sparse"], 3),
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
