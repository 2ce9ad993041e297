"""The default MNIST priors shipped in ``discrete_ebm/denoise/pretrained/``: how they are built.

Rebuild them with ``discrete-ebm priors [--data DIR] [--out DIR] [--only ising|rbm]
[--rbm-init FILE]`` (``build_priors``); ``pretrained_prior`` loads them.

Both priors are fitted on the 50,000 MNIST training digits (threshold 128); every setting
that is tuned is tuned on the 10,000 validation digits, never on the test digits:

- ``ising``: offset-shared Ising prior of radius ``ISING["radius"]`` with a black
  background outside the image (boundary spin −1), fitted by pseudo-likelihood, then
  tempered: couplings and bias are multiplied by the factor ``τ`` (from ``ISING["scales"]``)
  with the lowest MPM pixel error on 500 validation digits at flip rate 0.1.
  Pseudo-likelihood fits a misspecified model (digits are not an Ising model) with
  couplings in the ordered phase that over-smooth; ``τ < 1`` undoes that.
- ``rbm``: RBM with ``RBM_SETTINGS["n_hidden"]`` hidden units, trained in two stages:
  (1) generatively by PCD-k with a cosine learning-rate decay (``fit_rbm``), then
  (2) for denoising by the conditional likelihood ``log p(x | y)`` of each clean training
  digit ``x`` given a synthetic noisy copy ``y`` (flip rate ``RBM_FINETUNE["flip_rates"]``;
  ``finetune_rbm_denoising``). Stage (2) keeps the exact flip-noise field and changes only
  the prior, which stays an RBM used through ``posterior``. On 500 validation digits it
  lowers the MPM error at every flip rate 0.05–0.3 (an RBM-400: p = 0.05 1.13 → 1.00 %,
  0.2 4.39 → 3.79 %, 0.3 11.10 → 9.41 %), while fine-tuning on the mixture of rates
  {0.05, 0.1, 0.2, 0.3} was worse at 0.05–0.2 (1.16 %, 5.04 %); the shipped RBM-1000: 1.79 %
  after stage (1), 1.57 % after stage (2) at p = 0.1. Stored as float16 (about 1.5 MB).
  ``rbm_init`` starts stage (2) from a saved stage-(1) RBM instead.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from ..data.corruption import flip_noise
from ..data.images import load_mnist
from ..data.paths import data_dir
from ..models.base import EnergyModel
from .estimators import mpm
from .posterior import posterior
from .priors import (
    finetune_rbm_denoising,
    fit_offset_ising,
    fit_rbm,
    lattice_prior,
    load_prior,
    save_prior,
)

ISING = {
    "radius": 3.0,
    "boundary": -1.0,
    "epochs": 1,
    "batch_size": 250,
    "lr": 0.05,
    "scales": (0.5, 0.65, 0.8, 1.0),
}
RBM_SETTINGS = {
    "n_hidden": 1000,
    "epochs": 25,
    "lr": 1e-3,
    "batch_size": 100,
    "k": 1,
    "lr_schedule": "cosine",
}
RBM_FINETUNE = {"flip_rates": (0.1,), "epochs": 12, "lr": 3e-3, "batch_size": 100, "k": 10}
VALIDATION = {"n_images": 500, "p": 0.1, "n_sweeps": 40, "burn_in": 10, "seed": 1}
TRAINED_ON = "MNIST train[:50000], threshold 128"

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
PRETRAINED_FILES = {"ising": "ising_mnist.npz", "rbm": "rbm_mnist.npz"}


def mnist_train_valid(root: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The MNIST training images ``(50000, 28, 28)`` and validation rows ``(10000, 784)``,
    threshold 128."""
    sp = load_mnist(root, binarize="threshold")
    return sp.train.tensor().view(-1, 28, 28), sp.valid.tensor()


def validation_error(prior: EnergyModel, valid: torch.Tensor) -> float:
    """MPM pixel error on ``VALIDATION["n_images"]`` validation digits at flip rate ``p``."""
    v = VALIDATION
    clean = valid[: v["n_images"]]
    g = torch.Generator().manual_seed(v["seed"])
    noisy, _ = flip_noise(clean, v["p"], generator=g)
    res = mpm(
        posterior(prior, noisy, v["p"]),
        noisy,
        n_sweeps=v["n_sweeps"],
        burn_in=v["burn_in"],
        generator=g,
    )
    return float((res.estimate != clean).double().mean())


def _ising(images: torch.Tensor, valid: torch.Tensor, progress: bool, seed: int) -> tuple:
    """Stage ``ISING``: pseudo-likelihood fit, then the tempering factor chosen on ``valid``."""
    s = ISING
    gen = torch.Generator().manual_seed(seed)
    settings = {k: s[k] for k in ("radius", "boundary", "epochs", "batch_size", "lr")}
    model = fit_offset_ising(images, method="pl", generator=gen, progress=progress, **settings)
    pl = model.couplings.detach().clone(), float(model.bias.detach())

    def temper(tau: float) -> None:
        with torch.no_grad():
            model.couplings.copy_(tau * pl[0])
            model.bias.fill_(tau * pl[1])

    errors = {}
    for tau in s["scales"]:
        temper(tau)
        errors[tau] = validation_error(model, valid)
    best = min(errors, key=errors.get)
    temper(best)
    meta = {
        "method": "pseudo-likelihood",
        **settings,
        "pl_couplings": pl[0].tolist(),
        "pl_bias": pl[1],
        "temperature_scale": best,
        "validation_mpm_error_by_scale": {str(k): v for k, v in errors.items()},
    }
    return model, meta


