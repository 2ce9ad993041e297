"""CD refinement of a graph energy, checked by the exact likelihood of 4-node graphs."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import pytest
import torch

from discrete_ebm.graphs.convert import graphs_to_states
from discrete_ebm.graphs.energy import GraphEnergy
from discrete_ebm.graphs.refinement import refine_by_cd

N = 4


def _all_graphs() -> torch.Tensor:
    """The 64 graphs on 4 nodes as state rows (edge bits, then the full node mask)."""
    slots = list(itertools.combinations(range(N), 2))
    graphs = []
    for bits in itertools.product([0, 1], repeat=len(slots)):
        g = nx.empty_graph(N)
        g.add_edges_from(s for s, b in zip(slots, bits) if b)
        graphs.append(g)
    return graphs_to_states(graphs, N)


def _mean_log_likelihood(model: GraphEnergy, data: torch.Tensor, every: torch.Tensor) -> float:
    with torch.no_grad():
        log_z = torch.logsumexp(-model.energy(every).double(), 0)
        return float((-model.energy(data).double() - log_z).mean())


def test_refinement_raises_the_exact_likelihood_of_the_data():
    torch.manual_seed(0)
    model = GraphEnergy(N, hidden=16, n_layers=2, hub_features=False)
    # data: one labelled star K1,3 (a 4-node ego graph) and one labelled path P4, 3 : 1
    graphs = [nx.star_graph(3)] * 3 + [nx.path_graph(4)]
    data = graphs_to_states(graphs * 16, N)
    every = _all_graphs()
    before = _mean_log_likelihood(model, data, every)
    history = refine_by_cd(
        model, data, steps=150, lr=1e-2, updates=30, generator=torch.Generator().manual_seed(1)
    )
    after = _mean_log_likelihood(model, data, every)
    assert len(history.loss) == 150
    # the best law a permutation-invariant energy can give: the 4 labelled stars share 3/4,
    # the 12 labelled paths 1/4, so E log p = 3/4 log(3/16) + 1/4 log(1/48) = -2.223 nats
    best = 0.75 * math.log(3 / 16) + 0.25 * math.log(1 / 48)
    assert before < best - 1.5  # the random energy is far from it
    assert after > best - 0.5  # CD from the data brings it within half a nat


def test_bad_settings_are_refused():
    model = GraphEnergy(N, hidden=4, n_layers=1)
    data = _all_graphs()[:4]
    for kwargs, name in (({"steps": 0}, "steps"), ({"updates": 0}, "updates"), ({"lr": 0.0}, "lr")):
        with pytest.raises(ValueError, match=name):
            refine_by_cd(model, data, **kwargs)
