"""Denoising posterior and estimators against exact enumeration on 4×4 images.

- the observation field ``½ log((1−p)/p) · t`` gives exactly Bayes' posterior (Ising, offset
  Ising, RBM priors);
- MPM marginals from Gibbs match the exact posterior marginals;
- simulated annealing reaches the exact MAP; ICM reaches a single-flip local minimum (the
  exact MAP when the observation field dominates);
- inpainting never changes an observed pixel and samples the exact conditional.
"""

from __future__ import annotations

import math

import pytest
import torch

from discrete_ebm.data.corruption import flip_noise
from discrete_ebm.denoise.estimators import anneal_map, icm, mpm
from discrete_ebm.denoise.posterior import (
    FieldPosterior,
    flip_log_odds,
    observation_field,
    posterior,
)
from discrete_ebm.evaluation import exact
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.models.offset_ising import OffsetIsing
from discrete_ebm.models.rbm import RBM


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: a second intra-op thread only adds synchronisation."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _prior(radius=1.5, couplings=(0.5, 0.4, 0.15, -0.1), bias=-0.1, shape=(4, 4)):
    return OffsetIsing(shape, radius, list(couplings), bias, dtype=torch.float64)


def _noisy(n, d=16, p=0.2, seed=0):
    g = torch.Generator().manual_seed(seed)
    clean = (torch.rand(n, d, generator=g, dtype=torch.float64) < 0.4).double()
    return flip_noise(clean, p, generator=g)[0]


def _bayes_posterior(prior_probs, y, p, observed=None):
    """Exact ``p(x | y) ∝ p(x) Π_i P(y_i | x_i)`` over all 2^d states (float64)."""
    states = exact.all_states(y.numel())
    wrong = states != y.view(1, -1)
    loglik = wrong.double() * math.log(p) + (~wrong).double() * math.log(1 - p)
    if observed is not None:
        loglik = loglik * observed.view(1, -1)
    w = prior_probs * torch.exp(loglik.sum(1))
    return w / w.sum()


def test_flip_log_odds():
    assert flip_log_odds(0.1) == pytest.approx(0.5 * math.log(9))
    assert flip_log_odds(0.5) == 0
    with pytest.raises(ValueError, match="p must lie in"):
        flip_log_odds(0.0)
    f = observation_field(torch.tensor([[1.0, 0.0]]), torch.tensor([0.1]))
    torch.testing.assert_close(f, torch.tensor([[1.0, -1.0]]) * 0.5 * math.log(9))


@pytest.mark.parametrize("p", [0.05, 0.2, 0.4])
def test_observation_field_is_exact_posterior_ising(p):
    prior = _prior()
    ising = prior.to_ising()
    prior_probs = exact.probabilities(ising)
    y = _noisy(3, p=p, seed=1)
    post = posterior(prior, y, p)  # OffsetIsing with per-image fields
    wrapped = posterior(ising, y, p)  # FieldPosterior around an IsingModel
    for b in range(3):
        want = _bayes_posterior(prior_probs, y[b], p)
        torch.testing.assert_close(
            exact.probabilities(post.to_ising(b)), want, rtol=1e-9, atol=1e-12
        )
        # an IsingModel prior: the posterior is the IsingModel (J, h + λ t)
        got = exact.probabilities(wrapped.to_ising(b))
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
        # the wrapper's own energy gives the same distribution
        one = FieldPosterior(ising, wrapped.field[b])
        torch.testing.assert_close(exact.probabilities(one), want, rtol=1e-9, atol=1e-12)


def test_observation_field_with_missing_pixels():
    prior = _prior()
    prior_probs = exact.probabilities(prior.to_ising())
    y = _noisy(1, seed=2)[0]
    observed = torch.ones(16, dtype=torch.bool)
    observed[[0, 5, 6, 11]] = False
    post = posterior(prior, y, 0.15, observed=observed)
    want = _bayes_posterior(prior_probs, y, 0.15, observed.double())
    torch.testing.assert_close(exact.probabilities(post.to_ising(0)), want, rtol=1e-9, atol=1e-12)


