"""2-D densities, modelled continuously (MLP energy on R²) and as 32-bit Gray codes.

Continuous view: GaussianED, exact/sliced/denoising score matching and Langevin CD train
``MLPEnergy(2)``. Discrete view: BernoulliED, GridED, pseudo-likelihood and CD with Gibbs
(and with Gibbs-with-gradients when available) train ``MLPEnergy(32, binary=True)`` on the
Gray codes (16 bits per coordinate). Metrics on held-out points:

- ``nll``: continuous model normalised on a 200 × 200 grid of [−4.5, 4.5]²; binary model
  ``U(code) + log Ẑ`` (AIS) ``+ 2 log Δ``, the density of the code's cell, so both are
  nats per point of the same 2-D density;
- ``mmd``: MMD² (Gaussian kernel, median bandwidth, unbiased so it can dip below 0)
  between model samples and as many held-out points in R² — Langevin (η = 0.005 from
  N(0, 2²I)) for the continuous model, single-site Gibbs from uniform bits, decoded, for
  the binary one (sizes in ``EVAL``).
"""

from __future__ import annotations

import math

import torch

from ... import objectives
from ...data.toy import decode_gray, encode_gray, gray_step, sample_toy
from ...evaluation import ais
from ...evaluation.continuous_metrics import mmd2, square_grid
from ...models.neural import MLPEnergy
from ...samplers.gibbs import GibbsSampler
from ...samplers.langevin import LangevinSampler
from ..suite import Cell, CellResult
from ._train import train_with_evaluations

BITS, X_RANGE = 16, 4.0
# evaluation sizes: samples, Langevin steps, Gibbs sweeps, AIS chains and temperatures, grid
EVAL = {
    "tiny": {
        "n": 50,
        "langevin_steps": 5,
        "gibbs_sweeps": 1,
        "ais_chains": 4,
        "ais_betas": 4,
        "grid": 20,
    },
    "quick": {
        "n": 500,
        "langevin_steps": 300,
        "gibbs_sweeps": 40,
        "ais_chains": 32,
        "ais_betas": 100,
        "grid": 200,
    },
    "full": {
        "n": 1000,
        "langevin_steps": 500,
        "gibbs_sweeps": 100,
        "ais_chains": 100,
        "ais_betas": 500,
        "grid": 200,
    },
}
#: objective -> (registry name, settings), per view
CONTINUOUS = {
    "gaussian-ed": ("gaussian-ed", {"t": 0.05, "n_negatives": 16}),
    "sm": ("score-matching", {}),
    "ssm": ("sliced-score-matching", {}),
    "dsm": ("denoising-score-matching", {"sigma": 0.1}),
    "langevin-cd": (
        "langevin-cd",
        {
            "step_size": 0.005,
            "k": 20,
            "persistent": True,
            "n_chains": 256,
            "buffer_size": 5000,
            "reinit_prob": 0.05,
            "init": "noise",
            "energy_reg": 0.1,
        },
    ),
}
DISCRETE = {
    "ed-bern": ("ed-bern", {"epsilon": 0.1, "n_negatives": 32}),
    "ed-grid": ("ed-grid", {"n_negatives": 32}),
    "pl": ("pl", {}),
    "cd-gibbs": ("pcd", {"sampler": "gibbs", "k": 1}),
    "cd-gwg": ("pcd", {"sampler": "gwg", "k": 32}),
}


def _objective(table: dict, name: str, model):
    registered, settings = table[name]
    return objectives.make(registered, model=model, **settings)


