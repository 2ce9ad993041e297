"""Score matching objectives: closed forms on quadratic energies, minimisers, Tweedie."""

from __future__ import annotations

import math

import pytest
import torch

from discrete_ebm.models.neural import MLPEnergy, QuadraticEnergy
from discrete_ebm.objectives.score_matching import (
    DenoisingScoreMatching,
    ScoreMatching,
    SlicedScoreMatching,
)

P_TRUE = torch.tensor([[2.0, 0.6, 0.0], [0.6, 1.0, 0.3], [0.0, 0.3, 1.5]], dtype=torch.float64)
COV_TRUE = torch.linalg.inv(P_TRUE)
L_TRUE = torch.linalg.cholesky(COV_TRUE)
MU_TRUE = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)


def gaussian_data(n: int, seed: int) -> torch.Tensor:
    z = torch.randn(n, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return z @ L_TRUE.T + MU_TRUE


def fit_quadratic(objective, x, seed: int, *, learn_mean: bool = True) -> QuadraticEnergy:
    """Minimise the objective's sample-average approximation (noise fixed by re-seeding the
    generator at every evaluation) over a quadratic energy with L-BFGS."""
    q = QuadraticEnergy(torch.eye(3, dtype=torch.float64), learn_mean=learn_mean)
    if not learn_mean:
        q.mean.copy_(MU_TRUE)
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
    return q


def assert_mean_within_5se(estimates: torch.Tensor, target: torch.Tensor) -> None:
    """``estimates``: (R, ...) independent replicates. Their mean must lie within
    ``5·std/√R + 0.01·|target|`` of ``target`` entrywise: the standard error is measured from
    the replicates, and 1% covers the O(d/n) small-sample bias of inverse-covariance
    estimators (E[Σ̂⁻¹] = n/(n−d−1)·Σ⁻¹, 0.2% here)."""
    R = estimates.shape[0]
    mean, se = estimates.mean(0), estimates.std(0) / math.sqrt(R)
    err = (mean - target).abs()
    assert (err <= 5 * se + 0.01 * target.abs()).all(), (mean, target, se)


def test_exact_score_matching_equals_the_closed_form():
    M = torch.tensor([[1.5, 0.4, -0.2], [0.4, 0.8, 0.1], [-0.2, 0.1, 2.0]], dtype=torch.float64)
    q = QuadraticEnergy(M, learn_mean=False)
    x = gaussian_data(37, 0)
    closed = (-torch.trace(M) + 0.5 * ((x @ M @ M) * x).sum(1)).mean()
    obj = ScoreMatching()
    torch.testing.assert_close(obj(q, x), closed, rtol=0, atol=1e-12)
    torch.testing.assert_close(obj.metrics["laplacian"], torch.trace(M), rtol=0, atol=1e-12)


def test_exact_score_matching_hessian_trace_on_an_mlp():
    torch.manual_seed(0)
    m = MLPEnergy(3, (7, 5), "softplus", dtype=torch.float64)
    x = gaussian_data(5, 1)
    obj = ScoreMatching()
    loss = obj(m, x)
    hess = torch.stack(
        [torch.autograd.functional.hessian(lambda z: m.energy(z[None])[0], xi) for xi in x]
    )
    g = torch.func.vmap(torch.func.grad(lambda z: m.energy(z[None])[0]))(x)
    ref = (0.5 * (g * g).sum(1) - hess.diagonal(dim1=1, dim2=2).sum(1)).mean()
    torch.testing.assert_close(loss, ref, rtol=1e-10, atol=1e-12)
    loss.backward()  # create_graph=True: the loss is differentiable in the parameters
    # every parameter but the output bias (a constant energy offset has no score) gets a gradient
    named = dict(m.named_parameters())
    assert named.pop("out.bias").grad is None
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in named.values())


def test_score_matching_minimiser_is_the_inverse_sample_covariance():
    # J(P, μ) = ½ tr(P² Ŝ(μ)) − tr P with Ŝ(μ) the second moment about μ: minimised exactly
    # at μ = x̄, P = Ŝ(x̄)⁻¹ (the biased sample covariance), so no statistical tolerance here.
    x = gaussian_data(3000, 2)
    q = fit_quadratic(ScoreMatching(), x, 0)
    torch.testing.assert_close(q.mean.detach(), x.mean(0), rtol=0, atol=1e-6)
    torch.testing.assert_close(
        q.precision.detach(), torch.linalg.inv(torch.cov(x.T, correction=0)), rtol=0, atol=1e-6
    )
    # and the truth within sampling error: Σ̂⁻¹ has relative SE ≈ sqrt(2/n) ≈ 0.026 per entry
    assert (q.precision.detach() - P_TRUE).abs().max() < 5 * math.sqrt(
        2 / 3000
    ) * P_TRUE.abs().max()


