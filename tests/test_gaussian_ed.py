"""Gaussian energy discrepancy on continuous energies: constant energy, precision recovery."""

from __future__ import annotations

import math

import pytest
import torch

from discrete_ebm.models.base import EnergyModel
from discrete_ebm.models.neural import MLPEnergy, QuadraticEnergy
from discrete_ebm.objectives.energy_discrepancy import GaussianED
from discrete_ebm.objectives.score_matching import ScoreMatching

P_TRUE = torch.tensor([[2.0, 0.6], [0.6, 1.0]], dtype=torch.float64)
L_TRUE = torch.linalg.cholesky(torch.linalg.inv(P_TRUE))


class ConstantEnergy(EnergyModel):
    """A user energy: ``U(x) = c`` for every ``x``."""

    def __init__(self, dim, c=0.0):
        super().__init__(dim, binary=False)
        self.c = torch.nn.Parameter(torch.tensor(float(c)))

    def energy(self, x):
        return self.c.expand(x.shape[0])


@pytest.mark.parametrize(("M", "w"), [(4, 1.0), (7, 0.5), (1, 2.0)])
def test_constant_energy_gives_log_m_plus_w(M, w):
    x = torch.randn(13, 3, generator=torch.Generator().manual_seed(0))
    loss = GaussianED(0.3, M, w)(ConstantEnergy(3, 2.5), x, torch.Generator().manual_seed(1))
    torch.testing.assert_close(loss, torch.tensor(math.log(M + w)), rtol=0, atol=1e-6)
    # a zero precision quadratic is also constant
    q = QuadraticEnergy(torch.zeros(3, 3))
    torch.testing.assert_close(
        GaussianED(0.3, M, w)(q, x), torch.tensor(math.log(M + w)), rtol=0, atol=1e-6
    )


def test_gaussian_ed_trains_through_autograd():
    torch.manual_seed(0)
    m = MLPEnergy(2, (8,), "tanh")
    x = torch.randn(32, 2, generator=torch.Generator().manual_seed(0))
    loss = GaussianED(0.1, 4)(m, x, torch.Generator().manual_seed(1))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())


def _fit(objective, x, seed):
    """Minimise the sample-average approximation (noise fixed by re-seeding) with L-BFGS."""
    q = QuadraticEnergy(torch.eye(2, dtype=torch.float64), learn_mean=False)
    opt = torch.optim.LBFGS(
        q.parameters(),
        lr=1,
        max_iter=200,
        tolerance_grad=1e-11,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = objective(q, x, torch.Generator().manual_seed(seed))
        loss.backward()
        return loss

    opt.step(closure)
    return q.precision.detach()


def test_gaussian_ed_minimiser_recovers_the_precision():
    # R independent replicates (fresh data and noise): the mean estimate must lie within
    # 5 standard errors (measured from the replicates) plus 1% (the O(d/n) small-sample bias
    # of inverse-covariance estimators, 0.15% at n = 2000) of the true precision.
    R, n = 6, 2000
    est = []
    for r in range(R):
        z = torch.randn(n, 2, generator=torch.Generator().manual_seed(r), dtype=torch.float64)
        est.append(_fit(GaussianED(t=0.1, n_negatives=32), z @ L_TRUE.T, 100 + r))
    est = torch.stack(est)
    mean, se = est.mean(0), est.std(0) / math.sqrt(R)
    assert ((mean - P_TRUE).abs() <= 5 * se + 0.01 * P_TRUE.abs()).all(), (mean, se)
    # the replicate spread itself is small: the estimator is consistent, not just unbiased
    assert (est - P_TRUE).abs().max() < 0.35


def test_gaussian_ed_minimiser_approaches_score_matching_as_m_grows():
    # On the same data, the ED minimiser (t = 0.1) moves towards the exact score-matching
    # minimiser Σ̂⁻¹ when the number of negatives M grows (less Monte Carlo noise).
    z = torch.randn(2000, 2, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    x = z @ L_TRUE.T
    sm = _fit(ScoreMatching(), x, 0)
    errs = [(_fit(GaussianED(0.1, M), x, 1) - sm).norm() / sm.norm() for M in (2, 64)]
    assert errs[1] < errs[0], errs
