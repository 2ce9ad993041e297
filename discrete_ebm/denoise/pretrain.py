"""Build the default MNIST priors shipped in ``discrete_ebm/denoise/pretrained/``.

``python -m discrete_ebm.denoise.pretrain [--data DIR] [--out DIR] [--only ising|rbm]``

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
  the prior, which stays an RBM used through ``posterior``. On the validation digits it
  lowers the MPM error at every flip rate 0.05–0.3, while fine-tuning on a mixture of rates
  was worse (see ``benchmarks/RESULTS_denoise.md``). Stored as float16 (about 1.5 MB).
  ``--rbm-init FILE`` starts stage (2) from a saved stage-(1) RBM instead of training it.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from ..data.corruption import flip_noise
from ..models.base import EnergyModel
from .estimators import mpm
from .posterior import posterior
from .priors import (
    PRETRAINED_DIR,
    PRETRAINED_FILES,
    finetune_rbm_denoising,
    fit_offset_ising,
    fit_rbm,
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


def _mnist(root):
    from ..data.images import load_mnist

    sp = load_mnist(root, binarize="threshold")
    return sp.train.tensor(), sp.valid.tensor()


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


def build_prior(
    kind: str,
    path: str | os.PathLike,
    *,
    root=None,
    progress: bool = False,
    rbm_init: str | os.PathLike | None = None,
) -> Path:
    """Fit the default ``kind`` (``"ising"`` or ``"rbm"``) prior and write it to ``path``.

    ``rbm_init``: a saved stage-(1) RBM (``save_prior``) to fine-tune instead of training one.
    """
    train, valid = _mnist(root)
    images = train.view(-1, 28, 28)
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    if kind == "ising":
        s = ISING
        model = fit_offset_ising(
            images,
            radius=s["radius"],
            boundary=s["boundary"],
            method="pl",
            epochs=s["epochs"],
            batch_size=s["batch_size"],
            lr=s["lr"],
            generator=gen,
            progress=progress,
        )
        pl = model.couplings.detach().clone(), float(model.bias.detach())
        errors = {}
        for tau in s["scales"]:
            with torch.no_grad():
                model.couplings.copy_(tau * pl[0])
                model.bias.fill_(tau * pl[1])
            errors[tau] = validation_error(model, valid)
        best = min(errors, key=errors.get)
        with torch.no_grad():
            model.couplings.copy_(best * pl[0])
            model.bias.fill_(best * pl[1])
        meta = {
            "trained_on": "MNIST train[:50000], threshold 128",
            "method": "pseudo-likelihood",
            **{k: v for k, v in s.items() if k != "scales"},
            "pl_couplings": pl[0].tolist(),
            "pl_bias": pl[1],
            "temperature_scale": best,
            "validation_mpm_error_by_scale": {str(k): v for k, v in errors.items()},
            "validation": VALIDATION,
            "seconds": time.perf_counter() - t0,
        }
        return save_prior(model, path, meta=meta)
    if kind == "rbm":
        s = RBM_SETTINGS
        if rbm_init is None:
            rbm = fit_rbm(images, generator=gen, progress=progress, **s)
            stage1 = {"method": "PCD", **s}
        else:
            rbm = load_prior(rbm_init, shape=(28, 28))
            stage1 = {"loaded_from": str(rbm_init), "settings_expected": s}
        stage1["validation_mpm_error"] = validation_error(rbm, valid)
        stage1["seconds"] = time.perf_counter() - t0
        f = RBM_FINETUNE
        # its own stream, so that starting from a saved stage-(1) RBM gives the same result
        g2 = torch.Generator().manual_seed(1)
        tuned = finetune_rbm_denoising(rbm, images, generator=g2, progress=progress, **f)
        meta = {
            "trained_on": "MNIST train[:50000], threshold 128",
            "stage1_generative": stage1,
            "stage2_denoising_finetune": {**f, "method": "conditional likelihood, CD-k"},
            "validation_mpm_error": validation_error(tuned, valid),
            "validation": VALIDATION,
            "seconds": time.perf_counter() - t0,
        }
        return save_prior(tuned, path, half=True, meta=meta)
    raise ValueError(f"kind must be 'ising' or 'rbm', got {kind!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--data", default=None, help="data folder with mnist/ (default: $DISCRETE_EBM_DATA)"
    )
    ap.add_argument("--out", default=str(PRETRAINED_DIR), help="output folder")
    ap.add_argument("--only", choices=sorted(PRETRAINED_FILES), default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument(
        "--rbm-init", default=None, help="saved stage-(1) RBM to fine-tune (skips PCD training)"
    )
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    for kind in [args.only] if args.only else sorted(PRETRAINED_FILES):
        path = build_prior(
            kind,
            Path(args.out) / PRETRAINED_FILES[kind],
            root=args.data,
            progress=True,
            rbm_init=args.rbm_init,
        )
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
