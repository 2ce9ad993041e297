"""Benchmark: pixel error of denoised MNIST test digits, each prior × each estimator.

    python benchmarks/denoise_mnist.py [--n 1000] [--noise 0.05,0.1,0.2,0.3] [--repeats 1]
                                       [--priors lattice,ising,rbm] [--methods mpm,map,icm]
                                       [--no-em] [--threads 2]
                                       [--out benchmarks/denoise_mnist.json]

Clean images: the first ``--n`` MNIST test digits, threshold-binarised at 128. Each is
corrupted by flip noise of rate p (seeded); priors are the defaults a user gets
(``pretrained_prior``: hand-set lattice, learned offset Ising, RBM), all fitted or tuned on
the training / validation digits only. Estimators: MPM, annealed MAP, ICM with the default
settings of ``denoise``; plus MPM under the learned Ising prior with p estimated by EM
(from the first 200 noisy images; its time includes the EM).
Each configuration runs ``--repeats`` times (different noise seeds); the figures are medians.
Prints ONE JSON line: per p, per method, error and seconds, and the error ratio against
the baseline (hand-set lattice prior with MPM) measured in the same run; the full table
is also written to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from tqdm.auto import tqdm

from discrete_ebm.data.corruption import flip_noise, pixel_error
from discrete_ebm.data.images import load_mnist
from discrete_ebm.denoise.estimators import mpm
from discrete_ebm.denoise.noise import estimate_flip_rate
from discrete_ebm.denoise.pipeline import ESTIMATORS, denoise
from discrete_ebm.denoise.posterior import posterior
from discrete_ebm.denoise.pretrain import pretrained_prior
from discrete_ebm.denoise.priors import load_prior
from discrete_ebm.io import write_json
from discrete_ebm.threads import add_threads_argument, set_threads

PRIORS = ("lattice", "ising", "rbm")
BASELINE = "lattice-mpm"
EM_IMAGES = 200  # the shared flip rate is estimated from the first 200 noisy images


def run_once(clean, p, priors, seed, methods=ESTIMATORS, em=True):
    g = torch.Generator().manual_seed(seed)
    noisy, _ = flip_noise(clean, p, generator=g)
    row = {"noisy": {"error": pixel_error(noisy, clean), "seconds": 0.0}}
    for pname, prior in priors.items():
        res = denoise(noisy, prior, p, methods=methods, generator=g)
        for m in methods:
            row[f"{pname}-{m}"] = {
                "error": pixel_error(res[m].estimate, clean),
                "seconds": res[m].seconds,
            }
    if "ising" not in priors or not em:
        return row
    # the flip rate unknown: EM estimate, then MPM with the estimate (learned Ising prior)
    t0 = time.perf_counter()
    p_hat, _ = estimate_flip_rate(noisy[:EM_IMAGES], priors["ising"], generator=g)
    flat = noisy.reshape(noisy.shape[0], -1)
    est = mpm(posterior(priors["ising"], flat, p_hat), flat, n_sweeps=60, burn_in=20, generator=g)
    row["ising-mpm-estimated-p"] = {
        "error": pixel_error(est.estimate.view_as(clean), clean),
        "seconds": time.perf_counter() - t0,
        "p_estimated": p_hat,
    }
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--noise", default="0.05,0.1,0.2,0.3")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument(
        "--priors",
        default=",".join(PRIORS),
        help="comma list of lattice, ising, rbm, or NAME=FILE.npz (a saved prior)",
    )
    ap.add_argument("--methods", default=",".join(ESTIMATORS), help="comma list of mpm, map, icm")
    ap.add_argument("--no-em", action="store_true", help="skip MPM with the flip rate unknown")
    add_threads_argument(ap, default=2)
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", default="benchmarks/denoise_mnist.json")
    args = ap.parse_args(argv)
    set_threads(args.threads)
    clean = load_mnist(args.data, binarize="threshold").test.tensor()[: args.n].view(-1, 28, 28)
    names = [k.strip() for k in args.priors.split(",") if k.strip()]
    priors = {}
    for k in names:
        if "=" in k:
            name, path = k.split("=", 1)
            priors[name] = load_prior(path, shape=(28, 28))
        else:
            priors[k] = pretrained_prior(k, (28, 28), root=args.data)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods or any(m not in ESTIMATORS for m in methods):
        raise SystemExit(f"--methods must be a comma list of {', '.join(ESTIMATORS)}")
    table = {}
    levels = [float(v) for v in args.noise.split(",")]
    for p in tqdm(levels, desc="noise levels", disable=None):
        runs = [
            run_once(clean, p, priors, 1000 * r + int(1000 * p), methods, not args.no_em)
            for r in range(args.repeats)
        ]
        summary = {}
        for name in runs[0]:
            summary[name] = {
                "error": statistics.median(r[name]["error"] for r in runs),
                "seconds": statistics.median(r[name]["seconds"] for r in runs),
            }
            if "p_estimated" in runs[0][name]:
                summary[name]["p_estimated"] = statistics.median(
                    r[name]["p_estimated"] for r in runs
                )
        base = summary[BASELINE]["error"] if BASELINE in summary else float("nan")
        for v in summary.values():
            v["error_vs_baseline"] = v["error"] / base if base > 0 else None  # nan: no baseline
        best = min((k for k in summary if k != "noisy"), key=lambda k: summary[k]["error"])
        table[str(p)] = {"best": best, "methods": summary}
    result = {
        "benchmark": "denoise_mnist",
        "n_images": int(clean.shape[0]),
        "repeats": args.repeats,
        "threads": args.threads,
        "baseline": BASELINE,
        "results": table,
    }
    write_json(args.out, result, indent=1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
