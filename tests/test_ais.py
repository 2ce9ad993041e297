"""AIS log Z against exact enumeration (RBMs incl. large weights, a generic model, a DBM)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from discrete_ebm.evaluation import ais, exact
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.models.rbm import RBM


def random_rbm(n, m, scale, seed) -> RBM:
    g = torch.Generator().manual_seed(seed)
    W = scale * torch.randn(n, m, generator=g, dtype=torch.float64)
    b = torch.randn(n, generator=g, dtype=torch.float64)
    c = torch.randn(m, generator=g, dtype=torch.float64)
    return RBM.from_parameters(W, b, c).float()


def assert_close_to_exact(log_z: float, stderr: float, truth: float) -> None:
    # the acceptance criterion: within 3 standard errors and within 0.1 nats
    assert abs(log_z - truth) < 3 * stderr, (log_z, stderr, truth)
    assert abs(log_z - truth) < 0.1, (log_z, stderr, truth)
    assert 0 < stderr < 0.1


@pytest.mark.parametrize(
    "n,m,scale,seed",
    [(10, 6, 0.5, 0), (12, 8, 4.0, 2), (6, 14, 3.0, 3), (20, 10, 3.0, 4)],
)
def test_rbm_ais_matches_exact_log_partition(n, m, scale, seed):
    rbm = random_rbm(n, m, scale, seed)
    g = torch.Generator().manual_seed(100 + seed)
    log_z, stderr = ais.log_partition(rbm, n_chains=200, n_betas=2000, generator=g)
    assert_close_to_exact(log_z, stderr, float(exact.log_partition(rbm)))


def test_rbm_ais_with_data_marginal_base_and_log_likelihood():
    rbm = random_rbm(12, 5, 2.0, 7)
    g = torch.Generator().manual_seed(3)
    data = rbm.sample(500, 50, generator=g)
    marg = ais.data_marginals(data)
    log_z, stderr = ais.log_partition(
        rbm, n_chains=200, n_betas=1000, base_marginals=marg, generator=g
    )
    truth = float(exact.log_partition(rbm))
    assert_close_to_exact(log_z, stderr, truth)
    # a base fitted to the model's marginals is closer to the target than the uniform base,
    # so the log-weights vary less (same number of chains and temperatures)
    _, se_uniform = ais.log_partition(rbm, n_chains=200, n_betas=1000, generator=g)
    assert stderr < se_uniform
    # test log-likelihood = mean(−F) − log Ẑ, equal to the exact one up to log Ẑ's error
    ll = ais.log_likelihood(rbm, data, log_z)
    p = exact.probabilities(rbm)
    ll_exact = float(torch.log(p[exact.state_index(data)]).mean())
    assert abs(ll - ll_exact) < 3 * stderr + 1e-4


def test_generic_geometric_path_on_an_ising_model():
    # no ais_path: U_β = (1 − β) U_base + β U with single-site Gibbs transitions
    model = IsingModel.erdos_renyi(
        7, 0.6, coupling_std=0.8, field_std=0.5, generator=torch.Generator().manual_seed(1)
    )
    g = torch.Generator().manual_seed(4)
    log_z, stderr = ais.log_partition(model, n_chains=200, n_betas=300, generator=g)
    assert_close_to_exact(log_z, stderr, float(exact.log_partition(model)))


def test_log_mean_exp_and_delta_method_stderr():
    rng = np.random.default_rng(0)
    lw = rng.normal(50.0, 0.7, size=400)
    w = np.exp(lw - 50.0)
    log_mean, se = ais.log_mean_exp_with_stderr(torch.tensor(lw))
    assert log_mean == pytest.approx(50.0 + math.log(w.mean()), abs=1e-10)
    assert se == pytest.approx(w.std(ddof=1) / (math.sqrt(400) * w.mean()), rel=1e-10)
    # equal weights: no error; huge log-weights do not overflow
    lm, se0 = ais.log_mean_exp_with_stderr(torch.full((10,), 1e4, dtype=torch.float64))
    assert lm == pytest.approx(1e4) and se0 == 0.0


def test_schedule_and_argument_errors():
    b = ais.default_betas(1000)
    assert b.numel() == 1000 and b[0] == 0 and b[-1] == 1 and (b.diff() >= 0).all()
    assert int((b >= 0.9).sum()) > 600  # most temperatures where the RBM path is hardest
    rbm = random_rbm(4, 3, 1.0, 0)
    with pytest.raises(ValueError, match="betas"):
        ais.log_partition(rbm, betas=[0.0, 0.5])
    with pytest.raises(ValueError, match="betas contain NaN"):
        ais.log_partition(rbm, betas=[0.0, float("nan"), 1.0])
    with pytest.raises(ValueError, match="non-decreasing"):
        ais.log_partition(rbm, betas=[0.0, 0.6, 0.4, 1.0])
    with pytest.raises(ValueError, match="base_marginals"):
        ais.log_partition(rbm, base_marginals=torch.full((5,), 0.5))
    with pytest.raises(ValueError, match="n_chains"):
        ais.log_partition(rbm, n_chains=0)
    # explicit schedule reproduces with the same seed
    sched = torch.linspace(0, 1, 50)
    r1 = ais.log_partition(rbm, 20, betas=sched, generator=torch.Generator().manual_seed(0))
    r2 = ais.log_partition(rbm, 20, betas=sched, generator=torch.Generator().manual_seed(0))
    assert r1 == r2


def test_ais_on_a_10x10_lattice_matches_the_transfer_matrix():
    # beyond enumeration (2^100 states): the exact log Z comes from the row transfer matrix.
    # Random lattice couplings N(0.2, 0.15²) (near the critical 0.44 in places) and fields
    from discrete_ebm.evaluation.transfer_matrix import transfer_matrix_log_partition

    D = 10
    g = torch.Generator().manual_seed(5)
    lattice = IsingModel.lattice(D, coupling=1.0)
    J = lattice.J * (0.2 + 0.15 * torch.randn(D * D, D * D, generator=g))
    J = torch.triu(J, 1) + torch.triu(J, 1).T
    model = IsingModel(J, 0.1 * torch.randn(D * D, generator=g), sparse=True)
    with torch.no_grad():
        truth = float(transfer_matrix_log_partition(model, D, D))
    log_z, stderr = ais.log_partition(
        model, n_chains=100, n_betas=400, generator=torch.Generator().manual_seed(6)
    )
    assert_close_to_exact(log_z, stderr, truth)
