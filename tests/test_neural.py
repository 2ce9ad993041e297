"""Neural energies: hand-written gradients vs autograd, base terms vs closed forms, shapes."""

from __future__ import annotations

import math

import pytest
import torch

from discrete_ebm.evaluation import exact
from discrete_ebm.models.neural import (
    NONSMOOTH_ACTIVATIONS,
    SMOOTH_ACTIVATIONS,
    BernoulliBase,
    ConvEnergy,
    GaussianBase,
    MLPEnergy,
    QuadraticEnergy,
)


def _autograd_grad(model, x):
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model.energy(xr).sum(), xr)
    return g


@pytest.mark.parametrize("activation", SMOOTH_ACTIVATIONS)
def test_mlp_energy_and_grad_matches_autograd(activation):
    g = torch.Generator().manual_seed(0)
    base = GaussianBase(
        torch.tensor([0.5, -1.0, 2.0]),
        torch.tensor([[2.0, 0.3, 0], [0.3, 1.0, 0.1], [0, 0.1, 0.5]]),
    )
    torch.manual_seed(1)
    m = MLPEnergy(3, (5, 7, 11), activation, base=base).double()
    x = torch.randn(13, 3, generator=g, dtype=torch.float64) * 2
    u, grad = m.energy_and_grad(x)
    assert u.shape == (13,) and grad.shape == (13, 3)
    torch.testing.assert_close(u, m.energy(x), rtol=0, atol=1e-12)
    torch.testing.assert_close(grad, _autograd_grad(m, x), rtol=0, atol=1e-12)
    assert u.grad_fn is None and grad.grad_fn is None  # no graph built


