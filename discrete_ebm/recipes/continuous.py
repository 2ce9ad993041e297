"""MLP energies on 2-D toy densities, one per continuous objective (``discrete-ebm continuous``).

Every model is ``MLPEnergy(2, hidden, "silu", base=GaussianBase.from_data(data))`` trained
by ``fit``; the objectives are Gaussian energy discrepancy, exact / sliced / denoising score
matching and contrastive divergence with persistent Langevin chains (a replay buffer), with
the settings of ``OBJECTIVES``. Each trained model is scored by the log-density MSE against
the truth on a ``GRID × GRID`` grid of ``[−LIM, LIM]²`` (where the density is known) and the
MMD² of its Langevin samples to held-out data.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import objectives
from ..data.toy import EXACT_LOG_DENSITY, log_density, sample_toy
from ..devices import resolve_device
from ..evaluation.continuous_metrics import (
    grid_log_density,
    log_density_mse,
    mmd2,
    normalise_on_grid,
    square_grid,
)
from ..models.neural import GaussianBase, MLPEnergy
from ..samplers.langevin import LangevinSampler
from ..training import fit

__all__ = [
    "OBJECTIVES",
    "SETTINGS",
    "LIM",
    "GRID",
    "ToyRun",
    "make_objective",
    "langevin_samples",
    "train_toy",
    "true_log_density_grid",
    "run_toy_objectives",
]

#: short name -> (registry name, settings) used on the toy densities
SETTINGS: dict[str, tuple[str, dict]] = {
    "gaussian_ed": ("gaussian-ed", {"t": 0.05, "n_negatives": 16, "w": 1.0}),
    "score_matching": ("score-matching", {}),
    "sliced_score_matching": (
        "sliced-score-matching",
        {"n_projections": 1, "distribution": "gaussian"},
    ),
    "denoising_score_matching": ("denoising-score-matching", {"sigma": 0.3}),
    "langevin_cd": (
        "langevin-cd",
        {
            "step_size": 0.01,
            "k": 20,
            "buffer_size": 4096,
            "reinit_prob": 0.05,
            "init": "noise",
            "energy_reg": 0.01,
        },
    ),
}
OBJECTIVES = tuple(SETTINGS)
#: grid used for densities and the log-density MSE: [−LIM, LIM]², GRID × GRID cells
LIM, GRID = 4.0, 100


def make_objective(name: str, model: MLPEnergy):
    """The objective ``name`` (see ``OBJECTIVES``) with the settings used on the toy densities,
    built by ``discrete_ebm.objectives.make``."""
    if name not in SETTINGS:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {name!r}")
    registered, settings = SETTINGS[name]
    return objectives.make(registered, model=model, **settings)


def langevin_samples(
    model: MLPEnergy,
    base: GaussianBase,
    n: int,
    *,
    steps: int = 500,
    step_size: float = 0.01,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``n`` MALA samples of the model, chains started from the data's Gaussian fit."""
    dev, dt = model.device, model.dtype
    z = torch.randn(n, model.dim, generator=generator, device=dev, dtype=dt)
    cov = torch.linalg.inv(base.precision.double()).to(dt)
    x0 = base.mean + z @ torch.linalg.cholesky(cov).T
    sampler = LangevinSampler(model, step_size, metropolis=True)
    return sampler.sample(x0=x0, n_steps=steps, generator=generator)


