"""Exact enumeration: transfer-matrix log Z, marginals and pairwise moments, chunking."""

from __future__ import annotations

import math

import pytest
import torch

from discrete_ebm import IsingModel
from discrete_ebm.evaluation import exact
from discrete_ebm.evaluation.metrics import total_variation
from discrete_ebm.models.ising import ising_chain_log_partition


@pytest.mark.parametrize("n,J,h", [(7, 0.8, 0.0), (11, -0.6, 0.3), (5, 1.3, -0.7)])
def test_periodic_chain_log_partition_matches_transfer_matrix(n, J, h):
    m = IsingModel.lattice((1, n), coupling=J, field=h, dtype=torch.float64)
    assert exact.log_partition(m).item() == pytest.approx(
        ising_chain_log_partition(n, J, h), abs=1e-10
    )


def test_transfer_matrix_by_matrix_power():
    # independent check of the closed form: Z = tr T^n
    n, J, h = 6, 0.5, 0.2
    s = torch.tensor([1.0, -1.0], dtype=torch.float64)
    T = torch.exp(J * s[:, None] * s[None, :] + h * (s[:, None] + s[None, :]) / 2)
    assert math.log(torch.trace(torch.linalg.matrix_power(T, n)).item()) == pytest.approx(
        ising_chain_log_partition(n, J, h), abs=1e-12
    )


def test_marginals_and_pairwise_match_direct_sums_and_chunking():
    g = torch.Generator().manual_seed(0)
    m = IsingModel.erdos_renyi(9, 0.5, field_std=0.5, generator=g, dtype=torch.float64)
    x = exact.all_states(9)
    p = torch.softmax(-m.energy(x).detach(), 0)
    torch.testing.assert_close(exact.probabilities(m, chunk_size=37), p)
    torch.testing.assert_close(exact.marginals(m, chunk_size=50), p @ x)
    torch.testing.assert_close(exact.pairwise(m, chunk_size=64), (x * p[:, None]).T @ x)
    torch.testing.assert_close(
        exact.log_partition(m, beta=0.5, chunk_size=100),
        torch.logsumexp(-0.5 * m.energy(x).detach(), 0),
    )


def test_state_index_inverts_enumeration():
    x = exact.all_states(6)
    assert torch.equal(exact.state_index(x), torch.arange(64))


def test_ground_states_of_antiferromagnetic_triangle_are_degenerate():
    J = -(torch.ones(3, 3) - torch.eye(3))
    states, umin = exact.ground_states(IsingModel(J))
    assert states.shape[0] == 6 and umin == pytest.approx(-1.0)  # one frustrated bond of three


def test_exact_refuses_large_models():
    with pytest.raises(ValueError, match="d <= 22"):
        exact.log_partition(IsingModel.lattice(5))


def test_total_variation_rejects_non_binary_samples():
    # x.long() would silently count 0.5 as 0
    p = torch.full((16,), 1 / 16, dtype=torch.float64)
    with pytest.raises(ValueError, match="samples must be binary"):
        total_variation(torch.full((10, 4), 0.5), p)
    assert total_variation(torch.zeros(10, 4), p) == pytest.approx(15 / 16)
