"""DBM: energies vs brute force, even/odd block Gibbs vs exact, mean field, PCD and ED training."""

from __future__ import annotations

import math

import pytest
import torch

from discrete_ebm.evaluation import ais, exact
from discrete_ebm.models.dbm import DBM
from discrete_ebm.objectives.dbm import DBMEnergyDiscrepancy, DBMPersistentCD
from discrete_ebm.recipes.dbm import greedy_pretrain
from discrete_ebm.samplers.block_gibbs import BlockGibbsSampler


def random_dbm(sizes, scale=1.0, seed=0, dtype=torch.float64) -> DBM:
    g = torch.Generator().manual_seed(seed)
    dbm = DBM(sizes, weight_std=scale, generator=g, dtype=dtype)
    with torch.no_grad():
        for b in dbm.biases:
            b.normal_(generator=g)
    return dbm


def tv_tolerance(p: torch.Tensor, n: int, delta: float = 1e-3) -> float:
    """E TV <= ½ Σ sqrt(p(1−p)/n); McDiarmid adds sqrt(log(1/δ)/(2n)) at level δ."""
    return 0.5 * float(torch.sqrt(p * (1 - p) / n).sum()) + math.sqrt(math.log(1 / delta) / (2 * n))


def empirical(x: torch.Tensor) -> torch.Tensor:
    return torch.bincount(exact.state_index(x), minlength=2 ** x.shape[1]).double() / x.shape[0]


def brute_force(dbm: DBM):
    """Joint energies of all states, and the visible index of each state."""
    X = exact.all_states(sum(dbm.layer_sizes), dtype=dbm.dtype)
    with torch.no_grad():
        E = dbm.joint.energy(X)
    return X, E, exact.state_index(X[:, : dbm.layer_sizes[0]])


@pytest.mark.parametrize("sizes", [(4, 3, 5), (3, 4, 2, 3), (5, 2, 3, 2), (3, 2, 5, 2)])
def test_energies_and_log_partition_match_brute_force(sizes):
    dbm = random_dbm(sizes, seed=sum(sizes))
    X, E, vidx = brute_force(dbm)
    layers = dbm.split(X)
    # the joint energy written out
    e = -sum(x @ b for x, b in zip(layers, dbm.biases))
    for l, W in enumerate(dbm.weights):
        e = e - ((layers[l] @ W) * layers[l + 1]).sum(1)
    torch.testing.assert_close(E, e.detach())
    # exact log Z and free energy (both parity plans are exercised by these sizes)
    torch.testing.assert_close(dbm.exact_log_partition(), torch.logsumexp(-E, 0))
    F = torch.stack([-torch.logsumexp(-E[vidx == i], 0) for i in range(2 ** sizes[0])])
    with torch.no_grad():
        torch.testing.assert_close(dbm.energy(exact.all_states(sizes[0])), F)
    torch.testing.assert_close(exact.log_partition(dbm, beta=0.5), torch.logsumexp(-0.5 * F, 0))


def test_even_free_energy_sums_out_the_odd_layers():
    dbm = random_dbm((3, 4, 2), seed=1)
    X, E, _ = brute_force(dbm)
    key = exact.state_index(torch.cat([X[:, :3], X[:, 7:]], 1))  # (v, h²)
    want = torch.stack([-torch.logsumexp(-E[key == i], 0) for i in range(32)])
    z = exact.all_states(5)
    with torch.no_grad():
        torch.testing.assert_close(dbm.even_free_energy(z[:, :3], z[:, 3:]), want)


def test_block_gibbs_matches_the_exact_joint_and_visible_distribution():
    dbm = random_dbm((3, 2, 3), scale=1.0, seed=2).float()
    X, E, vidx = brute_force(dbm)
    p_joint = torch.softmax(-E.double(), 0)
    g = torch.Generator().manual_seed(0)
    n = 4000
    x = BlockGibbsSampler(dbm.joint).sample(n, 40, generator=g)
    tv = 0.5 * float((empirical(x) - p_joint).abs().sum())
    assert tv < tv_tolerance(p_joint, n), tv
    v = dbm.sample(n, 40, generator=g)
    p_v = exact.probabilities(dbm)
    assert 0.5 * float((empirical(v) - p_v).abs().sum()) < tv_tolerance(p_v, n)


def test_posterior_sampling_with_clamped_visible_units():
    dbm = random_dbm((3, 2, 3), scale=1.0, seed=3).float()
    X, E, vidx = brute_force(dbm)
    n = 4000
    v = torch.tensor([[1.0, 0.0, 1.0]]).expand(n, 3)
    layers = dbm.sample_posterior(v, 30, generator=torch.Generator().manual_seed(1))
    assert torch.equal(layers[0], v)
    h = torch.cat(layers[1:], 1)
    sel = vidx == 5  # v = 101
    p_h = torch.softmax(-E[sel].double(), 0)  # states with v = 101 in lexicographic h order
    assert 0.5 * float((empirical(h) - p_h).abs().sum()) < tv_tolerance(p_h, n)


