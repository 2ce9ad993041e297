"""Parallel tempering against exact enumeration: mode mixing on a 4 × 4 ferromagnet, the
swap rule, round trips, stationarity of the replica product, RBM / DBM / user energies,
clamping, persistence, ladder adaptation, and PT-PCD against plain PCD."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from discrete_ebm import (
    DBM,
    RBM,
    BlockGibbsSampler,
    ContrastiveDivergence,
    EnergyModel,
    GibbsSampler,
    GWGSampler,
    IsingModel,
    ParallelTempering,
    Sampler,
    fit,
)
from discrete_ebm.evaluation import exact
from discrete_ebm.evaluation.metrics import total_variation, tv_tolerance
from discrete_ebm.objectives import make
from discrete_ebm.samplers.parallel_tempering import (
    ReplicaState,
    check_ladder,
    count_round_trips,
    equalise_ladder,
    geometric_ladder,
    swap_log_acceptance,
)


def binomial_bound(p: float, n: int, z: float = 5.0) -> float:
    """``z`` binomial standard deviations of a proportion over ``n`` independent draws."""
    return z * math.sqrt(p * (1 - p) / n)


def tiny_ising() -> IsingModel:
    """3 sites, couplings and fields of mixed sign (no symmetry hides a sign error)."""
    J = torch.tensor([[0.0, 0.9, -0.6], [0.9, 0.0, 0.7], [-0.6, 0.7, 0.0]])
    return IsingModel(J, torch.tensor([0.3, -0.2, 0.1]))


def strong_rbm(n: int = 5, m: int = 3, seed: int = 3) -> RBM:
    g = torch.Generator().manual_seed(seed)
    return RBM.from_parameters(
        2.0 * torch.randn(n, m, generator=g),
        torch.randn(n, generator=g),
        torch.randn(m, generator=g),
    )


def tempered_energies(model: EnergyModel, beta: float) -> torch.Tensor:
    """``E_β`` of every state (the law ``∝ exp(−E_β)`` of a replica at ``beta``), computed
    here independently of the sampler: ``β U`` for Ising models; for an RBM swept by block
    Gibbs, ``−log Σ_h exp(−β E(v, h))`` with the hidden states enumerated."""
    v = exact.all_states(model.dim).double()
    if not isinstance(model, RBM):
        return beta * exact.energies(model)
    m = model.n_hidden
    rbm = copy.deepcopy(model).double()  # .double() alone would convert the model in place
    E = torch.stack([rbm.joint_energy(v, h.expand(v.shape[0], m)) for h in exact.all_states(m)], 1)
    return -torch.logsumexp(-beta * E.detach(), 1)


def tempered_probabilities(model: EnergyModel, beta: float) -> torch.Tensor:
    return torch.softmax(-tempered_energies(model, beta), 0)


def replica_states(sampler: ParallelTempering) -> torch.Tensor:
    """All replicas as one row per chain ``(n, K·d)`` (replica 0, the hottest, first)."""
    K = sampler.n_temperatures
    n = sampler.state.labels.shape[1]
    return sampler.state.x.view(K, n, -1).permute(1, 0, 2).reshape(n, -1)


def product_distribution(ps: list[torch.Tensor]) -> torch.Tensor:
    """``p_0 ⊗ p_1 ⊗ ...`` over concatenated states (lexicographic, replica 0 most significant)."""
    out = ps[0]
    for p in ps[1:]:
        out = (out.unsqueeze(1) * p.unsqueeze(0)).reshape(-1)
    return out


def set_replicas(sampler: ParallelTempering, probs: list[torch.Tensor], n: int, d: int, g):
    """Put the sampler's replicas at exact independent draws from ``probs[k]``."""
    states = exact.all_states(d)
    draws = [states[torch.multinomial(p, n, replacement=True, generator=g)] for p in probs]
    sampler.sample(None, 0, draws[-1])  # builds the state (no step)
    sampler.state.x = torch.cat(draws).float()
    return draws[-1].float()


