"""Figures (matplotlib, imported lazily by each function). One module per topic."""
