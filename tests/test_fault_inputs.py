"""Bad inputs end in a clear error, never in a hang or a NaN passed on.

Empty batches, inverse temperatures outside (0, ∞), AIS schedules without both ends, models
with NaN or infinite parameters, Langevin steps that overshoot to infinity, energies of the
wrong shape, and float64 batches for float32 models (converted, giving the float32 numbers).
"""

from __future__ import annotations

import math

import pytest
import torch

from discrete_ebm import objectives
from discrete_ebm.evaluation import ais, exact
from discrete_ebm.graphs.convert import state_dim
from discrete_ebm.graphs.objectives import GraphBernoulliED, GraphGridED
from discrete_ebm.models import RBM, IsingModel, MLPEnergy
from discrete_ebm.models.base import EnergyModel
from discrete_ebm.objectives import FusedPCD, RBMPersistentCD
from discrete_ebm.objectives.dbm_pretraining import DoubledInputCD
from discrete_ebm.samplers import BlockGibbsSampler, GibbsSampler, GWGSampler, LangevinSampler


def _ising(d_side: int = 3) -> IsingModel:
    return IsingModel.lattice((d_side, d_side), coupling=0.3, field=0.1, periodic=False)


def _mlp(d: int = 2) -> MLPEnergy:
    torch.manual_seed(0)
    return MLPEnergy(d, hidden=(8,), binary=False)


# ----------------------------------------------------------------- empty batches
DISCRETE = ["ed-bern", "ed-grid", "pl", "cd", "pcd"]
CONTINUOUS = [
    "gaussian-ed",
    "score-matching",
    "sliced-score-matching",
    "denoising-score-matching",
    "langevin-cd",
]
NEEDS_MODEL = {"cd", "pcd", "langevin-cd"}


@pytest.mark.parametrize("name", DISCRETE + CONTINUOUS)
def test_empty_batch_is_refused_by_every_objective(name):
    model = _mlp() if name in CONTINUOUS else _ising()
    settings = {"t": 0.1} if name == "gaussian-ed" else {}
    obj = objectives.make(name, model=model if name in NEEDS_MODEL else None, **settings)
    with pytest.raises(ValueError, match="x must have at least one row"):
        obj(model, torch.zeros(0, model.dim))


@pytest.mark.parametrize("graph_ed", [GraphBernoulliED, GraphGridED])
def test_empty_batch_is_refused_by_the_graph_objectives(graph_ed):
    n = 4
    model = IsingModel(torch.zeros(state_dim(n), state_dim(n)))
    obj = graph_ed(n, 0.2) if graph_ed is GraphBernoulliED else graph_ed(n)
    with pytest.raises(ValueError, match="x must have at least one row"):
        obj(model, torch.zeros(0, state_dim(n)))


@pytest.mark.parametrize("kind", ["rbm-pcd", "fused-pcd", "fused-pcd-update", "doubled-input"])
def test_empty_batch_is_refused_where_objectives_write_gradients(kind):
    rbm = RBM(6, 3)
    empty = torch.zeros(0, 6)
    with pytest.raises(ValueError, match="x must have at least one row"):
        if kind == "rbm-pcd":
            RBMPersistentCD().write_gradients(rbm, empty)
        elif kind == "fused-pcd":
            FusedPCD(8).write_gradients(rbm, empty)
        elif kind == "fused-pcd-update":
            FusedPCD(8).update(rbm, empty, None, torch.optim.SGD(rbm.parameters(), lr=0.1))
        else:
            DoubledInputCD().write_gradients(rbm, empty)
    assert all(p.grad is None for p in rbm.parameters())  # nothing was written


# ------------------------------------------------------------ exact: beta > 0
@pytest.mark.parametrize("fn", ["log_partition", "probabilities", "marginals", "pairwise"])
@pytest.mark.parametrize("beta", [0.0, -1.0, math.nan, math.inf])
def test_exact_refuses_beta_outside_positive_finite(fn, beta):
    for model in (_ising(2), RBM(4, 2)):
        with pytest.raises(ValueError, match="beta must be a finite number > 0"):
            getattr(exact, fn)(model, beta=beta)


def test_exact_still_takes_a_positive_beta():
    model = _ising(2)
    # β = 0.5 is the model with halved energies
    torch.testing.assert_close(
        exact.log_partition(model, beta=0.5),
        torch.logsumexp(-0.5 * exact.energies(model), 0),
    )