# ------------------------------------------------------------------ the must-show
def test_ferromagnet_pt_mixes_both_modes_where_block_gibbs_stays_in_one():
    """4 × 4 periodic lattice, J = 1 per bond (β_c = ½ ln(1 + √2) ≈ 0.44, so β = 1 is deep in
    the ordered phase; a mode change by single flips crosses a barrier of 16), every chain
    started all-down. PT: exact law (full-state TV and magnetisation TV within the bound for
    N independent chains), up/down split within 5 binomial σ of exact. Block Gibbs from the
    same start: not one chain leaves the down mode."""
    model = IsingModel.lattice(4, 1.0, periodic=True)
    assert math.log(1 + math.sqrt(2)) / 2 == pytest.approx(0.4407, abs=1e-4)
    N = 2000
    x0 = torch.zeros(N, 16)
    pt = ParallelTempering(model, 6, beta_min=0.2)
    x, diag = pt.sample(
        None, 150, x0, generator=torch.Generator().manual_seed(0), return_diagnostics=True
    )
    p = exact.probabilities(model)
    assert total_variation(x, p) < tv_tolerance(p, N)

    mag_states = exact.all_states(16).sum(1).long()  # number of up spins, 0..16
    p_mag = torch.zeros(17, dtype=torch.float64).index_add_(0, mag_states, p)
    emp_mag = torch.bincount(x.sum(1).long(), minlength=17).double() / N
    assert 0.5 * (emp_mag - p_mag).abs().sum().item() < tv_tolerance(p_mag, N)
    p_up = p_mag[9:].sum().item()  # magnetisation > 0
    assert p_up == pytest.approx(0.5 * (1 - p_mag[8].item()))
    assert abs((x.sum(1) > 8).double().mean().item() - p_up) < binomial_bound(p_up, N)
    assert (diag["round_trips"] > 0).double().mean() > 0.9
    assert (diag["swap_acceptance"] > 0.2).all()

    xb = BlockGibbsSampler(model).sample(None, 150, x0, generator=torch.Generator().manual_seed(0))
    assert (xb.sum(1) > 8).sum().item() == 0
    assert total_variation(xb, p) > 0.45


def _bimodal_data(d=12, flip=0.02, weight=0.7, seed=0):
    """Two product modes (a random prototype and its complement, each bit flipped with
    probability ``flip``) with weights ``weight``/``1 − weight``: exact log-density."""
    g = torch.Generator().manual_seed(seed)
    proto = torch.randint(0, 2, (d,), generator=g).double()
    pa = proto * (1 - flip) + (1 - proto) * flip

    def log_p(x):
        la = (x * pa.log() + (1 - x) * (1 - pa).log()).sum(1) + math.log(weight)
        lb = (x * (1 - pa).log() + (1 - x) * pa.log()).sum(1) + math.log(1 - weight)
        return torch.logaddexp(la, lb)

    states = exact.all_states(d).double()
    p = log_p(states).exp()
    train = states[torch.multinomial(p, 2000, replacement=True, generator=g)].float()
    test = states[torch.multinomial(p, 2000, replacement=True, generator=g)].float()
    return train, test, log_p(test.double()).mean().item()


def _train_rbm(sampler_of, k, train, test, steps=1000):
    """SGD (lr 0.4, linear decay) on persistent CD with 100 chains; the exact test
    log-likelihood every 50 updates of the second half, and at the end."""
    model = RBM(12, 4, weight_std=0.01, generator=torch.Generator().manual_seed(1))
    cd = ContrastiveDivergence(sampler_of(model), k=k, persistent=True, n_chains=100)
    opt = torch.optim.SGD(model.parameters(), lr=0.4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1 - t / steps)
    g = torch.Generator().manual_seed(0)
    lls = []
    for t in range(steps):
        batch = train[torch.randint(0, train.shape[0], (100,), generator=g)]
        opt.zero_grad()
        cd.loss(model, batch, g).backward()
        opt.step()
        sched.step()
        if t >= steps // 2 and (t + 1) % 50 == 0:
            with torch.no_grad():
                lls.append((-model(test).double() - exact.log_partition(model)).mean().item())
    return sum(lls) / len(lls), lls[-1]


