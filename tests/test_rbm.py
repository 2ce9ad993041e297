"""RBM: free energy, conditionals, block Gibbs, exact log Z, PCD gradient and training."""

from __future__ import annotations

import math

import pytest
import torch

from discrete_ebm.evaluation import exact
from discrete_ebm.models.base import EnergyModel
from discrete_ebm.models.rbm import RBM
from discrete_ebm.samplers.block_gibbs import BlockGibbsSampler


@pytest.fixture(autouse=True)
def _threads():
    """Overrides conftest's two threads: these tensors are tiny, and one thread avoids
    OpenMP contention on a shared 2-core machine (10x faster here)."""
    torch.set_num_threads(1)
    yield


def random_rbm(n, m, scale=1.0, seed=0, dtype=torch.float64) -> RBM:
    g = torch.Generator().manual_seed(seed)
    W = scale * torch.randn(n, m, generator=g, dtype=dtype)
    b = torch.randn(n, generator=g, dtype=dtype)
    c = torch.randn(m, generator=g, dtype=dtype)
    return RBM.from_parameters(W, b, c)


def tv_tolerance(p: torch.Tensor, n: int, delta: float = 1e-3) -> float:
    """TV(p̂, p) <= E TV + t with prob >= 1 − δ: E TV <= ½ Σ sqrt(p(1−p)/n) (Jensen) and
    McDiarmid (one sample moves TV by at most 1/n) gives t = sqrt(log(1/δ) / (2n))."""
    mean_bound = 0.5 * float(torch.sqrt(p * (1 - p) / n).sum())
    return mean_bound + math.sqrt(math.log(1 / delta) / (2 * n))


def empirical(x: torch.Tensor) -> torch.Tensor:
    d = x.shape[1]
    return torch.bincount(exact.state_index(x), minlength=2**d).double() / x.shape[0]


# --------------------------------------------------------------- brute force on 5×7
def test_free_energy_and_conditionals_match_brute_force_5x7():
    rbm = random_rbm(5, 7, scale=1.3)
    V, H = exact.all_states(5), exact.all_states(7)  # (32, 5), (128, 7)
    E = -(V @ rbm.W.detach() @ H.T) - (V @ rbm.b.detach())[:, None] - (H @ rbm.c.detach())[None]
    with torch.no_grad():
        # F(v) = −log Σ_h exp(−E(v, h))
        torch.testing.assert_close(rbm.energy(V), -torch.logsumexp(-E, 1))
        # joint energy
        vv, hh = V.repeat_interleave(128, 0), H.repeat(32, 1)
        torch.testing.assert_close(rbm.joint_energy(vv, hh), E.reshape(-1))
        # p(h_j = 1 | v) and p(v_i = 1 | h) from the joint table
        P = torch.softmax(-E, 1)  # p(h | v), rows v
        torch.testing.assert_close(rbm.hidden_probs(V), P @ H)
        Q = torch.softmax(-E, 0)  # p(v | h), columns h
        torch.testing.assert_close(rbm.visible_probs(H), Q.T @ V)
        # analytic single-site logits vs the generic energy-difference implementation
        sites = torch.tensor([4, 0, 2])
        torch.testing.assert_close(
            rbm.site_logits(V, sites), EnergyModel.site_logits(rbm, V, sites)
        )
        all_sites = torch.arange(5)
        torch.testing.assert_close(
            rbm.conditional_logits(V), EnergyModel.site_logits(rbm, V, all_sites)
        )
        # log p(v_i = 1 | v_−i) − log p(v_i = 0 | v_−i) from the exact distribution
        p = exact.probabilities(rbm)
        idx1 = exact.state_index(torch.cat([V[:, :1] * 0 + 1, V[:, 1:]], 1))
        idx0 = exact.state_index(torch.cat([V[:, :1] * 0, V[:, 1:]], 1))
        torch.testing.assert_close(
            rbm.conditional_logits(V)[:, 0], torch.log(p[idx1]) - torch.log(p[idx0])
        )


@pytest.mark.parametrize("n,m", [(5, 7), (11, 3), (3, 11)])
@pytest.mark.parametrize("beta", [1.0, 0.6])
def test_exact_log_partition_both_orientations(n, m, beta):
    rbm = random_rbm(n, m, scale=2.0, seed=n * m)
    direct = torch.logsumexp(-beta * exact.energies(rbm), 0)
    torch.testing.assert_close(rbm.exact_log_partition(beta=beta), direct)
    torch.testing.assert_close(exact.log_partition(rbm, beta=beta), direct)


