"""Learning the couplings of a periodic lattice Ising model (the GWG / ED benchmark protocol,
small): ED (Bernoulli, grid) vs pseudo-likelihood vs persistent CD with block Gibbs.

Data: 2,000 independent block-Gibbs chains of a periodic ``D × D`` lattice with benchmark
coupling σ (``J = 2σ`` in our convention), 1,000 sweeps each. The learned model is a full
dense ``IsingModel``. Metric: RMSE of ``J/2`` (the benchmark's σ-scale) over all ``d × d``
entries against the truth (``rmse``) and ``−log RMSE`` (``neg_log_rmse``, the papers' figure).
"""

from __future__ import annotations

import math

import torch

from ... import objectives
from ...data.ising import benchmark_rmse, lattice_benchmark
from ...models.ising import IsingModel
from ..suite import Cell, CellResult
from ._train import train_with_evaluations

#: objective (a registry name) -> its settings; PCD: one block-Gibbs sweep per step
OBJECTIVES = {
    "ed-bern": {"epsilon": 0.1, "n_negatives": 32},
    "ed-grid": {"n_negatives": 32},
    "pl": {},
    "pcd": {"sampler": "block-gibbs", "k": 1},
}


class IsingTask:
    name = "ising"
    metrics = {"rmse": "min", "neg_log_rmse": "max"}
    description = __doc__.split("\n\n")[0].replace("\n", " ")

    def cells(self, suite: str) -> list[Cell]:
        D, sigma = (8, 0.2) if suite == "full" else (5, 0.2) if suite == "quick" else (3, 0.2)
        steps = {"tiny": 8, "quick": 300, "full": 2000}[suite]
        seeds = [0, 1, 2] if suite == "full" else [0]
        settings = {
            "D": D,
            "sigma": sigma,
            "n_samples": 200 if suite == "tiny" else 2000,
            "sweeps": 20 if suite == "tiny" else 1000,
            "steps": steps,
        }
        return [
            Cell(self.name, "discrete", o, s, dict(settings)) for s in seeds for o in OBJECTIVES
        ]

    def run(self, cell: Cell, *, progress: bool = False) -> CellResult:
        st = cell.settings
        data, truth = lattice_benchmark(
            st["D"],
            st["sigma"],
            n_samples=st["n_samples"],
            n_sweeps=st["sweeps"],
            generator=torch.Generator().manual_seed(100 + cell.seed),
        )
        d = truth.dim
        torch.manual_seed(cell.seed)
        gen = torch.Generator().manual_seed(cell.seed)
        model = IsingModel(torch.zeros(d, d), torch.zeros(d))
        objective = objectives.make(cell.objective, model=model, **OBJECTIVES[cell.objective])
        J_true = truth.J.detach()

        def evaluate() -> dict:
            rmse = benchmark_rmse(model.J.detach(), J_true)
            return {"rmse": rmse, "neg_log_rmse": -math.log(rmse)}

        return train_with_evaluations(
            model,
            objective,
            data,
            steps=st["steps"],
            n_evals=2 if st["steps"] < 50 else 5,
            evaluate=evaluate,
            lr=1e-2,
            batch_size=256,
            generator=gen,
            progress=progress,
        )