def test_pt_pcd_learns_a_bimodal_model_that_pcd_does_not():
    """Data: two strong modes (weights 0.7/0.3) over 12 bits; an RBM with 4 hidden units can
    represent it (one hidden unit is a two-component mixture). PT-PCD: K = 5 replicas, one
    PT step per update (5 sweeps of 100 chains, plus the swap energies). PCD: 10 sweeps of
    100 chains per update (twice the sweeps). Its chains cannot cross between the modes, so
    the hidden bias chases the mode weights; PT-PCD's chains swap through the hot replicas.
    Exact test log-likelihood (enumeration): averaged over the second half of training
    PT-PCD beats PCD by > 0.2 nats, and ends within 0.1 nats of the data-generating model."""
    train, test, reference = _bimodal_data()
    pt_mean, pt_last = _train_rbm(lambda m: ParallelTempering(m, 5, beta_min=0.1), 1, train, test)
    pcd_mean, pcd_last = _train_rbm(BlockGibbsSampler, 10, train, test)
    assert pt_mean > pcd_mean + 0.2
    assert pt_last > reference - 0.1
    assert pt_last > pcd_last


# --------------------------------------------------------------- the swap rule
def test_swap_log_acceptance_formula_and_sign():
    """Linear tempering: log α = (β_hi − β_lo)(U(x_hi) − U(x_lo)); a hot replica holding a
    lower energy than its cold neighbour always swaps (log α > 0), the reverse is damped."""
    b_lo, b_hi, u_lo, u_hi = 0.25, 1.0, -3.0, 2.0
    la = swap_log_acceptance(
        torch.tensor(b_lo * u_lo), torch.tensor(b_hi * u_hi), torch.tensor(b_lo * u_hi),
        torch.tensor(b_hi * u_lo),
    )  # fmt: skip
    assert la.item() == pytest.approx((b_hi - b_lo) * (u_hi - u_lo)) and la.item() > 0
    la_rev = swap_log_acceptance(
        torch.tensor(b_lo * u_hi), torch.tensor(b_hi * u_lo), torch.tensor(b_lo * u_lo),
        torch.tensor(b_hi * u_hi),
    )  # fmt: skip
    assert la_rev.item() == pytest.approx(-0.75 * 5.0)


def test_two_replica_swap_acceptance_matches_exact_value():
    """Replicas at β = (0.25, 1) started at exact independent draws (stationary); after one
    step the exchange was proposed once per chain, accepted with probability
    Σ_{x,y} π_0(x) π_1(y) min(1, exp(0.75 (U(y) − U(x)))) by stationarity: within 5 σ."""
    model = tiny_ising()
    pt = ParallelTempering(model, [0.25, 1.0])
    u = exact.energies(model)
    p0, p1 = exact.probabilities(model, beta=0.25), exact.probabilities(model, beta=1.0)
    alpha = torch.clamp(torch.exp(0.75 * (u.view(1, -1) - u.view(-1, 1))), max=1.0)
    expected = (p0.view(-1, 1) * p1.view(1, -1) * alpha).sum().item()
    N = 20_000
    g = torch.Generator().manual_seed(4)
    cold = set_replicas(pt, [p0, p1], N, 3, g)
    _, diag = pt.sample(None, 1, cold, generator=g, return_diagnostics=True)
    assert diag["swap_acceptance"].shape == (1,)
    assert abs(diag["swap_acceptance"].item() - expected) < binomial_bound(expected, N)


