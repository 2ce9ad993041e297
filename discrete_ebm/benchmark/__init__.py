"""Discrete-versus-continuous benchmark suite: (task × objective) cells, results and report."""

from .report import write_report
from .suite import Cell, CellResult, run_suite

__all__ = ["Cell", "CellResult", "run_suite", "write_report"]
