"""Evaluation: exact enumeration, AIS, metrics."""

from . import exact

__all__ = ["exact"]
