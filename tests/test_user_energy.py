"""A user's own energy, written as users write it: ``class MyEnergy(EnergyModel)`` with a bare
``super().__init__()`` and only ``energy(x)``.

The two README examples run verbatim (continuous: score matching + MALA; binary:
pseudo-likelihood + Gibbs) and learn what they should. The same energies work with every
objective and sampler of their domain; ``dim`` comes from the first batch and is then fixed;
the domain is declared, inferred from the first batch, or fixed by a one-domain sampler or
objective, and every mismatch names the model's declaration.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from discrete_ebm import EnergyModel, GaussianED, fit, objectives
from discrete_ebm.evaluation import exact
from discrete_ebm.evaluation.metrics import total_variation, tv_tolerance
from discrete_ebm.samplers import BlockGibbsSampler, GibbsSampler, GWGSampler, LangevinSampler

README = Path(__file__).resolve().parents[1] / "README.md"

CONTINUOUS_EXAMPLE = """\
import torch
from discrete_ebm import EnergyModel, LangevinSampler, ScoreMatching, fit


class DoubleWell(EnergyModel):  # U(x) = Σ_i a (x_i² − m²)²: modes at ±m in each coordinate
    def __init__(self):
        super().__init__()  # dim, and the domain R^d, come from the first batch
        self.a = torch.nn.Parameter(torch.tensor(1.0))
        self.m = torch.nn.Parameter(torch.tensor(0.5))

    def energy(self, x):  # (B, d) -> (B,)
        return (self.a * (x**2 - self.m**2) ** 2).sum(1)


torch.manual_seed(0)
data = torch.sign(torch.randn(2000, 2)) + 0.3 * torch.randn(2000, 2)  # modes near ±1
model = DoubleWell()
fit(model, ScoreMatching(), data, steps=300, lr=0.05, progress=False)
x = LangevinSampler(model, step_size=0.01, metropolis=True).sample(n_chains=1000, n_steps=200)
print(f"m = {model.m.item():.2f}")  # the modes: m = 1.07
"""

BINARY_EXAMPLE = """\
import torch
from discrete_ebm import EnergyModel, GibbsSampler, PseudoLikelihood, fit


class Chain(EnergyModel):  # U(x) = −J Σ_i s_i s_i+1 − h Σ_i s_i with spins s = 2x − 1
    def __init__(self, J=0.0, h=0.0):
        super().__init__()  # dim, and the domain {0,1}^d, come from the first batch
        self.J = torch.nn.Parameter(torch.tensor(J))
        self.h = torch.nn.Parameter(torch.tensor(h))

    def energy(self, x):  # (B, d) of 0./1. -> (B,)
        s = 2 * x - 1
        return -self.J * (s[:, 1:] * s[:, :-1]).sum(1) - self.h * s.sum(1)