@pytest.mark.parametrize("kind", ["ising", "rbm"])
def test_exchange_accepts_each_pair_of_states_with_the_metropolis_probability(kind):
    """Two replicas at β = (0.25, 1); chain c holds the pair (x, y) = (state c mod 8 at the hot
    replica, state (c // 8) mod 8 at the cold one), 500 chains per pair. One exchange: the
    fraction swapped for each of the 64 pairs is within 5 binomial σ of
    min(1, exp(E_lo(x) + E_hi(y) − E_lo(y) − E_hi(x))), computed by enumeration. For the RBM
    swept by block Gibbs, ``E_β`` is the tempered joint's marginal, not ``β F`` (a rule
    using ``β F`` misses some pairs by 0.36 on this model)."""
    if kind == "ising":
        model = tiny_ising()
    else:
        g = torch.Generator().manual_seed(1)
        model = RBM.from_parameters(
            2.0 * torch.randn(3, 6, generator=g), torch.randn(3, generator=g),
            torch.randn(6, generator=g),
        )  # fmt: skip
    pt = ParallelTempering(model, [0.25, 1.0], kernel="block-gibbs")
    e_lo, e_hi = tempered_energies(model, 0.25), tempered_energies(model, 1.0)
    log_alpha = e_lo.view(-1, 1) + e_hi.view(1, -1) - e_lo.view(1, -1) - e_hi.view(-1, 1)
    alpha = log_alpha.exp().clamp(max=1.0)  # alpha[x, y]
    per_pair, states = 500, exact.all_states(3)
    c = torch.arange(64 * per_pair)
    x_idx, y_idx = c % 8, (c // 8) % 8
    pt.sample(None, 0, states[y_idx].float())
    pt.state.x = torch.cat([states[x_idx], states[y_idx]]).float()
    g = torch.Generator().manual_seed(3)
    pt._exchange(pt.state, pt.betas.float(), g)
    swapped = (pt.state.labels[1] == 0).double()
    assert torch.equal(pt.state.x[64 * per_pair :][swapped.bool()], states[x_idx][swapped.bool()])
    rate = torch.zeros(64, dtype=torch.float64).index_add_(0, x_idx * 8 + y_idx, swapped) / per_pair
    want = alpha.reshape(-1)
    assert ((rate - want).abs() <= 5 * (want * (1 - want) / per_pair).sqrt() + 1e-12).all()
    assert want.min() < 0.05 and want.max() == 1.0  # damped and sure swaps both covered


# ------------------------------------------------------------------ round trips
def test_round_trip_counter_on_hand_made_trajectories():
    """K = 3 (0 hottest, 2 is β = 1): a trip is β = 1 → hottest → β = 1."""
    walkers = {
        (2, 1, 0, 1, 2, 1, 0, 0, 2): 2,  # two full trips
        (0, 1, 2, 1, 0, 1, 2, 2, 2): 1,  # starts hot: the first arrival at β = 1 is no trip
        (2, 1, 2, 1, 2, 1, 2, 1, 2): 0,  # never reaches the hottest
        (1, 0, 1, 0, 1, 2, 1, 0, 1): 0,  # reaches hottest, β = 1, hottest: unfinished
        (2, 0, 2, 0, 2, 0, 2, 0, 2): 4,
    }
    positions = torch.tensor(list(walkers)).T  # (T, W)
    assert count_round_trips(positions, 3).tolist() == list(walkers.values())


def test_sampler_round_trips_agree_with_its_label_trajectory():
    """Counting the trips of the walkers' positions (from the labels recorded every step)
    gives the sampler's per-chain round-trip counts."""
    model = tiny_ising()
    pt = ParallelTempering(model, [0.2, 0.5, 1.0])
    g = torch.Generator().manual_seed(2)
    x = torch.zeros(50, 3)
    trajectory, total = [], torch.zeros(50, dtype=torch.long)
    for _ in range(60):
        x, diag = pt.sample(None, 1, x, generator=g, return_diagnostics=True)
        labels = diag["replica_labels"]  # (K, n): walker at each temperature
        trajectory.append(torch.argsort(labels, 0))  # (K, n): temperature of each walker
        total += diag["round_trips"]
    positions = torch.stack([torch.arange(3).view(3, 1).expand(3, 50)] + trajectory)
    by_walker = count_round_trips(positions.reshape(61, -1), 3).view(3, 50)
    assert total.sum() > 50
    assert torch.equal(by_walker.sum(0), total)


# ------------------------------------------------------------------ stationarity
@pytest.mark.parametrize("kind", ["ising-block", "ising-gibbs", "rbm-block"])
def test_replica_product_distribution_is_stationary(kind):
    """Detailed balance of the whole step: replicas started at exact independent draws from
    the tempered laws π_k stay distributed as π_0 ⊗ π_1 ⊗ π_2 after one step (even pairs)
    and after two (even, then odd): TV of the joint (K·d bits) within the sample-size bound.
    The RBM case checks its non-linear tempering (the joint energy with hidden units)."""
    model = strong_rbm(3, 2) if kind == "rbm-block" else tiny_ising()
    pt = ParallelTempering(
        model, [0.2, 0.55, 1.0], kernel=kind.split("-")[1].replace("block", "block-gibbs")
    )
    probs = [tempered_probabilities(model, b) for b in pt.betas.tolist()]
    joint = product_distribution(probs)
    N = 30_000
    for n_steps, seed in ((1, 0), (2, 1)):
        g = torch.Generator().manual_seed(seed)
        cold = set_replicas(pt, probs, N, 3, g)
        pt.sample(None, n_steps, cold, generator=g)
        assert total_variation(replica_states(pt), joint) < tv_tolerance(joint, N)


def test_rbm_tempered_energy_is_the_tempered_joint_marginal():
    """``RBM.tempered_energy(v, β) = −log Σ_h exp(−β E(v, h))`` (hidden units enumerated),
    a float β or a per-row tensor ``(B, r)``; at β = 1 it is the free energy."""
    rbm = strong_rbm(4, 3).double()
    v = exact.all_states(4).double()
    h = exact.all_states(3).double()
    betas = torch.tensor([0.3, 1.0], dtype=torch.float64)
    E = torch.stack([rbm.joint_energy(v, hj.expand(16, 3)) for hj in h], 1)  # (16, 8)
    want = -torch.logsumexp(-betas.view(1, 2, 1) * E.unsqueeze(1), 2)  # (16, 2)
    got = rbm.tempered_energy(v, betas.expand(16, 2))
    assert torch.allclose(got, want, atol=1e-10)
    assert torch.allclose(rbm.tempered_energy(v, 0.3), want[:, 0], atol=1e-10)
    assert torch.allclose(rbm.tempered_energy(v, 1.0), rbm(v), atol=1e-10)


# --------------------------------------------------------------- model coverage
def _rbm():
    return strong_rbm(7, 3, seed=5)


def _dbm_joint():
    dbm = DBM([3, 2, 2], weight_std=1.5, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        for b in dbm.biases:
            b.normal_(0, 0.5, generator=torch.Generator().manual_seed(3))
    return dbm.joint


class CubicEnergy(EnergyModel):
    """A user's non-pairwise binary energy defined only by ``energy``."""

    def __init__(self, d: int = 6):
        super().__init__(d)
        g = torch.Generator().manual_seed(5)
        self.a = torch.nn.Parameter(torch.randn(d, generator=g))
        self.b = torch.nn.Parameter(1.5 * torch.randn(d, generator=g))

    def energy(self, x):
        return -(x @ self.a) - (x * x.roll(1, 1) * x.roll(2, 1)) @ self.b


@pytest.mark.parametrize(
    "make_model, kernel, kernel_type",
    [
        (_rbm, "auto", BlockGibbsSampler),
        (_rbm, "gibbs", GibbsSampler),
        (_dbm_joint, "auto", BlockGibbsSampler),
        (CubicEnergy, "auto", GibbsSampler),
    ],
    ids=["rbm-block", "rbm-gibbs", "dbm-joint-block", "user-energy-gibbs"],
)
def test_pt_matches_exact_distribution_on_rbm_dbm_and_user_energy(make_model, kernel, kernel_type):
    model = make_model()
    pt = ParallelTempering(model, [0.2, 0.45, 1.0], kernel=kernel)
    assert type(pt.kernel) is kernel_type
    N = 20_000
    x = pt.sample(N, 40, generator=torch.Generator().manual_seed(6))
    p = exact.probabilities(model)
    assert total_variation(x, p) < tv_tolerance(p, N)


def test_any_sampler_declaring_row_beta_can_be_the_kernel():
    """A user's kernel with ``row_beta = True`` (here single-site Gibbs in random order, its
    step taking the per-row β tensor) is used as is; one that does not declare it (GWG,
    whose step takes one float β) is refused with a TypeError."""

    class RandomSiteGibbs(Sampler):
        row_beta = True

        def __init__(self, model):
            super().__init__(model)
            self.inner = GibbsSampler(model, scan="random")

        def step(self, x, beta, clamp, x0, generator):
            return self.inner.step(x, beta, clamp, x0, generator)

    model = CubicEnergy()
    pt = ParallelTempering(model, [0.3, 1.0], kernel=RandomSiteGibbs(model))
    N = 20_000
    x = pt.sample(N, 20, generator=torch.Generator().manual_seed(8))
    p = exact.probabilities(model)
    assert total_variation(x, p) < tv_tolerance(p, N)
    with pytest.raises(TypeError, match="row_beta"):
        ParallelTempering(model, [0.3, 1.0], kernel=GWGSampler(model))


def test_clamped_coordinates_are_held_in_every_replica():
    """Sites 0 and 3 clamped at (1, 0): every replica keeps them and the free sites follow
    the exact conditional law."""
    g = torch.Generator().manual_seed(7)
    model = IsingModel.erdos_renyi(5, 0.8, coupling_std=1.0, field_std=0.5, generator=g)
    N = 20_000
    x0 = torch.zeros(N, 5)
    x0[:, 0] = 1.0
    clamp = torch.tensor([True, False, False, True, False])
    pt = ParallelTempering(model, [0.3, 1.0])
    x = pt.sample(None, 30, x0, clamp=clamp, generator=g)
    assert (pt.state.x[:, clamp] == x0[:1, clamp]).all()
    p = exact.probabilities(model)
    states = exact.all_states(5)
    keep = (states[:, 0] == 1) & (states[:, 3] == 0)
    p_cond = torch.where(keep, p, torch.zeros_like(p))
    p_cond = p_cond / p_cond.sum()
    assert total_variation(x, p_cond) < tv_tolerance(p_cond[keep], N)


# ---------------------------------------------------------- persistence, state
def test_hot_replicas_persist_between_calls_with_the_same_chain_count():
    model = tiny_ising()
    pt = ParallelTempering(model, [0.1, 0.4, 1.0])
    g = torch.Generator().manual_seed(0)
    x = pt.sample(None, 20, torch.zeros(64, 3), generator=g)
    hot = pt.state.x[:128].clone()
    assert not (hot == 0).all()  # they moved away from the all-zero start
    y = pt.sample(None, 0, 1 - x, generator=g)  # a PCD caller may hand back other states
    assert torch.equal(pt.state.x[:128], hot) and torch.equal(y, 1 - x)
    pt.sample(None, 0, torch.zeros(32, 3), generator=g)  # another count: fresh copies
    assert pt.state.x.shape == (96, 3) and (pt.state.x == 0).all()
    pt.reset()
    assert pt.state is None
    fresh = ParallelTempering(model, [0.1, 0.4, 1.0], persistent=False)
    fresh.sample(None, 20, torch.zeros(64, 3), generator=g)
    fresh.sample(None, 0, torch.zeros(64, 3), generator=g)
    assert (fresh.state.x == 0).all()


def test_same_seed_same_draws_and_state_dict_resumes_exactly():
    model = tiny_ising()
    g = torch.Generator
    a = ParallelTempering(model, [0.3, 0.6, 1.0])
    b = ParallelTempering(model, [0.3, 0.6, 1.0])
    xa = a.sample(40, 10, generator=g().manual_seed(1))
    xb = b.sample(40, 10, generator=g().manual_seed(1))
    assert torch.equal(xa, xb)
    saved = a.state_dict()
    c = ParallelTempering(model, [0.3, 0.6, 1.0])
    c.load_state_dict(saved)
    ya = a.sample(None, 7, xa, generator=g().manual_seed(2))
    yc = c.sample(None, 7, xa, generator=g().manual_seed(2))
    assert torch.equal(ya, yc) and torch.equal(a.state.labels, c.state.labels)
    assert isinstance(c.state, ReplicaState)


def test_pt_pcd_passes_cold_chains_and_hot_replicas_continue():
    """As the sampler of persistent CD: the returned negatives are the β = 1 replicas and
    the hot replicas carry over from one update to the next (same chain count)."""
    model = tiny_ising()
    cd = make("pcd", model=model, sampler="pt", n_temperatures=3, beta_min=0.2, n_chains=16)
    pt = cd.sampler
    assert isinstance(pt, ParallelTempering) and pt.betas.tolist()[0] == pytest.approx(0.2)
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, 2, (16, 3), generator=g).float()
    cd.loss(model, data, g)  # one PT step (k = 1): the even pair (0, 1) proposed
    assert torch.equal(cd.chains, pt.state.x[32:])
    assert pt.state.attempted.tolist() == [16, 0]
    cd.loss(model, data, g)  # continued, not restarted: the odd pair (1, 2) this time
    assert pt.state.attempted.tolist() == [16, 16]
    assert torch.equal(cd.chains, pt.state.x[32:])


def test_step_is_one_pt_step_and_beta_scales_the_ladder():
    """``step`` (as callers of the generic contract use it) continues the replicas like
    ``sample``; ``beta = 0.5`` runs the ladder at half the inverse temperatures, so the
    samples follow the exact law at β = 0.5; ``thin`` spaces the energy trace."""
    model = tiny_ising()
    a = ParallelTempering(model, [0.3, 0.6, 1.0])
    b = ParallelTempering(model, [0.3, 0.6, 1.0])
    x0 = torch.zeros(30, 3)
    ga, gb = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    xa = a.sample(None, 4, x0, generator=ga)
    xb = x0.clone()
    for _ in range(4):
        xb, stats = b.step(xb, 1.0, None, None, gb)
    assert torch.equal(xa, xb) and torch.equal(a.state.labels, b.state.labels)
    assert 0 < stats["flip_rate"] < 1
    N = 20_000
    pt = ParallelTempering(model, [0.3, 0.6, 1.0])
    x, diag = pt.sample(
        N, 30, beta=0.5, thin=7, generator=torch.Generator().manual_seed(6), return_diagnostics=True
    )
    p_half = exact.probabilities(model, beta=0.5)
    assert total_variation(x, p_half) < tv_tolerance(p_half, N)
    assert total_variation(x, exact.probabilities(model)) > 2 * tv_tolerance(p_half, N)
    assert diag["energy_trace"].shape == (4, N)
    assert torch.allclose(diag["energy"], model(x))


def test_pt_pcd_through_fit_keeps_its_replicas_across_updates():
    """``fit`` with ``make("pcd", sampler="pt")``: six updates of one PT step each on K = 4
    replicas propose the even pairs (0,1), (2,3) and the odd pair (1,2) alternately, so each
    pair is proposed 3 × n times (a sampler restarted at every update would give 6n, 0, 6n)."""
    model = IsingModel(torch.zeros(5, 5), torch.zeros(5))
    cd = make("pcd", model=model, sampler="pt", n_temperatures=4, beta_min=0.3, n_chains=20)
    data = torch.randint(0, 2, (40, 5), generator=torch.Generator().manual_seed(0)).float()
    fit(
        model,
        cd,
        data,
        steps=6,
        batch_size=20,
        progress=False,
        generator=torch.Generator().manual_seed(1),
    )
    assert cd.sampler.state.attempted.tolist() == [60, 60, 60]
    assert torch.equal(cd.chains, cd.sampler.state.x[60:])
    assert model.weights.abs().sum() > 0


def test_pt_pcd_interrupted_and_resumed_equals_the_uninterrupted_run(tmp_path):
    """The checkpoint holds the hot replicas (through ``ContrastiveDivergence.state_dict``):
    5 steps, then a resumed run to 9, ends at the parameters and replicas of 9 steps in one go;
    a resume that restarted the hot replicas as copies of the cold chains would not."""
    data = torch.randint(0, 2, (40, 5), generator=torch.Generator().manual_seed(0)).float()

    def run(steps, ckpt):
        model = IsingModel(torch.zeros(5, 5), torch.zeros(5))
        cd = make("pcd", model=model, sampler="pt", n_temperatures=4, beta_min=0.3, n_chains=20)
        fit(
            model,
            cd,
            data,
            steps=steps,
            batch_size=20,
            progress=False,
            checkpoint=ckpt,
            checkpoint_every=2,
            generator=torch.Generator().manual_seed(1),
        )
        return model, cd

    straight, cd_straight = run(9, None)
    run(5, tmp_path / "pt.pt")
    resumed, cd_resumed = run(9, tmp_path / "pt.pt")
    assert torch.equal(resumed.weights, straight.weights)
    assert torch.equal(cd_resumed.sampler.state.x, cd_straight.sampler.state.x)
    assert torch.equal(cd_resumed.sampler.state.labels, cd_straight.sampler.state.labels)


# --------------------------------------------------------------- the ladder
def test_ladder_validation_names_betas():
    with pytest.raises(ValueError, match="ascending"):
        check_ladder([0.5, 0.3, 1.0])
    with pytest.raises(ValueError, match="exactly 1.0"):
        check_ladder([0.2, 0.5])
    with pytest.raises(ValueError, match="finite"):
        check_ladder([-0.1, 1.0])
    with pytest.raises(ValueError, match="finite"):
        check_ladder([float("nan"), 1.0])
    with pytest.raises(ValueError, match="1-D"):
        check_ladder([[0.5, 1.0]])
    with pytest.raises(ValueError, match="1-D"):
        check_ladder([])
    with pytest.raises(ValueError, match="beta_min"):
        geometric_ladder(4, 1.5)
    with pytest.raises(ValueError, match="n_temperatures"):
        geometric_ladder(0, 0.1)
    assert geometric_ladder(3, 0.25) == pytest.approx([0.25, 0.5, 1.0])
    assert check_ladder([0.0, 1.0]).tolist() == [0.0, 1.0]  # β = 0 (uniform) is allowed
    with pytest.raises(ValueError, match="kernel"):
        ParallelTempering(tiny_ising(), 3, kernel="langevin")


def test_model_with_own_sweep_but_no_tempered_energy_is_refused():
    class Plain(EnergyModel):
        def __init__(self):
            super().__init__(2, binary=True)
            self.w = torch.nn.Parameter(torch.ones(()))

        def energy(self, x):
            return -self.w * x.sum(1)

        def block_gibbs_sweep(self, x, *, beta=1.0, clamp=None, x0=None, generator=None):
            return x, {}

    with pytest.raises(TypeError, match="tempered_energy"):
        ParallelTempering(Plain(), 3)
    assert type(ParallelTempering(Plain(), 3, kernel="gibbs").kernel) is GibbsSampler


def test_equalise_ladder_moves_towards_equal_acceptance():
    """Rejection 0.9 on the first gap, 0.1 on the others: the first gap shrinks, the ends
    stay; equal acceptance is a fixed point."""
    b = torch.tensor([0.1, 0.3, 0.6, 1.0], dtype=torch.float64)
    new = equalise_ladder(b, [0.1, 0.9, 0.9], damping=1.0)
    assert new[0] == 0.1 and new[-1] == 1.0 and (new[1:] > new[:-1]).all()
    assert new[1] < b[1]
    same = equalise_ladder(b, [0.5, 0.5, 0.5], damping=1.0)
    assert torch.allclose(same, b)


def test_adapt_ladder_evens_out_swap_rates_on_the_ferromagnet():
    """A linear ladder 0.1..1 on the 4 × 4 ferromagnet has its worst gap near β_c; after
    adaptation the spread of the acceptance rates (measured by a fresh run of 2,000 chain
    steps per pair) is under a fifth of the linear ladder's (0.06 against 0.75 measured)."""
    model = IsingModel.lattice(4, 1.0, periodic=True)

    def spread(pt):
        pt.reset()
        _, diag = pt.sample(
            200,
            40,
            torch.zeros(200, 16),
            generator=torch.Generator().manual_seed(9),
            return_diagnostics=True,
        )
        return (diag["swap_acceptance"].max() - diag["swap_acceptance"].min()).item()

    linear = ParallelTempering(model, torch.linspace(0.1, 1.0, 6).tolist())
    before = spread(linear)
    adapted = ParallelTempering(model, torch.linspace(0.1, 1.0, 6).tolist())
    adapted.adapt_ladder(200, 30, n_rounds=6, generator=torch.Generator().manual_seed(8))
    after = spread(adapted)
    assert adapted.betas[0] == pytest.approx(0.1) and adapted.betas[-1] == 1.0
    assert after < 0.2 * before
    auto = ParallelTempering(
        model, torch.linspace(0.1, 1.0, 6).tolist(), adapt=True, adapt_steps=30, adapt_rounds=6
    )
    auto.sample(200, 1, generator=torch.Generator().manual_seed(8))
    assert not torch.allclose(auto.betas, linear.betas)


# ------------------------------------------------------------------ registry
def test_registry_builds_pt_for_cd_and_pcd():
    model = tiny_ising()
    cd = make("cd", model=model, sampler="parallel-tempering", betas=[0.5, 1.0], kernel="gibbs")
    assert cd.sampler.betas.tolist() == [0.5, 1.0] and type(cd.sampler.kernel) is GibbsSampler
    pcd = make("pcd", model=model, sampler="pt")
    assert pcd.persistent and pcd.sampler.n_temperatures == 10
    with pytest.raises(ValueError, match="sampler='pt'"):
        make("pcd", model=model, sampler="gibbs", n_temperatures=4)
    with pytest.raises(ValueError, match="not both"):
        make("pcd", model=model, sampler="pt", betas=[0.5, 1.0], n_temperatures=4)
    with pytest.raises(ValueError, match="exactly 1.0"):
        make("pcd", model=model, sampler="pt", betas=[0.5, 0.9])
