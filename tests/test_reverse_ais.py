"""Reverse AIS: with forward AIS it brackets the exact log Z of enumerable models."""

import math

import pytest
import torch

from discrete_ebm import fit
from discrete_ebm.evaluation import ais
from discrete_ebm.evaluation.reverse_ais import reverse_log_partition
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.models.rbm import RBM
from discrete_ebm.objectives import FusedPCD
from discrete_ebm.states import all_states


@pytest.fixture(scope="module")
def trained():
    """A 12 × 7 RBM trained by centred PCD on four noisy prototypes (four sharp modes),
    its exact log Z and exact samples by enumeration."""
    g = torch.Generator().manual_seed(0)
    protos = (torch.rand(4, 12, generator=g) < 0.5).double()
    noise = (torch.rand(200, 12, generator=g) < 0.02).double()
    data = (protos[torch.randint(0, 4, (200,), generator=g)] + noise) % 2
    rbm = RBM(12, 7, generator=g, dtype=torch.float64).init_from_data(data)
    obj = FusedPCD(20, centred=True, visible_offsets=data.mean(0))
    opt = torch.optim.SGD(rbm.parameters(), lr=0.2, momentum=0.5)
    fit(rbm, obj, data, epochs=15, batch_size=20, optimizer=opt, progress=False, generator=g)
    rbm.requires_grad_(False)
    states = all_states(12, dtype=torch.float64)
    p = torch.softmax(-rbm.energy(states), 0)
    return rbm, float(rbm.exact_log_partition()), states, p


def _exact_samples(states, p, n, seed):
    g = torch.Generator().manual_seed(seed)
    return states[torch.multinomial(p, n, replacement=True, generator=g)]


def test_the_model_is_not_trivial(trained):
    rbm, log_z, _, p = trained
    assert rbm.W.abs().max() > 2.0  # strong couplings
    assert float(-(p * p.log()).sum()) < 0.5 * 12 * math.log(2)  # far from uniform


def test_many_betas_give_a_tight_bracket_around_the_exact_log_z(trained):
    rbm, log_z, states, p = trained
    g = torch.Generator().manual_seed(1)
    fwd, se_f = ais.log_partition(rbm, 200, 400, generator=g)
    rev, se_r = reverse_log_partition(rbm, _exact_samples(states, p, 200, 2), 400, generator=g)
    assert fwd - 3 * se_f <= log_z <= rev + 3 * se_r
    assert fwd <= log_z + 3 * se_f and rev >= log_z - 3 * se_r
    assert abs(rev - fwd) < 0.3 and se_f < 0.1 and se_r < 0.1


def test_few_betas_give_a_wide_bracket_in_the_right_directions(trained):
    """Per chain ``E[log w_fwd] + log Z_0 <= log Z <= log Z_0 − E[log w_rev]`` (Jensen); the
    gap is the KL divergence the schedule leaves, wide with 4 betas and small with 400."""
    rbm, log_z, states, p = trained
    path = ais.ais_path(rbm, torch.zeros(12, dtype=torch.float64))
    gaps = {}
    for n_betas in (4, 400):
        g = torch.Generator().manual_seed(3)
        _, _, lw_f = ais.log_partition(rbm, 1000, n_betas, generator=g, return_log_weights=True)
        start = _exact_samples(states, p, 1000, 4)
        _, _, lw_r = reverse_log_partition(
            rbm, start, n_betas, generator=g, return_log_weights=True
        )
        lower = path.log_z_base() + float(lw_f.mean())
        upper = path.log_z_base() - float(lw_r.mean())
        slack = 3 * (lw_f.std() + lw_r.std()) / math.sqrt(1000)
        assert lower < log_z + slack and upper > log_z - slack
        gaps[n_betas] = upper - lower
    assert gaps[4] > 5.0 and gaps[400] < 1.0, gaps


def test_reverse_ais_of_a_model_without_its_own_path_brackets_the_exact_value():
    g = torch.Generator().manual_seed(5)
    J = torch.randn(8, 8, generator=g, dtype=torch.float64)
    J = (J + J.T) / 2 - torch.diag(torch.diag(J))
    model = IsingModel(J, 0.3 * torch.randn(8, generator=g, dtype=torch.float64))
    states = all_states(8, dtype=torch.float64)
    logits = -model.energy(states).detach()
    log_z = float(torch.logsumexp(logits, 0))
    start = _exact_samples(states, torch.softmax(logits, 0), 300, 6)
    rev, se = reverse_log_partition(model, start, 60, generator=g)
    fwd, se_f = ais.log_partition(model, 300, 60, generator=g)
    assert fwd - 3 * se_f <= log_z <= rev + 3 * se
    assert abs(rev - log_z) < 4 * se + 0.05


def test_reverse_ais_input_errors():
    rbm = RBM(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="samples"):
        reverse_log_partition(rbm, torch.zeros(3, 5))
    with pytest.raises(ValueError, match="at least one row"):
        reverse_log_partition(rbm, torch.zeros(0, 4))
    with pytest.raises(ValueError, match="betas"):
        reverse_log_partition(rbm, torch.zeros(3, 4), betas=[0.0, 0.5])
    with pytest.raises(ValueError, match="non-decreasing"):
        reverse_log_partition(rbm, torch.zeros(3, 4), betas=[0.0, 0.7, 0.5, 1.0])
    with pytest.raises(TypeError, match="EnergyModel"):
        reverse_log_partition(object(), torch.zeros(3, 4))
