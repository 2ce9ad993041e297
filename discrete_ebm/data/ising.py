"""Synthetic Ising data: independent long block-Gibbs chains, and the lattice benchmark of the
GWG and energy-discrepancy papers.

Benchmark protocol (Grathwohl et al., "Oops I took a gradient", ICML 2021; Zhang et al.,
EB-GFN, ICML 2022; Schröder et al., "Training discrete EBMs with energy discrepancy", 2023):
a periodic ``D × D`` lattice with ``log p̃(x) = sᵀ(σA)s``, ``s = 2x − 1``, ``A`` the full
symmetric adjacency matrix, no field. Since ``sᵀ(σA)s = 2σ Σ_{i<j} A_ij s_i s_j`` and our
energy is ``U = −Σ_{i<j} J_ij s_i s_j``, the same model here has ``J = 2σA``
(``IsingModel.lattice(D, coupling=2σ)``). 2,000 samples, each the end of its own chain.
Results are reported in the benchmark's parametrisation ``J_σ = J/2`` as the RMSE over all
``d × d`` entries of the coupling matrix (diagonal and absent pairs included), the metric of
the GWG learning script, and as ``−log RMSE`` (natural log).

Checked against the GWG code (github.com/wgrathwohl/GWG_release): ``rbm.py``
``LatticeIsingModel`` builds ``G`` = the full symmetric adjacency of igraph's circular
``Lattice([D, D])``, ``J = σG`` and ``log p̃ = (2x−1)ᵀJ(2x−1) + bᵀ(2x−1)``; ``pcd.py``
(``--model lattice_ising_2d``) keeps ``ground_truth_J = σA``, learns a full ``G`` (diagonal
zeroed after every step), scores ``get_J() = (G + Gᵀ)/2`` by
``((ground_truth_J − get_J())**2).mean().sqrt()`` (all d² entries, what ``benchmark_rmse``
computes), and adds ``l1 · get_J().abs().sum()`` (all d² entries of the σ-scale matrix,
i.e. ``l1 · Σ_{i<j} |J_ij|`` in our scale: the L1 weights are on the same scale as ours);
``utils.generate_data`` starts ``n_samples = 2000`` chains uniformly and runs
``gt_steps = 10⁶`` steps of ``PerDimGibbsSampler(rand=False)``, which updates one site per
step in a fixed order: 10⁴ sweeps per independent chain at D = 10. Their training
(``train_ising_potts.sh``): Adam lr 0.001, 10⁴ steps, batches of 256, 256 persistent
chains, ``l1 ∈ {0.01, 0.1, 1}``. A later copy of the script (the cyclical-DMALA code)
prints ``torch.log(rmse)``, i.e. the natural log.

How long the chains run (``LATTICE_SWEEPS``): measured with 400 chains from uniform random
states, block Gibbs on the torus (2026-11-22, ``python benchmarks/ising_couplings.py --mixing``
in the repository):

=========  ======  =====================  ==========================================
lattice    σ       IAT (sweeps) of U, |m|  ensemble mean energy settles after
=========  ======  =====================  ==========================================
10 × 10    0.1     1.2, 1.8                < 100 sweeps
10 × 10    0.2     12, 19 (near critical)  ≈ 1000 sweeps (−47.2 at 100–200, −47.5 at 1000,
                                           −47.6 at 3000; per-sample std ≈ 10)
10 × 10    0.3     2.0, 2.8                ≈ 100 sweeps
10 × 10    0.5     1.1, 1.1                ≈ 300–1000 sweeps (stripe states decay)
9 × 9      −0.1    1.2, 1.5 (staggered)    < 100 sweeps
9 × 9      −0.2    2.9, 6.2 (staggered)    < 100 sweeps
=========  ======  =====================  ==========================================

So ``LATTICE_SWEEPS = 2000`` sweeps: twice the slowest observed relaxation and > 100 IATs
in every cell. (The GWG code runs 10⁶ single-site updates, i.e. 10⁴ sweeps at D = 10.) In
the ordered phases (σ ≥ 0.3) single-site dynamics do not tunnel between the ± magnetised
states, but every chain starts from a uniform random state and the dynamics are symmetric
under the global flip, so each chain lands in either state with probability exactly ½, as
in the target distribution (``h = 0``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .._validation import check_positive_int
from ..devices import resolve_device
from ..evaluation.metrics import coupling_rmse
from ..io import save_npz
from ..models.ising import IsingModel
from ..samplers.block_gibbs import BlockGibbsSampler

#: sweeps per chain for the lattice benchmark data (see the module docstring for why).
LATTICE_SWEEPS = 2000
#: samples per data set in the GWG / ED protocol.
LATTICE_SAMPLES = 2000


def sample_ising(
    model: IsingModel,
    n_samples: int,
    *,
    n_sweeps: int = LATTICE_SWEEPS,
    coloring=None,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """``n_samples`` states ``(n_samples, d)`` in {0, 1}, each the final state of its own
    block-Gibbs chain of ``n_sweeps`` sweeps started uniformly at random.

    Args:
        model: the Ising model to sample (any binary model ``BlockGibbsSampler`` accepts).
        n_samples: number of independent chains (= samples).
        n_sweeps: sweeps per chain.
        coloring: passed to ``BlockGibbsSampler`` (``None``: checkerboard / greedy).
        generator: seeds the chains (on ``device``).
        device: ``None`` follows the model; otherwise the model is sampled there.
        progress: tqdm bar over sweeps (only on a terminal).
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    n_sweeps = check_positive_int(n_sweeps, "n_sweeps")
    if device is not None:
        model = model.to(resolve_device(device))
    sampler = BlockGibbsSampler(model, coloring=coloring)
    x = sampler.init_states(n_samples, generator)
    chunk = max(1, n_sweeps // 100)
    bar = tqdm(total=n_sweeps, disable=not (progress and sys.stderr.isatty()), unit="sweep")
    done = 0
    while done < n_sweeps:
        k = min(chunk, n_sweeps - done)
        x = sampler.sample(x0=x, n_steps=k, generator=generator)
        done += k
        bar.update(k)
    bar.close()
    return x


def lattice_model(D: int, sigma: float, *, dtype=torch.float32) -> IsingModel:
    """The benchmark's periodic ``D × D`` lattice, ``log p̃ = sᵀ(σA)s``, i.e. ``J = 2σA``."""
    D = check_positive_int(D, "D")
    if D < 3:
        raise ValueError(f"D must be >= 3 (a periodic lattice with distinct neighbours), got {D}")
    return IsingModel.lattice(D, coupling=2.0 * float(sigma), dtype=dtype)


def lattice_benchmark(
    D: int,
    sigma: float,
    *,
    n_samples: int = LATTICE_SAMPLES,
    n_sweeps: int = LATTICE_SWEEPS,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> tuple[torch.Tensor, IsingModel]:
    """Data ``(n_samples, D²)`` and the true model of the GWG / ED lattice benchmark.

    ``σ > 0`` is ferromagnetic, ``σ < 0`` antiferromagnetic (the papers use D = 9 there, an
    odd, frustrated torus). See the module docstring for the protocol and ``n_sweeps``.
    """
    model = lattice_model(D, sigma)
    if device is not None:
        model = model.to(resolve_device(device))
    x = sample_ising(model, n_samples, n_sweeps=n_sweeps, generator=generator, progress=progress)
    return x, model


# ------------------------------------------------------------------ learned model
def trainable_ising(d: int, *, dtype=torch.float32, device=None) -> IsingModel:
    """The learned model of the benchmark: ``IsingModel(torch.zeros(d, d), torch.zeros(d))``,
    all pairs trainable, ``J`` symmetric with a zero diagonal by parametrisation."""
    d = check_positive_int(d, "d")
    model = IsingModel(torch.zeros(d, d, dtype=dtype), torch.zeros(d, dtype=dtype))
    return model if device is None else model.to(resolve_device(device))


# ------------------------------------------------------------------ conventions
def to_benchmark_scale(J: torch.Tensor) -> torch.Tensor:
    """Our ``J`` (``U = −½ sᵀJs``) to the benchmark's ``σA`` scale: ``J/2``
    (``log p̃ = sᵀ(σA)s``)."""
    return J / 2


def from_benchmark_scale(J_sigma: torch.Tensor) -> torch.Tensor:
    """The benchmark's ``σA``-scale matrix to our ``J``: ``2 J_σ``."""
    return 2 * J_sigma


def benchmark_rmse(J_learned: torch.Tensor, J_true: torch.Tensor) -> float:
    """RMSE on the benchmark scale over all ``d × d`` entries: ``sqrt(mean((J − J*)²/4))``."""
    if J_learned.shape != J_true.shape or J_learned.dim() != 2:
        raise ValueError(
            f"J_learned and J_true must be (d, d) matrices of one shape, got "
            f"{tuple(J_learned.shape)} and {tuple(J_true.shape)}"
        )
    return coupling_rmse(to_benchmark_scale(J_learned), to_benchmark_scale(J_true))


def neg_log_rmse(J_learned: torch.Tensor, J_true: torch.Tensor) -> float:
    """``−ln(benchmark_rmse)``: higher is better (the papers' tables)."""
    return float(-np.log(benchmark_rmse(J_learned, J_true)))


# ------------------------------------------------------------------ files
def load_rows(path: str | os.PathLike) -> torch.Tensor:
    """Binary rows from an ``.npy`` (a 2-D array) or ``.npz`` (key ``x``, ``data`` or its only
    array) as a float32 tensor ``(N, d)``; values must be 0/1 (or ±1 spins, converted)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {path} does not exist")
    with open(path, "rb") as f:
        head = f.read(6)
    magic = {".npy": b"\x93NUMPY", ".npz": b"PK"}.get(path.suffix, head)
    if not head.startswith(magic):
        kind = "NumPy .npy" if path.suffix == ".npy" else "NumPy .npz (zip)"
        raise ValueError(
            f"{path} is not a {kind} file (it starts with {head!r}); "
            "write the rows with numpy.save / numpy.savez"
        )
    if path.suffix == ".npy":
        arr = np.load(path)
    elif path.suffix == ".npz":
        with np.load(path) as f:
            keys = list(f.keys())
            key = next((k for k in ("x", "data") if k in keys), keys[0] if len(keys) == 1 else None)
            if key is None:
                raise ValueError(f"{path}: an .npz needs an array named 'x' or 'data', has {keys}")
            arr = f[key]
    else:
        raise ValueError(f"data file must be .npy or .npz, got {path.name}")
    if arr.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D array of rows (N, d), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{path} holds no data: {arr.shape[0]} rows of {arr.shape[1]} values")
    values = np.unique(arr)
    if np.isin(values, (-1, 1)).all() and (values == -1).any():
        arr = (arr + 1) / 2
    elif not np.isin(values, (0, 1)).all():
        raise ValueError(f"{path}: rows must be binary (0/1 or ±1), found values {values[:5]}")
    return torch.as_tensor(arr.astype(np.float32))


def save_couplings(path: str | os.PathLike, J: torch.Tensor, h: torch.Tensor, **extra) -> Path:
    """Write ``J`` and ``h`` (our convention) and any extra arrays to an ``.npz``, atomically
    (creating the folder); returns the path."""
    arrays = {"J": J.detach().cpu().numpy(), "h": h.detach().cpu().numpy()}
    arrays.update(
        {k: np.asarray(v.detach().cpu() if torch.is_tensor(v) else v) for k, v in extra.items()}
    )
    return save_npz(path, **arrays)
