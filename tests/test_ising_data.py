"""Ising data: the benchmark convention (J = 2σA), RMSE scale, sampler output vs exact
enumeration, the trainable model, file helpers."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import torch

from discrete_ebm.data.ising import (
    benchmark_rmse,
    from_benchmark_scale,
    lattice_benchmark,
    lattice_model,
    load_rows,
    neg_log_rmse,
    sample_ising,
    save_couplings,
    to_benchmark_scale,
    trainable_ising,
)
from discrete_ebm.evaluation import exact
from discrete_ebm.evaluation.metrics import total_variation, tv_tolerance
from discrete_ebm.models.ising import IsingModel


def _adjacency(D: int) -> torch.Tensor:
    """Full symmetric adjacency of the periodic D × D lattice, site (r, c) = r·D + c."""
    G = nx.grid_2d_graph(D, D, periodic=True)
    order = [(r, c) for r in range(D) for c in range(D)]
    return torch.as_tensor(nx.to_numpy_array(G, nodelist=order), dtype=torch.float64)


@pytest.mark.parametrize("D,sigma", [(3, 0.3), (5, -0.2)])
def test_lattice_model_is_the_benchmark_density(D, sigma):
    model = lattice_model(D, sigma).double()
    A = _adjacency(D)
    assert torch.allclose(model.J, 2 * sigma * A)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2, (17, D * D), generator=g).double()
    s = 2 * x - 1
    log_p_tilde = ((s @ (sigma * A)) * s).sum(1)  # the GWG / ED benchmark: sᵀ(σA)s
    # same unnormalised density: −U = log p̃ exactly (no constant: h = 0, diagonal zero)
    assert torch.allclose(-model.energy(x), log_p_tilde, atol=1e-10)


def test_scale_converters_and_rmse():
    D, sigma = 5, 0.1
    J = lattice_model(D, sigma).J.detach().double()
    assert torch.allclose(to_benchmark_scale(J), sigma * _adjacency(D))
    assert torch.allclose(from_benchmark_scale(to_benchmark_scale(J)), J)
    d = D * D
    # learned J = 0: every site has 4 neighbours, so 4d nonzero entries σ among d² entries
    expected = abs(sigma) * math.sqrt(4 * d / d**2)
    # J holds float32 values of 2σ: relative rounding 6e-8
    assert benchmark_rmse(torch.zeros(d, d), J) == pytest.approx(expected, rel=1e-6)
    assert neg_log_rmse(torch.zeros(d, d), J) == pytest.approx(-math.log(expected), rel=1e-6)
    with pytest.raises(ValueError, match="shape"):
        benchmark_rmse(torch.zeros(d, d + 1), J)


def test_sample_ising_matches_exact_distribution():
    torch.set_num_threads(1)  # many small (6000 × 9) ops: threads only add overhead
    # 3 × 3 torus (d = 9, 512 states), ferromagnetic with a field: a greedy 3-colouring
    model = IsingModel.lattice(3, coupling=0.5, field=0.2)
    n = 6000
    x = sample_ising(model, n, n_sweeps=60, generator=torch.Generator().manual_seed(1))
    assert x.shape == (n, 9)
    p = exact.probabilities(model)
    # tolerance: E[TV] bound + McDiarmid term for n independent exact samples (δ = 1e-6);
    # the chains run 60 sweeps, ≫ the measured IAT (< 5 sweeps) of this small model
    assert total_variation(x, p) < tv_tolerance(p, n)


def test_lattice_benchmark_shapes_and_reproducibility():
    x1, m1 = lattice_benchmark(
        4, 0.2, n_samples=50, n_sweeps=5, generator=torch.Generator().manual_seed(3)
    )
    x2, _ = lattice_benchmark(
        4, 0.2, n_samples=50, n_sweeps=5, generator=torch.Generator().manual_seed(3)
    )
    assert x1.shape == (50, 16) and torch.equal(x1, x2)
    assert set(torch.unique(x1).tolist()) <= {0.0, 1.0}
    assert m1.lattice_shape == (4, 4)
    with pytest.raises(ValueError, match="D"):
        lattice_model(2, 0.1)
    with pytest.raises(ValueError, match="n_sweeps"):
        sample_ising(m1, 3, n_sweeps=0)


def test_trainable_ising_is_the_dense_model():
    d = 7
    model = trainable_ising(d).double()
    ref = IsingModel(torch.zeros(d, d, dtype=torch.float64), torch.zeros(d, dtype=torch.float64))
    g = torch.Generator().manual_seed(4)
    w = torch.randn(model.weights.shape, generator=g, dtype=torch.float64)
    h = torch.randn(d, generator=g, dtype=torch.float64)
    with torch.no_grad():
        model.weights.copy_(w)
        model.h.copy_(h)
        ref.weights.copy_(w)
        ref.h.copy_(h)
    x = torch.randint(0, 2, (11, d), generator=g).double()
    # the same energies and gradients as the plain dense model
    assert torch.allclose(model.energy(x), ref.energy(x), atol=1e-12)
    ga = torch.autograd.grad(model.energy(x).sum(), [model.weights, model.h])
    gb = torch.autograd.grad(ref.energy(x).sum(), [ref.weights, ref.h])
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(ga, gb))
    J = model.J.detach()
    assert torch.equal(J, J.T) and torch.all(J.diagonal() == 0)
    assert model.is_dense and model.n_edges == d * (d - 1) // 2


def test_load_rows_and_save_couplings(tmp_path):
    x = np.array([[0, 1, 1], [1, 0, 0]], dtype=np.int64)
    np.save(tmp_path / "a.npy", x)
    assert torch.equal(load_rows(tmp_path / "a.npy"), torch.tensor(x, dtype=torch.float32))
    np.savez(tmp_path / "b.npz", data=2 * x - 1)  # ±1 spins are converted
    assert torch.equal(load_rows(tmp_path / "b.npz"), torch.tensor(x, dtype=torch.float32))
    np.save(tmp_path / "c.npy", x * 3)
    with pytest.raises(ValueError, match="binary"):
        load_rows(tmp_path / "c.npy")
    np.save(tmp_path / "d.npy", x[0])
    with pytest.raises(ValueError, match="2-D"):
        load_rows(tmp_path / "d.npy")
    with pytest.raises(FileNotFoundError):
        load_rows(tmp_path / "missing.npy")
    J = torch.tensor([[0.0, 0.5], [0.5, 0.0]])
    path = save_couplings(tmp_path / "out" / "c.npz", J, torch.tensor([0.1, -0.2]), x=x)
    with np.load(path) as f:
        assert np.array_equal(f["J"], J.numpy()) and np.array_equal(f["x"], x)
        assert f["h"].tolist() == pytest.approx([0.1, -0.2])
