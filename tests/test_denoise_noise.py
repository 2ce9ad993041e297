"""Flip-rate estimation: the EM update's fixed point is the exact maximum-likelihood rate."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.optimize import minimize_scalar

from discrete_ebm.data.corruption import flip_noise
from discrete_ebm.denoise.noise import estimate_flip_rate, expected_flip_fraction
from discrete_ebm.evaluation import exact
from discrete_ebm.models.offset_ising import OffsetIsing


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: a second intra-op thread only adds synchronisation."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _setup(n=600, p_true=0.15):
    prior = OffsetIsing((3, 3), 1.0, 0.4, -0.1, dtype=torch.float64)
    probs = exact.probabilities(prior.to_ising())
    g = torch.Generator().manual_seed(0)
    states = exact.all_states(9)
    clean = states[torch.multinomial(probs, n, replacement=True, generator=g)]
    noisy, _ = flip_noise(clean, p_true, generator=g)
    return prior, probs, states, noisy


def _exact_mle(probs, states, noisy):
    """Maximise ``Σ_b log Σ_x p(x) p^{k} (1−p)^{d−k}`` (``k`` = Hamming distance) over p."""
    k = (noisy.unsqueeze(1) != states.unsqueeze(0)).sum(2).double()  # (n, 2^d)
    d = states.shape[1]

    def nll(p):
        ll = k * math.log(p) + (d - k) * math.log(1 - p) + probs.log()
        return -torch.logsumexp(ll, 1).sum().item()

    res = minimize_scalar(nll, bounds=(1e-3, 0.49), method="bounded", options={"xatol": 1e-7})
    return res.x, k


def test_em_fixed_point_is_exact_mle():
    prior, probs, states, noisy = _setup()
    p_hat, k = _exact_mle(probs, states, noisy)
    d = states.shape[1]
    # exact posterior marginals of every image at p_hat, then one EM update
    logw = k * math.log(p_hat) + (d - k) * math.log(1 - p_hat) + probs.log()
    post = torch.softmax(logw, 1)
    marg = post @ states
    p_next = expected_flip_fraction(noisy, marg).mean().item()
    assert p_next == pytest.approx(p_hat, abs=1e-5)


def test_monte_carlo_em_finds_the_mle():
    prior, probs, states, noisy = _setup()
    p_hat, _ = _exact_mle(probs, states, noisy)
    p, trace = estimate_flip_rate(
        noisy, prior, p_init=0.3, n_iter=25, n_sweeps=40, generator=torch.Generator().manual_seed(1)
    )
    # the last update is a mean over N = 5400 pixel marginals, each in [0, 1] and at least one
    # effectively independent draw: Monte Carlo sd ≤ 0.5 / sqrt(5400) ≈ 0.0068; allow 3 sd
    assert abs(p - p_hat) < 3 * 0.5 / math.sqrt(noisy.numel())
    assert len(trace) >= 2 and trace[0] < 0.3  # moved from the start towards the MLE
    per, _ = estimate_flip_rate(
        noisy[:40],
        prior,
        n_iter=3,
        n_sweeps=10,
        per_image=True,
        generator=torch.Generator().manual_seed(2),
    )
    assert per.shape == (40,) and ((per >= 1e-3) & (per <= 0.49)).all()


def test_bad_input():
    prior, _, _, noisy = _setup(n=5)
    with pytest.raises(ValueError, match="p_init"):
        estimate_flip_rate(noisy, prior, p_init=0.0)
    with pytest.raises(ValueError, match="n_iter"):
        estimate_flip_rate(noisy, prior, n_iter=0)
    with pytest.raises(ValueError, match="binary"):
        estimate_flip_rate(noisy * 0.5, prior)
