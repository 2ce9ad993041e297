"""Pseudo-likelihood: closed form, local-field vs energy-difference paths, finite differences,
and the population minimiser over an enumerated distribution."""

from __future__ import annotations

import math

import pytest
import torch

from discrete_ebm.evaluation import exact
from discrete_ebm.models.base import EnergyModel
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.objectives.pseudo_likelihood import PseudoLikelihood, pseudo_likelihood_terms


class GenericIsing(EnergyModel):
    """The Ising energy without its local-field shortcut: PL goes through energy differences."""

    def __init__(self, ising: IsingModel):
        super().__init__(ising.dim)
        self.ising = ising

    def energy(self, x):
        return self.ising.energy(x)


class TinyMLP(EnergyModel):
    """A small neural energy (float64) for finite-difference checks."""

    def __init__(self, d: int, hidden: int, seed: int):
        super().__init__(d)
        g = torch.Generator().manual_seed(seed)
        self.W1 = torch.nn.Parameter(torch.randn(d, hidden, generator=g, dtype=torch.float64))
        self.b1 = torch.nn.Parameter(torch.randn(hidden, generator=g, dtype=torch.float64))
        self.w2 = torch.nn.Parameter(torch.randn(hidden, generator=g, dtype=torch.float64))

    def energy(self, x):
        x = self.check_input(x)
        return torch.tanh(x @ self.W1 + self.b1) @ self.w2


def _states(B: int, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (B, d), generator=g).double()


def test_two_spin_closed_form():
    J, h = 0.7, torch.tensor([0.3, -0.5], dtype=torch.float64)
    model = IsingModel(torch.tensor([[0.0, J], [J, 0.0]], dtype=torch.float64), h)
    x = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    s = 2 * x - 1
    # p(s_1 | s_2) = σ(2 s_1 (J s_2 + h_1)), so −log p = log(1 + exp(−2 s_1 (J s_2 + h_1)))
    nll1 = torch.log1p(torch.exp(-2 * s[:, 0] * (J * s[:, 1] + h[0])))
    nll2 = torch.log1p(torch.exp(-2 * s[:, 1] * (J * s[:, 0] + h[1])))
    expected = ((nll1 + nll2) / 2).mean()
    obj = PseudoLikelihood()
    assert float(obj(model, x).detach()) == pytest.approx(float(expected), rel=1e-12)
    assert 0.0 <= float(obj.metrics["accuracy"]) <= 1.0


def test_local_field_path_equals_energy_differences():
    g = torch.Generator().manual_seed(0)
    ising = IsingModel.erdos_renyi(
        7, 0.6, coupling_std=0.8, field_std=0.4, generator=g, dtype=torch.float64
    )
    x = _states(11, 7, seed=1)
    fast = pseudo_likelihood_terms(ising, x)
    slow = pseudo_likelihood_terms(GenericIsing(ising), x)
    assert torch.allclose(fast, slow, atol=1e-12, rtol=0)


def test_gradient_matches_finite_differences():
    model = TinyMLP(5, 3, seed=2)
    x = _states(13, 5, seed=3)
    obj = PseudoLikelihood()
    loss = obj(model, x)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    eps = 1e-6
    # central differences: truncation O(eps²·f''') ≈ 1e-12, round-off O(1e-16/eps) ≈ 1e-10
    with torch.no_grad():
        for p, gr in zip(model.parameters(), grads):
            flat = p.view(-1)
            for i in range(flat.numel()):
                old = float(flat[i])
                flat[i] = old + eps
                up = float(obj(model, x))
                flat[i] = old - eps
                down = float(obj(model, x))
                flat[i] = old
                fd = (up - down) / (2 * eps)
                assert fd == pytest.approx(float(gr.view(-1)[i]), abs=1e-8)


def test_population_pl_minimised_at_true_couplings():
    d = 5
    g = torch.Generator().manual_seed(4)
    true = IsingModel.erdos_renyi(
        d, 1.0, coupling_std=0.5, field_std=0.3, generator=g, dtype=torch.float64
    )
    p = exact.probabilities(true)
    X = exact.all_states(d)
    loss = p @ pseudo_likelihood_terms(true, X)
    grads = torch.autograd.grad(loss, [true.weights, true.h])
    assert max(float(gr.abs().max()) for gr in grads) < 1e-10
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
        value = p @ pseudo_likelihood_terms(model, X)
        value.backward()
        return value

    opt.step(closure)
    assert float((model.weights - true.weights).detach().abs().max()) < 1e-2
    assert float((model.h - true.h).detach().abs().max()) < 1e-2


def test_site_subsampling_is_unbiased():
    g = torch.Generator().manual_seed(5)
    ising = IsingModel.erdos_renyi(6, 0.7, coupling_std=0.8, generator=g, dtype=torch.float64)
    x = _states(9, 6, seed=6)
    full = float(PseudoLikelihood()(ising, x).detach())
    assert float(PseudoLikelihood(n_sites=6)(ising, x).detach()) == pytest.approx(full, rel=1e-12)
    obj = PseudoLikelihood(n_sites=2)
    draws = torch.tensor([float(obj(ising, x, generator=g).detach()) for _ in range(2000)])
    se = float(draws.std()) / math.sqrt(draws.numel())
    # the mean of 2000 unbiased draws lies within 5 standard errors of the full loss
    assert abs(float(draws.mean()) - full) < 5 * se


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_sites"):
        PseudoLikelihood(n_sites=0)
    model = IsingModel(torch.zeros(3, 3), torch.zeros(3))
    with pytest.raises(ValueError, match="binary"):
        PseudoLikelihood()(model, torch.full((2, 3), 0.3))
