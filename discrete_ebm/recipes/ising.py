"""Learning Ising couplings from binary data (``discrete-ebm ising``).

The data: the GWG / energy-discrepancy lattice benchmark (a periodic D × D lattice,
``log p̃ = sᵀ(σA)s``, independent block-Gibbs chains) or rows loaded from an ``.npy`` /
``.npz`` (0/1 or ±1; an ``.npz`` may carry the true ``J`` and ``h``, our convention). The
model: a dense ``IsingModel(zeros(d, d), zeros(d))`` fitted with the chosen objective and an
L1 penalty on the couplings; optionally a second stage keeps only the pairs with
``|J_ij| > refit_threshold`` and refits them without the penalty (``learn_couplings``).
``run_ising`` does both and returns what the command writes.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import objectives
from ..data.ising import (
    LATTICE_SAMPLES,
    LATTICE_SWEEPS,
    benchmark_rmse,
    lattice_benchmark,
    load_rows,
    save_couplings,
    to_benchmark_scale,
    trainable_ising,
)
from ..devices import resolve_device
from ..models.ising import IsingModel
from ..training import History, fit, linear_decay

__all__ = [
    "OBJECTIVES",
    "DEFAULT_L1",
    "DEFAULT_REFIT_THRESHOLD",
    "IsingData",
    "IsingResult",
    "build_objective",
    "default_l1",
    "select_support",
    "learn_couplings",
    "load_ising_data",
    "lattice_data",
    "run_ising",
]

OBJECTIVES = ("ed-bern", "ed-grid", "pl", "pcd")
#: L1 weight on Σ_{i<j} |J_ij| per objective: the best −ln RMSE on the D = 10, σ = 0.1
#: lattice (seed 0, 400–1000 steps) among {0.003, 0.01, 0.02, 0.03} (ED-Bern),
#: {0.003, 0.01, 0.03} (ED-Grid), {0.0003, 0.001, 0.003} (PL), {0.003, 0.01, 0.03, 0.1} (PCD).
#: The losses differ in scale (PL is a mean over sites; a grid perturbation moves one or two
#: bits; the PCD surrogate's gradient is a full moment difference), so one weight does not
#: fit all.
DEFAULT_L1 = {"ed-bern": 0.01, "ed-grid": 0.003, "pl": 0.001, "pcd": 0.03}
#: ``|J_ij|`` (our scale, ``J = 2σA`` on the lattice) above which a pair of the L1 fit is kept
#: for the refit. Tuned like the L1 weights, on seed 0 of D = 10, σ = 0.1 (J = 0.2), one
#: value for every objective: refitting 1,000 steps from each objective's L1 fit, −ln RMSE
#: at thresholds 0.05 / 0.075 / 0.1 was ED-Bern 5.80 / 5.94 / –, ED-Grid 5.75 / 5.85 / 5.49,
#: PL 5.97 / 5.97 / 5.42, PCD 5.94 / 5.99 / 5.87. At 0.05 a few absent pairs pass (2–5 of
#: 4,750; chosen for their large noise, so the unpenalised refit keeps them large), at 0.1
#: lattice pairs are lost (1–7 of 200), which costs far more.
DEFAULT_REFIT_THRESHOLD = 0.075
#: the learning rate decays linearly from ``lr`` to ``lr · FINAL_LR_FRACTION`` in each stage
FINAL_LR_FRACTION = 0.01


def build_objective(
    name: str,
    model: IsingModel,
    *,
    epsilon: float = 0.1,
    n_negatives: int = 32,
    pcd_chains: int = 256,
    pcd_k: int = 1,
):
    """The objective called ``name`` (``ed-bern``, ``ed-grid``, ``pl``, ``pcd``) for ``model``,
    built by ``discrete_ebm.objectives.make``.

    PCD runs ``pcd_k`` block-Gibbs sweeps per step on ``pcd_chains`` persistent chains. A
    dense model's interaction graph is complete, so its proper colouring has one site per
    colour (given explicitly: it must stay proper whatever values the couplings take); a
    sparse model (the refit stage keeps its support fixed) uses the greedy colouring of its
    graph.
    """
    if name == "ed-bern":
        return objectives.make("ed-bern", epsilon=epsilon, n_negatives=n_negatives)
    if name == "ed-grid":
        return objectives.make("ed-grid", n_negatives=n_negatives)
    if name == "pl":
        return objectives.make("pl")
    if name == "pcd":
        coloring = [[i] for i in range(model.dim)] if model.is_dense else None
        return objectives.make(
            "pcd",
            model=model,
            sampler="block-gibbs",
            coloring=coloring,
            k=pcd_k,
            n_chains=pcd_chains,
        )
    raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {name!r}")


def default_l1(name: str) -> float:
    """The default L1 weight of objective ``name`` (``DEFAULT_L1``)."""
    if name not in DEFAULT_L1:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {name!r}")
    return DEFAULT_L1[name]


def select_support(J: torch.Tensor, threshold: float) -> torch.Tensor:
    """Boolean ``(d, d)`` mask of the pairs with ``|J_ij| > threshold`` (symmetric, zero
    diagonal): the support the refit stage keeps."""
    if not (threshold >= 0 and math.isfinite(threshold)):
        raise ValueError(f"refit_threshold must be a finite number >= 0, got {threshold}")
    if J.dim() != 2 or J.shape[0] != J.shape[1]:
        raise ValueError(f"J must be a square (d, d) matrix, got shape {tuple(J.shape)}")
    mask = J.abs() > threshold
    mask.fill_diagonal_(False)
    return mask & mask.T


def _check_refit(refit_steps: int | None, refit_threshold: float, refit_l1: float) -> None:
    select_support(torch.zeros(1, 1), refit_threshold)
    if refit_steps is not None and refit_steps <= 0:
        raise ValueError(f"refit_steps must be a positive integer, got {refit_steps}")
    if not (refit_l1 >= 0 and math.isfinite(refit_l1)):
        raise ValueError(f"refit_l1 must be a finite number >= 0, got {refit_l1}")


def learn_couplings(
    x: torch.Tensor,
    objective: str = "ed-bern",
    *,
    steps: int = 1000,
    batch_size: int = 256,
    lr: float = 0.01,
    l1: float | None = None,
    epsilon: float = 0.1,
    n_negatives: int = 32,
    pcd_chains: int = 256,
    pcd_k: int = 1,
    refit: bool = False,
    refit_steps: int | None = None,
    refit_threshold: float = DEFAULT_REFIT_THRESHOLD,
    refit_l1: float = 0.0,
    device: str | torch.device | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
    callbacks: Sequence[Callable] = (),
) -> tuple[IsingModel, History]:
    """Fit ``IsingModel(zeros(d, d), zeros(d))`` to rows ``x (N, d)``.

    Stage 1: a fresh Adam with learning rate ``lr`` decayed linearly to ``lr/100`` over
    ``steps`` (``scheduler=linear_decay(steps, 0.01)``), batches of ``batch_size``, L1 weight
    ``l1`` on ``Σ_{i<j} |J_ij|`` (``None``: ``default_l1``).

    Stage 2 (``refit=True``, the "relaxed lasso"): the L1 penalty both selects the support
    and shrinks every kept coupling towards 0 (a bias of ≈ ``l1 / curvature`` per pair). The
    refit keeps the pairs ``S = {(i, j): |J_ij| > refit_threshold}`` of stage 1 (``J`` in our
    scale, ``U = −½ sᵀJs − hᵀs``), builds a sparse model on ``S`` started from the stage-1
    values, and minimises the same objective again with L1 weight ``refit_l1`` (default 0)
    for ``refit_steps`` steps (``None``: ``steps``), same ``lr`` schedule, fresh optimiser and,
    for PCD, fresh persistent chains. Pairs outside ``S`` are exactly 0. If no pair passes the
    threshold, only the field is refitted.

    ``callbacks`` run in both stages; in stage 2 they receive the step counted from the start
    of stage 1 (``steps + t``). Returns the final model (sparse after a refit; ``model.J`` is
    always the dense ``(d, d)`` matrix) and the ``History`` of both stages
    (``History.concatenate``).
    """
    settings = dict(epsilon=epsilon, n_negatives=n_negatives, pcd_chains=pcd_chains, pcd_k=pcd_k)
    common = dict(batch_size=batch_size, lr=lr, generator=generator, progress=progress)
    model = trainable_ising(x.shape[1], device=device)
    obj = build_objective(objective, model, **settings)
    if refit:  # validate the stage-2 arguments before the (long) first stage
        _check_refit(refit_steps, refit_threshold, refit_l1)
    history = fit(
        model,
        obj,
        x,
        steps=steps,
        scheduler=linear_decay(steps, FINAL_LR_FRACTION),
        l1=default_l1(objective) if l1 is None else l1,
        callbacks=list(callbacks),
        **common,
    )
    if not refit:
        return model, history

    with torch.no_grad():
        J = model.J.detach()
        mask = select_support(J, refit_threshold)
        sparse = IsingModel(J * mask, model.h.detach(), sparse=True).to(J.device)

    def shifted(cb):
        return lambda step, m, h: cb(steps + step, m, h)

    stage2_steps = steps if refit_steps is None else refit_steps
    history2 = fit(
        sparse,
        build_objective(objective, sparse, **settings),
        x,
        steps=stage2_steps,
        scheduler=linear_decay(stage2_steps, FINAL_LR_FRACTION),
        l1=refit_l1,
        callbacks=[shifted(cb) for cb in callbacks],
        **common,
    )
    return sparse, History.concatenate(history, history2)


@dataclass
class IsingData:
    """Rows ``x (N, d)`` to learn from, the true ``J``/``h`` when known (NumPy, our scale),
    where they came from (``source``, JSON-ready) and the generating model (lattice only)."""

    x: torch.Tensor
    J_true: np.ndarray | None = None
    h_true: np.ndarray | None = None
    source: dict = field(default_factory=dict)
    true_model: IsingModel | None = None


def load_ising_data(path: str) -> IsingData:
    """Rows from an ``.npy`` / ``.npz`` (``load_rows``); an ``.npz`` may carry ``J`` (d, d)
    and ``h`` (d,), the truth to score against. Raises ``OSError``/``ValueError``."""
    x = load_rows(path)
    d = x.shape[1]
    J = h = None
    if str(path).endswith(".npz"):
        with np.load(path) as f:
            J = f["J"] if "J" in f else None
            h = f["h"] if "h" in f else None
        if J is not None and J.shape != (d, d):
            raise ValueError(f"{path}: J has shape {J.shape}, the data have d = {d}")
    return IsingData(x, J, h, {"data": str(path)})


def lattice_data(
    lattice: int,
    sigma: float,
    *,
    samples: int = LATTICE_SAMPLES,
    sweeps: int = LATTICE_SWEEPS,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> IsingData:
    """``samples`` states of the periodic ``lattice × lattice`` benchmark (``J = 2σA``), each
    the end of its own ``sweeps``-sweep block-Gibbs chain (``lattice_benchmark``)."""
    if lattice < 3:
        raise ValueError(f"lattice must be >= 3, got {lattice}")
    x, true_model = lattice_benchmark(
        lattice,
        sigma,
        n_samples=samples,
        n_sweeps=sweeps,
        generator=generator,
        device=device,
        progress=progress,
    )
    return IsingData(
        x,
        true_model.J.detach().cpu().numpy(),
        true_model.h.detach().cpu().numpy(),
        {"lattice": lattice, "sigma": sigma, "sweeps": sweeps},
        true_model,
    )


@dataclass
class IsingResult:
    """What ``run_ising`` produced: the learned ``model``, its ``history``, the ``data``, the
    ``settings`` and wall ``seconds`` (``data``, ``train``, ``total``)."""

    objective: str
    model: IsingModel
    history: History
    data: IsingData
    settings: dict
    seconds: dict

    @property
    def rmse(self) -> float | None:
        """RMSE of ``J/2`` (benchmark scale) over all ``d × d`` entries, ``None`` without truth."""
        if self.data.J_true is None:
            return None
        return benchmark_rmse(self.model.J.detach().cpu(), torch.as_tensor(self.data.J_true))

    def summary(self) -> dict:
        """The JSON record: RMSE, −ln RMSE, wall times, sizes, settings, the history."""
        rmse = self.rmse
        return {
            "objective": self.objective,
            "rmse": rmse,
            "neg_log_rmse": None if rmse is None else -math.log(rmse),
            "rmse_note": "RMSE of J/2 (benchmark scale, log p = s^T (sigma A) s) over all d*d "
            "entries",
            "seconds": self.seconds,
            "n_samples": int(self.data.x.shape[0]),
            "d": int(self.data.x.shape[1]),
            "settings": self.settings,
            "history": self.history.to_dict(),
        }

    def save(self, out: str | os.PathLike) -> dict[str, Path]:
        """Write into ``out``: ``couplings.npz`` (learned ``J``, ``h``; ``J_true``/``h_true``
        when known), ``data.npz`` (generated data with its true model), ``ising.json``
        (``summary``) and ``ising.png`` (true vs learned couplings, loss curve); returns the
        paths by name."""
        from ..io import write_json
        from ..plotting.ising import coupling_figure

        out, data = Path(out), self.data
        J, h = self.model.J.detach().cpu(), self.model.h.detach().cpu()
        paths = {}
        if data.true_model is not None:
            true = data.true_model
            paths["data"] = save_couplings(out / "data.npz", true.J, true.h, x=data.x.cpu())
        truth = {} if data.J_true is None else {"J_true": data.J_true, "h_true": data.h_true}
        paths["couplings"] = save_couplings(out / "couplings.npz", J, h, **truth)
        paths["json"] = write_json(out / "ising.json", self.summary())
        title = f"{self.objective}: {data.x.shape[0]} samples, d = {data.x.shape[1]}"
        if self.rmse is not None:
            title += f", RMSE(J/2) = {self.rmse:.4f} (−ln = {-math.log(self.rmse):.2f})"
        paths["png"] = coupling_figure(
            to_benchmark_scale(J).numpy(),
            self.history.loss,
            out / "ising.png",
            J_true=None if data.J_true is None else data.J_true / 2,
            title=title,
        )
        return paths


def run_ising(
    *,
    data: str | None = None,
    lattice: int = 10,
    sigma: float = 0.1,
    samples: int = LATTICE_SAMPLES,
    sweeps: int = LATTICE_SWEEPS,
    objective: str = "ed-bern",
    steps: int = 1000,
    batch_size: int = 256,
    lr: float = 0.01,
    l1: float | None = None,
    epsilon: float = 0.1,
    n_negatives: int = 32,
    pcd_chains: int = 256,
    pcd_k: int = 1,
    refit: bool = False,
    refit_steps: int | None = None,
    refit_threshold: float = DEFAULT_REFIT_THRESHOLD,
    refit_l1: float = 0.0,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> IsingResult:
    """Load ``data`` (a path) or sample the lattice benchmark, then ``learn_couplings``.

    One generator seeded by ``seed`` draws the lattice samples and then drives training.
    ``log`` (optional) receives one-line progress messages. The settings recorded use the
    command's names (``negatives``, ``pcd_sweeps``)."""
    say = log or (lambda message: None)
    device = resolve_device(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    t0 = time.perf_counter()
    if data:
        ising = load_ising_data(data)
        say(f"loaded {ising.x.shape[0]} rows of {ising.x.shape[1]} bits from {data}")
    else:
        say(
            f"sampling {samples} lattice states ({lattice}×{lattice}, σ={sigma}, "
            f"{sweeps} sweeps each)"
        )
        ising = lattice_data(
            lattice,
            sigma,
            samples=samples,
            sweeps=sweeps,
            generator=gen,
            device=device,
            progress=progress,
        )
    t1 = time.perf_counter()
    model, history = learn_couplings(
        ising.x,
        objective,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        l1=l1,
        epsilon=epsilon,
        n_negatives=n_negatives,
        pcd_chains=pcd_chains,
        pcd_k=pcd_k,
        refit=refit,
        refit_steps=refit_steps,
        refit_threshold=refit_threshold,
        refit_l1=refit_l1,
        device=device,
        generator=gen,
        progress=progress,
    )
    t2 = time.perf_counter()
    settings = {
        **ising.source,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "l1": default_l1(objective) if l1 is None else l1,
        "epsilon": epsilon,
        "negatives": n_negatives,
        "pcd_chains": pcd_chains,
        "pcd_sweeps": pcd_k,
        "refit": refit,
        "refit_steps": (refit_steps or steps) if refit else None,
        "refit_threshold": refit_threshold if refit else None,
        "refit_l1": refit_l1 if refit else None,
        "refit_pairs": model.n_edges if refit else None,
        "seed": seed,
        "device": str(device),
    }
    seconds = {"data": t1 - t0, "train": t2 - t1, "total": t2 - t0}
    return IsingResult(objective, model, history, ising, settings, seconds)