class Toy2DTask:
    """One 2-D density in both views; ``full_only`` tasks have no cells in the quick suite."""

    metrics = {"nll": "min", "mmd": "min"}

    def __init__(self, density: str = "8gaussians", *, full_only: bool = False):
        self.density = density
        self.full_only = full_only
        self.name = f"toy2d-{density}"
        self.description = (
            f"{density}: continuous MLP energy on R² vs MLP energy on its 32-bit Gray code; "
            "NLL in nats per point of the 2-D density, MMD² of model samples to held-out data."
        )

    def cells(self, suite: str) -> list[Cell]:
        if suite != "full" and self.full_only:
            return []
        seeds = [0, 1, 2] if suite == "full" else [0]
        steps = {"tiny": 8, "quick": 300, "full": 2000}[suite]
        settings = {
            "density": self.density,
            "steps": steps,
            "n_train": 2000 if suite == "tiny" else 20_000,
            "n_evals": 2 if suite == "tiny" else 4,
            "eval": EVAL[suite],
        }
        out = []
        for seed in seeds:
            out += [Cell(self.name, "continuous", o, seed, dict(settings)) for o in CONTINUOUS]
            out += [Cell(self.name, "discrete", o, seed, dict(settings)) for o in DISCRETE]
        return out

    # ------------------------------------------------------------------ data
    @staticmethod
    def _data(density: str, seed: int, n_train: int) -> tuple[torch.Tensor, torch.Tensor]:
        train = sample_toy(density, n_train, seed)
        test = sample_toy(density, 1_000, 10_000 + seed)
        return train, test

    def run(self, cell: Cell, *, progress: bool = False) -> CellResult:
        torch.manual_seed(cell.seed)
        train, test = self._data(cell.settings["density"], cell.seed, cell.settings["n_train"])
        gen = torch.Generator().manual_seed(cell.seed)
        steps = int(cell.settings["steps"])
        ev = cell.settings["eval"]
        n_evals = cell.settings["n_evals"]
        if cell.view == "continuous":
            run = self._run_continuous
        else:
            run = self._run_discrete
        return run(cell.objective, train, test, steps, gen, ev, n_evals, progress)

    # ------------------------------------------------------------ continuous
    def _run_continuous(self, name, train, test, steps, gen, ev, n_evals, progress) -> CellResult:
        model = MLPEnergy(2, (64, 64), "silu")
        objective = _objective(CONTINUOUS, name, model)

        def evaluate() -> dict:
            return {
                "nll": continuous_nll(model, test, n=ev["grid"]),
                "mmd": continuous_mmd(model, test, gen, n=ev["n"], n_steps=ev["langevin_steps"]),
            }

        return train_with_evaluations(
            model,
            objective,
            train,
            steps=steps,
            n_evals=n_evals,
            evaluate=evaluate,
            lr=1e-3,
            batch_size=256,
            generator=gen,
            progress=progress,
        )

    # -------------------------------------------------------------- discrete
    def _run_discrete(self, name, train, test, steps, gen, ev, n_evals, progress) -> CellResult:
        codes = encode_gray(train.double(), BITS, x_range=X_RANGE).float()
        test_codes = encode_gray(test.double(), BITS, x_range=X_RANGE).float()
        model = MLPEnergy(2 * BITS, (64, 64), "silu", binary=True)
        objective = _objective(DISCRETE, name, model)
        marginals = ais.data_marginals(codes)

        def evaluate() -> dict:
            return {
                "nll": binary_nll(
                    model, test_codes, marginals, gen, ev["ais_chains"], ev["ais_betas"]
                ),
                "mmd": binary_mmd(model, test, gen, n=ev["n"], n_sweeps=ev["gibbs_sweeps"]),
            }

        return train_with_evaluations(
            model,
            objective,
            codes,
            steps=steps,
            n_evals=n_evals,
            evaluate=evaluate,
            lr=1e-3,
            batch_size=256,
            generator=gen,
            progress=progress,
        )


# ------------------------------------------------------------------- metrics
def continuous_nll(model, test: torch.Tensor, lim: float = 4.5, n: int = 200) -> float:
    """Held-out NLL (nats/point) of the model normalised on an ``n × n`` grid of [−lim, lim]²."""
    pts, area = square_grid(lim, n)
    with torch.no_grad():
        log_z = torch.logsumexp(-model.energy(pts).double(), 0) + math.log(area)
        return float((model.energy(test).double() + log_z).mean())


def continuous_mmd(
    model, test: torch.Tensor, gen: torch.Generator, n: int = 1000, n_steps: int = 500
) -> float:
    """MMD² between Langevin samples of the model and held-out points."""
    x0 = 2.0 * torch.randn(n, 2, generator=gen)
    x = LangevinSampler(model, step_size=0.005).sample(x0=x0, n_steps=n_steps, generator=gen)
    if not torch.isfinite(x).all():
        raise FloatingPointError("Langevin samples diverged")
    return float(mmd2(x, test[:n]))


def binary_nll(
    model, codes: torch.Tensor, marginals, gen, n_chains: int = 64, n_betas: int = 150
) -> float:
    """Held-out NLL of the binary model as a 2-D density: ``U + log Ẑ + 2 log Δ`` (AIS log Ẑ)."""
    log_z, _ = ais.log_partition(
        model, n_chains=n_chains, n_betas=n_betas, base_marginals=marginals, generator=gen
    )
    with torch.no_grad():
        mean_u = float(model.energy(codes).double().mean())
    return mean_u + log_z + 2 * math.log(gray_step(BITS, X_RANGE))


def binary_mmd(
    model, test: torch.Tensor, gen: torch.Generator, n: int = 1000, n_sweeps: int = 100
) -> float:
    """MMD² between decoded Gibbs samples of the binary model and held-out points."""
    x = GibbsSampler(model).sample(n, n_sweeps, generator=gen)
    return float(mmd2(decode_gray(x, BITS, x_range=X_RANGE, dtype=torch.float32), test[:n]))
