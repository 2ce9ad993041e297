"""Denoise and inpaint binary MNIST digits with Ising and RBM priors.

    python examples/denoise_binary_images.py [--n 100] [--noise 0.1] [--out runs/denoise_example]

Needs the MNIST file under $DISCRETE_EBM_DATA (or --data). Steps:
1. threshold-binarised test digits, corrupted by flip noise of rate --noise;
2. the posterior under each prior (hand-set lattice, learned offset Ising, RBM) is the prior
   plus a field ½ log((1−p)/p) toward each observed pixel; MPM, annealed MAP and ICM estimates;
3. the flip rate estimated by EM from the noisy digits alone;
4. inpainting: 40 % of the pixels hidden, observed ones clamped, missing ones sampled.
Writes denoise.png, inpaint.png and results.json to --out. ``discrete-ebm denoise``
(``discrete_ebm.recipes.denoise``) runs steps 1–2 on your own images too. ``--quick`` (or
``DISCRETE_EBM_QUICK=1``) shrinks the run to seconds: 4 digits, short chains.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from discrete_ebm.data.corruption import flip_noise, mask_pixels, pixel_error
from discrete_ebm.data.images import load_mnist
from discrete_ebm.denoise.noise import estimate_flip_rate
from discrete_ebm.denoise.pipeline import denoise
from discrete_ebm.denoise.pretrain import pretrained_prior
from discrete_ebm.io import write_json
from discrete_ebm.plotting.denoise import denoise_grid


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--data", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/denoise_example")
    ap.add_argument("--quick", action="store_true", help="a few seconds: 4 digits, short chains")
    args = ap.parse_args()
    quick = args.quick or os.environ.get("DISCRETE_EBM_QUICK") == "1"
    n = 4 if quick else args.n
    # chain lengths: the pipeline's defaults, or a few sweeps in the quick mode
    sweeps = {"n_sweeps": 6, "burn_in": 2, "anneal_sweeps": 6} if quick else {}
    em_sweeps = {"n_iter": 2, "n_sweeps": 4, "burn_in": 2} if quick else {}
    out = Path(args.out)
    g = torch.Generator().manual_seed(args.seed)

    clean = load_mnist(args.data, binarize="threshold").test.tensor()[:n].view(-1, 28, 28)
    noisy, _ = flip_noise(clean, args.noise, generator=g)
    results = {"noisy_error": pixel_error(noisy, clean), "methods": {}}
    columns = {"clean": clean.numpy(), "noisy": noisy.numpy()}
    for kind in ("lattice", "ising", "rbm"):
        prior = pretrained_prior(kind, (28, 28), root=args.data)
        res = denoise(noisy, prior, args.noise, generator=g, **sweeps)
        for m in ("mpm", "map", "icm"):
            name = f"{kind}-{m}"
            err = pixel_error(res[m].estimate, clean)
            results["methods"][name] = {"error": err, "seconds": res[m].seconds}
            columns[name] = res[m].estimate.numpy()
            print(f"{name:12s} {100 * err:5.2f}% wrong  {res[m].seconds:6.1f}s")
    errors = {k: v["error"] for k, v in results["methods"].items()} | {
        "noisy": results["noisy_error"]
    }
    denoise_grid(columns, out / "denoise.png", errors=errors)

    # the flip rate from the noisy digits alone (EM under the learned Ising prior)
    p_hat, _ = estimate_flip_rate(noisy, pretrained_prior("ising"), generator=g, **em_sweeps)
    results["estimated_noise"] = p_hat
    print(f"estimated flip rate {p_hat:.4f} (true {args.noise})")

    # inpainting: hide 40 % of the (clean) pixels, clamp the rest
    hidden, observed = mask_pixels(clean, 0.4, generator=g)
    res = denoise(
        hidden,
        pretrained_prior("rbm", root=args.data),
        0.1,
        methods=("mpm",),
        observed=observed,
        clamp_observed=True,
        generator=g,
        **sweeps,
    )
    shown = torch.where(observed, hidden, torch.full_like(hidden, 0.5))
    err = pixel_error(res["mpm"].estimate[~observed], clean[~observed])
    results["inpainting"] = {"missing": 0.4, "error_on_missing_pixels": err}
    print(f"inpainting: {100 * err:.2f}% of the missing pixels wrong")
    denoise_grid(
        {
            "clean": clean.numpy(),
            "observed (grey = missing)": shown.numpy(),
            "rbm-mpm": res["mpm"].estimate.numpy(),
        },
        out / "inpaint.png",
    )
    write_json(out / "results.json", results)
    print(f"wrote {out}/denoise.png, inpaint.png, results.json")


if __name__ == "__main__":
    main()
