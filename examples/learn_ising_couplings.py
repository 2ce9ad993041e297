"""Learn the couplings of a lattice Ising model from samples with energy discrepancy.

    python examples/learn_ising_couplings.py [--lattice 6] [--sigma 0.2] [--steps 800]

1. draws 2,000 samples of a periodic D × D lattice (``log p̃ = sᵀ(σA)s``, i.e. ``J = 2σA``),
   each the end of its own block-Gibbs chain;
2. fits a dense Ising model ``IsingModel(zeros(d, d), zeros(d))`` by minimising Bernoulli
   energy discrepancy with ``fit`` (Adam, linear learning-rate decay, L1 on the couplings);
3. prints the RMSE of ``J/2`` (the benchmark's scale) and writes ``couplings.png``.
"""

from __future__ import annotations

import argparse
import math

import torch

from discrete_ebm.data.ising import (
    benchmark_rmse,
    lattice_benchmark,
    to_benchmark_scale,
    trainable_ising,
)
from discrete_ebm.objectives.energy_discrepancy import BernoulliED
from discrete_ebm.plotting.ising import coupling_figure
from discrete_ebm.training import fit, linear_lr_decay


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lattice", type=int, default=6)
    p.add_argument("--sigma", type=float, default=0.2)
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/example_ising")
    args = p.parse_args()

    g = torch.Generator().manual_seed(args.seed)
    x, true_model = lattice_benchmark(args.lattice, args.sigma, n_samples=2000, generator=g)
    d = x.shape[1]

    model = trainable_ising(d)  # IsingModel(zeros(d, d), zeros(d)): every pair trainable
    objective = BernoulliED(epsilon=0.1, n_negatives=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    history = fit(
        model,
        objective,
        x,
        steps=args.steps,
        batch_size=256,
        optimizer=optimizer,
        l1=0.01,  # on Σ_{i<j} |J_ij|
        generator=g,
        callbacks=[linear_lr_decay(optimizer, args.steps)],
    )

    rmse = benchmark_rmse(model.J.detach(), true_model.J.detach())
    print(f"{d} spins, {x.shape[0]} samples, {history.seconds:.1f}s of training")
    print(f"RMSE of J/2 = {rmse:.4f}  (-ln RMSE = {-math.log(rmse):.2f})")
    png = coupling_figure(
        to_benchmark_scale(model.J.detach()).numpy(),
        history.loss,
        f"{args.out}/couplings.png",
        J_true=to_benchmark_scale(true_model.J.detach()).numpy(),
        title=f"Bernoulli ED, {args.lattice}×{args.lattice} lattice, σ = {args.sigma}",
    )
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
