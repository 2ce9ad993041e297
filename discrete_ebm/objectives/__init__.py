"""Training objectives sharing one contract: ``objective(model, x) -> scalar loss``."""

from .base import Objective

__all__ = ["Objective"]
