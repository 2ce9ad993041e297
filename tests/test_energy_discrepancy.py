"""Energy discrepancy: the constant-energy identity, the kernels, the population minimiser."""

from __future__ import annotations

import math

import pytest
import torch

from discrete_ebm.evaluation import exact
from discrete_ebm.models.base import EnergyModel
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.objectives.energy_discrepancy import (
    BernoulliED,
    GaussianED,
    GridED,
    energy_discrepancy_loss,
)


class ConstantEnergy(EnergyModel):
    """U(x) = c for every x (binary or continuous); counts energy calls and rows."""

    def __init__(self, dim: int, c: float = 0.7, binary: bool = True):
        super().__init__(dim, binary=binary)
        self.c = torch.nn.Parameter(torch.tensor(float(c), dtype=torch.float64))
        self.calls: list[int] = []

    def energy(self, x):
        x = self.check_input(x)
        self.calls.append(x.shape[0])
        return self.c * torch.ones(x.shape[0], dtype=x.dtype) + 0 * x.sum(1)


def _binary_batch(B: int, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (B, d), generator=g).double()


@pytest.mark.parametrize("M,w", [(1, 1.0), (7, 1.0), (32, 0.5), (5, 0.0)])
def test_constant_energy_equals_log_M_plus_w(M, w):
    d = 11
    x = _binary_batch(13, d, seed=M)
    g = torch.Generator().manual_seed(1)
    for obj in (BernoulliED(epsilon=0.2, n_negatives=M, w=w), GridED(n_negatives=M, w=w)):
        model = ConstantEnergy(d)
        loss = obj(model, x, generator=g)
        # exact identity: every difference is 0, so each row is log(M·e^0 + w)
        assert float(loss.detach()) == pytest.approx(math.log(M + w), abs=1e-12)
        # one energy call of B + B·M rows: positives and all negatives batched together
        assert model.calls == [13 * (M + 1)]
        assert float(obj.metrics["energy_gap"]) == pytest.approx(0.0, abs=1e-12)
    cont = ConstantEnergy(d, binary=False)
    xc = torch.randn(13, d, generator=g, dtype=torch.float64)
    loss = GaussianED(t=0.3, n_negatives=M, w=w)(cont, xc, generator=g)
    assert float(loss.detach()) == pytest.approx(math.log(M + w), abs=1e-12)


def test_core_loss_matches_formula_and_paper_estimator():
    g = torch.Generator().manual_seed(3)
    B, M, w = 7, 5, 0.3
    u_pos = torch.randn(B, generator=g, dtype=torch.float64)
    u_neg = torch.randn(B, M, generator=g, dtype=torch.float64)
    ours = energy_discrepancy_loss(u_pos, u_neg, w)
    direct = torch.log(torch.exp(u_pos[:, None] - u_neg).sum(1) + w).mean()
    # paper (Schröder et al. 2023): log(w/M + (1/M) Σ_j exp(U(x) − U(x'_j))), ours = it + log M
    paper = torch.log(w / M + torch.exp(u_pos[:, None] - u_neg).mean(1)).mean()
    assert float(ours) == pytest.approx(float(direct), rel=1e-12)
    assert float(ours) == pytest.approx(float(paper) + math.log(M), rel=1e-12)
    # w = 0 drops the stabiliser
    assert float(energy_discrepancy_loss(u_pos, u_neg, 0.0)) == pytest.approx(
        float(torch.logsumexp(u_pos[:, None] - u_neg, 1).mean()), rel=1e-12
    )


def test_bernoulli_kernel_flip_rates():
    d, B, M, eps = 7, 400, 50, 0.15
    obj = BernoulliED(epsilon=eps, n_negatives=M)
    x = _binary_batch(B, d, seed=5)
    g = torch.Generator().manual_seed(6)
    y = obj.perturb(x, g)
    xn = obj.negatives(y, M, g)
    assert xn.shape == (B, M, d)
    assert set(torch.unique(xn).tolist()) <= {0.0, 1.0}
    n1 = B * d
    r1 = float((y != x).double().mean())
    # binomial proportion: 5 standard errors sqrt(ε(1−ε)/n)
    assert abs(r1 - eps) < 5 * math.sqrt(eps * (1 - eps) / n1)
    n2 = B * M * d
    r2 = float((xn != y[:, None]).double().mean())
    assert abs(r2 - eps) < 5 * math.sqrt(eps * (1 - eps) / n2)
    # x -> x' flips with probability 2ε(1−ε) (two independent flips cancel)
    p2 = 2 * eps * (1 - eps)
    r3 = float((xn != x[:, None]).double().mean())
    assert abs(r3 - p2) < 5 * math.sqrt(p2 * (1 - p2) / n2) + 1e-12