def _tiny_rbm(n=7, m=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(n, m, generator=g, dtype=torch.float64)
    b = 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
    c = 0.5 * torch.randn(m, generator=g, dtype=torch.float64)
    return RBM.from_parameters(W, b, c)


def test_observation_field_is_exact_posterior_rbm():
    rbm = _tiny_rbm()
    prior_probs = exact.probabilities(rbm)
    y = _noisy(2, d=7, seed=3)
    post = posterior(rbm, y, 0.2)
    assert post.is_rbm
    for b in range(2):
        want = _bayes_posterior(prior_probs, y[b], 0.2)
        # an RBM with visible bias b + 2 λ t is the posterior
        shifted = RBM.from_parameters(rbm.W.detach(), rbm.b.detach() + 2 * post.field[b], rbm.c)
        torch.testing.assert_close(exact.probabilities(shifted), want, rtol=1e-9, atol=1e-12)
        one = FieldPosterior(rbm, post.field[b])
        torch.testing.assert_close(exact.probabilities(one), want, rtol=1e-9, atol=1e-12)


def _replicate(y, reps):
    return y.repeat_interleave(reps, dim=0)


def _check_mpm_marginals(post_rows, exact_marg, y, reps, n_sweeps, seed, clamp=None):
    """Run MPM on ``reps`` independent chains per image; compare the average of the per-chain
    marginals with the exact ones. The per-chain time averages are i.i.d. across chains, so
    the standard error of their mean is their sample std / sqrt(reps); allow 5 standard
    errors (plus 1e-3 for the burn-in bias), over at most 5·16 pixels (P(|Z| > 5) ≈ 6e-7)."""
    g = torch.Generator().manual_seed(seed)
    x0 = _replicate(y, reps)
    res = mpm(post_rows, x0, n_sweeps=n_sweeps, burn_in=20, generator=g, clamp=clamp)
    per_chain = res.marginals.view(y.shape[0], reps, -1)
    mean = per_chain.mean(1)
    se = per_chain.std(1) / math.sqrt(reps)
    assert ((mean - exact_marg).abs() <= 5 * se + 1e-3).all(), (mean - exact_marg).abs().max()
    assert torch.equal(res.estimate, (res.marginals > 0.5).double())
    return res


def test_mpm_matches_exact_marginals_offset_ising():
    prior = _prior()
    y = _noisy(5, seed=4)
    reps = 400
    post = posterior(prior, _replicate(y, reps), 0.2)
    one = posterior(prior, y, 0.2)
    want = torch.stack([exact.marginals(one.to_ising(b)) for b in range(5)])
    _check_mpm_marginals(post, want, y, reps, n_sweeps=50, seed=5)


def test_mpm_matches_exact_marginals_rbm():
    rbm = _tiny_rbm(seed=1)
    y = _noisy(4, d=7, seed=6)
    reps = 400
    post = posterior(rbm, _replicate(y, reps), 0.2)
    want = torch.stack([exact.marginals(FieldPosterior(rbm, f)) for f in observation_field(y, 0.2)])
    _check_mpm_marginals(post, want, y, reps, n_sweeps=50, seed=7)


def test_annealing_reaches_exact_map():
    prior = _prior()
    y = _noisy(8, seed=8)
    post = posterior(prior, y, 0.2)
    res = anneal_map(
        post, y, n_sweeps=200, n_restarts=8, generator=torch.Generator().manual_seed(9)
    )
    for b in range(8):
        gs, umin = exact.ground_states(post.to_ising(b))
        assert res.energy[b].item() == pytest.approx(umin, abs=1e-9)
        assert any(torch.equal(res.estimate[b], s) for s in gs)


def test_annealing_and_icm_reach_exact_map_rbm():
    rbm = _tiny_rbm(n=9, m=4, seed=2)
    y = _noisy(6, d=9, seed=10)
    post = posterior(rbm, y, 0.2)
    sa = anneal_map(
        post, y, n_sweeps=200, n_restarts=8, generator=torch.Generator().manual_seed(11)
    )
    it = icm(post, y)
    assert it.info["converged"]
    for b in range(6):
        one = FieldPosterior(rbm, post.field[b])
        u = exact.energies(one)
        umin = u.min().item()
        assert sa.energy[b].item() == pytest.approx(umin, abs=1e-9)
        # ICM: a local minimum of the free energy under single flips, never above the start
        x = it.estimate[b : b + 1]
        flips = x.repeat(9, 1)
        flips[torch.arange(9), torch.arange(9)] = 1 - flips[torch.arange(9), torch.arange(9)]
        assert (one.energy(flips) >= one.energy(x) - 1e-9).all()
        assert one.energy(x).item() <= one.energy(y[b : b + 1]).item() + 1e-9


def test_icm_local_minimum_and_exact_map_when_data_dominate():
    prior = _prior()
    y = _noisy(8, seed=12)
    post = posterior(prior, y, 0.2)
    res = icm(post, y)
    assert res.info["converged"]
    assert (res.energy <= post.energy(y) + 1e-9).all()
    phi = post.local_fields(res.estimate)
    assert ((phi > 0) <= (res.estimate == 1)).all() and ((phi < 0) <= (res.estimate == 0)).all()
    # weak couplings, strong observation field (p = 0.05): the posterior energy has a unique
    # single-flip local minimum reachable from y, and ICM finds the exact MAP
    weak = _prior(couplings=(0.3, 0.2, 0.05, -0.05))
    post = posterior(weak, y, 0.05)
    res = icm(post, y)
    for b in range(8):
        gs, umin = exact.ground_states(post.to_ising(b))
        assert res.energy[b].item() == pytest.approx(umin, abs=1e-9)


def test_inpainting_never_changes_observed_pixels():
    prior = _prior()
    g = torch.Generator().manual_seed(13)
    clean = (torch.rand(6, 16, generator=g) < 0.4).double()
    observed = torch.rand(6, 16, generator=g) < 0.6
    x0 = torch.where(observed, clean, torch.zeros_like(clean))
    # missing pixels only: the posterior is the prior, observed pixels clamped
    post = prior.with_field(torch.zeros(6, 16, dtype=torch.float64))
    gen = torch.Generator().manual_seed(14)
    for res in (
        mpm(post, x0, n_sweeps=20, burn_in=5, clamp=observed, generator=gen),
        anneal_map(post, x0, n_sweeps=30, clamp=observed, generator=gen),
        icm(post, x0, clamp=observed),
    ):
        assert torch.equal(res.estimate[observed], clean[observed])
    # the RBM path too
    rbm = _tiny_rbm(n=16, m=5, seed=3)
    rpost = posterior(rbm, x0, 0.3, observed=observed)
    for res in (
        mpm(rpost, x0, n_sweeps=20, burn_in=5, clamp=observed, generator=gen),
        anneal_map(rpost, x0, n_sweeps=30, clamp=observed, generator=gen),
        icm(rpost, x0, clamp=observed),
    ):
        assert torch.equal(res.estimate[observed], clean[observed])


def test_inpainting_marginals_match_exact_conditional():
    prior = _prior()
    probs = exact.probabilities(prior.to_ising())
    states = exact.all_states(16)
    g = torch.Generator().manual_seed(15)
    clean = (torch.rand(2, 16, generator=g) < 0.4).double()
    observed = torch.zeros(2, 16, dtype=torch.bool)
    observed[:, [0, 3, 5, 6, 9, 10, 12, 15]] = True
    want = []
    for b in range(2):
        keep = (states[:, observed[b]] == clean[b, observed[b]]).all(1)
        pc = torch.where(keep, probs, torch.zeros_like(probs))
        want.append((pc / pc.sum()) @ states)
    want = torch.stack(want)
    reps = 400
    x0 = torch.where(observed, clean, torch.zeros_like(clean))
    post = prior.with_field(torch.zeros(2 * reps, 16, dtype=torch.float64))
    _check_mpm_marginals(
        post, want, x0, reps, n_sweeps=50, seed=16, clamp=_replicate(observed, reps)
    )


def test_bad_input():
    prior = _prior()
    y = _noisy(2)
    with pytest.raises(ValueError, match="p must lie in"):
        posterior(prior, y, 1.2)
    with pytest.raises(ValueError, match="16 pixels|has dim 16"):
        posterior(prior, y[:, :9], 0.1)
    with pytest.raises(ValueError, match="binary"):
        posterior(prior, y * 0.5, 0.1)
    with pytest.raises(TypeError, match="binary EnergyModel"):
        posterior("ising", y, 0.1)
    post = posterior(prior, y, 0.1)
    with pytest.raises(ValueError, match="x0 must have width 16"):
        mpm(post, y[:, :4])
    with pytest.raises(TypeError, match="clamp must be a boolean"):
        icm(post, y, clamp=torch.ones(16))
    with pytest.raises(ValueError, match="per-chain fields for 2 chains"):
        mpm(post, y[:1])
    with pytest.raises(TypeError, match="IsingModel prior"):
        posterior(_tiny_rbm(n=16), y, 0.1).to_ising()
    with pytest.raises(ValueError, match="observed must be a boolean mask"):
        observation_field(y, 0.1, observed=torch.ones(2, 16))
    # one (d,) mask for a batch of 2: named, not a reshape error
    from discrete_ebm.denoise.pipeline import denoise

    with pytest.raises(ValueError, match="observed must be a boolean mask .* got torch.bool"):
        denoise(y, prior, 0.1, methods=("icm",), observed=torch.ones(16, dtype=torch.bool))
    assert isinstance(posterior(IsingModel.lattice(4), y, 0.1), FieldPosterior)


@pytest.mark.parametrize("kind", ["offset_ising", "rbm"])
def test_mpm_n_chains_averages_replicated_chains(kind):
    # n_chains = k runs exactly the chains of the k-times replicated batch (same rows, same
    # order, same random draws) and averages their marginals per image; those chains are
    # checked against the exact marginals above
    if kind == "rbm":
        prior, y = _tiny_rbm(seed=1), _noisy(3, d=7, seed=11)
    else:
        prior, y = _prior(), _noisy(3, seed=11)
    k = 5
    clamp = torch.zeros(y.shape, dtype=torch.bool)
    clamp[:, :2] = True
    res = mpm(
        posterior(prior, y, 0.2),
        y,
        n_sweeps=7,
        burn_in=3,
        n_chains=k,
        clamp=clamp,
        generator=torch.Generator().manual_seed(12),
    )
    rows = mpm(
        posterior(prior, _replicate(y, k), 0.2),
        _replicate(y, k),
        n_sweeps=7,
        burn_in=3,
        clamp=_replicate(clamp, k),
        generator=torch.Generator().manual_seed(12),
    )
    want = rows.marginals.view(3, k, -1).mean(1)
    torch.testing.assert_close(res.marginals, want, rtol=0, atol=1e-12)
    assert torch.equal(res.marginals[:, :2], y[:, :2])  # clamped pixels keep their value
    assert res.info["n_chains"] == k and res.marginals.shape == y.shape
    with pytest.raises(ValueError, match="n_chains"):
        mpm(posterior(prior, y, 0.2), y, n_chains=0)
