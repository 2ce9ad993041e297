"""Annealed edge Gibbs and population annealing against exact enumeration of graphs."""

from __future__ import annotations

import itertools

import pytest
import torch

from discrete_ebm.evaluation.metrics import total_variation, tv_tolerance
from discrete_ebm.graphs.annealing import annealed_edge_gibbs, beta_ramp
from discrete_ebm.graphs.convert import fixed_mask, num_edge_slots, state_dim
from discrete_ebm.graphs.sampling import initial_states
from discrete_ebm.models.base import EnergyModel

N = 4  # 6 edge slots: 64 graphs on 4 nodes


class TableEnergy(EnergyModel):
    """U(x) = table[edge set of x] on graphs with at most 4 nodes (a lookup energy)."""

    def __init__(self, table: torch.Tensor):
        super().__init__(state_dim(N), binary=True)
        self.max_nodes = N
        self.table = table.double()
        self.calls = 0

    def energy(self, x):
        self.calls += 1
        bits = x[:, : num_edge_slots(N)].long()
        code = (bits * (2 ** torch.arange(bits.shape[1] - 1, -1, -1))).sum(1)
        return self.table[code].to(x.dtype)


def _codes() -> torch.Tensor:
    return torch.tensor(list(itertools.product([0, 1], repeat=num_edge_slots(N))))


def _trap_table() -> torch.Tensor:
    """Stars K1,3 at −8 (the ego graphs), the three perfect matchings at 0 and every graph one
    flip from a matching at +6 (so single-edge Gibbs at β = 1 cannot leave a matching),
    other graphs at +2."""
    slots = list(itertools.combinations(range(N), 2))
    table = torch.full((64,), 2.0)
    trap = []
    for k, bits in enumerate(_codes().tolist()):
        edges = [s for s, b in zip(slots, bits) if b]
        deg = [sum(v in e for e in edges) for v in range(N)]
        if sorted(deg) == [1, 1, 1, 3]:
            table[k] = -8.0
        if len(edges) == 2 and deg == [1, 1, 1, 1]:
            trap.append(k)
    for k in trap:
        for j in range(6):
            table[k ^ (1 << j)] = 6.0
    table[trap] = 0.0
    return table, trap


def _bits(x) -> torch.Tensor:
    return x[:, : num_edge_slots(N)]


def test_beta_ramp_is_geometric_then_held():
    p = torch.tensor([0.0, 0.25, 0.5, 0.9])
    b = beta_ramp(p, 0.1, 1.0, 0.5)
    torch.testing.assert_close(b, torch.tensor([0.1, 0.1**0.5, 1.0, 1.0]))
    torch.testing.assert_close(beta_ramp(p, 0.0, 1.0, 1.0), p)  # linear from 0


@pytest.mark.parametrize("beta", [1.0, 0.4])
def test_plain_chains_match_exact_tempered_distribution(beta):
    g = torch.Generator().manual_seed(0)
    table = torch.randn(64, generator=g) * 2.0
    model = TableEnergy(table)
    p = torch.softmax(-beta * table, 0)
    n = 3000
    x0 = initial_states([N] * n, N, edge_density=0.5, generator=g)
    x = annealed_edge_gibbs(model, x0, sweeps=20, beta_start=beta, beta_end=beta, generator=g)
    # 120 updates on 6 slots: several mixing times for this random table
    assert total_variation(_bits(x), p) < tv_tolerance(p, n)
    assert torch.equal(x[fixed_mask(x0, N)], x0[fixed_mask(x0, N)])


def test_budget_is_sweeps_times_each_graphs_free_slots():
    model = TableEnergy(torch.zeros(64))
    x0 = initial_states([4, 3, 2, 4], N, generator=torch.Generator().manual_seed(1))
    annealed_edge_gibbs(model, x0, sweeps=2.5, generator=torch.Generator().manual_seed(2))
    # one energy call for the start, then one per update while a chain runs: ⌈2.5·6⌉ = 15
    assert model.calls == 1 + 15


