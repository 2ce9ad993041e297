"""Denoising binary images end to end: images in, every prior × estimator out, one summary.

``denoise_images`` takes clean images (a user's, or the first ``n`` MNIST test digits,
threshold 128) and corrupts them with flip noise of rate ``noise`` (default 0.1) and
optionally a fraction ``missing`` of hidden pixels, or takes images that are already noisy
(no clean reference, so no error rates; the rate is estimated by EM unless given). It runs
each estimator (``mpm``, ``map``, ``icm``) under each prior (``lattice`` hand-set, ``ising``
learned, ``rbm`` learned on 28×28 digits, or ``.npz`` prior files) through
``discrete_ebm.denoise.denoise`` and returns a ``DenoiseResult``: the arrays and a
JSON-ready summary (pixel error of each ``prior-method``, seconds, the best one, settings).
``write_outputs`` writes ``denoise.json``, ``denoised.npz`` and ``denoise.png``
(clean | noisy | each method) to a folder.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data.corruption import flip_noise, mask_pixels
from ..data.images import load_mnist
from ..denoise.pipeline import ESTIMATORS, RBM_MPM_CHAINS, denoise
from ..denoise.pretrain import pretrained_prior
from ..denoise.priors import load_prior
from ..devices import resolve_device
from ..io import save_npz, write_json
from ..models.base import EnergyModel
from ..plotting.denoise import denoise_grid

#: the built-in priors (``pretrained_prior`` kinds), in the default order
PRIORS = ("lattice", "ising", "rbm")
#: flip rate of the synthetic noise when clean images are given without a rate
DEFAULT_NOISE = 0.1


@dataclass
class DenoiseResult:
    """What ``denoise_images`` produced: ``noisy (n, H, W)``, ``clean`` (or ``None``),
    ``observed`` (boolean mask or ``None``), ``estimates`` ``{"prior-method": uint8 (n, H, W)}``
    and the JSON-ready ``summary``."""

    noisy: torch.Tensor
    clean: torch.Tensor | None
    observed: torch.Tensor | None
    estimates: dict[str, np.ndarray] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)


def read_images(path: str | os.PathLike, threshold: float | None = None) -> np.ndarray:
    """Binary images from ``path``: a ``.npy`` array ``(n, H, W)`` (or ``(H, W)``) of 0/1, or a
    folder of PNGs (grey level thresholded at half intensity). Returns float32 ``(n, H, W)``.

    ``threshold``: binarise instead, ``pixel >= threshold`` -> 1 (on the ``.npy`` array's own
    scale, e.g. 128 for uint8 grey levels; on the 0–255 scale for PNGs). Without it, an array
    that is not 0/1 is refused with a message saying how to binarise it."""
    if threshold is not None and not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold}")
    src = Path(path)
    if src.is_dir():
        from matplotlib.image import imread  # matplotlib only when PNGs are read

        files = sorted(src.glob("*.png"))
        if not files:
            raise ValueError(f"{src} contains no .png files")
        imgs = []
        for f in files:
            a = np.asarray(imread(f), dtype=np.float64)
            if a.ndim == 3:
                a = a[..., :3].mean(-1)
            if a.max() > 1:
                a = a / 255.0
            imgs.append(a > 0.5 if threshold is None else a * 255.0 >= threshold)
        shapes = {a.shape for a in imgs}
        if len(shapes) != 1:
            raise ValueError(f"PNGs in {src} have different sizes: {sorted(shapes)}")
        return np.stack(imgs).astype(np.float32)
    if not src.is_file():
        raise FileNotFoundError(f"no file or folder at {src}")
    with open(src, "rb") as f:
        head = f.read(6)
    if head != b"\x93NUMPY":
        raise ValueError(f"{src} is not a NumPy .npy file (it starts with {head!r})")
    a = np.load(src)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"{src}: expected an array (n, H, W), got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{src} holds no images: shape {a.shape}")
    if threshold is not None:
        a = a >= threshold
    elif not np.isin(a, (0, 1)).all():
        raise ValueError(
            f"{src}: images must be binary (only 0 and 1), found values {a.min()}..{a.max()} "
            f"({a.dtype}); binarise them with --threshold T (threshold=T: pixels >= T become 1), "
            "e.g. 128 for 0–255 grey levels"
        )
    return a.astype(np.float32)


def mnist_test_images(n: int, root: str | os.PathLike | None = None) -> np.ndarray:
    """The first ``n`` MNIST test digits, threshold 128, as float32 ``(n, 28, 28)``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    test = load_mnist(root, binarize="threshold").test.tensor()[:n]
    return test.view(-1, 28, 28).numpy()


