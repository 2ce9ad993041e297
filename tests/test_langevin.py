"""Langevin sampler: stationary moments against closed forms, MALA acceptance, clamping."""

from __future__ import annotations

import math

import pytest
import torch

from discrete_ebm.models.base import EnergyModel
from discrete_ebm.models.neural import MLPEnergy, QuadraticEnergy
from discrete_ebm.samplers.langevin import LangevinSampler, energy_and_grad

P = torch.tensor([[2.0, 0.6], [0.6, 1.0]], dtype=torch.float64)
MU = torch.tensor([1.0, -1.0], dtype=torch.float64)
N_CHAINS = 20000


class AutogradQuadratic(EnergyModel):
    """A user energy defining only ``energy`` (the sampler falls back to autograd)."""

    def __init__(self, P, mu):
        super().__init__(P.shape[0], binary=False)
        self.P = torch.nn.Parameter(P.clone())
        self.mu = torch.nn.Parameter(mu.clone())

    def energy(self, x):
        z = x - self.mu
        return 0.5 * ((z @ self.P) * z).sum(1)


def _check_moments(x, mean, cov):
    """Mean and covariance of ``N`` independent chains within 5 standard errors:
    ``SE(mean_i) = sqrt(Σ_ii / N)``, ``SE(cov_ij) = sqrt((Σ_ii Σ_jj + Σ_ij²) / N)`` (Gaussian
    fourth moments). 5 SE on 5 checked numbers: a false alarm has probability < 1e-5."""
    n = x.shape[0]
    var = cov.diagonal()
    assert ((x.mean(0) - mean).abs() < 5 * torch.sqrt(var / n)).all(), (x.mean(0), mean)
    se_cov = torch.sqrt((var[:, None] * var[None, :] + cov**2) / n)
    emp = torch.cov(x.T)
    assert ((emp - cov).abs() < 5 * se_cov).all(), (emp, cov)


def test_ula_matches_its_closed_form_stationary_covariance():
    # x ← x − ηP(x − μ) + √(2η)ξ is a Gaussian AR(1) chain; its stationary covariance is
    # Σ_η = (P − ηP²/2)⁻¹ (solve Σ = (I − ηP)Σ(I − ηP) + 2ηI), the O(η) ULA bias.
    eta = 0.2
    q = QuadraticEnergy(P, MU)
    s = LangevinSampler(q, eta)
    x = s.sample(N_CHAINS, 150, generator=torch.Generator().manual_seed(0)).double()
    # burn-in: the slowest mode contracts by (1 − η λ_min)^150 ≈ 1e-8
    _check_moments(x, MU, torch.linalg.inv(P - eta * P @ P / 2))


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_mala_is_exact_for_a_gaussian(beta):
    eta = 0.2
    q = QuadraticEnergy(P, MU)
    s = LangevinSampler(q, eta, metropolis=True)
    x, diag = s.sample(
        N_CHAINS,
        150,
        beta=beta,
        generator=torch.Generator().manual_seed(1),
        return_diagnostics=True,
    )
    _check_moments(x.double(), MU, torch.linalg.inv(beta * P))
    assert 0.5 < diag["acceptance_rate"] < 1.0
    assert diag["energy"].shape == (N_CHAINS,)


def test_mala_acceptance_rises_as_step_shrinks():
    torch.manual_seed(0)
    m = MLPEnergy(2, (16, 16), "silu")
    rates = []
    for eta in (1.0, 0.3, 0.1, 0.03, 0.01):
        s = LangevinSampler(QuadraticEnergy(P, MU), eta, metropolis=True)
        _, d = s.sample(
            2000, 50, generator=torch.Generator().manual_seed(2), return_diagnostics=True
        )
        rates.append(d["acceptance_rate"])
    # each rate averages 2000 × 50 Bernoulli draws: SE < 0.5/sqrt(1e5) ≈ 0.002, far below the gaps
    assert all(a < b for a, b in zip(rates, rates[1:])), rates
    assert rates[-1] > 0.97 and rates[0] < 0.6
    # the same on an MLP energy
    mlp_rates = []
    for eta in (0.5, 0.05, 0.005):
        _, d = LangevinSampler(m, eta, metropolis=True).sample(
            2000, 30, generator=torch.Generator().manual_seed(3), return_diagnostics=True
        )
        mlp_rates.append(d["acceptance_rate"])
    assert mlp_rates[0] < mlp_rates[1] < mlp_rates[2], mlp_rates