def test_population_annealing_leaves_the_trap_plain_annealing_falls_into():
    table, trap = _trap_table()
    model = TableEnergy(table)
    p = torch.softmax(-table, 0)
    assert float(p[trap].sum()) < 1e-3  # the exact law almost never is a matching
    n = 4000
    g = torch.Generator().manual_seed(3)
    x0 = initial_states([N] * n, N, edge_density=0.5, generator=g)
    settings = dict(sweeps=12, beta_start=0.05, anneal_fraction=0.5, generator=g)
    code = 2 ** torch.arange(5, -1, -1)
    plain = annealed_edge_gibbs(model, x0, **settings)
    pa = annealed_edge_gibbs(model, x0, resample=True, **settings)
    trapped = [
        float(torch.isin((_bits(x).long() * code).sum(1), torch.tensor(trap)).double().mean())
        for x in (plain, pa)
    ]
    assert trapped[0] > 0.05  # plain annealing: about a tenth of the chains stay in a matching
    # population annealing: the weights exp(−Δβ U) remove them; the resampled population then
    # makes 36 held updates. Its draws are not independent (resampling duplicates), so the TV
    # bound is the one of n/4 independent draws.
    assert trapped[1] < 0.005
    assert total_variation(_bits(pa), p) < tv_tolerance(p, n // 4)


def test_bad_settings_are_refused():
    model = TableEnergy(torch.zeros(64))
    x0 = initial_states([4], N)
    for kwargs, name in (
        ({"sweeps": 0}, "sweeps"),
        ({"sweeps": 1, "beta_start": -1.0}, "beta_start"),
        ({"sweeps": 1, "beta_end": float("nan")}, "beta_end"),
        ({"sweeps": 1, "anneal_fraction": 1.5}, "anneal_fraction"),
    ):
        with pytest.raises(ValueError, match=name):
            annealed_edge_gibbs(model, x0, **kwargs)


def test_gwg_kernel_matches_exact_graph_distribution():
    from discrete_ebm.graphs.energy import GraphEnergy

    torch.manual_seed(0)
    model = GraphEnergy(N, hidden=8, n_layers=2, hub_features=False)
    with torch.no_grad():  # sharpen the energy so the target is far from uniform
        model.head[-1].weight.mul_(100.0)
    x = initial_states([N] * 64, N, edge_density=0.5)  # every graph on 4 nodes: enumerate
    codes = _codes().double()
    x = x[:1].repeat(64, 1)
    x[:, : num_edge_slots(N)] = codes
    with torch.no_grad():
        p = torch.softmax(-model.energy(x).double(), 0)
    assert float(p.max() / p.min()) > 100
    n = 2000
    g = torch.Generator().manual_seed(5)
    x0 = initial_states([N] * n, N, edge_density=0.5, generator=g)
    out = annealed_edge_gibbs(
        model, x0, sweeps=6, beta_start=0.3, anneal_fraction=0.5, kernel="gwg", generator=g
    )
    assert total_variation(_bits(out), p) < tv_tolerance(p, n)


def test_generation_keeps_the_requested_node_counts_from_populations():
    from discrete_ebm.graphs.generation import generate_from_noise

    class Spy(TableEnergy):
        def energy(self, x):
            self.batches = getattr(self, "batches", []) + [x.shape[0]]
            return super().energy(x)

    model = Spy(torch.randn(64, generator=torch.Generator().manual_seed(6)))
    counts = [4, 3, 4, 2, 4, 4]
    x = generate_from_noise(
        model, counts, population=50, sweeps=3, generator=torch.Generator().manual_seed(7)
    )
    assert x.shape == (6, state_dim(N))
    assert x[:, num_edge_slots(N) :].sum(1).tolist() == counts  # row b has counts[b] nodes
    D = num_edge_slots(N)
    assert not bool(x[:, :D][fixed_mask(x, N)[:, :D]].any())  # no edge at a missing node
    assert model.batches[0] == 50 + 50 + 50  # max(k_n, 50) chains for each of 2, 3, 4 nodes
    with pytest.raises(ValueError, match="population"):
        generate_from_noise(model, counts, population=0)


def test_a_population_per_node_count_rescues_small_requests():
    """One graph per call: population annealing of the one requested chain is plain annealing
    and leaves ~10 % of the draws in the matchings trap; with 200 chains per node count the
    kept graph follows the exact law (trap mass < 1e-3: more than 4 trapped draws of 320
    has probability < 1e-4)."""
    from discrete_ebm.graphs.generation import generate_from_noise

    table, trap = _trap_table()
    model = TableEnergy(table)
    p = torch.softmax(-table, 0)
    code = 2 ** torch.arange(5, -1, -1)
    settings = dict(sweeps=12, beta_start=0.05, anneal_fraction=0.5, edge_density=0.5)
    n = 320
    draws = {1: [], 200: []}
    for call in range(n):
        for population, out in draws.items():
            g = torch.Generator().manual_seed(100 + call)
            out.append(
                _bits(
                    generate_from_noise(model, [N], population=population, generator=g, **settings)
                )
            )
    trapped = {
        k: int(torch.isin((torch.cat(v).long() * code).sum(1), torch.tensor(trap)).sum())
        for k, v in draws.items()
    }
    assert trapped[1] > 0.05 * n
    assert trapped[200] <= 4
    assert total_variation(torch.cat(draws[200]), p) < tv_tolerance(p, n)