def select_priors(
    names: Sequence[str],
    shape: tuple[int, int],
    *,
    root: str | os.PathLike | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, EnergyModel]:
    """``{name: prior}`` for ``names`` (``PRIORS`` entries or ``.npz`` prior files, keyed by
    file stem) on ``(H, W)`` images; the RBM prior (28×28 only) is skipped for other sizes."""
    priors = {}
    for name in names:
        if name in PRIORS:
            if name == "rbm" and tuple(shape) != (28, 28):
                if log:
                    log(
                        "skipping the rbm prior: it is trained on 28x28 digits, "
                        f"images are {shape[0]}x{shape[1]}"
                    )
                continue
            priors[name] = pretrained_prior(name, tuple(shape), root=root, progress=progress)
        elif str(name).endswith(".npz"):
            priors[Path(name).stem] = load_prior(name, shape=tuple(shape))
        else:
            raise ValueError(
                f"priors entries must be {', '.join(PRIORS)} or .npz files, got {name!r}"
            )
    if not priors:
        raise ValueError("priors: no prior left to run")
    return priors


def _check_settings(methods, noise, missing, chains, noisy_given: bool) -> None:
    bad = [m for m in methods if m not in ESTIMATORS]
    if bad or not methods:
        raise ValueError(f"methods must be a list of {', '.join(ESTIMATORS)}; got {list(methods)}")
    if noise is not None and not 0 < noise < 0.5:
        raise ValueError(f"noise must lie in (0, 0.5), got {noise}")
    if chains is not None and chains < 1:
        raise ValueError(f"chains must be >= 1, got {chains}")
    if not 0 <= missing < 1:
        raise ValueError(f"missing must lie in [0, 1), got {missing}")
    if noisy_given and missing > 0:
        raise ValueError("missing hides pixels of images corrupted here; not with noisy images")


def _inputs(images, noisy, n, root, noise, missing, estimate_noise, generator, threshold):
    """``(clean, noisy, observed, source, p)`` with ``p`` the rate given to the estimators
    (``None``: estimated by EM)."""
    if noisy is not None:
        source = str(noisy) if isinstance(noisy, str | os.PathLike) else "noisy images"
        if isinstance(noisy, str | os.PathLike):
            noisy = read_images(noisy, threshold)
        p = noise if (noise is not None and not estimate_noise) else None
        return None, torch.as_tensor(noisy, dtype=torch.float32), None, source, p
    if images is None:
        clean = torch.from_numpy(mnist_test_images(n, root))
        source = f"MNIST test digits 0..{clean.shape[0] - 1} (threshold 128)"
    else:
        source = str(images) if isinstance(images, str | os.PathLike) else "images"
        if isinstance(images, str | os.PathLike):
            images = read_images(images, threshold)
        clean = torch.as_tensor(images, dtype=torch.float32)
    rate = DEFAULT_NOISE if noise is None else noise
    noisy_images, _ = flip_noise(clean, rate, generator=generator)
    observed = None
    if missing > 0:
        noisy_images, observed = mask_pixels(noisy_images, missing, generator=generator)
    return clean, noisy_images, observed, source, None if estimate_noise else rate


