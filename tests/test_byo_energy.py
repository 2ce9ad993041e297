"""Bring your own energy: a user's ``EnergyModel`` subclass defining only ``energy(x)``.

Continuous: it works with ``LangevinSampler``, every continuous objective and ``fit``, and
gives the same numbers as the library's ``QuadraticEnergy`` with the same parameters.
Binary: it works with the Gibbs sampler (checked against exact enumeration) and the
discrete objectives, matching ``IsingModel`` with the same couplings.
"""

from __future__ import annotations

import pytest
import torch

from discrete_ebm.evaluation import exact
from discrete_ebm.evaluation.metrics import total_variation, tv_tolerance
from discrete_ebm.models.base import EnergyModel
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.models.neural import QuadraticEnergy
from discrete_ebm.objectives.contrastive_divergence import ContrastiveDivergence
from discrete_ebm.objectives.energy_discrepancy import BernoulliED, GaussianED
from discrete_ebm.objectives.pseudo_likelihood import PseudoLikelihood
from discrete_ebm.objectives.score_matching import (
    DenoisingScoreMatching,
    ScoreMatching,
    SlicedScoreMatching,
)
from discrete_ebm.samplers.gibbs import GibbsSampler
from discrete_ebm.samplers.langevin import LangevinSampler
from discrete_ebm.training import fit

P0 = torch.tensor([[1.5, 0.3, 0.0], [0.3, 0.8, -0.2], [0.0, -0.2, 1.1]], dtype=torch.float64)
MU0 = torch.tensor([0.2, -0.4, 1.0], dtype=torch.float64)


class UserGaussian(EnergyModel):
    """``U(x) = ½(x−μ)ᵀ ½(A + Aᵀ)(x−μ)``, written as a user would: only ``energy``."""

    def __init__(self, P, mu):
        super().__init__(P.shape[0], binary=False)
        self.A = torch.nn.Parameter(P.clone())
        self.mean = torch.nn.Parameter(mu.clone())

    def energy(self, x):
        z = x - self.mean
        return 0.5 * ((z @ (0.5 * (self.A + self.A.T))) * z).sum(-1)


class UserPairwise(EnergyModel):
    """A binary user energy ``U(x) = −½ sᵀJs − hᵀs``, ``s = 2x − 1``: only ``energy``."""

    def __init__(self, J, h):
        super().__init__(J.shape[0], binary=True)
        self.J = torch.nn.Parameter(J.clone())
        self.h = torch.nn.Parameter(h.clone())

    def energy(self, x):
        s = 2 * x - 1
        return -0.5 * ((s @ self.J) * s).sum(-1) - s @ self.h


def _data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g, dtype=torch.float64) * 0.8 + MU0


def _continuous_objectives(model):
    return {
        "score_matching": ScoreMatching(),
        "sliced": SlicedScoreMatching(2, "rademacher"),
        "denoising": DenoisingScoreMatching(0.3),
        "gaussian_ed": GaussianED(0.1, 8),
        "langevin_cd": ContrastiveDivergence(LangevinSampler(model, 0.05, metropolis=True), k=3),
    }


@pytest.mark.parametrize(
    "name", ["score_matching", "sliced", "denoising", "gaussian_ed", "langevin_cd"]
)
def test_user_energy_gives_the_library_numbers(name):
    user, lib = UserGaussian(P0, MU0), QuadraticEnergy(P0, MU0)
    x = _data()
    losses, grads = [], []
    for model in (user, lib):
        obj = _continuous_objectives(model)[name]
        loss = obj(model, x, torch.Generator().manual_seed(3))
        loss.backward()
        losses.append(loss.detach())
        grads.append(torch.cat([model.A.grad.reshape(-1), model.mean.grad]))
    # same random draws, same parameters: equal losses and parameter gradients (up to the
    # float64 rounding of the hand-written vs autograd Langevin gradients)
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-9, atol=1e-10)


def test_user_energy_langevin_matches_its_moments():
    user = UserGaussian(P0, MU0)
    n = 8000
    x = LangevinSampler(user, 0.2, metropolis=True).sample(
        n, 100, generator=torch.Generator().manual_seed(0)
    )
    cov = torch.linalg.inv(P0)
    # mean within 5 standard errors sqrt(Σ_ii / n)
    assert ((x.mean(0) - MU0).abs() < 5 * torch.sqrt(cov.diagonal() / n)).all()
    assert user.A.grad is None


def test_fit_trains_a_user_energy_to_the_score_matching_optimum():
    # full-batch exact score matching on a user energy: the optimum is Σ̂⁻¹ (biased sample
    # covariance) and μ = x̄, reached by Adam to optimisation tolerance
    x = _data(400, 1)
    user = UserGaussian(torch.eye(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))
    hist = fit(
        user,
        ScoreMatching(),
        x,
        steps=1500,
        batch_size=400,
        lr=0.02,
        progress=False,
        generator=torch.Generator().manual_seed(0),
    )
    assert hist.steps == 1500
    target = torch.linalg.inv(torch.cov(x.T, correction=0))
    P = 0.5 * (user.A + user.A.T).detach()
    torch.testing.assert_close(P, target, rtol=0, atol=2e-3)
    torch.testing.assert_close(user.mean.detach(), x.mean(0), rtol=0, atol=2e-3)


J0 = torch.tensor(
    [
        [0, 0.4, -0.3, 0, 0.2],
        [0.4, 0, 0.5, 0, 0],
        [-0.3, 0.5, 0, 0.3, 0],
        [0, 0, 0.3, 0, -0.4],
        [0.2, 0, 0, -0.4, 0],
    ],
    dtype=torch.float64,
)
H0 = torch.tensor([0.1, -0.2, 0.0, 0.3, -0.1], dtype=torch.float64)


def test_binary_user_energy_with_gibbs_matches_enumeration():
    user = UserPairwise(J0, H0)
    p = exact.probabilities(user)
    torch.testing.assert_close(p, exact.probabilities(IsingModel(J0, H0)))
    n = 4000
    x = GibbsSampler(user).sample(n, 30, generator=torch.Generator().manual_seed(0))
    # independent chains after 30 sweeps of a 5-spin model: TV within the McDiarmid bound
    assert total_variation(x, p) < tv_tolerance(p, n)


@pytest.mark.parametrize("name", ["bernoulli_ed", "pseudo_likelihood", "gibbs_cd"])
def test_binary_user_energy_gives_the_library_numbers(name):
    x = torch.randint(0, 2, (40, 5), generator=torch.Generator().manual_seed(1)).double()
    user, lib = UserPairwise(J0, H0), IsingModel(J0, H0)
    losses = []
    for model in (user, lib):
        obj = {
            "bernoulli_ed": lambda m: BernoulliED(0.1, 8),
            "pseudo_likelihood": lambda m: PseudoLikelihood(),
            "gibbs_cd": lambda m: ContrastiveDivergence(GibbsSampler(m), k=2),
        }[name](model)
        losses.append(obj(model, x, torch.Generator().manual_seed(2)).detach())
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-10, atol=1e-10)
    # and fit runs on the user model, lowering the loss
    obj = BernoulliED(0.1, 8) if name == "bernoulli_ed" else PseudoLikelihood()
    hist = fit(
        user,
        obj,
        x,
        steps=30,
        batch_size=40,
        lr=0.05,
        progress=False,
        generator=torch.Generator().manual_seed(0),
    )
    assert hist.loss[-1] < hist.loss[0]