def test_exact_log_partition_large_visible_layer_sums_hidden():
    # 30 visible units cannot be enumerated, 4 hidden units can: log Z by summing v
    # analytically equals the brute-force sum over the 2^4 h of Σ_v exp(−E(v, h)).
    rbm = random_rbm(30, 4, scale=0.5, seed=3)
    H = exact.all_states(4)
    W, b, c = rbm.W.detach(), rbm.b.detach(), rbm.c.detach()
    log_terms = H @ c + torch.nn.functional.softplus(b + H @ W.T).sum(1)
    torch.testing.assert_close(rbm.exact_log_partition(), torch.logsumexp(log_terms, 0))
    with pytest.raises(ValueError, match="AIS|ais"):
        RBM(30, 30).exact_log_partition()
    with pytest.raises(ValueError, match="visible"):
        rbm.exact_log_partition(beta=0.5)


# --------------------------------------------------------------------- block Gibbs
def test_block_gibbs_sampler_matches_exact_distribution():
    rbm = random_rbm(5, 7, scale=1.0, seed=1).float()
    g = torch.Generator().manual_seed(0)
    n = 4000
    x = BlockGibbsSampler(rbm).sample(n, 40, generator=g)
    p = exact.probabilities(rbm)
    tv = 0.5 * float((empirical(x) - p).abs().sum())
    assert tv < tv_tolerance(p, n), (tv, tv_tolerance(p, n))


def test_block_gibbs_clamping_gives_the_conditional():
    rbm = random_rbm(5, 7, scale=1.0, seed=2).float()
    g = torch.Generator().manual_seed(1)
    n = 4000
    x0 = torch.zeros(n, 5)
    x0[:, 0] = 1.0  # clamp v_0 = 1, v_3 = 0
    clamp = torch.tensor([True, False, False, True, False])
    x = BlockGibbsSampler(rbm).sample(n_steps=40, x0=x0, clamp=clamp, generator=g)
    assert torch.all(x[:, 0] == 1) and torch.all(x[:, 3] == 0)
    V = exact.all_states(5)
    p = exact.probabilities(rbm)
    keep = (V[:, 0] == 1) & (V[:, 3] == 0)
    p_cond = p * keep
    p_cond = p_cond / p_cond.sum()
    tv = 0.5 * float((empirical(x) - p_cond).abs().sum())
    assert tv < tv_tolerance(p_cond[keep], n), tv


def test_block_gibbs_beta_targets_the_tempered_joint():
    # at β the sweep samples p_β(v, h) ∝ exp(−β E); its v-marginal is exp(−F_β(v)) with
    # F_β = the free energy of the RBM with parameters β·(W, b, c)
    rbm = random_rbm(4, 3, scale=1.5, seed=5).float()
    hot = RBM.from_parameters(0.4 * rbm.W.detach(), 0.4 * rbm.b.detach(), 0.4 * rbm.c.detach())
    g = torch.Generator().manual_seed(2)
    n = 4000
    x = BlockGibbsSampler(rbm).sample(n, 30, beta=0.4, generator=g)
    p = exact.probabilities(hot)
    assert 0.5 * float((empirical(x) - p).abs().sum()) < tv_tolerance(p, n)


# --------------------------------------------------------------------- gradients
def test_contrastive_gradient_equals_autograd_of_surrogate():
    rbm = random_rbm(7, 5, scale=0.7, seed=4)
    g = torch.Generator().manual_seed(3)
    v_pos = (torch.rand(11, 7, generator=g) < 0.5).double()
    v_neg = (torch.rand(13, 7, generator=g) < 0.5).double()
    loss = rbm.energy(v_pos).mean() - rbm.energy(v_neg).mean()
    auto = torch.autograd.grad(loss, [rbm.W, rbm.b, rbm.c])
    for a, b in zip(rbm.contrastive_gradient(v_pos, v_neg), auto):
        torch.testing.assert_close(a, b)