# ------------------------------------------------------ AIS: both ends, always
@pytest.mark.parametrize("n_betas", [1, 0])
def test_ais_refuses_fewer_than_two_temperatures(n_betas):
    with pytest.raises(ValueError, match="n_betas must be"):
        ais.log_partition(_ising(2), 10, n_betas=n_betas)


@pytest.mark.parametrize("betas", [[1.0], [0.0], []])
def test_ais_refuses_a_schedule_of_fewer_than_two_values(betas):
    with pytest.raises(ValueError, match="betas must have at least 2 values"):
        ais.log_partition(_ising(2), 10, betas=betas)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 10, 1000])
def test_default_schedule_has_n_values_from_0_to_1(n):
    b = ais.default_betas(n)
    assert b.numel() == n and b[0] == 0 and b[-1] == 1 and (b.diff() > 0).all()


# ------------------------------------------------- samplers: finite parameters
def _broken(model, value: float, name: str):
    with torch.no_grad():
        dict(model.named_parameters())[name].view(-1)[0] = value
    return model


@pytest.mark.parametrize("value", [math.nan, math.inf])
@pytest.mark.parametrize("sampler", ["gibbs", "gwg", "block-lattice", "block-generic"])
def test_discrete_samplers_refuse_non_finite_couplings(sampler, value):
    model = _broken(_ising(4), value, "weights")
    S = {
        "gibbs": lambda: GibbsSampler(model),
        "gwg": lambda: GWGSampler(model),
        "block-lattice": lambda: BlockGibbsSampler(model),
        "block-generic": lambda: BlockGibbsSampler(model, fast_lattice=False),
    }[sampler]()
    what = "NaN" if math.isnan(value) else "infinite values"
    with pytest.raises(ValueError, match=f"parameter 'weights' contains {what}"):
        S.sample(4, 2, generator=torch.Generator().manual_seed(0))


def test_langevin_refuses_non_finite_parameters():
    model = _broken(_mlp(), math.nan, "layers.0.weight")
    with pytest.raises(ValueError, match="'layers.0.weight' contains NaN"):
        LangevinSampler(model, 0.01).sample(4, 2)


# ---------------------------------------------------- Langevin: overshooting
class Quadratic(EnergyModel):
    """``U(x) = ½|x|²`` (ULA with step η multiplies x by 1 − η per step, plus noise)."""

    def __init__(self):
        super().__init__(2, binary=False)
        self.scale = torch.nn.Parameter(torch.ones(()))

    def energy(self, x):
        return 0.5 * self.scale * (x * x).sum(1)


def test_langevin_stops_naming_step_size_when_the_chains_blow_up():
    # η = 5: x ← −4x + noise, |x| grows 4× per step and overflows float32 within ~64 steps
    S = LangevinSampler(Quadratic(), step_size=5.0)
    with pytest.raises(ValueError, match=r"non-finite.*step_size=5 is too large"):
        S.sample(100, 200, generator=torch.Generator().manual_seed(0))


def test_langevin_blow_up_is_caught_at_the_end_of_a_short_run_too():
    S = LangevinSampler(Quadratic(), step_size=5.0)
    x0 = torch.full((3, 2), 1e38)  # x ← −4x overflows float32 in one step (< the check period)
    with pytest.raises(ValueError, match="step_size=5"):
        S.sample(x0=x0, n_steps=1)


def test_langevin_with_a_fitting_step_size_runs_without_alarm():
    x = LangevinSampler(Quadratic(), step_size=0.1).sample(
        4000, 100, generator=torch.Generator().manual_seed(1)
    )
    # ULA on N(0, I) with η = 0.1: stationary variance 1 / (1 − η/2) = 1.0526; 5 s.e.
    var = float(x.var())
    assert abs(var - 1 / 0.95) < 5 * math.sqrt(2 / 8000) * 1.05


# ------------------------------------------------------- energy must be (B,)
class WrongShape(EnergyModel):
    """An energy returning ``(B, 1)`` (a ``Linear(d, 1)`` head without ``squeeze``), a scalar
    or ``(B, d)``."""

    def __init__(self, kind: str, binary: bool):
        super().__init__(3, binary=binary)
        self.kind = kind
        self.w = torch.nn.Parameter(torch.linspace(0.1, 0.3, 3))

    def energy(self, x):
        u = x * self.w
        return {"column": u.sum(1, keepdim=True), "scalar": u.sum(), "rows": u}[self.kind]


