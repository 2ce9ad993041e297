"""``discrete-ebm sample``: block-Gibbs samples of a 2-D Ising lattice at several temperatures.

Chains start with all spins up. Writes ``samples.png`` (one row per temperature) and
``sample.json`` (magnetisation and energy per site, mean and standard deviation over
chains, beside Onsager's exact spontaneous magnetisation of the infinite lattice, J = 1).
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from ..devices import resolve_device
from ..models.ising import IsingModel
from ..samplers.block_gibbs import BlockGibbsSampler
from ._common import add_common_arguments, say, show_progress, write_json

CRITICAL_TEMPERATURE = 2.0 / math.log(1.0 + math.sqrt(2.0))  # J = 1, k_B = 1


def onsager_magnetisation(temperature: float, coupling: float = 1.0) -> float:
    """Spontaneous magnetisation ``(1 − sinh(2J/T)^−4)^{1/8}`` below T_c, 0 above."""
    s = math.sinh(2.0 * coupling / temperature)
    return (1.0 - s**-4) ** 0.125 if s > 1.0 else 0.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample",
        help="block-Gibbs samples of a 2-D Ising lattice at several temperatures",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--size", type=int, default=64, help="lattice side L (default 64)")
    p.add_argument("--coupling", type=float, default=1.0, help="nearest-neighbour J (default 1)")
    p.add_argument(
        "--temperatures",
        type=float,
        nargs="+",
        default=[1.5, 2.0, CRITICAL_TEMPERATURE, 2.6, 3.5],
        help="temperatures T = 1/β (default: 1.5 2.0 T_c 2.6 3.5)",
    )
    p.add_argument("--sweeps", type=int, default=1000, help="block-Gibbs sweeps per temperature")
    p.add_argument("--chains", type=int, default=8, help="independent chains per temperature")
    p.add_argument("--open", action="store_true", help="open instead of periodic boundaries")
    add_common_arguments(p, default_out="runs/sample")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.size < 2:
        raise SystemExit("--size must be >= 2")
    if not all(t > 0 and math.isfinite(t) for t in args.temperatures):
        raise SystemExit("--temperatures must be finite numbers > 0")
    for name in ("sweeps", "chains"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name} must be >= 1")
    device = resolve_device(args.device)
    model = IsingModel.lattice(args.size, args.coupling, periodic=not args.open).to(device)
    sampler = BlockGibbsSampler(model)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    n_sites = args.size**2
    results, pictures = [], {}
    from tqdm.auto import tqdm

    for T in tqdm(args.temperatures, desc="temperatures", disable=not show_progress(args)):
        start = time.perf_counter()
        # Cold start (all spins up): below T_c a random start freezes into long-lived
        # stripe domains; above T_c the chains forget the start within a few sweeps.
        x0 = torch.ones(args.chains, n_sites, device=device)
        x, diag = sampler.sample(
            x0=x0, n_steps=args.sweeps, beta=1.0 / T, generator=gen, return_diagnostics=True
        )
        seconds = time.perf_counter() - start
        m = (2 * x - 1).mean(1).abs()
        e = diag["energy"] / n_sites
        results.append(
            {
                "temperature": T,
                "beta": 1.0 / T,
                "abs_magnetisation": m.mean().item(),
                "abs_magnetisation_std": m.std().item() if args.chains > 1 else 0.0,
                "energy_per_site": e.mean().item(),
                "energy_per_site_std": e.std().item() if args.chains > 1 else 0.0,
                "onsager_magnetisation": onsager_magnetisation(T, args.coupling),
                "seconds": seconds,
            }
        )
        pictures[f"T = {T:.3g}"] = x.view(-1, args.size, args.size)[:8].cpu().numpy()
    from ..plotting.sampling import lattice_grid

    png = lattice_grid(
        pictures,
        f"{args.out}/samples.png",
        title=f"{args.size}×{args.size} Ising, J = {args.coupling}",
    )
    out = write_json(
        f"{args.out}/sample.json",
        {
            "settings": {
                "size": args.size,
                "coupling": args.coupling,
                "periodic": not args.open,
                "sweeps": args.sweeps,
                "chains": args.chains,
                "seed": args.seed,
                "device": str(device),
            },
            "temperatures": results,
        },
    )
    for r in results:
        say(
            args,
            f"T={r['temperature']:.3f}  |m|={r['abs_magnetisation']:.3f} "
            f"(Onsager {r['onsager_magnetisation']:.3f})  e={r['energy_per_site']:.3f}",
        )
    say(args, f"wrote {png} and {out}")
    return 0