def _rbm(images, valid, progress: bool, seed: int, rbm_init, t0: float) -> tuple:
    """Stage (1) ``fit_rbm`` (or ``rbm_init``), then stage (2) ``finetune_rbm_denoising``."""
    s = RBM_SETTINGS
    if rbm_init is None:
        g1 = torch.Generator().manual_seed(seed)
        rbm = fit_rbm(images, generator=g1, progress=progress, **s)
        stage1 = {"method": "PCD", **s}
    else:
        rbm = load_prior(rbm_init, shape=(28, 28))
        stage1 = {"loaded_from": str(rbm_init), "settings_expected": s}
    stage1["validation_mpm_error"] = validation_error(rbm, valid)
    stage1["seconds"] = time.perf_counter() - t0
    f = RBM_FINETUNE
    # its own stream, so that starting from a saved stage-(1) RBM gives the same result
    g2 = torch.Generator().manual_seed(seed + 1)
    tuned = finetune_rbm_denoising(rbm, images, generator=g2, progress=progress, **f)
    meta = {
        "stage1_generative": stage1,
        "stage2_denoising_finetune": {**f, "method": "conditional likelihood, CD-k"},
        "validation_mpm_error": validation_error(tuned, valid),
    }
    return tuned, meta


def build_prior(
    kind: str,
    path: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    progress: bool = False,
    rbm_init: str | os.PathLike | None = None,
    seed: int = 0,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> Path:
    """Fit the default ``kind`` (``"ising"`` or ``"rbm"``) prior and write it to ``path``.

    ``root``: the data folder with ``mnist/`` (``data``: the ``mnist_train_valid`` pair
    already loaded). ``rbm_init``: a saved stage-(1) RBM (``save_prior``) to fine-tune
    instead of training one. ``seed``: the Ising fit and RBM stage (1) draw from a generator
    seeded ``seed``, stage (2) from one seeded ``seed + 1`` (the shipped priors: 0). Trains
    on the CPU. The file's ``meta`` records the settings, the validation errors and the
    seconds taken (``prior_meta``).
    """
    if kind not in PRETRAINED_FILES:
        raise ValueError(f"kind must be 'ising' or 'rbm', got {kind!r}")
    images, valid = mnist_train_valid(root) if data is None else data
    t0 = time.perf_counter()
    if kind == "ising":
        model, meta = _ising(images, valid, progress, seed)
    else:
        model, meta = _rbm(images, valid, progress, seed, rbm_init, t0)
    meta = {"trained_on": TRAINED_ON, **meta, "validation": VALIDATION}
    meta["seconds"] = time.perf_counter() - t0
    return save_prior(model, path, half=kind == "rbm", meta=meta)


def build_priors(
    out: str | os.PathLike = PRETRAINED_DIR,
    *,
    kinds=tuple(PRETRAINED_FILES),
    root: str | os.PathLike | None = None,
    progress: bool = False,
    rbm_init: str | os.PathLike | None = None,
    seed: int = 0,
) -> dict[str, Path]:
    """Build each of ``kinds`` (``build_prior``) into ``out/PRETRAINED_FILES[kind]``, from one
    load of the MNIST data; returns ``{kind: path}``."""
    kinds = list(kinds)
    bad = [k for k in kinds if k not in PRETRAINED_FILES]
    if bad or not kinds:
        raise ValueError(f"kinds must be among {sorted(PRETRAINED_FILES)}, got {kinds}")
    data = mnist_train_valid(root)
    return {
        kind: build_prior(
            kind,
            Path(out) / PRETRAINED_FILES[kind],
            progress=progress,
            rbm_init=rbm_init,
            seed=seed,
            data=data,
        )
        for kind in kinds
    }


def pretrained_prior(
    kind: str = "ising",
    shape: tuple[int, int] = (28, 28),
    *,
    root: str | os.PathLike | None = None,
    progress: bool = False,
) -> EnergyModel:
    """A default prior trained on MNIST digits.

    ``"lattice"``: the hand-set nearest-neighbour prior (``lattice_prior``) on ``shape``.
    ``"ising"``: the shipped learned offset Ising prior, placed on any ``shape``.
    ``"rbm"``: the shipped RBM (28×28 only). If a shipped file is missing, the prior is trained
    once with the same settings (``build_prior``) on the MNIST data under ``root`` and cached
    in ``data_dir(root)/denoise_priors/``.
    """
    if kind == "lattice":
        return lattice_prior(shape)
    if kind not in PRETRAINED_FILES:
        raise ValueError(f"kind must be 'lattice', 'ising' or 'rbm', got {kind!r}")
    name = PRETRAINED_FILES[kind]
    cached = data_dir(root) / "denoise_priors" / name
    for path in (PRETRAINED_DIR / name, cached):
        if path.is_file():
            return load_prior(path, shape=shape)
    return load_prior(build_prior(kind, cached, root=root, progress=progress), shape=shape)
