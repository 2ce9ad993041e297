"""IsingModel: energy formula, storage equivalence, constructors, converters, sign tests."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from discrete_ebm import IsingModel
from discrete_ebm.evaluation.exact import all_states


def random_J(d: int, seed: int, p: float = 0.6) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(d, d, generator=g, dtype=torch.float64)
    mask = torch.rand(d, d, generator=g) < p
    J = torch.triu(A * mask, 1)
    return J + J.T, torch.randn(d, generator=g, dtype=torch.float64)


def brute_energy(J: torch.Tensor, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    s = 2 * x - 1
    return torch.stack([-0.5 * si @ J @ si - h @ si for si in s])


@pytest.mark.parametrize("sparse", [False, True])
def test_energy_matches_definition(sparse):
    J, h = random_J(7, 0)
    m = IsingModel(J, h, sparse=sparse)
    x = all_states(7)
    torch.testing.assert_close(m.energy(x), brute_energy(J, h, x))
    torch.testing.assert_close(m.J, J)
    torch.testing.assert_close(m.h.detach(), h)


def test_local_fields_give_flip_energy_and_conditionals():
    J, h = random_J(5, 1)
    m = IsingModel(J, h)
    x = all_states(5)
    phi = m.local_fields(x)
    s = 2 * x - 1
    for i in range(5):
        flipped = x.clone()
        flipped[:, i] = 1 - flipped[:, i]
        # flipping s_i changes U by 2 s_i φ_i
        torch.testing.assert_close(m.energy(flipped) - m.energy(x), 2 * s[:, i] * phi[:, i])
    # analytic conditional logits equal the generic energy-difference ones
    generic = super(IsingModel, m).conditional_logits(x)
    torch.testing.assert_close(m.conditional_logits(x), generic)


def test_sparse_and_dense_local_fields_agree_on_subsets():
    J, h = random_J(11, 2, p=0.3)
    dense, sparse = IsingModel(J, h), IsingModel(J, h, sparse=True)
    x = all_states(11)[::7]
    sites = torch.tensor([3, 0, 10])
    torch.testing.assert_close(dense.site_logits(x, sites), sparse.site_logits(x, sites))
    assert sparse.n_edges == int((torch.triu(J, 1) != 0).sum())
    assert dense.n_edges == 11 * 10 // 2


def test_trainable_parametrisation_stays_symmetric_with_zero_diagonal():
    m = IsingModel(torch.zeros(5, 5), torch.zeros(5))
    x = all_states(5)[::3].float()
    loss = (m.energy(x) * torch.linspace(-1, 1, x.shape[0])).sum()
    loss.backward()
    with torch.no_grad():
        m.weights -= 0.1 * m.weights.grad
    J = m.J.detach()
    assert torch.equal(J, J.T)
    assert torch.equal(J.diagonal(), torch.zeros(5))
    assert J.abs().sum() > 0


def test_lattice_structure():
    m = IsingModel.lattice(5, coupling=0.7, field=0.2)
    G = m.interaction_graph()
    assert all(deg == 4 for _, deg in G.degree)
    assert m.n_edges == 2 * 25
    assert torch.allclose(m.J[0, 1], torch.tensor(0.7)) and torch.allclose(
        m.J[0, 4], torch.tensor(0.7)
    )
    assert torch.allclose(m.J[0, 20], torch.tensor(0.7))  # vertical wrap
    assert m.J[0, 6] == 0
    open_m = IsingModel.lattice((3, 4), coupling=1.0, periodic=False)
    assert open_m.n_edges == 3 * 3 + 2 * 4  # horizontal 3·3, vertical 2·4
    # a periodic side of length 2 joins the same pair twice: the couplings add
    two = IsingModel.lattice((2, 3), coupling=1.0)
    assert two.J[0, 3] == 2.0 and two.J[0, 1] == 1.0


def test_lattice_energy_of_ordered_states():
    m = IsingModel.lattice(4, coupling=1.0, field=0.5)
    up, down = torch.ones(1, 16), torch.zeros(1, 16)
    assert m.energy(up).item() == pytest.approx(-32 - 8)  # 32 bonds, 16 sites · 0.5
    assert m.energy(down).item() == pytest.approx(-32 + 8)
    checker = ((torch.arange(16) // 4 + torch.arange(16) % 4) % 2).float().view(1, 16)
    assert m.energy(checker).item() == pytest.approx(32.0)


def test_networkx_round_trip_keeps_labels_weights_fields():
    G = nx.Graph()
    G.add_node("a", field=0.3)
    G.add_node("b", field=-1.0)
    G.add_node("c")
    G.add_edge("a", "b", weight=0.5)
    G.add_edge("b", "c", weight=-2.0)
    G.add_edge("a", "c")  # networkx default weight 1
    m = IsingModel.from_networkx(G)
    assert m.node_labels == ["a", "b", "c"]
    assert m.J[0, 2] == 1.0 and m.J[1, 2] == -2.0 and m.h[2] == 0.0
    H = m.to_networkx()
    assert set(H.nodes) == set(G.nodes)
    for u, v, w in G.edges(data="weight", default=1.0):
        assert H[u][v]["weight"] == pytest.approx(w)
    for u in G.nodes:
        assert H.nodes[u]["field"] == pytest.approx(G.nodes[u].get("field", 0.0))
    m2 = IsingModel.from_networkx(H)
    torch.testing.assert_close(m2.J, m.J)


@pytest.mark.parametrize("sparse", [False, True])
def test_dimod_round_trip_and_sign(sparse):
    J, h = random_J(6, 3)
    m = IsingModel(J, h, sparse=sparse)
    hd, Jd = m.to_dimod()
    # dimod energy E(s) = Σ h s + Σ J s s must equal our U(x) for every state
    x = all_states(6)
    s = (2 * x - 1).numpy()
    e_dimod = np.array(
        [
            sum(hd[i] * si[i] for i in hd) + sum(w * si[i] * si[j] for (i, j), w in Jd.items())
            for si in s
        ]
    )
    np.testing.assert_allclose(e_dimod, m.energy(x).detach().numpy(), rtol=1e-10, atol=1e-10)
    # ferromagnetic J > 0 here is negative in dimod
    i, j = next(iter(Jd))
    assert np.sign(Jd[(i, j)]) == -np.sign(J[i, j].item())
    back = IsingModel.from_dimod(hd, Jd, dtype=torch.float64)
    torch.testing.assert_close(back.J, J)
    torch.testing.assert_close(back.h.detach(), h)


def test_from_dimod_adds_both_orders_and_new_labels():
    m = IsingModel.from_dimod({"x": 1.0}, {("x", "y"): -1.0, ("y", "x"): -0.5})
    assert m.node_labels == ["x", "y"]
    assert m.J[0, 1].item() == pytest.approx(1.5)
    assert m.h.tolist() == [-1.0, 0.0]


def test_erdos_renyi_is_reproducible_and_sparse():
    a = IsingModel.erdos_renyi(40, 0.1, field_std=0.5, generator=torch.Generator().manual_seed(0))
    b = IsingModel.erdos_renyi(40, 0.1, field_std=0.5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(a.J, b.J)
    assert not a.is_dense
    density = a.n_edges / (40 * 39 / 2)
    assert abs(density - 0.1) < 4 * (0.1 * 0.9 / 780) ** 0.5  # binomial sd over 780 pairs


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="symmetric"):
        IsingModel(torch.tensor([[0.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="diagonal"):
        IsingModel(torch.eye(2))
    with pytest.raises(ValueError, match="NaN"):
        IsingModel(torch.tensor([[0.0, float("nan")], [float("nan"), 0.0]]))
    with pytest.raises(ValueError, match="h must have shape"):
        IsingModel(torch.zeros(3, 3), torch.zeros(4))
    # edge-list constructors check their couplings too
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="couplings"):
            IsingModel.from_edges(3, [[0, 1]], [bad])
        with pytest.raises(ValueError, match="couplings"):
            IsingModel.lattice(3, coupling=bad)
    G = nx.Graph([(0, 0), (0, 1)])
    with pytest.raises(ValueError, match="self-loop"):
        IsingModel.from_networkx(G)
    m = IsingModel.lattice(3)
    with pytest.raises(ValueError, match="width 9"):
        m.energy(torch.zeros(2, 8))
    with pytest.raises(ValueError, match="binary"):
        m.energy(torch.full((2, 9), 0.5))
    with pytest.raises(ValueError, match="NaN"):
        m.energy(torch.full((2, 9), float("nan")))
    with pytest.raises(TypeError, match="floating-point"):
        m.energy(torch.zeros(2, 9, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.Tensor"):
        m.energy(np.zeros((2, 9)))


def test_dense_coupling_cache_follows_every_weight_change():
    # samplers read J without autograd; the cached matrix must never go stale
    g = torch.Generator().manual_seed(0)
    J = torch.triu(torch.randn(5, 5, generator=g), 1)
    model = IsingModel(J + J.T, torch.zeros(5))
    x = (torch.rand(4, 5, generator=g) < 0.5).float()

    def fields_match():
        with torch.no_grad():
            cached = model.local_fields(x)
            fresh = (2 * x - 1) @ model.J + model.h
        return torch.allclose(cached, fresh, atol=1e-6)

    assert fields_match()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    model.energy(x).sum().backward()
    opt.step()  # in-place update of the weights
    assert fields_match()
    with torch.no_grad():
        model.weights.mul_(-3.0)
    assert fields_match()
    other = IsingModel(torch.ones(5, 5) - torch.eye(5), torch.ones(5))
    model.load_state_dict(other.state_dict())
    assert fields_match()
    assert torch.allclose(model.local_fields(x), (2 * x - 1) @ other.J + other.h)
