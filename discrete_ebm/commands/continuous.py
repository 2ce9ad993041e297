"""``discrete-ebm continuous``: train an MLP energy on a 2-D toy density with each objective.

Objectives: Gaussian energy discrepancy, exact / sliced / denoising score matching and
contrastive divergence with persistent Langevin chains (a replay buffer). Every model is
``MLPEnergy(2, hidden, "silu", base=GaussianBase.from_data(data))`` trained by ``fit``.
Writes ``continuous_<density>.json`` (per objective: time per training step, log-density
MSE against the truth on a grid where the density is known, MMD² of Langevin samples to
held-out data) and ``continuous_<density>.png`` (true and learned densities, samples).
"""

from __future__ import annotations

import argparse
import time

import torch

from ..data.toy import EXACT_LOG_DENSITY, TOY_DENSITIES, log_density, sample_toy
from ..devices import resolve_device
from ..evaluation.continuous_metrics import (
    grid_log_density,
    log_density_mse,
    mmd2,
    normalise_on_grid,
    square_grid,
)
from ..models.neural import GaussianBase, MLPEnergy
from ..objectives.contrastive_divergence import ContrastiveDivergence
from ..objectives.energy_discrepancy import GaussianED
from ..objectives.score_matching import DenoisingScoreMatching, ScoreMatching, SlicedScoreMatching
from ..samplers.langevin import LangevinSampler
from ..training import fit
from ._common import add_common_arguments, say, show_progress, write_json

OBJECTIVES = (
    "gaussian_ed",
    "score_matching",
    "sliced_score_matching",
    "denoising_score_matching",
    "langevin_cd",
)
#: grid used for densities and the log-density MSE: [−LIM, LIM]², GRID × GRID cells
LIM, GRID = 4.0, 100


def make_objective(name: str, model: MLPEnergy):
    """The objective ``name`` (see ``OBJECTIVES``) with the settings used on the toy densities."""
    if name == "gaussian_ed":
        return GaussianED(t=0.05, n_negatives=16, w=1.0)
    if name == "score_matching":
        return ScoreMatching()
    if name == "sliced_score_matching":
        return SlicedScoreMatching(n_projections=1, distribution="gaussian")
    if name == "denoising_score_matching":
        return DenoisingScoreMatching(sigma=0.3)
    if name == "langevin_cd":
        sampler = LangevinSampler(model, step_size=0.01)
        return ContrastiveDivergence(
            sampler, k=20, buffer_size=4096, reinit_prob=0.05, init="noise", energy_reg=0.01
        )
    raise ValueError(f"objective must be one of {OBJECTIVES}, got {name!r}")


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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "continuous",
        help="train MLP energies on a 2-D toy density with every continuous objective",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--density",
        default="8gaussians",
        choices=TOY_DENSITIES,
        help="toy density (default 8gaussians)",
    )
    p.add_argument(
        "--objectives",
        nargs="+",
        default=list(OBJECTIVES),
        choices=OBJECTIVES,
        help="objectives to train (default: all)",
    )
    p.add_argument(
        "--steps", type=int, default=1000, help="training steps per objective (default 1000)"
    )
    p.add_argument("--batch-size", type=int, default=256, help="batch size (default 256)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    p.add_argument(
        "--sample-steps", type=int, default=500, help="MALA steps for the samples (default 500)"
    )
    p.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)"
    )
    add_common_arguments(p, default_out="runs/continuous")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.steps <= 0 or args.batch_size <= 0 or args.sample_steps <= 0:
        raise SystemExit("--steps, --batch-size and --sample-steps must be positive")
    from ..plotting.continuous import plot_toy_results

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)

    results, panels = {}, {}
    for name in args.objectives:
        start = time.perf_counter()
        out = train_toy(
            args.density,
            name,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            device=args.device,
            progress=show_progress(args),
            sample_steps=args.sample_steps,
        )
        m = out["metrics"]
        m["wall_seconds"] = time.perf_counter() - start
        results[name] = m
        panels[name] = (out["log_density"], out["samples"])
        extra = f", log-density MSE {m['log_density_mse']:.3f}" if "log_density_mse" in m else ""
        say(args, f"{name}: {m['seconds_per_step'] * 1e3:.1f} ms/step, MMD² {m['mmd2']:.4f}{extra}")
    data = sample_toy(args.density, 2000, args.seed + 10_000)
    png = plot_toy_results(
        true_log_density_grid(args.density),
        data,
        panels,
        LIM,
        f"{args.out}/continuous_{args.density}.png",
        title=f"{args.density}: {args.steps} steps per objective",
    )
    path = write_json(
        f"{args.out}/continuous_{args.density}.json",
        {
            "density": args.density,
            "steps": args.steps,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "seed": args.seed,
            "grid": {"lim": LIM, "cells": GRID},
            "results": results,
        },
    )
    say(args, f"wrote {path} and {png}")
    return 0