def test_clamped_mala_samples_the_conditional():
    # p(x_0 | x_1 = c) = N(μ_0 − P_01 (c − μ_1)/P_00, 1/P_00)
    c = 0.5
    q = QuadraticEnergy(P, MU)
    x0 = torch.zeros(N_CHAINS, 2, dtype=torch.float64)
    x0[:, 1] = c
    clamp = torch.tensor([False, True])
    x = LangevinSampler(q, 0.3, metropolis=True).sample(
        x0=x0.float(), n_steps=100, clamp=clamp, generator=torch.Generator().manual_seed(4)
    )
    assert (x[:, 1] == c).all()
    m = MU[0] - P[0, 1] * (c - MU[1]) / P[0, 0]
    v = 1 / P[0, 0]
    xs = x[:, 0].double()
    assert abs(xs.mean() - m) < 5 * math.sqrt(v / N_CHAINS)
    # SE of a Gaussian sample variance: v sqrt(2 / N)
    assert abs(xs.var() - v) < 5 * v * math.sqrt(2 / N_CHAINS)
    # ULA also keeps clamped coordinates fixed
    y = LangevinSampler(q, 0.1).sample(x0=x0.float(), n_steps=5, clamp=clamp)
    assert (y[:, 1] == c).all()


def test_autograd_fallback_equals_hand_written_gradient():
    q = QuadraticEnergy(P, MU)
    user = AutogradQuadratic(P, MU)
    assert not hasattr(user, "energy_and_grad")
    x = torch.randn(9, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    u1, g1 = energy_and_grad(q, x)
    u2, g2 = energy_and_grad(user, x)
    torch.testing.assert_close(g1, g2)
    torch.testing.assert_close(u1, u2)
    for mh in (False, True):
        a = LangevinSampler(q, 0.1, mh).sample(
            x0=x, n_steps=20, generator=torch.Generator().manual_seed(6)
        )
        b = LangevinSampler(user, 0.1, mh).sample(
            x0=x, n_steps=20, generator=torch.Generator().manual_seed(6)
        )
        torch.testing.assert_close(a, b)
    assert user.P.grad is None  # sampling leaves parameter gradients alone


def test_step_schedule_and_noiseless_descent_closed_form():
    # noise_scale=0: x_T − μ = Π_t (I − η_t P)(x_0 − μ), exactly
    q = QuadraticEnergy(P, MU)
    etas = [0.3, 0.2, 0.1, 0.05]
    x0 = torch.tensor([[3.0, 2.0], [-1.0, 0.0]], dtype=torch.float64)
    x = LangevinSampler(q, 1.0, step_schedule=etas, noise_scale=0.0).sample(x0=x0, n_steps=4)
    z = x0 - MU
    for e in etas:
        z = z - e * z @ P
    torch.testing.assert_close(x, z + MU)
    # a callable schedule gives the same
    y = LangevinSampler(q, 1.0, step_schedule=lambda t: etas[t], noise_scale=0.0).sample(
        x0=x0, n_steps=4
    )
    torch.testing.assert_close(y, x)
    with pytest.raises(ValueError, match="step_schedule"):
        LangevinSampler(q, 1.0, step_schedule=etas).sample(x0=x0, n_steps=5)


def test_grad_clip_bounds_the_drift():
    q = QuadraticEnergy(P, MU)
    x0 = torch.tensor([[100.0, -50.0]], dtype=torch.float64)
    x = LangevinSampler(q, 0.1, grad_clip=2.0, noise_scale=0.0).sample(x0=x0, n_steps=1)
    torch.testing.assert_close((x - x0).norm(), torch.tensor(0.2, dtype=torch.float64))


def test_bad_arguments():
    q = QuadraticEnergy(P, MU)
    with pytest.raises(TypeError, match="continuous model"):
        LangevinSampler(MLPEnergy(3, (4,), binary=True), 0.1)
    with pytest.raises(ValueError, match="step_size"):
        LangevinSampler(q, 0.0)
    with pytest.raises(ValueError, match="noise_scale"):
        LangevinSampler(q, 0.1, metropolis=True, noise_scale=0.0)
    with pytest.raises(ValueError, match="grad_clip"):
        LangevinSampler(q, 0.1, grad_clip=-1.0)
    with pytest.raises(ValueError, match="width 2"):
        LangevinSampler(q, 0.1).sample(x0=torch.zeros(3, 5), n_steps=1)
