"""Priors over clean binary images: hand-set lattice, learned offset Ising, learned RBM.

- ``lattice_prior``: nearest-neighbour Ising prior ``OffsetIsing(radius=1)`` with one hand-set
  coupling ``J`` and bias ``h`` (``U(x) = −J Σ_⟨ij⟩ s_i s_j − h Σ_i s_i``).
- ``fit_offset_ising``: couplings shared by offset within ``radius`` and a scalar bias,
  fitted to clean images by pseudo-likelihood (``"pl"``) or Bernoulli energy discrepancy
  (``"ed"``) through ``discrete_ebm.training.fit``. Translation-invariant, so the fitted
  prior applies to images of any size (``OffsetIsing.for_shape``).
- ``fit_rbm``: an RBM trained by persistent contrastive divergence (``RBM.pcd_step``) with
  Adam through ``fit``; it is tied to the image size it was trained on.
- ``finetune_rbm_denoising``: refits an RBM prior for denoising by the conditional
  likelihood ``log p(x | y)`` of clean images given synthetic noisy copies (CD-k on the
  posterior, ``PosteriorContrastiveDivergence``); the shipped RBM prior is ``fit_rbm``
  followed by this.
- ``save_prior`` / ``load_prior`` / ``prior_meta``: a prior as a small ``.npz`` (``kind``,
  shape, parameters, how it was trained).

The priors a user gets by default (``pretrained_prior``) are built from these in
``discrete_ebm.denoise.pretrain``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from .. import objectives
from .._validation import check_positive_int
from ..devices import resolve_device
from ..io import save_npz
from ..models.base import EnergyModel
from ..models.offset_ising import OffsetIsing
from ..models.rbm import RBM
from ..training import cosine_decay, fit
from .finetune import FINETUNE_FLIP_RATES, PosteriorContrastiveDivergence

#: hand-set nearest-neighbour coupling and bias of ``lattice_prior``: round values, the pair
#: with the lowest MPM error on 500 noisy MNIST *validation* digits at p = 0.1 on the grid
#: J ∈ {0.4, 0.6, 0.8, 1.0} × h ∈ {0, −0.1, −0.2} (2.4 %; never tuned on test digits).
HAND_COUPLING = 0.6
HAND_BIAS = 0.0


def _image_rows(images, shape: tuple[int, int] | None, name: str = "images"):
    """``(N, H, W)`` or ``(N, d)`` with ``shape`` -> float rows ``(N, H·W)`` and ``(H, W)``."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images))
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a tensor or array (N, H, W), got {type(images).__name__}")
    if images.dim() == 3:
        shape = tuple(images.shape[1:])
        images = images.reshape(images.shape[0], -1)
    elif images.dim() == 2:
        if shape is None or shape[0] * shape[1] != images.shape[1]:
            raise ValueError(f"{name} of shape (N, d) need shape=(H, W) with H·W = d, got {shape}")
    else:
        raise ValueError(f"{name} must have shape (N, H, W) or (N, d), got {tuple(images.shape)}")
    images = images.float()
    if ((images != 0) & (images != 1)).any():
        raise ValueError(f"{name} must be binary (0/1)")
    return images, (int(shape[0]), int(shape[1]))


def lattice_prior(
    shape: tuple[int, int] = (28, 28), coupling: float = HAND_COUPLING, bias: float = HAND_BIAS
) -> OffsetIsing:
    """Nearest-neighbour Ising prior on ``shape`` images with uniform ``coupling`` and ``bias``."""
    return OffsetIsing(shape, 1.0, float(coupling), float(bias))


