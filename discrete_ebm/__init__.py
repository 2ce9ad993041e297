"""discrete_ebm: energy-based models on binary and graph spaces, with a continuous branch.

Conventions (see DESIGN.md): binary states are float tensors in {0, 1} of shape ``(B, d)``;
``energy(x)`` returns ``U(x)`` with ``p(x) ∝ exp(−U(x))``, shape ``(B,)``.
"""

from .devices import resolve_device
from .evaluation import exact
from .models import EnergyModel, IsingModel
from .objectives import Objective
from .samplers import BlockGibbsSampler, GibbsSampler, Sampler

__version__ = "0.1.0"

__all__ = [
    "EnergyModel",
    "IsingModel",
    "Sampler",
    "GibbsSampler",
    "BlockGibbsSampler",
    "Objective",
    "exact",
    "resolve_device",
]