@pytest.mark.parametrize(
    ("distribution", "variance_reduction"),
    [("gaussian", False), ("rademacher", False), ("gaussian", True)],
)
def test_sliced_expectation_equals_exact_score_matching(distribution, variance_reduction):
    M = torch.tensor([[1.5, 0.4, -0.2], [0.4, 0.8, 0.1], [-0.2, 0.1, 2.0]], dtype=torch.float64)
    q = QuadraticEnergy(M, MU_TRUE)
    x = gaussian_data(50, 3)
    exact = ScoreMatching()(q, x)
    obj = SlicedScoreMatching(200, distribution, variance_reduction=variance_reduction)
    g = torch.Generator().manual_seed(4)
    reps = torch.stack([obj(q, x, g).detach() for _ in range(40)])
    # 40 independent estimates, each a mean over 50 × 200 projections: 5 standard errors
    assert abs(reps.mean() - exact) < 5 * reps.std() / math.sqrt(40), (reps.mean(), exact)
    if distribution == "rademacher":
        # v ∈ {±1}^d: vᵀMv = tr M + Σ_{i≠j} v_i v_j M_ij, so the per-projection Hessian term is
        # exact only on average; the variance-reduced first term ½|∇U|² is exact always
        assert reps.std() > 0


def test_sliced_minimiser_recovers_the_precision():
    obj = SlicedScoreMatching(4)
    est = torch.stack(
        [
            fit_quadratic(
                obj, gaussian_data(2000, 10 + r), 100 + r, learn_mean=False
            ).precision.detach()
            for r in range(6)
        ]
    )
    assert_mean_within_5se(est, P_TRUE)


def test_denoising_minimiser_matches_tweedie():
    # Noised data x̃ ~ N(μ, Σ + σ²I): the optimal energy is the quadratic with precision
    # (Σ + σ²I)⁻¹ and mean μ, i.e. the Tweedie denoiser x̃ − σ²∇U(x̃) = E[x | x̃]
    # = μ + Σ(Σ + σ²I)⁻¹(x̃ − μ).
    sigma = 0.5
    obj = DenoisingScoreMatching(sigma)
    fits = [fit_quadratic(obj, gaussian_data(2000, 20 + r), 200 + r) for r in range(6)]
    target_P = torch.linalg.inv(COV_TRUE + sigma**2 * torch.eye(3, dtype=torch.float64))
    assert_mean_within_5se(torch.stack([q.precision.detach() for q in fits]), target_P)
    est_mu = torch.stack([q.mean.detach() for q in fits])
    R = est_mu.shape[0]
    assert ((est_mu.mean(0) - MU_TRUE).abs() <= 5 * est_mu.std(0) / math.sqrt(R)).all()
    # Tweedie on fresh noisy points, with the mean of the fitted models
    xt = gaussian_data(7, 99) + sigma * torch.randn(
        7, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64
    )
    q = fits[0]
    with torch.no_grad():
        for p_, v_ in zip(
            (q.A, q.mean), (torch.stack([f.precision for f in fits]).mean(0), est_mu.mean(0))
        ):
            p_.copy_(v_)
        _, grad = q.energy_and_grad(xt)
    denoised = xt - sigma**2 * grad
    exact = MU_TRUE + (xt - MU_TRUE) @ (COV_TRUE @ target_P).T
    # a 1% error in P moves the denoiser by ≈ σ²·0.01·|P||x̃ − μ| < 0.02 for these points
    torch.testing.assert_close(denoised, exact, rtol=0, atol=0.02)


def test_objectives_reject_bad_input():
    q = QuadraticEnergy(3)
    with pytest.raises(TypeError, match="continuous model"):
        ScoreMatching()(MLPEnergy(3, (4,), binary=True), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="NaN"):
        ScoreMatching()(q, torch.full((2, 3), float("nan")))
    with pytest.raises(ValueError, match="n_projections"):
        SlicedScoreMatching(0)
    with pytest.raises(ValueError, match="distribution"):
        SlicedScoreMatching(1, "uniform")
    with pytest.raises(ValueError, match="sigma"):
        DenoisingScoreMatching(-1.0)
