"""Graph MMD²: reference numbers of the Ego-small protocol, zero on identical sets, kernels."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from discrete_ebm.graphs.datasets import ego_small
from discrete_ebm.graphs.metrics import (
    clustering_mmd,
    degree_mmd,
    gaussian_emd_gram,
    graph_mmds,
    orbit_mmd,
    spectral_mmd,
)


@pytest.fixture(scope="module")
def split():
    return ego_small()


def test_train_vs_test_reference(split):
    # README: train (160) vs test (40) reference MMD² degree 0.0142, clustering 0.0273,
    # orbit 0.0044, all quoted to 4 decimals (so ±0.00005 is the rounding; the acceptance
    # tolerance is ±0.0005).
    assert degree_mmd(split.train, split.test) == pytest.approx(0.0142, abs=5e-4)
    assert clustering_mmd(split.train, split.test) == pytest.approx(0.0273, abs=5e-4)
    assert orbit_mmd(split.train, split.test) == pytest.approx(0.0044, abs=5e-4)
    # the deterministic values themselves, to the printed precision
    assert degree_mmd(split.train, split.test) == pytest.approx(0.0142, abs=5e-5)
    assert clustering_mmd(split.train, split.test) == pytest.approx(0.0273, abs=5e-5)
    assert orbit_mmd(split.train, split.test) == pytest.approx(0.0044, abs=5e-5)


def test_self_mmd_is_zero(split):
    out = graph_mmds(split.test, split.test, ("degree", "clustering", "orbit", "spectral"))
    for k, v in out.items():
        assert abs(v) < 1e-12, k


def test_emd_kernel_closed_form():
    # point masses at bins 0 and 3: EMD = 3 (ground distance |i-j|), k = exp(-9/2)
    k = gaussian_emd_gram([np.array([1.0])], [np.array([0, 0, 0, 1.0])], sigma=1.0)
    assert k[0, 0] == pytest.approx(np.exp(-4.5), rel=1e-12)
    # with distance_scaling 100 and sigma 0.1: EMD = 0.03, k = exp(-0.0009/0.02)
    k = gaussian_emd_gram([np.array([1.0])], [np.array([0, 0, 0, 1.0])], 0.1, 100.0)
    assert k[0, 0] == pytest.approx(np.exp(-0.045), rel=1e-12)


def test_two_point_mmd_closed_form():
    # ref = {path P3}, gen = {triangle}: degree pmfs [0, 2/3, 1/3] and [0, 0, 1];
    # EMD = |0-0| + |2/3 - 0| + 0 = 2/3; MMD² = 1 + 1 - 2 exp(-(2/3)²/2)
    v = degree_mmd([nx.path_graph(3)], [nx.complete_graph(3)])
    assert v == pytest.approx(2 - 2 * np.exp(-(4 / 9) / 2), rel=1e-12)


def test_empty_generated_graphs_are_dropped(split):
    gen = list(split.test) + [nx.Graph()]
    assert degree_mmd(split.train, gen) == pytest.approx(degree_mmd(split.train, split.test))
    with pytest.raises(ValueError, match="gen"):
        degree_mmd(split.train, [nx.Graph()])
    with pytest.raises(TypeError, match="list of networkx"):
        spectral_mmd(split.train, nx.path_graph(3))
    with pytest.raises(ValueError, match="unknown method"):
        graph_mmds(split.train, split.test, ("nope",))
