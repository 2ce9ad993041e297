"""``discrete-ebm denoise``: denoise binary images with Ising / RBM priors.

Input (one of): binarised MNIST test digits (default), ``--images`` clean images (``.npy``
array ``(n, H, W)`` of 0/1, or a folder of PNGs) corrupted here with flip noise
``--noise P`` (and optionally ``--missing F`` hidden pixels), or ``--noisy`` images that are
already corrupted (no clean reference, so no error rates; the flip rate is estimated by EM
unless ``--noise`` is given). Writes ``OUT/denoise.png`` (clean | noisy | each method),
``OUT/denoise.json`` and ``OUT/denoised.npz``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ._common import add_common_arguments, say, show_progress, write_json

PRIORS = ("lattice", "ising", "rbm")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "denoise",
        help="denoise (or inpaint) binary images with Ising / RBM priors",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--images", help="clean images: .npy (n, H, W) of 0/1, or a folder of PNGs")
    src.add_argument("--noisy", help="already-noisy images: .npy (n, H, W) of 0/1 or PNG folder")
    p.add_argument("--n", type=int, default=100, help="MNIST test digits to use (default: 100)")
    p.add_argument(
        "--data", default=None, help="data folder with mnist/ (default: $DISCRETE_EBM_DATA)"
    )
    p.add_argument(
        "--noise",
        type=float,
        default=None,
        help="flip rate P (default 0.1; with --noisy: estimate)",
    )
    p.add_argument(
        "--missing", type=float, default=0.0, help="fraction of pixels hidden (inpainting)"
    )
    p.add_argument(
        "--priors",
        default="lattice,ising,rbm",
        help="comma list of lattice (hand-set), ising (learned, any size), rbm (28x28 only), "
        "or .npz prior files (default: lattice,ising,rbm; rbm skipped for other sizes)",
    )
    p.add_argument("--methods", default="mpm,map,icm", help="comma list of mpm, map, icm")
    p.add_argument("--sweeps", type=int, default=60, help="MPM sweeps after burn-in (default: 60)")
    p.add_argument("--burn-in", type=int, default=20, help="MPM burn-in sweeps (default: 20)")
    p.add_argument(
        "--chains",
        type=int,
        default=None,
        help="MPM chains per image, marginals averaged (default: 4 for the RBM prior, else 1)",
    )
    p.add_argument("--anneal-sweeps", type=int, default=60, help="annealing sweeps (default: 60)")
    p.add_argument("--estimate-noise", action="store_true", help="estimate the flip rate by EM")
    p.add_argument("--rows", type=int, default=8, help="images shown in denoise.png (default: 8)")
    add_common_arguments(p, default_out="runs/denoise")
    p.set_defaults(func=run)


def _read_images(path: str) -> np.ndarray:
    """``.npy`` array ``(n, H, W)`` (or ``(H, W)``) of 0/1, or a folder of PNGs (thresholded at
    half intensity); returns float32 ``(n, H, W)``."""
    src = Path(path)
    if src.is_dir():
        from matplotlib.image import imread

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
            imgs.append(a > 0.5)
        shapes = {a.shape for a in imgs}
        if len(shapes) != 1:
            raise ValueError(f"PNGs in {src} have different sizes: {sorted(shapes)}")
        return np.stack(imgs).astype(np.float32)
    if not src.is_file():
        raise FileNotFoundError(f"no file or folder at {src}")
    a = np.load(src)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"{src}: expected an array (n, H, W), got shape {a.shape}")
    if not np.isin(a, (0, 1)).all():
        raise ValueError(f"{src}: images must be binary (only 0 and 1)")
    return a.astype(np.float32)


def _mnist_test(n: int, root) -> np.ndarray:
    from ..data.images import load_mnist

    test = load_mnist(root, binarize="threshold").test.tensor()[:n]
    return test.view(-1, 28, 28).numpy()


def run(args) -> int:
    from ..data.corruption import flip_noise, mask_pixels
    from ..denoise.pipeline import ESTIMATORS, denoise
    from ..denoise.priors import load_prior, pretrained_prior
    from ..devices import resolve_device
    from ..plotting.denoise import denoise_grid

    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    cpu_gen = torch.Generator().manual_seed(args.seed)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in ESTIMATORS]
    if bad or not methods:
        raise SystemExit(f"--methods must be a comma list of {', '.join(ESTIMATORS)}; got {bad}")
    if args.noise is not None and not 0 < args.noise < 0.5:
        raise SystemExit(f"--noise must lie in (0, 0.5), got {args.noise}")
    if args.chains is not None and args.chains < 1:
        raise SystemExit(f"--chains must be >= 1, got {args.chains}")
    if not 0 <= args.missing < 1:
        raise SystemExit(f"--missing must lie in [0, 1), got {args.missing}")
    if args.noisy and args.missing > 0:
        raise SystemExit(
            "--missing hides pixels of the images this command corrupts itself; "
            "it cannot be combined with --noisy (already corrupted images)"
        )

    clean = None
    observed = None
    if args.noisy:
        noisy = torch.from_numpy(_read_images(args.noisy))
        source = str(args.noisy)
        p = args.noise if (args.noise is not None and not args.estimate_noise) else None
    else:
        if args.images:
            clean = torch.from_numpy(_read_images(args.images))
            source = str(args.images)
        else:
            if args.n < 1:
                raise SystemExit(f"--n must be >= 1, got {args.n}")
            clean = torch.from_numpy(_mnist_test(args.n, args.data))
            source = f"MNIST test digits 0..{clean.shape[0] - 1} (threshold 128)"
        rate = 0.1 if args.noise is None else args.noise
        noisy, _ = flip_noise(clean, rate, generator=cpu_gen)
        if args.missing > 0:
            noisy, observed = mask_pixels(noisy, args.missing, generator=cpu_gen)
        p = None if args.estimate_noise else rate
    n, H, W = noisy.shape

    priors = {}
    for name in [s.strip() for s in args.priors.split(",") if s.strip()]:
        if name in PRIORS:
            if name == "rbm" and (H, W) != (28, 28):
                say(
                    args,
                    f"skipping the rbm prior: it is trained on 28x28 digits, images are {H}x{W}",
                )
                continue
            priors[name] = pretrained_prior(name, (H, W), progress=show_progress(args))
        elif name.endswith(".npz"):
            priors[Path(name).stem] = load_prior(name, shape=(H, W))
        else:
            raise SystemExit(
                f"--priors entries must be {', '.join(PRIORS)} or .npz files, got {name!r}"
            )
    if not priors:
        raise SystemExit("no prior left to run")

    say(args, f"denoising {n} images {H}x{W} from {source} with {', '.join(priors)}")
    results, arrays, p_used = {}, {}, {}
    for pname, prior in priors.items():
        prior = prior.to(device)
        t0 = time.perf_counter()
        out = denoise(
            noisy.to(device),
            prior,
            p,
            methods=methods,
            observed=None if observed is None else observed.to(device),
            n_sweeps=args.sweeps,
            burn_in=args.burn_in,
            n_chains=args.chains,
            anneal_sweeps=args.anneal_sweeps,
            generator=gen,
            progress=show_progress(args),
        )
        est_seconds = time.perf_counter() - t0 - sum(out[m].seconds for m in methods)
        p_used[pname] = out["p"] if isinstance(out["p"], float) else out["p"].tolist()
        for m in methods:
            res = out[m]
            name = f"{pname}-{m}"
            est = res.estimate.detach().cpu()
            arrays[name] = est.numpy().astype(np.uint8)
            entry = {
                "error": None if clean is None else float((est != clean).double().mean()),
                "seconds": res.seconds,
                "prior": pname,
                "estimator": m,
                "mean_posterior_energy": float(res.energy.mean()),
            }
            if out["p_estimated"]:
                entry["noise_estimation_seconds"] = est_seconds
            results[name] = entry
            err = "" if entry["error"] is None else f"error {100 * entry['error']:.2f}%  "
            say(args, f"  {name:14s} {err}{res.seconds:.1f}s")

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if clean is None:
        noisy_error = None
    elif observed is None:
        noisy_error = float((noisy != clean).double().mean())
    else:  # wrong observed pixels; missing ones are unknown, not wrong
        noisy_error = float((noisy != clean)[observed].double().mean())
    scored = {k: v["error"] for k, v in results.items() if v["error"] is not None}
    summary = {
        "noisy_error": noisy_error,
        "best": min(scored, key=scored.get) if scored else None,
        "methods": results,
        "settings": {
            "source": source,
            "n_images": n,
            "shape": [H, W],
            "noise": args.noise if args.noise is not None else (None if args.noisy else 0.1),
            "noise_used": p_used,
            "noise_estimated": p is None,
            "missing": args.missing,
            "noisy_error_over": "all pixels" if observed is None else "observed pixels",
            "priors": list(priors),
            "methods": methods,
            "sweeps": args.sweeps,
            "burn_in": args.burn_in,
            "mpm_chains": args.chains if args.chains is not None else "4 for rbm, else 1",
            "anneal_sweeps": args.anneal_sweeps,
            "seed": args.seed,
            "device": str(device),
        },
    }
    write_json(out_dir / "denoise.json", summary)
    extra = {"clean": clean.numpy().astype(np.uint8)} if clean is not None else {}
    if observed is not None:
        extra["observed"] = observed.numpy()
    np.savez_compressed(
        out_dir / "denoised.npz", noisy=noisy.numpy().astype(np.uint8), **extra, **arrays
    )
    shown = noisy if observed is None else torch.where(observed, noisy, torch.full_like(noisy, 0.5))
    cols = ({"clean": clean.numpy()} if clean is not None else {}) | {"noisy": shown.numpy()}
    cols |= {k: v for k, v in arrays.items()}
    errors = {k: v["error"] for k, v in results.items()} | {"noisy": noisy_error}
    denoise_grid(
        cols,
        out_dir / "denoise.png",
        errors=errors,
        n_rows=args.rows,
        title=(f"flip rate {summary['settings']['noise']}" if clean is not None else "")
        + ("" if observed is None else f", {args.missing:.0%} missing (grey)"),
    )
    if summary["best"] is not None:
        best = summary["best"]
        say(args, f"best: {best} ({100 * scored[best]:.2f}% wrong pixels)")
    say(args, f"wrote {out_dir / 'denoise.png'}, denoise.json, denoised.npz")
    return 0