def test_mlp_gradient_in_blocks_equals_one_pass():
    torch.manual_seed(3)
    m = MLPEnergy(
        3, (7, 5), "silu", base=GaussianBase(torch.zeros(3), torch.eye(3)), dtype=torch.float64
    )
    x = torch.randn(23, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    u1, g1 = m.energy_and_grad(x)
    m.grad_chunk_rows = 5  # 23 rows: blocks of 5, 5, 5, 5, 3
    u2, g2 = m.energy_and_grad(x)
    torch.testing.assert_close(u2, u1, rtol=0, atol=1e-12)
    torch.testing.assert_close(g2, g1, rtol=0, atol=1e-12)
    torch.testing.assert_close(m.grad_energy(x), g1, rtol=0, atol=1e-12)


@pytest.mark.parametrize("activation", NONSMOOTH_ACTIVATIONS)
def test_binary_mlp_nonsmooth_grad_matches_autograd(activation):
    torch.manual_seed(2)
    m = MLPEnergy(
        7, (5,), activation, binary=True, base=BernoulliBase(torch.linspace(0.1, 0.9, 7))
    ).double()
    x = torch.randint(0, 2, (17, 7), generator=torch.Generator().manual_seed(3)).double()
    u, grad = m.energy_and_grad(x)
    torch.testing.assert_close(u, m.energy(x), rtol=0, atol=1e-12)
    torch.testing.assert_close(grad, _autograd_grad(m, x), rtol=0, atol=1e-12)


def test_activation_checks():
    with pytest.raises(ValueError, match="second derivative"):
        MLPEnergy(2, (4,), "relu")
    with pytest.raises(ValueError, match="activation must be one of"):
        MLPEnergy(2, (4,), "swoosh")
    with pytest.raises(ValueError, match="hidden"):
        MLPEnergy(2, (4, 0))
    with pytest.raises(TypeError, match="GaussianBase"):
        MLPEnergy(3, (4,), base=BernoulliBase(torch.full((3,), 0.5)))
    with pytest.raises(ValueError, match="dim"):
        MLPEnergy(3, (4,), base=GaussianBase(torch.zeros(2), torch.eye(2)))
    m = MLPEnergy(3, (4,))
    with pytest.raises(ValueError, match="width 3"):
        m.check_input(torch.zeros(5, 2))


@pytest.mark.parametrize(
    "model",
    [MLPEnergy(4, (8,), binary=True), ConvEnergy((2, 2), channels=(2,))],
    ids=["mlp", "conv"],
)
def test_binary_neural_energies_validate_their_input(model):
    # DESIGN: non-binary values given to a binary model raise ValueError
    with pytest.raises(ValueError, match="binary"):
        model.energy(torch.full((3, 4), 0.5))
    with pytest.raises(ValueError, match="NaN"):
        model.energy(torch.full((3, 4), float("nan")))
    with pytest.raises(ValueError, match="width 4"):
        model.energy(torch.zeros(3, 5))
    assert model.energy(torch.ones(3, 4)).shape == (3,)


def test_continuous_mlp_energy_rejects_non_finite_input():
    with pytest.raises(ValueError, match="infinite"):
        MLPEnergy(2, (4,)).energy(torch.tensor([[0.0, float("inf")]]))


def test_gaussian_base_is_normalised_gaussian():
    mean = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    cov = torch.tensor([[2.0, 0.4, 0.1], [0.4, 1.0, -0.2], [0.1, -0.2, 0.7]], dtype=torch.float64)
    base = GaussianBase(mean, cov)
    x = torch.randn(19, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ref = torch.distributions.MultivariateNormal(mean, cov).log_prob(x)
    torch.testing.assert_close(-base.energy(x), ref, rtol=0, atol=1e-10)
    torch.testing.assert_close(base.grad(x), (x - mean) @ torch.linalg.inv(cov), rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="positive definite"):
        GaussianBase(torch.zeros(2), torch.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="symmetric"):
        GaussianBase(torch.zeros(2), torch.tensor([[1.0, 0.5], [0.0, 1.0]]))


def test_gaussian_base_from_data_matches_moments():
    x = torch.randn(5000, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = x @ torch.tensor([[1.0, 0.5], [0.0, 2.0]], dtype=torch.float64) + 3
    base = GaussianBase.from_data(x, jitter=0.0)
    torch.testing.assert_close(base.mean.double(), x.mean(0), rtol=0, atol=1e-5)
    cov = torch.linalg.inv(base.precision.double())
    torch.testing.assert_close(cov, torch.cov(x.T), rtol=1e-4, atol=1e-4)


def test_bernoulli_base_is_exact_product_of_marginals():
    p = torch.tensor([0.1, 0.35, 0.5, 0.8, 0.95], dtype=torch.float64)
    m = MLPEnergy(5, (3,), "tanh", binary=True, base=BernoulliBase(p), dtype=torch.float64)
    with torch.no_grad():  # switch off the neural part: only the base remains
        m.out.weight.zero_()
        m.out.bias.zero_()
    torch.testing.assert_close(
        exact.log_partition(m), torch.tensor(0.0, dtype=torch.float64), atol=1e-12, rtol=0
    )
    torch.testing.assert_close(exact.marginals(m), p, atol=1e-12, rtol=0)
    data = torch.tensor([[1, 0, 1], [1, 1, 0], [0, 0, 0], [1, 0, 0]], dtype=torch.float32)
    torch.testing.assert_close(
        BernoulliBase.from_data(data).logit, torch.logit(torch.tensor([0.75, 0.25, 0.25]))
    )


def test_conv_energy_shapes_and_base():
    torch.manual_seed(0)
    base = BernoulliBase(torch.full((35,), 0.3))
    m = ConvEnergy((5, 7), channels=(3, 5), base=base)
    assert m.dim == 35 and m.binary and m.image_shape == (1, 5, 7)
    x = torch.randint(0, 2, (11, 35), generator=torch.Generator().manual_seed(0)).float()
    u = m.energy(x)
    assert u.shape == (11,)
    # the base adds exactly −Σ log Bernoulli(x; 0.3)
    ref = -(x * math.log(0.3) + (1 - x) * math.log(0.7)).sum(1)
    m.base = None
    torch.testing.assert_close(u - m.energy(x), ref, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="image_shape"):
        ConvEnergy((5,))
    # conditional logits (used by Gibbs) agree with direct energy differences
    m3 = ConvEnergy((2, 3, 3), channels=(4,)).double()
    x3 = torch.randint(0, 2, (4, 18), generator=torch.Generator().manual_seed(1)).double()
    logits = m3.conditional_logits(x3)
    i = 7
    x0, x1 = x3.clone(), x3.clone()
    x0[:, i], x1[:, i] = 0, 1
    torch.testing.assert_close(logits[:, i], m3.energy(x0) - m3.energy(x1))


def test_quadratic_energy_closed_forms():
    P = torch.tensor([[2.0, 0.6, 0.0], [0.6, 1.0, 0.2], [0.0, 0.2, 3.0]], dtype=torch.float64)
    mu = torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64)
    q = QuadraticEnergy(P, mu)
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ref = torch.distributions.MultivariateNormal(mu, precision_matrix=P).log_prob(x)
    torch.testing.assert_close(-q.energy(x) - q.log_partition(), ref, rtol=0, atol=1e-10)
    u, g = q.energy_and_grad(x)
    torch.testing.assert_close(g, _autograd_grad(q, x), rtol=0, atol=1e-12)
    torch.testing.assert_close(u, q.energy(x))
    # the precision stays symmetric whatever gradient A receives
    q.A.data += torch.tensor(
        [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64
    )
    torch.testing.assert_close(q.precision, q.precision.T)
    with pytest.raises(ValueError, match="square"):
        QuadraticEnergy(torch.zeros(2, 3))
    assert QuadraticEnergy(4).precision.equal(torch.eye(4))
