"""Benchmark of the continuous branch; prints ONE JSON line.

1. Langevin throughput (chain-steps per second) on the MLP energy 2→128→128→1 (SiLU),
   10,000 chains, step 0.01: our ``LangevinSampler`` (ULA with the hand-written gradient,
   ULA through autograd on a user energy, MALA), torchebm's ``LangevinDynamics`` on the
   same network (its Euler–Maruyama update with noise_scale 1 is the same
   ``x − η∇U + √(2η)ξ``), and a plain autograd loop. Variants run interleaved, round after round;
   figures are medians over rounds and ratios are medians of per-round ratios (so a busy
   machine slows both sides of a ratio alike). Each figure is given per wall-clock second
   and per process-CPU second (``cpu_*``; with ``--threads 1`` the fair figure on a
   machine shared with other jobs).
2. Sliced score matching training throughput (samples per second of loss + backward +
   Adam step) on the same network, ours vs torchebm's ``SlicedScoreMatching`` (Rademacher
   projections), same batch and number of projections.
3. Each objective trains ``MLPEnergy(2, (64, 64))`` on 2-D densities (``train_toy``): time
   per training step, log-density MSE on a grid (where the density is known) and MMD² of
   Langevin samples to held-out data.

    python benchmarks/continuous.py                       # everything
    python benchmarks/continuous.py --skip-training       # throughput only
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from discrete_ebm.models.base import EnergyModel
from discrete_ebm.models.neural import MLPEnergy
from discrete_ebm.objectives.score_matching import SlicedScoreMatching
from discrete_ebm.recipes.continuous import OBJECTIVES, train_toy
from discrete_ebm.samplers.langevin import LangevinSampler
from discrete_ebm.threads import add_threads_argument, set_threads


class AutogradOnly(EnergyModel):
    """The same network seen as a user energy: only ``energy`` (Langevin uses autograd)."""

    def __init__(self, net: MLPEnergy):
        super().__init__(net.dim, binary=False)
        self.net = net

    def energy(self, x):
        return self.net.energy(x)


def _torchebm_model(net: MLPEnergy):
    from torchebm.core import BaseModel

    class Wrapped(BaseModel):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net.energy(x)

    return Wrapped()


def _median_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b))


def _time_interleaved(variants: dict, work: int, rounds: int) -> tuple[dict, dict]:
    """Run every variant once (warm-up), then ``rounds`` rounds of all variants in turn.
    Returns work per wall-clock second and work per process-CPU second, per variant and
    round (with one thread the CPU figure ignores time other processes took from us)."""
    wall: dict[str, list[float]] = {k: [] for k in variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    for f in variants.values():
        f()
    for _ in range(rounds):
        for k, f in variants.items():
            t, c = time.perf_counter(), time.process_time()
            f()
            wall[k].append(work / (time.perf_counter() - t))
            cpu[k].append(work / max(time.process_time() - c, 1e-9))
    return wall, cpu


def langevin_throughput(n_chains: int, n_steps: int, rounds: int, seed: int) -> dict:
    torch.manual_seed(seed)
    net = MLPEnergy(2, (128, 128), "silu")
    eta = 0.01
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.randn(n_chains, 2, generator=gen)
    ours = LangevinSampler(net, eta)
    ours_autograd = LangevinSampler(AutogradOnly(net), eta)
    ours_mala = LangevinSampler(net, eta, metropolis=True)

    def plain():
        x = x0.clone()
        for _ in range(n_steps):
            with torch.enable_grad():
                xr = x.detach().requires_grad_(True)
                (g,) = torch.autograd.grad(net.energy(xr).sum(), xr)
            x = x - eta * g + (2 * eta) ** 0.5 * torch.randn(x.shape, generator=gen)
        return x

    variants = {
        "ours_ula": lambda: ours.sample(x0=x0, n_steps=n_steps, generator=gen),
        "ours_ula_autograd": lambda: ours_autograd.sample(x0=x0, n_steps=n_steps, generator=gen),
        "ours_mala": lambda: ours_mala.sample(x0=x0, n_steps=n_steps, generator=gen),
        "plain_autograd": plain,
    }
    try:
        from torchebm.samplers import LangevinDynamics

        theirs = LangevinDynamics(_torchebm_model(net), step_size=eta, noise_scale=1.0)
        variants["torchebm"] = lambda: theirs.sample(x=x0.clone(), n_steps=n_steps, generator=gen)
    except ImportError:
        pass
    wall, cpu = _time_interleaved(variants, n_chains * n_steps, rounds)
    base = "torchebm" if "torchebm" in wall else "plain_autograd"
    return {
        "n_chains": n_chains,
        "n_steps": n_steps,
        "rounds": rounds,
        "baseline": base,
        "chain_steps_per_s_millions": {k: statistics.median(v) / 1e6 for k, v in wall.items()},
        "ratio_vs_baseline": {
            k: _median_ratio(v, wall[base]) for k, v in wall.items() if k != base
        },
        "cpu_chain_steps_per_s_millions": {k: statistics.median(v) / 1e6 for k, v in cpu.items()},
        "cpu_ratio_vs_baseline": {
            k: _median_ratio(v, cpu[base]) for k, v in cpu.items() if k != base
        },
    }


def ssm_throughput(batch: int, n_projections: int, n_steps: int, rounds: int, seed: int) -> dict:
    torch.manual_seed(seed)
    net = MLPEnergy(2, (128, 128), "silu")
    x = torch.randn(batch, 2, generator=torch.Generator().manual_seed(seed))
    gen = torch.Generator().manual_seed(seed)
    ours_obj = SlicedScoreMatching(n_projections, "rademacher")
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)

    def ours():
        for _ in range(n_steps):
            opt.zero_grad()
            ours_obj(net, x, gen).backward()
            opt.step()

    variants = {"ours": ours}
    try:
        from torchebm.losses import SlicedScoreMatching as TheirSSM

        their_obj = TheirSSM(
            _torchebm_model(net), n_projections=n_projections, projection_type="rademacher"
        )

        def theirs():
            for _ in range(n_steps):
                opt.zero_grad()
                their_obj(x).backward()
                opt.step()

        variants["torchebm"] = theirs
    except ImportError:
        pass
    wall, cpu = _time_interleaved(variants, batch * n_steps, rounds)
    out = {
        "batch": batch,
        "n_projections": n_projections,
        "samples_per_s": {k: statistics.median(v) for k, v in wall.items()},
        "cpu_samples_per_s": {k: statistics.median(v) for k, v in cpu.items()},
    }
    if "torchebm" in wall:
        out["ratio_vs_torchebm"] = _median_ratio(wall["ours"], wall["torchebm"])
        out["cpu_ratio_vs_torchebm"] = _median_ratio(cpu["ours"], cpu["torchebm"])
    return out


def training(densities: list[str], steps: int, seed: int) -> dict:
    res = {}
    for density in densities:
        res[density] = {}
        for name in OBJECTIVES:
            m = train_toy(density, name, steps=steps, seed=seed, device="cpu")["metrics"]
            res[density][name] = {
                k: m[k]
                for k in ("seconds_per_step", "log_density_mse", "mmd2", "final_loss")
                if k in m
            }
            print(f"{density} {name}: {res[density][name]}", file=sys.stderr, flush=True)
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_threads_argument(p, default=2)
    p.add_argument("--chains", type=int, default=10_000, help="Langevin chains (default 10000)")
    p.add_argument("--langevin-steps", type=int, default=10, help="Langevin steps per timed run")
    p.add_argument("--rounds", type=int, default=15, help="interleaved timing rounds (default 15)")
    p.add_argument("--ssm-batch", type=int, default=1024, help="SSM batch size (default 1024)")
    p.add_argument("--densities", nargs="+", default=["8gaussians", "checkerboard", "moons"])
    p.add_argument("--train-steps", type=int, default=1000, help="training steps per objective")
    p.add_argument("--skip-training", action="store_true", help="throughput figures only")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    set_threads(args.threads)
    result = {
        "torch": torch.__version__,
        "threads": args.threads,
        "langevin": langevin_throughput(args.chains, args.langevin_steps, args.rounds, args.seed),
        "sliced_score_matching": {
            f"projections_{k}": ssm_throughput(args.ssm_batch, k, 10, args.rounds, args.seed)
            for k in (1, 5)
        },
    }
    try:
        import torchebm

        result["torchebm"] = torchebm.__version__
    except ImportError:
        result["torchebm"] = None
    if not args.skip_training:
        result["training"] = training(args.densities, args.train_steps, args.seed)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
