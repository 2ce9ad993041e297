"""Evaluation: exact enumeration, AIS, metrics."""

from . import ais, continuous_metrics, exact, metrics, reverse_ais, transfer_matrix
from .transfer_matrix import lattice_log_likelihood, transfer_matrix_log_partition

__all__ = [
    "ais",
    "continuous_metrics",
    "exact",
    "lattice_log_likelihood",
    "metrics",
    "reverse_ais",
    "transfer_matrix",
    "transfer_matrix_log_partition",
]