def test_mean_field_bound_is_below_log_p_and_improves():
    dbm = random_dbm((5, 4, 3), scale=1.0, seed=4)
    V = exact.all_states(5)
    log_z = dbm.exact_log_partition()
    with torch.no_grad():
        log_p = -dbm.energy(V) - log_z
        b0 = dbm.variational_lower_bound(V, log_z, n_iter=0)
        b1 = dbm.variational_lower_bound(V, log_z, n_iter=1)
        b30 = dbm.variational_lower_bound(V, log_z, n_iter=30)
    assert torch.all(b30 <= log_p + 1e-10)
    assert torch.all(b1 >= b0 - 1e-10) and torch.all(b30 >= b1 - 1e-10)
    # the bound is tight to within the posterior's non-factorised part: here < 0.5 nats
    assert float((log_p - b30).max()) < 0.5
    # mean-field fixed point: μ = σ(input)
    mu = dbm.mean_field(V, 200)
    with torch.no_grad():
        torch.testing.assert_close(mu[0], torch.sigmoid(dbm.layer_input([V, *mu], 1)))


def test_dbm_ais_and_variational_bound_against_exact():
    dbm = random_dbm((6, 4, 5), scale=1.5, seed=5).float()
    truth = float(dbm.exact_log_partition())
    log_z, se = ais.log_partition(
        dbm, n_chains=200, n_betas=2000, generator=torch.Generator().manual_seed(2)
    )
    assert abs(log_z - truth) < 3 * se and abs(log_z - truth) < 0.1, (log_z, se, truth)
    v = dbm.sample(300, 30, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        lb = float(dbm.variational_lower_bound(v, log_z).mean())
        ll = float((-dbm.energy(v)).mean()) - truth
    assert lb <= ll + 3 * se
    assert ll - lb < 1.0


# ---------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def dbm_data():
    # strong weights with biases centring each unit on its inputs: correlated data whose
    # entropy (3.11 nats) is 0.45 nats below that of the independent marginals
    g = torch.Generator().manual_seed(1)
    teacher = DBM((8, 3, 2), dtype=torch.float64)
    with torch.no_grad():
        W0 = 3 * torch.randn(8, 3, generator=g, dtype=torch.float64)
        teacher.weights[0].copy_(W0)
        teacher.biases[0].copy_(-0.5 * W0.sum(1))
        teacher.weights[1].copy_(2 * torch.randn(3, 2, generator=g, dtype=torch.float64))
        teacher.biases[1].copy_(-1 - 0.5 * teacher.weights[1].sum(1))
    p = exact.probabilities(teacher)
    idx = torch.multinomial(p, 2000, replacement=True, generator=torch.Generator().manual_seed(7))
    data = exact.all_states(8)[idx].float()
    emp = empirical(data)
    best = float((emp[emp > 0] * torch.log(emp[emp > 0])).sum())
    return data, best


def exact_ll(dbm: DBM, data: torch.Tensor) -> float:
    with torch.no_grad():
        return float(-dbm.energy(data.to(dbm.dtype)).double().mean() - dbm.exact_log_partition())


@pytest.mark.parametrize("name", ["pcd", "ed"])
def test_pcd_and_ed_increase_the_exact_log_likelihood(dbm_data, name):
    from discrete_ebm.training import fit

    data, best = dbm_data
    g = torch.Generator().manual_seed(8)
    dbm = DBM((8, 4, 3), weight_std=0.1, generator=g)
    with torch.no_grad():  # visible bias at the data marginals, as for an RBM
        p = data.mean(0).clamp(1e-3, 1 - 1e-3)
        dbm.biases[0].copy_(torch.log(p / (1 - p)))
    ll0 = exact_ll(dbm, data)
    objective = DBMPersistentCD(k=1) if name == "pcd" else DBMEnergyDiscrepancy(0.1, 16)
    fit(dbm, objective, data, epochs=20, batch_size=100, lr=0.03, generator=g, progress=False)
    ll1 = exact_ll(dbm, data)
    # compare: both must close at least half of the gap from the independent start to the
    # empirical entropy (numbers for the comparison are in the assertion message)
    assert ll1 > ll0 + 0.5 * (best - ll0), (name, ll0, ll1, best)


def test_greedy_pretraining_improves_on_the_random_start(dbm_data):
    data, _ = dbm_data
    g = torch.Generator().manual_seed(9)
    dbm = DBM((8, 4, 3), weight_std=0.01, generator=g)
    ll0 = exact_ll(dbm, data)
    errors = greedy_pretrain(dbm, data, epochs=10, lr=0.1, generator=g)
    assert len(errors) == 2 and all(0 <= e < 0.25 for e in errors)
    assert exact_ll(dbm, data) > ll0 + 0.3


def test_pcd_state_dict_round_trip_and_errors():
    dbm = random_dbm((4, 3, 2), seed=10).float()
    obj = DBMPersistentCD(n_chains=7)
    x = (torch.rand(5, 4, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    obj(dbm, x, torch.Generator().manual_seed(1))
    assert [c.shape for c in obj.chains] == [(7, 4), (7, 3), (7, 2)]
    other = DBMPersistentCD()
    other.load_state_dict(obj.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(other.chains, obj.chains))
    with pytest.raises(ValueError, match="at least 2 hidden"):
        DBM((4, 3))
    with pytest.raises(ValueError, match="ais|AIS"):
        DBM((784, 500, 1000)).energy(torch.zeros(1, 784))
    with pytest.raises(TypeError, match="DBM"):
        from discrete_ebm.models.rbm import RBM

        DBMPersistentCD()(RBM(4, 3), x)
