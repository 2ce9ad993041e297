"""Evaluation: exact enumeration, AIS, metrics."""

from . import ais, continuous_metrics, exact, metrics

__all__ = ["ais", "continuous_metrics", "exact", "metrics"]