def fit_offset_ising(
    images,
    *,
    radius: float = 3.0,
    method: str = "pl",
    boundary: float = 0.0,
    shape: tuple[int, int] | None = None,
    epochs: int = 2,
    batch_size: int = 250,
    lr: float = 0.05,
    epsilon: float = 0.05,
    n_negatives: int = 16,
    device: str | torch.device | None = "cpu",
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> OffsetIsing:
    """Fit an offset-shared Ising prior to clean binary images.

    Args:
        images: ``(N, H, W)`` (or ``(N, d)`` with ``shape``) in {0, 1}.
        radius: neighbourhood radius of the shared couplings.
        boundary: spin value outside the image (0 free, −1 black background; see
            ``OffsetIsing``).
        method: ``"pl"`` (pseudo-likelihood, ``PseudoLikelihood()``) or ``"ed"``
            (``BernoulliED(epsilon, n_negatives)``).
        epochs, batch_size, lr: Adam training through ``discrete_ebm.training.fit``.
    Returns the fitted ``OffsetIsing`` on ``(H, W)`` (apply elsewhere with ``for_shape``).
    """
    if method not in ("pl", "ed"):
        raise ValueError(f"method must be 'pl' or 'ed', got {method!r}")
    rows, shape = _image_rows(images, shape)
    device = resolve_device(device)
    model = OffsetIsing(shape, radius, boundary=boundary).to(device)
    with torch.no_grad():  # start from the independent model matching the pixel mean
        m = rows.mean().clamp(1e-3, 1 - 1e-3)
        model.bias.fill_(0.5 * float(torch.log(m / (1 - m))))
    if method == "pl":
        objective = objectives.make("pl")
    else:
        objective = objectives.make("ed-bern", epsilon=epsilon, n_negatives=n_negatives)
    fit(
        model,
        objective,
        rows,
        epochs=check_positive_int(epochs, "epochs"),
        batch_size=batch_size,
        lr=lr,
        generator=generator,
        progress=progress,
    )
    model.method = method
    return model


def _adam_weight_decay_on_w(rbm: RBM, lr: float, weight_decay: float) -> torch.optim.Adam:
    """Adam on ``(W, b, c)`` with L2 ``weight_decay`` on ``W`` only."""
    return torch.optim.Adam(
        [
            {"params": [rbm.W], "weight_decay": weight_decay},
            {"params": [rbm.b, rbm.c], "weight_decay": 0.0},
        ],
        lr=lr,
    )


def _steps(n: int, batch_size: int, epochs: int) -> int:
    """Optimiser steps of ``epochs`` over ``n`` rows in full batches (the rest is skipped)."""
    if n < batch_size:
        raise ValueError(f"batch_size ({batch_size}) exceeds the number of images ({n})")
    return epochs * (n // batch_size)


def fit_rbm(
    images,
    *,
    n_hidden: int = 200,
    shape: tuple[int, int] | None = None,
    epochs: int = 20,
    batch_size: int = 100,
    lr: float = 1e-3,
    k: int = 1,
    weight_decay: float = 1e-4,
    n_chains: int | None = None,
    lr_schedule: str = "constant",
    device: str | torch.device | None = "cpu",
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> RBM:
    """Train an RBM on clean binary images by persistent CD-``k`` (Tieleman 2008).

    Each step writes the PCD gradient ``∇[mean F(v_data) − mean F(v_chain)]`` of a batch
    (objective ``"rbm-pcd"``: ``RBM.pcd_step``, ``n_chains`` persistent hidden chains, default
    one per batch row, started from ``p(h | v)`` of random images) and takes an Adam step
    (L2 ``weight_decay`` on ``W``), through ``discrete_ebm.training.fit`` over full batches.
    ``lr_schedule``: ``"constant"`` or ``"cosine"`` (``lr_t = lr · ½(1 + cos(π t / T))`` over
    the ``T`` steps, ending at 0). Returns the RBM (``n_visible = H·W``).
    """
    rows, shape = _image_rows(images, shape)
    n_hidden = check_positive_int(n_hidden, "n_hidden")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {lr_schedule!r}")
    n_chains = batch_size if n_chains is None else check_positive_int(n_chains, "n_chains")
    total = _steps(rows.shape[0], batch_size, epochs)
    device = resolve_device(device)
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    rbm = RBM(rows.shape[1], n_hidden, generator=g).to(device)
    rows = rows.to(device)
    rbm.init_from_data(rows)
    chains = rbm.init_chains(n_chains, rows, generator=g)
    fit(
        rbm,
        objectives.make("rbm-pcd", n_chains=n_chains, k=k, chains=chains),
        rows,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=_adam_weight_decay_on_w(rbm, lr, weight_decay),
        scheduler=cosine_decay(total) if lr_schedule == "cosine" else None,
        generator=g,
        progress=progress,
        drop_last=True,
    )
    rbm.image_shape = shape
    return rbm


def finetune_rbm_denoising(
    rbm: RBM,
    images,
    *,
    flip_rates=FINETUNE_FLIP_RATES,
    shape: tuple[int, int] | None = None,
    epochs: int = 3,
    batch_size: int = 100,
    lr: float = 2e-3,
    k: int = 10,
    weight_decay: float = 1e-4,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> RBM:
    """Fit an RBM prior for denoising by the conditional likelihood of clean images.

    Each clean training image ``x`` gets a synthetic noisy copy ``y`` (flip noise with a rate
    ``p`` drawn uniformly from ``flip_rates``, per image), and the RBM's parameters ``θ``
    maximise ``mean log p_θ(x | y)`` where ``p_θ(x | y) ∝ exp(−F_θ(x) + λ_p Σ_i s_i t_i)``
    is the Bayes posterior of the RBM prior under that noise (``λ_p = ½ log((1 − p)/p)``,
    spins ``s = 2x − 1``, ``t = 2y − 1``; ``posterior``). The gradient is

        ∇_θ [−log p_θ(x | y)] = ∇_θ F_θ(x) − E_{x' ~ p_θ(·|y)} ∇_θ F_θ(x'),

    the expectation estimated by ``k`` block-Gibbs sweeps of the posterior started at ``y``
    (CD-``k`` on the posterior, which is concentrated near ``x``, so short chains suffice;
    ``PosteriorContrastiveDivergence``), trained by ``discrete_ebm.training.fit`` over full
    batches with Adam, L2 ``weight_decay`` on ``W`` and a cosine learning-rate decay from
    ``lr`` to 0. The observation field stays the exact one of the noise model; only the prior
    changes, so the result is still used as a prior through ``posterior`` (MPM, MAP, ICM), at
    any ``p``.

    Args:
        rbm: the starting RBM (typically ``fit_rbm``); it is not modified.
        images: clean ``(N, H, W)`` (or ``(N, d)`` with ``shape``) in {0, 1}, ``H·W = rbm.dim``.
        flip_rates: rates in ``(0, ½)`` of the synthetic noise.
    Returns a new ``RBM`` (``image_shape`` kept).
    """
    if not isinstance(rbm, RBM):
        raise TypeError(f"rbm must be an RBM, got {type(rbm).__name__}")
    rows, shape = _image_rows(images, shape)
    if rows.shape[1] != rbm.dim:
        raise ValueError(f"images have {rows.shape[1]} pixels, the RBM has {rbm.dim} visible units")
    objective = PosteriorContrastiveDivergence(flip_rates, check_positive_int(k, "k"))
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    total = _steps(rows.shape[0], batch_size, epochs)
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    model = RBM.from_parameters(rbm.W.detach().clone(), rbm.b.detach().clone(), rbm.c.detach())
    model = model.to(rbm.device)
    fit(
        model,
        objective,
        rows.to(rbm.device, model.dtype),
        epochs=epochs,
        batch_size=batch_size,
        optimizer=_adam_weight_decay_on_w(model, lr, weight_decay),
        scheduler=cosine_decay(total),
        generator=g,
        progress=progress,
        drop_last=True,
    )
    model.image_shape = getattr(rbm, "image_shape", None) or shape
    return model


def save_prior(
    model: EnergyModel, path: str | os.PathLike, *, half: bool = False, meta: dict | None = None
) -> Path:
    """Write ``model`` (``OffsetIsing`` or ``RBM``) to a compressed ``.npz``.

    ``half`` stores an RBM's weights as float16 (half the size; ~1e-3 relative rounding).
    ``meta`` (a JSON-serialisable dict: how it was trained) is stored alongside.
    """
    if isinstance(model, OffsetIsing):
        arrays = {
            "kind": np.array("offset_ising"),
            "shape": np.array(model.image_shape),
            "radius": np.array(model.radius),
            "couplings": model.couplings.detach().cpu().double().numpy(),
            "bias": np.array(float(model.bias.detach())),
            "boundary": np.array(model.boundary),
        }
    elif isinstance(model, RBM):
        dt = np.float16 if half else np.float32
        shape = getattr(model, "image_shape", None) or (1, model.dim)
        arrays = {
            "kind": np.array("rbm"),
            "shape": np.array(shape),
            "W": model.W.detach().cpu().numpy().astype(dt),
            "b": model.b.detach().cpu().numpy().astype(dt),
            "c": model.c.detach().cpu().numpy().astype(dt),
        }
    else:
        raise TypeError(f"model must be an OffsetIsing or RBM, got {type(model).__name__}")
    arrays["meta"] = np.array(json.dumps(meta or {}))
    return save_npz(path, compressed=True, **arrays)


def load_prior(path: str | os.PathLike, *, shape: tuple[int, int] | None = None) -> EnergyModel:
    """Read a prior written by ``save_prior``. An ``OffsetIsing`` is placed on ``shape`` if
    given (its couplings apply to any size); an RBM must match its stored shape."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no prior file at {path}")
    with np.load(path) as f:
        kind = str(f["kind"])
        stored = tuple(int(v) for v in f["shape"])
        if kind == "offset_ising":
            model = OffsetIsing(
                stored,
                float(f["radius"]),
                torch.from_numpy(f["couplings"]).float(),
                float(f["bias"]),
                boundary=float(f["boundary"]) if "boundary" in f.files else 0.0,
            )
            return model.for_shape(shape) if shape is not None and tuple(shape) != stored else model
        if kind == "rbm":
            if shape is not None and tuple(shape) != stored:
                raise ValueError(
                    f"the RBM prior in {path} is for {stored} images, not {tuple(shape)}"
                )
            rbm = RBM.from_parameters(
                *(torch.from_numpy(f[k].astype(np.float32)) for k in ("W", "b", "c"))
            )
            rbm.image_shape = stored
            return rbm
    raise ValueError(f"{path}: unknown prior kind {kind!r}")


def prior_meta(path: str | os.PathLike) -> dict:
    """The ``meta`` dict stored with a prior file (empty if none)."""
    with np.load(path) as f:
        return json.loads(str(f["meta"])) if "meta" in f.files else {}
