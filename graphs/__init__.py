"""Graph energy-based models: Ego-small data, GNN energies, edge samplers, graph MMDs.

A graph on ``n <= N`` nodes is a binary state row of width ``N(N−1)/2 + N``: the upper
triangle of its adjacency matrix followed by its node mask (see ``discrete_ebm.graphs.convert``).
"""

from .annealing import annealed_edge_gibbs
from .convert import graphs_to_states, states_to_dense, states_to_graphs
from .datasets import GraphSplit, ego_graphs, ego_small, load_citeseer
from .energy import GraphEnergy
from .experiment import EgoConfig, run_ego
from .generation import generate_from_noise
from .growth import grow_from_noise
from .metrics import clustering_mmd, degree_mmd, graph_mmds, orbit_mmd, spectral_mmd
from .objectives import GraphBernoulliED, GraphGridED
from .orbits import orbit_counts
from .protocols import evaluate_generated, real_floor, subset_mmds
from .refinement import refine_by_cd
from .sampling import EdgeSampler, sample_graphs
from .validity import validity

__all__ = [
    "GraphSplit",
    "ego_small",
    "ego_graphs",
    "load_citeseer",
    "graphs_to_states",
    "states_to_dense",
    "states_to_graphs",
    "GraphEnergy",
    "GraphBernoulliED",
    "GraphGridED",
    "EdgeSampler",
    "sample_graphs",
    "annealed_edge_gibbs",
    "generate_from_noise",
    "grow_from_noise",
    "refine_by_cd",
    "degree_mmd",
    "clustering_mmd",
    "orbit_mmd",
    "spectral_mmd",
    "graph_mmds",
    "orbit_counts",
    "validity",
    "evaluate_generated",
    "real_floor",
    "subset_mmds",
    "EgoConfig",
    "run_ego",
]