def _run_prior(pname: str, prior: EnergyModel, data: DenoiseResult, p, methods, run: dict):
    """Run ``methods`` under one prior with the ``denoise`` settings in ``run`` (plus
    ``device`` and ``log``); returns ``(entries, estimates, p_used)``."""
    clean, observed, device, log = data.clean, data.observed, run["device"], run["log"]
    t0 = time.perf_counter()
    out = denoise(
        data.noisy.to(device),
        prior.to(device),
        p,
        methods=methods,
        observed=None if observed is None else observed.to(device),
        **{k: v for k, v in run.items() if k not in ("device", "log")},
    )
    est_seconds = time.perf_counter() - t0 - sum(out[m].seconds for m in methods)
    p_used = out["p"] if isinstance(out["p"], float) else out["p"].tolist()
    entries, estimates = {}, {}
    for m in methods:
        res = out[m]
        name = f"{pname}-{m}"
        est = res.estimate.detach().cpu()
        estimates[name] = est.numpy().astype(np.uint8)
        entry = {
            "error": None if clean is None else float((est != clean).double().mean()),
            "seconds": res.seconds,
            "prior": pname,
            "estimator": m,
            "mean_posterior_energy": float(res.energy.mean()),
        }
        if out["p_estimated"]:
            entry["noise_estimation_seconds"] = est_seconds
        entries[name] = entry
        if log:
            err = "" if entry["error"] is None else f"error {100 * entry['error']:.2f}%  "
            log(f"  {name:14s} {err}{res.seconds:.1f}s")
    return entries, estimates, p_used


