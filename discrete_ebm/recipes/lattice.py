"""Block-Gibbs samples of the 2-D nearest-neighbour Ising lattice at several temperatures
(``discrete-ebm sample``), beside Onsager's exact spontaneous magnetisation."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..devices import resolve_device
from ..models.ising import IsingModel
from ..samplers.block_gibbs import BlockGibbsSampler

__all__ = [
    "CRITICAL_TEMPERATURE",
    "DEFAULT_TEMPERATURES",
    "LatticeSamples",
    "memory_estimate",
    "onsager_magnetisation",
    "sample_temperatures",
]

#: ``T_c = 2 / ln(1 + √2) ≈ 2.269`` of the square lattice (J = 1, k_B = 1)
CRITICAL_TEMPERATURE = 2.0 / math.log(1.0 + math.sqrt(2.0))
DEFAULT_TEMPERATURES = (1.5, 2.0, CRITICAL_TEMPERATURE, 2.6, 3.5)
#: bytes per lattice site (the model's edge lists, colouring, fields) and per site and chain
#: (states and the sweep's temporaries): peak RSS above the interpreter's ~310 MB for
#: ``discrete-ebm sample --sweeps 1`` at L = 256 and 512 with 1 and 8 chains (2026-12-05),
#: rounded up
BYTES_PER_SITE, BYTES_PER_CHAIN_SITE = 300, 48


def memory_estimate(size: int, chains: int) -> int:
    """Bytes ``sample_temperatures`` needs for ``size × size`` sites and ``chains`` chains:
    ``size² · (BYTES_PER_SITE + chains · BYTES_PER_CHAIN_SITE)``."""
    return size**2 * (BYTES_PER_SITE + chains * BYTES_PER_CHAIN_SITE)


def _available_memory() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes, else the physical memory, else ``None``."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _gigabytes(n: int) -> str:
    return f"{n / 1e9:,.1f} GB" if n < 1e12 else f"{n / 1e12:,.0f} TB"


def onsager_magnetisation(temperature: float, coupling: float = 1.0) -> float:
    """Spontaneous magnetisation ``(1 − sinh(2J/T)^−4)^{1/8}`` below T_c, 0 above."""
    s = math.sinh(2.0 * coupling / temperature)
    return (1.0 - s**-4) ** 0.125 if s > 1.0 else 0.0


@dataclass
class LatticeSamples:
    """Per temperature: a JSON-ready record (``results``) and up to 8 final states as
    ``(n, size, size)`` 0/1 arrays (``pictures``, keyed ``"T = …"``)."""

    results: list[dict]
    pictures: dict[str, np.ndarray]
    device: torch.device


def sample_temperatures(
    size: int = 64,
    coupling: float = 1.0,
    temperatures: Sequence[float] = DEFAULT_TEMPERATURES,
    *,
    sweeps: int = 1000,
    chains: int = 8,
    periodic: bool = True,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = False,
) -> LatticeSamples:
    """Run ``chains`` block-Gibbs chains of ``sweeps`` sweeps on the ``size × size`` lattice
    ``U = −J Σ_<ij> s_i s_j`` at each temperature ``T`` (``β = 1/T``), all spins up at start
    (below T_c a random start freezes into long-lived stripe domains; above T_c the chains
    forget the start within a few sweeps).

    Each record: ``temperature``, ``beta``, ``|m|`` per site (mean and standard deviation over
    chains), energy per site (likewise), ``onsager_magnetisation`` and ``seconds``.
    One generator seeded by ``seed`` drives every temperature in turn."""
    if size < 2:
        raise ValueError(f"size must be >= 2, got {size}")
    if not all(t > 0 and math.isfinite(t) for t in temperatures):
        raise ValueError(f"temperatures must be finite numbers > 0, got {list(temperatures)}")
    if sweeps < 1 or chains < 1:
        raise ValueError(f"sweeps and chains must be >= 1, got {sweeps} and {chains}")
    need, have = memory_estimate(size, chains), _available_memory()
    if have is not None and need > have:
        raise ValueError(
            f"size {size} with {chains} chains needs about {_gigabytes(need)} of memory "
            f"({size}² sites), more than the {_gigabytes(have)} available; "
            "choose a smaller size or fewer chains"
        )
    device = resolve_device(device)
    model = IsingModel.lattice(size, coupling, periodic=periodic).to(device)
    sampler = BlockGibbsSampler(model)
    gen = torch.Generator(device=device).manual_seed(seed)
    n_sites = size**2
    results, pictures = [], {}
    from tqdm.auto import tqdm

    for T in tqdm(temperatures, desc="temperatures", disable=not progress):
        start = time.perf_counter()
        x0 = torch.ones(chains, n_sites, device=device)
        x, diag = sampler.sample(
            x0=x0, n_steps=sweeps, beta=1.0 / T, generator=gen, return_diagnostics=True
        )
        seconds = time.perf_counter() - start
        m = (2 * x - 1).mean(1).abs()
        e = diag["energy"] / n_sites
        results.append(
            {
                "temperature": T,
                "beta": 1.0 / T,
                "abs_magnetisation": m.mean().item(),
                "abs_magnetisation_std": m.std().item() if chains > 1 else 0.0,
                "energy_per_site": e.mean().item(),
                "energy_per_site_std": e.std().item() if chains > 1 else 0.0,
                "onsager_magnetisation": onsager_magnetisation(T, coupling),
                "seconds": seconds,
            }
        )
        pictures[f"T = {T:.3g}"] = x.view(-1, size, size)[:8].cpu().numpy()
    return LatticeSamples(results, pictures, device)