def train_toy(
    density: str,
    objective: str,
    *,
    steps: int = 1000,
    batch_size: int = 256,
    lr: float = 3e-3,
    n_data: int = 20000,
    hidden: tuple[int, ...] = (64, 64),
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = False,
    n_eval: int = 2000,
    sample_steps: int = 500,
) -> dict:
    """Train one MLP energy on ``density`` with ``objective`` and evaluate it.

    Returns a dict with the trained ``model``, ``samples`` (``n_eval`` Langevin samples),
    ``log_density`` (normalised on the grid, ``(GRID, GRID)``) and ``metrics``:
    ``seconds_per_step``, ``final_loss``, ``mmd2`` (samples vs held-out data) and
    ``log_density_mse`` (if the true density is known).
    """
    dev = resolve_device(device)
    data = sample_toy(density, n_data, seed, device=dev)
    held_out = sample_toy(density, n_eval, seed + 10_000, device=dev)
    base = GaussianBase.from_data(data.cpu()).to(dev)
    with torch.random.fork_rng(devices=[]):  # seeded nn.Linear initialisation, global RNG untouched
        torch.manual_seed(seed)
        model = MLPEnergy(2, hidden, "silu", base=base).to(dev)
    obj = make_objective(objective, model)
    gen = torch.Generator(device=dev).manual_seed(seed)
    history = fit(
        model,
        obj,
        data,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        generator=gen,
        progress=progress,
    )
    seconds_per_step = history.seconds / max(history.steps, 1)
    samples = langevin_samples(model, base, n_eval, steps=sample_steps, generator=gen)
    logp = grid_log_density(model, LIM, GRID)
    metrics = {
        "objective": objective,
        "steps": history.steps,
        "seconds_per_step": seconds_per_step,
        "final_loss": sum(history.loss[-20:]) / len(history.loss[-20:]),
        "mmd2": float(mmd2(samples, held_out)),
    }
    if density in EXACT_LOG_DENSITY:
        pts, area = square_grid(LIM, GRID, dtype=torch.float64)
        metrics["log_density_mse"] = float(
            log_density_mse(logp.cpu(), log_density(density, pts), area)
        )
    return {"model": model, "samples": samples.cpu(), "log_density": logp.cpu(), "metrics": metrics}


def true_log_density_grid(density: str) -> torch.Tensor | None:
    """The true log-density normalised on the grid, ``(GRID, GRID)``, or ``None`` if unknown."""
    if density not in EXACT_LOG_DENSITY:
        return None
    pts, area = square_grid(LIM, GRID, dtype=torch.float64)
    return normalise_on_grid(log_density(density, pts), area).reshape(GRID, GRID)


@dataclass
class ToyRun:
    """``run_toy_objectives``' output: per objective its ``metrics`` (with ``wall_seconds``)
    and its plot panel ``(log-density (GRID, GRID), samples (n, 2))``, the true log-density
    grid (``None`` if unknown) and 2,000 held-out data points to show beside them."""

    density: str
    results: dict[str, dict]
    panels: dict[str, tuple[torch.Tensor, torch.Tensor]]
    truth: torch.Tensor | None
    data: torch.Tensor
    settings: dict

    def summary(self) -> dict:
        """The JSON record: density, the training settings, the grid and every result."""
        grid = {"lim": LIM, "cells": GRID}
        return {"density": self.density, **self.settings, "grid": grid, "results": self.results}

    def save(self, out: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``continuous_<density>.json`` (``summary``) and ``.png`` (true and learned
        densities, samples) into ``out``; returns their paths."""
        from ..io import write_json
        from ..plotting.continuous import plot_toy_results

        stem = Path(out) / f"continuous_{self.density}"
        steps = self.settings["steps"]
        png = plot_toy_results(
            self.truth,
            self.data,
            self.panels,
            LIM,
            stem.with_suffix(".png"),
            title=f"{self.density}: {steps} steps per objective",
        )
        return write_json(stem.with_suffix(".json"), self.summary()), png


def run_toy_objectives(
    density: str = "8gaussians",
    names: Sequence[str] = OBJECTIVES,
    *,
    steps: int = 1000,
    batch_size: int = 256,
    lr: float = 3e-3,
    sample_steps: int = 500,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> ToyRun:
    """``train_toy`` once per objective in ``names`` (same data, seed and settings); ``log``
    (optional) receives one line per objective."""
    unknown = [n for n in names if n not in SETTINGS]
    if unknown:
        raise ValueError(f"objectives must be among {OBJECTIVES}, got {unknown}")
    results, panels = {}, {}
    for name in names:
        start = time.perf_counter()
        out = train_toy(
            density,
            name,
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            device=device,
            progress=progress,
            sample_steps=sample_steps,
        )
        m = out["metrics"]
        m["wall_seconds"] = time.perf_counter() - start
        results[name] = m
        panels[name] = (out["log_density"], out["samples"])
        if log:
            extra = (
                f", log-density MSE {m['log_density_mse']:.3f}" if "log_density_mse" in m else ""
            )
            log(f"{name}: {m['seconds_per_step'] * 1e3:.1f} ms/step, MMD² {m['mmd2']:.4f}{extra}")
    data = sample_toy(density, 2000, seed + 10_000)
    settings = {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed}
    return ToyRun(density, results, panels, true_log_density_grid(density), data, settings)