BINARY_USES = {
    "bernoulli-ed": lambda m, x: objectives.make("ed-bern")(m, x),
    "pseudo-likelihood": lambda m, x: objectives.make("pl")(m, x),
    "cd-gibbs": lambda m, x: objectives.make("cd", model=m, sampler="gibbs")(m, x),
    "gibbs": lambda m, x: GibbsSampler(m).sample(x0=x),
    "gwg": lambda m, x: GWGSampler(m).sample(x0=x),
    "exact": lambda m, x: exact.log_partition(m),
    "ais": lambda m, x: ais.log_partition(m, 4, n_betas=3),
}
CONTINUOUS_USES = {
    "gaussian-ed": lambda m, x: objectives.make("gaussian-ed", t=0.1)(m, x),
    "score-matching": lambda m, x: objectives.make("score-matching")(m, x),
    "langevin": lambda m, x: LangevinSampler(m, 0.1).sample(x0=x),
    "mala": lambda m, x: LangevinSampler(m, 0.1, metropolis=True).sample(x0=x),
}


@pytest.mark.parametrize("kind", ["column", "scalar", "rows"])
@pytest.mark.parametrize("use", sorted(BINARY_USES) + sorted(CONTINUOUS_USES))
def test_an_energy_of_the_wrong_shape_is_refused(use, kind):
    binary = use in BINARY_USES
    model = WrongShape(kind, binary)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2, (5, 3), generator=g).float() if binary else torch.randn(5, 3)
    run = BINARY_USES[use] if binary else CONTINUOUS_USES[use]
    with pytest.raises(ValueError, match=r"WrongShape\.energy must return shape \(B,\)"):
        run(model, x)


def test_the_shape_error_suggests_squeeze_for_a_column():
    with pytest.raises(ValueError, match=r"got \(5, 1\) \(end it with \.squeeze\(-1\)\)"):
        WrongShape("column", False)(torch.randn(5, 3))


# ------------------------------------------- float64 batches, float32 models
def test_float64_batch_gives_an_objective_the_float32_numbers():
    model = _ising(3)
    g = torch.Generator().manual_seed(3)
    x = torch.randint(0, 2, (16, 9), generator=g).float()
    for name in ("ed-bern", "pl"):
        a = objectives.make(name)(model, x, torch.Generator().manual_seed(4))
        b = objectives.make(name)(model, x.double(), torch.Generator().manual_seed(4))
        assert b.dtype == torch.float32 and a.item() == b.item()
    mlp, z = _mlp(), torch.randn(16, 2, generator=g)
    a = objectives.make("score-matching")(mlp, z)
    b = objectives.make("score-matching")(mlp, z.double())
    assert b.dtype == torch.float32 and a.item() == b.item()


@pytest.mark.parametrize("sampler", ["gibbs", "block", "langevin"])
def test_float64_x0_gives_a_sampler_the_float32_chains(sampler):
    if sampler == "langevin":
        S, x0 = LangevinSampler(_mlp(), 0.05), torch.randn(8, 2, dtype=torch.float64)
    else:
        model = _ising(3)
        S = GibbsSampler(model) if sampler == "gibbs" else BlockGibbsSampler(model)
        x0 = torch.randint(0, 2, (8, 9)).double()
    a = S.sample(x0=x0.float(), n_steps=3, generator=torch.Generator().manual_seed(5))
    b = S.sample(x0=x0, n_steps=3, generator=torch.Generator().manual_seed(5))
    assert b.dtype == torch.float32 and torch.equal(a, b)


def test_float32_batch_for_a_float64_model_is_converted_too():
    model = _ising(2).double()
    x = torch.randint(0, 2, (6, 4)).float()
    assert model.check_input(x).dtype == torch.float64
    torch.testing.assert_close(model.energy(x), model.energy(x.double()))


def test_huge_but_finite_parameters_are_not_refused():
    # the finiteness check sums each tensor in float64: an overflowing sum of finite values
    # is re-checked value by value and passes
    model = _ising(2).double()
    with torch.no_grad():
        model.h.fill_(1e308)
    x = GibbsSampler(model).sample(4, 1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, torch.ones(4, 4, dtype=torch.float64))  # fields push every x_i to 1