def denoise_images(
    *,
    images: str | os.PathLike | np.ndarray | torch.Tensor | None = None,
    noisy: str | os.PathLike | np.ndarray | torch.Tensor | None = None,
    n: int = 100,
    root: str | os.PathLike | None = None,
    noise: float | None = None,
    missing: float = 0.0,
    priors: Sequence[str] = PRIORS,
    methods: Sequence[str] = ESTIMATORS,
    sweeps: int = 60,
    burn_in: int = 20,
    chains: int | None = None,
    anneal_sweeps: int = 60,
    estimate_noise: bool = False,
    threshold: float | None = None,
    seed: int = 0,
    device: str | torch.device | None = "auto",
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> DenoiseResult:
    """Corrupt (or take noisy) binary images and denoise them under each prior × estimator.

    Args:
        images: clean images ``(n, H, W)`` of 0/1 (array, or a ``.npy`` / PNG folder path for
            ``read_images``), corrupted here; ``noisy``: already-noisy images instead. With
            neither, the first ``n`` MNIST test digits under ``root`` (``load_mnist``).
        threshold: binarise grey-level image files at ``threshold`` (``read_images``).
        noise: flip rate in ``(0, ½)`` (default ``DEFAULT_NOISE`` for clean images; for noisy
            ones ``None`` means estimate by EM). ``estimate_noise``: always estimate it.
        missing: fraction of pixels hidden after the flips (``mask_pixels``; clean images only).
        priors: ``PRIORS`` names or ``.npz`` prior files (``select_priors``).
        methods: estimators of ``denoise``; ``sweeps``, ``burn_in``, ``chains`` (MPM chains per
            image; ``None``: ``RBM_MPM_CHAINS`` for an RBM, else 1), ``anneal_sweeps`` (MAP).
        seed: seeds the corruption (a CPU generator) and the samplers (one on ``device``).
        log: called with progress messages (``None``: silent).
    Returns a ``DenoiseResult``; ``summary`` holds ``noisy_error`` (over observed pixels when
    some are missing), ``best``, ``methods`` (per ``prior-method``: ``error``, ``seconds``,
    ``prior``, ``estimator``, ``mean_posterior_energy``) and ``settings``.
    """
    methods, names = list(methods), list(priors)
    _check_settings(methods, noise, missing, chains, noisy is not None)
    if images is not None and noisy is not None:
        raise ValueError("give images (clean) or noisy, not both")
    device = resolve_device(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    cpu_gen = torch.Generator().manual_seed(seed)
    clean, noisy_images, observed, source, p = _inputs(
        images, noisy, n, root, noise, missing, estimate_noise, cpu_gen, threshold
    )
    n_images, H, W = noisy_images.shape
    chosen = select_priors(names, (H, W), root=root, progress=progress, log=log)
    if log:
        log(f"denoising {n_images} images {H}x{W} from {source} with {', '.join(chosen)}")
    run = {"n_sweeps": sweeps, "burn_in": burn_in, "n_chains": chains}
    run |= {"anneal_sweeps": anneal_sweeps, "generator": gen, "progress": progress}
    run |= {"device": device, "log": log}
    result = DenoiseResult(noisy_images, clean, observed)
    entries, p_used = {}, {}
    for pname, prior in chosen.items():
        e, est, p_used[pname] = _run_prior(pname, prior, result, p, methods, run)
        entries |= e
        result.estimates |= est
    if clean is None:
        noisy_error = None
    elif observed is None:
        noisy_error = float((noisy_images != clean).double().mean())
    else:  # wrong observed pixels; missing ones are unknown, not wrong
        noisy_error = float((noisy_images != clean)[observed].double().mean())
    scored = {k: v["error"] for k, v in entries.items() if v["error"] is not None}
    result.summary = {
        "noisy_error": noisy_error,
        "best": min(scored, key=scored.get) if scored else None,
        "methods": entries,
        "settings": {
            "source": source,
            "n_images": n_images,
            "shape": [H, W],
            "noise": noise if noise is not None else (None if clean is None else DEFAULT_NOISE),
            "noise_used": p_used,
            "noise_estimated": p is None,
            "missing": missing,
            "noisy_error_over": "all pixels" if observed is None else "observed pixels",
            "priors": list(chosen),
            "methods": methods,
            "sweeps": sweeps,
            "burn_in": burn_in,
            "mpm_chains": chains if chains is not None else f"{RBM_MPM_CHAINS} for rbm, else 1",
            "anneal_sweeps": anneal_sweeps,
            "seed": seed,
            "device": str(device),
        },
    }
    return result


def write_outputs(result: DenoiseResult, out: str | os.PathLike, *, rows: int = 8) -> list[Path]:
    """Write ``denoise.json`` (the summary), ``denoised.npz`` (``noisy``, ``clean``,
    ``observed`` when known, one uint8 array per ``prior-method``) and ``denoise.png``
    (the first ``rows`` images: clean | noisy (missing pixels grey) | each method) to ``out``.
    Returns the three paths."""
    out = Path(out)
    summary, clean, noisy, observed = result.summary, result.clean, result.noisy, result.observed
    extra = {"clean": clean.numpy().astype(np.uint8)} if clean is not None else {}
    if observed is not None:
        extra["observed"] = observed.numpy()
    paths = [write_json(out / "denoise.json", summary)]
    arrays = {"noisy": noisy.numpy().astype(np.uint8), **extra, **result.estimates}
    paths.append(save_npz(out / "denoised.npz", compressed=True, **arrays))
    shown = noisy if observed is None else torch.where(observed, noisy, torch.full_like(noisy, 0.5))
    cols = ({"clean": clean.numpy()} if clean is not None else {}) | {"noisy": shown.numpy()}
    cols |= result.estimates
    errors = {k: v["error"] for k, v in summary["methods"].items()}
    errors["noisy"] = summary["noisy_error"]
    title = f"flip rate {summary['settings']['noise']}" if clean is not None else ""
    if observed is not None:
        title += f", {summary['settings']['missing']:.0%} missing (grey)"
    paths.append(denoise_grid(cols, out / "denoise.png", errors=errors, n_rows=rows, title=title))
    return paths