def test_pcd_step_is_exactly_the_pcd_gradient():
    rbm = random_rbm(7, 5, scale=0.7, seed=6)
    g = torch.Generator().manual_seed(4)
    v = (torch.rand(11, 7, generator=g) < 0.5).double()
    h0 = (torch.rand(13, 5, generator=g) < 0.5).double()
    seed = 99
    h1 = rbm.pcd_step(v, h0, k=2, generator=torch.Generator().manual_seed(seed))
    got = [p.grad.clone() for p in (rbm.W, rbm.b, rbm.c)]
    # replay the chain with the same random stream and differentiate the surrogate
    rg = torch.Generator().manual_seed(seed)
    h = h0
    with torch.no_grad():
        for _ in range(2):
            v_neg = rbm.sample_visible(h, generator=rg)
            h = rbm.sample_hidden(v_neg, generator=rg)
    assert torch.equal(h, h1)
    loss = rbm.energy(v).mean() - rbm.energy(v_neg).mean()
    for a, b in zip(got, torch.autograd.grad(loss, [rbm.W, rbm.b, rbm.c])):
        torch.testing.assert_close(a, b)
    # accumulates like backward()
    rbm.pcd_step(v, h0, k=2, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(rbm.W.grad, 2 * got[0])


# ---------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def teacher_data():
    # visible biases centre each unit on its hidden inputs: strongly correlated units, so
    # the exact entropy (3.65 nats) is 0.83 nats below that of the independent marginals
    W = 3.0 * torch.randn(8, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    teacher = RBM.from_parameters(W, -0.5 * W.sum(1), torch.full((3,), -1.0))
    p = exact.probabilities(teacher)
    g = torch.Generator().manual_seed(5)
    idx = torch.multinomial(p, 2000, replacement=True, generator=g)
    data = exact.all_states(8)[idx].float()
    emp = empirical(data)
    best = float((emp[emp > 0] * torch.log(emp[emp > 0])).sum())  # max achievable avg LL
    return data, best


def exact_avg_ll(model: RBM, data: torch.Tensor) -> float:
    with torch.no_grad():
        return float(-model.energy(data.double().to(model.dtype)).double().mean()) - float(
            model.exact_log_partition()
        )


def test_pcd_fast_path_increases_exact_log_likelihood(teacher_data):
    data, best = teacher_data
    g = torch.Generator().manual_seed(6)
    rbm = RBM(8, 4, generator=g, weight_std=0.1).init_from_data(data)
    ll0 = exact_avg_ll(rbm, data)
    opt = torch.optim.SGD(rbm.parameters(), lr=0.2)
    chains = rbm.init_chains(100, data, generator=g)
    for _ in range(40):
        perm = torch.randperm(2000, generator=g)
        for a in range(0, 2000, 100):
            opt.zero_grad()
            chains = rbm.pcd_step(data[perm[a : a + 100]], chains, generator=g)
            opt.step()
    ll1 = exact_avg_ll(rbm, data)
    # the start (independent units fitted to the marginals) to the empirical entropy: PCD
    # must close most of that gap (the student has more hidden units than the teacher)
    assert ll1 > ll0 + 0.6 * (best - ll0), (ll0, ll1, best)


def test_bernoulli_ed_through_fit_increases_exact_log_likelihood(teacher_data):
    from discrete_ebm.objectives.energy_discrepancy import BernoulliED
    from discrete_ebm.training import fit

    data, best = teacher_data
    g = torch.Generator().manual_seed(7)
    rbm = RBM(8, 4, generator=g, weight_std=0.1).init_from_data(data)
    ll0 = exact_avg_ll(rbm, data)
    fit(
        rbm,
        BernoulliED(epsilon=0.1, n_negatives=16),
        data,
        epochs=15,
        batch_size=100,
        lr=0.03,
        generator=g,
        progress=False,
    )
    ll1 = exact_avg_ll(rbm, data)
    assert ll1 > ll0 + 0.6 * (best - ll0), (ll0, ll1, best)


@pytest.mark.parametrize("name", ["cd1", "pcd", "grid_ed", "pseudo_likelihood"])
def test_every_discrete_objective_trains_an_rbm_through_fit(teacher_data, name):
    from discrete_ebm.objectives.contrastive_divergence import ContrastiveDivergence
    from discrete_ebm.objectives.energy_discrepancy import GridED
    from discrete_ebm.objectives.pseudo_likelihood import PseudoLikelihood
    from discrete_ebm.training import fit

    data, best = teacher_data
    g = torch.Generator().manual_seed(8)
    rbm = RBM(8, 4, generator=g, weight_std=0.1).init_from_data(data)
    objective = {
        "cd1": lambda: ContrastiveDivergence(BlockGibbsSampler(rbm), k=1),
        "pcd": lambda: ContrastiveDivergence(BlockGibbsSampler(rbm), k=1, persistent=True),
        "grid_ed": lambda: GridED(n_negatives=8),
        "pseudo_likelihood": lambda: PseudoLikelihood(),
    }[name]()
    ll0 = exact_avg_ll(rbm, data)
    epochs = 30 if name == "pcd" else 15  # PCD with Adam needs longer to leave the plateau
    fit(rbm, objective, data, epochs=epochs, batch_size=100, lr=0.03, generator=g, progress=False)
    ll1 = exact_avg_ll(rbm, data)
    assert ll1 > ll0 + 0.6 * (best - ll0), (ll0, ll1, best)


# ---------------------------------------------------------------------- misc
def test_init_from_data_and_validation():
    data = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    rbm = RBM(3, 2).init_from_data(data, eps=1e-3)
    p = torch.tensor([0.75, 0.25, 0.25])
    torch.testing.assert_close(rbm.b.detach(), torch.log(p / (1 - p)))
    with pytest.raises(ValueError, match="width 3"):
        rbm.energy(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="binary"):
        rbm.energy(torch.full((2, 3), 0.5))
    with pytest.raises(TypeError, match="floating"):
        rbm.energy(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="n_hidden"):
        RBM(3, 0)
    with pytest.raises(ValueError, match="h must"):
        rbm.joint_energy(torch.zeros(2, 3), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="b must"):
        RBM.from_parameters(torch.zeros(3, 2), b=torch.zeros(4))
