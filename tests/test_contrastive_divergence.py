"""Contrastive divergence: CD-k from data, persistent chains, replay buffer, the gradient at
equilibrium, and PCD with block Gibbs recovering a small model's couplings."""

from __future__ import annotations

import math

import pytest
import torch

from discrete_ebm.evaluation import exact
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.objectives.contrastive_divergence import ContrastiveDivergence
from discrete_ebm.samplers.block_gibbs import BlockGibbsSampler
from discrete_ebm.samplers.gibbs import GibbsSampler
from discrete_ebm.training import fit


def _true_model(d: int = 6, seed: int = 0, dtype=torch.float32) -> IsingModel:
    g = torch.Generator().manual_seed(seed)
    return IsingModel.erdos_renyi(d, 1.0, coupling_std=0.4, field_std=0.2, generator=g, dtype=dtype)


def _exact_samples(model: IsingModel, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    idx = torch.multinomial(exact.probabilities(model), n, replacement=True, generator=g)
    return exact.all_states(model.dim)[idx].to(model.dtype)


def _theta(model: IsingModel) -> torch.Tensor:
    return torch.cat([model.weights.detach(), model.h.detach()]).double()


def test_cd1_runs_one_sweep_from_the_batch():
    model = _true_model()
    sampler = BlockGibbsSampler(model)
    x = _exact_samples(model, 17, seed=1)
    obj = ContrastiveDivergence(sampler, k=1)
    loss = obj(model, x, generator=torch.Generator().manual_seed(7))
    x_neg = sampler.sample(x0=x, n_steps=1, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        expected = model.energy(x).mean() - model.energy(x_neg).mean()
    assert float(loss.detach()) == pytest.approx(float(expected), abs=1e-6)
    assert float(obj.metrics["energy_gap"]) == pytest.approx(-float(expected), abs=1e-6)
    assert "flip_rate" in obj.metrics
    assert obj.chains is None  # CD-k keeps nothing between calls


def test_persistent_chains_continue_between_calls_and_resume_from_state():
    model = _true_model()
    sampler = GibbsSampler(model)
    x = _exact_samples(model, 9, seed=2)
    obj = ContrastiveDivergence(sampler, k=2, persistent=True)
    g = torch.Generator().manual_seed(3)
    obj(model, x, generator=g)
    saved = obj.state_dict()
    g_saved = g.get_state()
    obj(model, x, generator=g)
    # reference: the chains start at the batch (n_chains = batch size) and take 2 + 2 sweeps
    g2 = torch.Generator().manual_seed(3)
    s = sampler.sample(x0=x, n_steps=2, generator=g2)
    s = sampler.sample(x0=s, n_steps=2, generator=g2)
    assert torch.equal(obj.chains, s)
    # a fresh objective loaded from the state continues identically
    other = ContrastiveDivergence(sampler, k=2, persistent=True)
    other.load_state_dict(saved)
    g.set_state(g_saved)
    other(model, x, generator=g)
    assert torch.equal(other.chains, obj.chains)


def test_replay_buffer_draws_and_writes_back():
    model = _true_model()
    sampler = BlockGibbsSampler(model)
    x = _exact_samples(model, 8, seed=4)
    obj = ContrastiveDivergence(sampler, k=1, buffer_size=50, n_chains=10, init="noise")
    g = torch.Generator().manual_seed(5)
    obj(model, x, generator=g)
    assert obj.buffer.shape == (50, 6)
    before = obj.buffer.clone()
    obj(model, x, generator=g)
    changed = (obj.buffer != before).any(1).sum()
    assert 0 < int(changed) <= 10  # only the 10 drawn chains move
    # every chain restarts from noise with probability 1: results no longer depend on the buffer
    obj1 = ContrastiveDivergence(sampler, buffer_size=20, n_chains=5, reinit_prob=1.0)
    obj1.load_state_dict({"buffer": torch.ones(20, 6), "chains": None})
    obj1(model, x, generator=torch.Generator().manual_seed(6))
    assert obj1.buffer.shape == (20, 6) and (obj1.buffer != 1).any()


def test_energy_regulariser_formula():
    model = _true_model()
    obj = ContrastiveDivergence(BlockGibbsSampler(model), persistent=True, energy_reg=0.1)
    x = _exact_samples(model, 12, seed=8)
    loss = obj(model, x, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        up, un = model.energy(x), model.energy(obj.chains)
        expected = up.mean() - un.mean() + 0.1 * ((up**2).mean() + (un**2).mean())
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-5)


def test_gradient_at_equilibrium_is_the_log_likelihood_gradient():
    """Chains already at equilibrium stay there, so the surrogate's gradient estimates
    E_data[∇U] − E_model[∇U] = −∇ mean log p(data), computed here exactly."""
    model = _true_model(seed=1, dtype=torch.float64)
    data_model = _true_model(seed=2, dtype=torch.float64)
    n = 20000
    x = _exact_samples(data_model, n, seed=10)
    obj = ContrastiveDivergence(BlockGibbsSampler(model), k=1, persistent=True)
    obj.load_state_dict({"chains": _exact_samples(model, n, seed=11), "buffer": None})
    loss = obj(model, x, generator=torch.Generator().manual_seed(12))
    gw, gh = torch.autograd.grad(loss, [model.weights, model.h])
    # exact: ∂U/∂w_ij = −s_i s_j, ∂U/∂h_i = −s_i
    S = 2 * exact.all_states(6) - 1
    e = model.edges
    pd, pm = exact.probabilities(data_model), exact.probabilities(model)
    pair = S[:, e[:, 0]] * S[:, e[:, 1]]
    want_w = -(pd @ pair - pm @ pair)
    want_h = -(pd @ S - pm @ S)
    # each entry is a difference of two means of n values in [−1, 1]: SE ≤ sqrt(2/n) = 0.01;
    # 5 SE, with the chains' one extra sweep leaving them exactly distributed
    tol = 5 * math.sqrt(2 / n)
    assert float((gw - want_w).abs().max()) < tol
    assert float((gh - want_h).abs().max()) < tol


def test_pcd_with_block_gibbs_recovers_small_model():
    d = 6
    true = _true_model(d)
    X = _exact_samples(true, 4000, seed=13)
    # the exact maximum-likelihood fit on the same samples (convex, by enumeration)
    mle = IsingModel(torch.zeros(d, d, dtype=torch.float64), torch.zeros(d, dtype=torch.float64))
    emp = torch.bincount(exact.state_index(X), minlength=2**d).double() / X.shape[0]
    states = exact.all_states(d)
    opt = torch.optim.LBFGS(
        mle.parameters(),
        max_iter=500,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
    )

    def closure():
        opt.zero_grad()
        U = mle.energy(states)
        value = emp @ U + torch.logsumexp(-U, 0)
        value.backward()
        return value

    opt.step(closure)
    # the learned model is dense (all pairs): a proper colouring of the complete graph has one
    # site per colour, given explicitly (its interaction graph is empty at J = 0)
    model = IsingModel(torch.zeros(d, d), torch.zeros(d))
    sampler = BlockGibbsSampler(model, coloring=[[i] for i in range(d)])
    obj = ContrastiveDivergence(sampler, k=1, persistent=True, n_chains=1000)
    iterates = []
    fit(
        model,
        obj,
        X,
        steps=400,
        batch_size=500,
        lr=0.05,
        progress=False,
        generator=torch.Generator().manual_seed(14),
        callbacks=[lambda step, m, h: iterates.append(_theta(m)) if step > 200 else None],
    )
    avg = torch.stack(iterates).mean(0)  # Polyak average of the last 200 iterates
    # PCD's own noise: 1000 chains give moment estimates with SE ≤ 1/sqrt(1000) = 0.03 per
    # step; averaging 200 correlated iterates brings it well under 0.03 (measured 0.007)
    assert float((avg - _theta(mle)).abs().max()) < 0.03
    # the MLE itself is within sampling error of the truth (4000 samples: SE ≈ 0.02, max of 21)
    assert float((avg - _theta(true).double()).abs().max()) < 0.1


def test_bad_arguments():
    model = _true_model()
    sampler = GibbsSampler(model)
    with pytest.raises(TypeError, match="sampler"):
        ContrastiveDivergence(model)
    with pytest.raises(ValueError, match="k"):
        ContrastiveDivergence(sampler, k=0)
    with pytest.raises(ValueError, match="init"):
        ContrastiveDivergence(sampler, init="zeros")
    with pytest.raises(ValueError, match="reinit_prob"):
        ContrastiveDivergence(sampler, reinit_prob=1.5)
    with pytest.raises(ValueError, match="buffer_size"):
        ContrastiveDivergence(sampler, buffer_size=4, n_chains=8)
    other = _true_model(seed=3)
    with pytest.raises(ValueError, match="different model"):
        ContrastiveDivergence(sampler)(other, _exact_samples(other, 4, seed=0))
