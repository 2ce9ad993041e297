"""Samplers sharing one contract.

``sample(n_chains, n_steps, x0, *, thin, clamp, beta, generator, return_diagnostics)``
"""

from .base import Sampler, geometric_beta_schedule, linear_beta_schedule
from .block_gibbs import BlockGibbsSampler
from .gibbs import GibbsSampler

__all__ = [
    "Sampler",
    "GibbsSampler",
    "BlockGibbsSampler",
    "linear_beta_schedule",
    "geometric_beta_schedule",
]
