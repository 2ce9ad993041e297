"""The two published Ego-small evaluation protocols, their noise floors, and validity.

- EDP-GNN's (Niu et al. 2020, ``sample.py``): ALL generated graphs (1,024) against the 40
  test graphs;
- GDSS's (Jo et al. 2022, ``sampler.py``): 40 generated graphs against the 40 test graphs.
  Reported for the first 40 generated graphs (the protocol as run) and, as its spread, over
  every disjoint block of 40 consecutive generated graphs;
- references: the training graphs against the test graphs, and the floors of real graphs:
  ``draws`` sets of 40 training graphs drawn without replacement (GDSS's protocol), or of as
  many as were generated drawn with replacement (EDP-GNN's), each scored against the test
  graphs (what a perfect model of the training distribution scores under the protocol).

MMD² of an index subset ``S`` of a pool of graphs against reference graphs ``R`` reuses one
set of Gram matrices: ``mean K[R,R] + mean K[S,S] − 2 mean K[R,S]`` (the biased estimator of
``discrete_ebm.graphs.metrics``, equal to ``graph_mmds`` on the same graphs).
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np

from .metrics import (
    clustering_histogram,
    degree_histogram,
    gaussian_emd_gram,
    gaussian_gram,
    orbit_feature,
    spectral_histogram,
)
from .validity import validity

__all__ = ["subset_mmds", "real_floor", "evaluate_generated", "mean_std"]

METHODS = ("degree", "clustering", "orbit", "spectral")

_KERNELS = {
    "degree": (degree_histogram, lambda a, b: gaussian_emd_gram(a, b, 1.0, 1.0)),
    "clustering": (clustering_histogram, lambda a, b: gaussian_emd_gram(a, b, 0.1, 100.0)),
    "orbit": (orbit_feature, lambda a, b: gaussian_gram(np.stack(a), np.stack(b), 30.0)),
    "spectral": (spectral_histogram, lambda a, b: gaussian_emd_gram(a, b, 1.0, 1.0)),
}


def subset_mmds(
    ref: Sequence[nx.Graph],
    pool: Sequence[nx.Graph],
    subsets: Sequence[Sequence[int]],
    methods: Sequence[str] = ("degree", "clustering", "orbit"),
) -> list[dict[str, float]]:
    """``graph_mmds(ref, [pool[i] for i in S], methods)`` for every index list ``S`` of
    ``subsets``, from Gram matrices computed once. Graphs must be non-empty."""
    for name, gs in (("ref", ref), ("pool", pool)):
        if not gs or any(g.number_of_nodes() == 0 for g in gs):
            raise ValueError(f"{name} must be a non-empty list of non-empty graphs")
    out: list[dict[str, float]] = [{} for _ in subsets]
    for m in methods:
        if m not in _KERNELS:
            raise ValueError(f"unknown method {m!r}; expected some of {list(_KERNELS)}")
        stat, kernel = _KERNELS[m]
        a = [stat(g) for g in ref]
        b = [stat(g) for g in pool]
        k_rr = kernel(a, a).mean()
        k_pp = kernel(b, b)
        k_rp = kernel(a, b).mean(0)
        for row, s in zip(out, subsets):
            idx = np.asarray(s, dtype=np.int64)
            if idx.size == 0:
                raise ValueError("every subset must hold at least one index")
            row[m] = float(k_rr + k_pp[np.ix_(idx, idx)].mean() - 2 * k_rp[idx].mean())
    for row in out:
        if all(k in row for k in ("degree", "clustering", "orbit")):
            row["average"] = (row["degree"] + row["clustering"] + row["orbit"]) / 3
    return out


def mean_std(rows: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """``{key: {"mean", "std"}}`` over dicts with the same keys (sample std, 0 for one row)."""
    out = {}
    for k in rows[0]:
        v = np.array([r[k] for r in rows], dtype=np.float64)
        out[k] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0}
    return out


def real_floor(
    test: Sequence[nx.Graph],
    train: Sequence[nx.Graph],
    *,
    size: int = 40,
    draws: int = 30,
    seed: int = 0,
    replace: bool = False,
    methods: Sequence[str] = METHODS,
) -> dict[str, dict[str, float]]:
    """Mean ± std over ``draws`` sets of ``size`` training graphs (numpy
    ``default_rng(seed)``; with replacement when ``replace``, needed for ``size`` above
    ``len(train)``, e.g. EDP-GNN's 1,024) of their MMD² against ``test``: what a perfect
    model of the training distribution scores with ``size`` generated graphs."""
    if not 0 < size <= (float("inf") if replace else len(train)):
        raise ValueError(f"size must lie in [1, {len(train)}] without replacement, got {size}")
    rng = np.random.default_rng(seed)
    subsets = [rng.choice(len(train), size, replace=replace) for _ in range(draws)]
    return mean_std(subset_mmds(test, train, subsets, methods))


def evaluate_generated(
    test: Sequence[nx.Graph],
    train: Sequence[nx.Graph],
    generated: Sequence[nx.Graph],
    *,
    gdss_size: int | None = None,
) -> dict:
    """Both protocols and validity for one set of generated graphs (non-empty graphs, as
    ``protocol_graphs`` returns them): ``{"edp_gnn": MMD² of all generated graphs,
    "gdss": of the first ``gdss_size`` (default ``len(test)``, or all when fewer were
    generated), "gdss_blocks": mean ± std over the disjoint blocks of ``gdss_size``,
    "validity": validity(generated, train)}``."""
    size = min(len(test), len(generated)) if gdss_size is None else int(gdss_size)
    if not 0 < size <= len(generated):
        raise ValueError(f"gdss_size must lie in [1, {len(generated)}], got {size}")
    blocks = [range(k, k + size) for k in range(0, len(generated) - size + 1, size)]
    # one set of Gram matrices serves both protocols (all graphs, and the blocks)
    edp, *per_block = subset_mmds(test, generated, [range(len(generated)), *blocks], METHODS)
    return {
        "edp_gnn": {"n_generated": len(generated), "n_test": len(test), **edp},
        "gdss": {"n_generated": size, "n_test": len(test), **per_block[0]},
        "gdss_blocks": {"n_blocks": len(blocks), **mean_std(per_block)},
        "validity": validity(generated, train),
    }