def test_grid_kernel_flips_exactly_one_bit_each_time():
    d, B, M = 5, 300, 40
    obj = GridED(n_negatives=M)
    x = _binary_batch(B, d, seed=7)
    g = torch.Generator().manual_seed(8)
    y = obj.perturb(x, g)
    xn = obj.negatives(y, M, g)
    assert torch.equal((y != x).sum(1), torch.ones(B, dtype=torch.long))
    assert torch.equal((xn != y[:, None]).sum(2), torch.ones(B, M, dtype=torch.long))
    back = float((xn == x[:, None]).all(2).double().mean())
    # P(x' = x) = 1/d; 5 binomial standard errors over B·M draws
    n = B * M
    assert abs(back - 1 / d) < 5 * math.sqrt((1 / d) * (1 - 1 / d) / n)
    # the flipped site is uniform: chi-square-free check of each site's frequency
    site = (y != x).double().mean(0)
    assert torch.all((site - 1 / d).abs() < 5 * math.sqrt((1 / d) * (1 - 1 / d) / B))


def test_gaussian_kernel_variance():
    d, B, M, t = 3, 2000, 8, 0.25
    obj = GaussianED(t=t, n_negatives=M)
    g = torch.Generator().manual_seed(9)
    x = torch.randn(B, d, generator=g, dtype=torch.float64)
    y = obj.perturb(x, g)
    xn = obj.negatives(y, M, g)
    # t is a variance: Var(y − x) = t, Var(x' − x) = 2t. Sample variance of n normals has
    # relative standard error sqrt(2/n); allow 5 of them.
    n1, n2 = B * d, B * M * d
    assert abs(float((y - x).var()) / t - 1) < 5 * math.sqrt(2 / n1)
    assert abs(float((xn - x[:, None]).var()) / (2 * t) - 1) < 5 * math.sqrt(2 / n2)


def _ising_params(model: IsingModel) -> torch.Tensor:
    return torch.cat([model.J[torch.triu_indices(model.dim, model.dim, 1).unbind()], model.h])


def bernoulli_ed_population(model: EnergyModel, p_data: torch.Tensor, eps: float) -> torch.Tensor:
    """Exact ED functional (M → ∞, w = 0) over an enumerated data distribution:
    E_p[U(x)] + E_{p(x) q(y|x)} log Σ_{x'} q(x'|y) exp(−U(x'))."""
    d = model.dim
    X = exact.all_states(d)
    H = (X[:, None, :] != X[None, :, :]).sum(2).double()
    logQ = H * math.log(eps) + (d - H) * math.log(1 - eps)
    U = model.energy(X)
    inner = torch.logsumexp(logQ - U[None, :], dim=1)  # indexed by y
    return p_data @ U + p_data @ (logQ.exp() @ inner)


def test_population_bernoulli_ed_minimised_at_true_couplings():
    d, eps = 5, 0.1
    g = torch.Generator().manual_seed(11)
    true = IsingModel.erdos_renyi(
        d, 1.0, coupling_std=0.5, field_std=0.3, generator=g, dtype=torch.float64
    )
    p = exact.probabilities(true)
    # gradient vanishes at the truth (exactly, up to float64 round-off)
    loss = bernoulli_ed_population(true, p, eps)
    grads = torch.autograd.grad(loss, [true.weights, true.h])
    assert max(float(gr.abs().max()) for gr in grads) < 1e-10
    # minimising from zero recovers the couplings (the functional is convex in (J, h))
    model = IsingModel(torch.zeros(d, d, dtype=torch.float64), torch.zeros(d, dtype=torch.float64))
    opt = torch.optim.LBFGS(
        model.parameters(),
        lr=1.0,
        max_iter=500,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        value = bernoulli_ed_population(model, p, eps)
        value.backward()
        return value

    opt.step(closure)
    err = (_ising_params(model) - _ising_params(true)).abs().max()
    assert float(err) < 1e-2


def test_bad_arguments():
    with pytest.raises(ValueError, match="epsilon"):
        BernoulliED(epsilon=0.0)
    with pytest.raises(ValueError, match="n_negatives"):
        GridED(n_negatives=0)
    with pytest.raises(ValueError, match="w"):
        BernoulliED(w=-1.0)
    with pytest.raises(ValueError, match="variance"):
        GaussianED(t=0.0)
    with pytest.raises(ValueError, match="u_neg"):
        energy_discrepancy_loss(torch.zeros(3), torch.zeros(4, 2))
    model = ConstantEnergy(4)
    with pytest.raises(ValueError, match="binary"):
        BernoulliED()(model, torch.full((2, 4), 0.5, dtype=torch.float64))
    with pytest.raises(TypeError, match="continuous"):
        GaussianED(t=0.1)(model, torch.zeros(2, 4, dtype=torch.float64))
