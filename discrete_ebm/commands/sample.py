"""``discrete-ebm sample``: block-Gibbs samples of a 2-D Ising lattice at several temperatures.

Chains start with all spins up. Writes ``samples.png`` (one row per temperature, beside
``|m|`` against ``T`` with Onsager's curve and ``T_c``) and
``sample.json`` (magnetisation and energy per site, mean and standard deviation over
chains, beside Onsager's exact spontaneous magnetisation of the infinite lattice, J = 1).
The sampling is ``discrete_ebm.recipes.lattice.sample_temperatures``.
"""

from __future__ import annotations

import argparse
import math

from ..recipes.lattice import DEFAULT_TEMPERATURES
from ._common import add_common_arguments, report, show_progress


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
        default=list(DEFAULT_TEMPERATURES),
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
    from ..io import write_json
    from ..plotting.sampling import lattice_grid
    from ..recipes.lattice import sample_temperatures

    samples = sample_temperatures(
        args.size,
        args.coupling,
        args.temperatures,
        sweeps=args.sweeps,
        chains=args.chains,
        periodic=not args.open,
        seed=args.seed,
        device=args.device,
        progress=show_progress(args),
    )
    png = lattice_grid(
        samples.pictures,
        f"{args.out}/samples.png",
        title=f"{args.size}×{args.size} Ising, J = {args.coupling}",
        magnetisation=samples.results,
        coupling=args.coupling,
    )
    settings = {
        "size": args.size,
        "coupling": args.coupling,
        "periodic": not args.open,
        "sweeps": args.sweeps,
        "chains": args.chains,
        "seed": args.seed,
        "device": str(samples.device),
    }
    out = write_json(
        f"{args.out}/sample.json", {"settings": settings, "temperatures": samples.results}
    )
    for r in samples.results:
        report(
            f"T={r['temperature']:.3f}  |m|={r['abs_magnetisation']:.3f} "
            f"(Onsager {r['onsager_magnetisation']:.3f})  e={r['energy_per_site']:.3f}",
        )
    report(f"wrote {png} and {out}")
    return 0