torch.manual_seed(0)
data = GibbsSampler(Chain(0.5, 0.2)).sample(x0=torch.zeros(2000, 12), n_steps=30)
model = Chain()
fit(model, PseudoLikelihood(), data, steps=200, lr=0.05, progress=False)
print(f"J = {model.J.item():.2f}, h = {model.h.item():.2f}")  # J = 0.49, h = 0.22
"""


def _run(code: str) -> dict:
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace


# the examples' classes (their code up to the data), for the tests below
DoubleWell = _run(CONTINUOUS_EXAMPLE.split("torch.manual_seed")[0])["DoubleWell"]
Chain = _run(BINARY_EXAMPLE.split("torch.manual_seed")[0])["Chain"]


# ------------------------------------------------------------ the README examples
def test_readme_continuous_example_learns_the_modes_and_samples_its_density(capsys):
    ns = _run(CONTINUOUS_EXAMPLE)
    model, x = ns["model"], ns["x"]
    assert (model.dim, model.binary) == (2, False)
    assert capsys.readouterr().out == f"m = {model.m.item():.2f}\n"
    # score matching in this family: the wells sit near the data's modes ±1
    assert abs(model.m.item() - 1.0) < 0.15
    # MALA targets exp(−U) exactly: E|x_i| by quadrature of the fitted 1-D density, 5 s.e.
    a, m = model.a.item(), model.m.item()
    t = torch.linspace(-4, 4, 200001, dtype=torch.float64)
    w = torch.exp(-a * (t**2 - m**2) ** 2)
    mean_abs = float((w * t.abs()).sum() / w.sum())
    sd_abs = math.sqrt(float((w * t * t).sum() / w.sum()) - mean_abs**2)
    assert abs(float(x.abs().mean()) - mean_abs) < 5 * sd_abs / math.sqrt(x.numel())


def test_readme_binary_example_recovers_the_couplings(capsys):
    ns = _run(BINARY_EXAMPLE)
    model = ns["model"]
    assert (model.dim, model.binary) == (12, True)
    out = capsys.readouterr().out
    assert out == f"J = {model.J.item():.2f}, h = {model.h.item():.2f}\n"
    # 2,000 chains × 12 sites of the J = 0.5, h = 0.2 chain: PL is within 0.05 of both
    assert abs(model.J.item() - 0.5) < 0.05 and abs(model.h.item() - 0.2) < 0.05


def test_readme_shows_these_examples_verbatim():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    mine = [b for b in blocks if "(EnergyModel):" in b and "super().__init__()" in b]
    assert CONTINUOUS_EXAMPLE in mine and BINARY_EXAMPLE in mine


# --------------------------------------------- every objective and sampler of a domain
def _continuous_data(n=64):
    g = torch.Generator().manual_seed(1)
    return torch.sign(torch.randn(n, 2, generator=g)) + 0.3 * torch.randn(n, 2, generator=g)


def _binary_data(n=64, d=6):
    return GibbsSampler(Chain(0.5, 0.2)).sample(
        x0=torch.zeros(n, d), n_steps=10, generator=torch.Generator().manual_seed(2)
    )


CONTINUOUS_OBJECTIVES = {
    "gaussian-ed": {"t": 0.1},
    "score-matching": {},
    "sliced-score-matching": {},
    "denoising-score-matching": {},
    "langevin-cd": {"step_size": 0.01},
}


@pytest.mark.parametrize("name", sorted(CONTINUOUS_OBJECTIVES))
def test_bare_continuous_energy_trains_with_every_continuous_objective(name):
    model = DoubleWell()
    obj = objectives.make(name, model=model, **CONTINUOUS_OBJECTIVES[name])
    hist = fit(model, obj, _continuous_data(), steps=3, batch_size=32, progress=False)
    assert (model.dim, model.binary) == (2, False)
    assert len(hist.loss) == 3 and all(math.isfinite(v) for v in hist.loss)
    assert model.m.item() != 0.5  # the parameters moved


DISCRETE_OBJECTIVES = {  # test id: (registry name, settings)
    "ed-bern": ("ed-bern", {}),
    "ed-grid": ("ed-grid", {}),
    "pl": ("pl", {}),
    "cd-gibbs": ("cd", {"sampler": "gibbs"}),
    "pcd-gwg": ("pcd", {"sampler": "gwg"}),
    "pcd-block-gibbs": ("pcd", {"sampler": "block-gibbs", "coloring": list(range(6))}),
}


@pytest.mark.parametrize("name", sorted(DISCRETE_OBJECTIVES))
def test_bare_binary_energy_trains_with_every_discrete_objective(name):
    model, data = Chain(), _binary_data()
    if name.startswith(("cd", "pcd")):
        model.check_input(data)  # a sampler with one-site blocks needs the width first
    registered, settings = DISCRETE_OBJECTIVES[name]
    obj = objectives.make(registered, model=model, **settings)
    hist = fit(model, obj, data, steps=3, batch_size=32, progress=False)
    assert (model.dim, model.binary) == (6, True)
    assert all(math.isfinite(v) for v in hist.loss)
    assert model.J.item() != 0.0


@pytest.mark.parametrize("sampler", ["gibbs", "gwg", "block-gibbs"])
def test_discrete_samplers_on_a_bare_binary_energy_match_exact(sampler):
    model = Chain(0.4, -0.3)
    d, n = 6, 4000
    make = {
        "gibbs": lambda: GibbsSampler(model),
        "gwg": lambda: GWGSampler(model, n_proposals=3),
        "block-gibbs": lambda: BlockGibbsSampler(model, coloring=list(range(d))),
    }
    if sampler == "block-gibbs":
        model.check_input(torch.zeros(1, d))
    g = torch.Generator().manual_seed(3)
    x = make[sampler]().sample(x0=torch.zeros(n, d), n_steps=40, generator=g)
    p = exact.probabilities(model)
    assert total_variation(x, p) < tv_tolerance(p, n)


def test_block_gibbs_needs_the_width_before_one_site_blocks():
    with pytest.raises(ValueError, match="Chain takes its dim from the first batch"):
        BlockGibbsSampler(Chain(), coloring=list(range(6)))


def test_sampling_without_x0_needs_the_width():
    with pytest.raises(ValueError, match=r"LangevinSampler without x0 needs the width"):
        LangevinSampler(DoubleWell(), 0.01).sample(10, 1)


# --------------------------------------------------------------- dim: first batch
def test_dim_is_taken_from_the_first_batch_and_then_fixed():
    model = DoubleWell()
    assert model.dim is None
    fit(model, GaussianED(0.1), _continuous_data(), steps=1, progress=False)
    assert model.dim == 2
    with pytest.raises(ValueError, match=r"DoubleWell has dim=2 \(taken from its first batch\)"):
        GaussianED(0.1)(model, torch.randn(4, 3))


def test_a_declared_dim_is_named_as_declared():
    class Declared(DoubleWell):
        def __init__(self):
            EnergyModel.__init__(self, 3)
            self.a = torch.nn.Parameter(torch.tensor(1.0))
            self.m = torch.nn.Parameter(torch.tensor(0.5))

    with pytest.raises(ValueError, match=r"Declared has dim=3 \(declared\)"):
        GaussianED(0.1)(Declared(), torch.randn(4, 2))


# ----------------------------------------------------------- the domain and its name
def test_dim_only_declaration_trains_on_real_data():
    # super().__init__(3) used to make the model binary: fit then refused continuous data
    class Three(EnergyModel):
        def __init__(self):
            super().__init__(3)
            self.w = torch.nn.Parameter(torch.ones(3))

        def energy(self, x):
            return 0.5 * (x * x) @ self.w

    model = Three()
    hist = fit(model, GaussianED(0.1), torch.randn(64, 3), steps=2, progress=False)
    assert model.binary is False and all(math.isfinite(v) for v in hist.loss)


def test_binary_data_infer_a_binary_model():
    model = Chain()
    fit(model, objectives.make("ed-bern"), _binary_data(), steps=1, progress=False)
    assert model.binary is True


def test_declared_continuous_model_refused_by_a_binary_objective_names_the_declaration():
    class Declared(DoubleWell):
        binary = False

    with pytest.raises(
        TypeError, match=r"BernoulliED needs a binary model: Declared was declared continuous"
    ):
        objectives.make("ed-bern")(Declared(), _binary_data())


def test_declared_binary_model_given_real_data_names_the_declaration():
    class Declared(Chain):
        def __init__(self):
            EnergyModel.__init__(self, binary=True)
            self.J = torch.nn.Parameter(torch.tensor(0.0))
            self.h = torch.nn.Parameter(torch.tensor(0.0))

    with pytest.raises(ValueError, match=r"Declared was declared binary \(binary=True\)"):
        fit(Declared(), GaussianED(0.1), torch.randn(32, 4), steps=1, progress=False)


def test_inferred_binary_model_given_real_data_says_it_was_inferred():
    model = Chain()
    fit(model, objectives.make("pl"), _binary_data(), steps=1, progress=False)
    with pytest.raises(ValueError, match=r"Chain was inferred binary from its first batch"):
        objectives.make("pl")(model, torch.randn(4, 6))
    with pytest.raises(TypeError, match=r"LangevinSampler needs a continuous model: Chain was"):
        LangevinSampler(model, 0.1)


def test_a_sampler_fixes_an_undeclared_domain_and_says_so():
    model = DoubleWell()
    GibbsSampler(model)
    assert model.binary is True
    with pytest.raises(ValueError, match=r"DoubleWell was made binary by GibbsSampler"):
        fit(model, objectives.make("pl"), _continuous_data(), steps=1, progress=False)


def test_library_models_keep_their_declarations():
    from discrete_ebm import RBM, IsingModel, MLPEnergy

    for model, dim, binary in [
        (IsingModel.lattice((3, 3), coupling=0.2), 9, True),
        (RBM(5, 2), 5, True),
        (MLPEnergy(4, hidden=(8,), binary=False), 4, False),
        (MLPEnergy(4, hidden=(8,)), 4, False),
        (MLPEnergy(4, hidden=(8,), binary=True), 4, True),
    ]:
        assert (model.dim, model.binary) == (dim, binary)
        with pytest.raises(ValueError, match="declared"):
            model.check_input(torch.full((2, dim + 1), 0.0))
