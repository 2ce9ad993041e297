"""Samplers sharing one contract.

``sample(n_chains, n_steps, x0, *, thin, clamp, beta, generator, return_diagnostics,
distributed)``
"""

from .base import Sampler, geometric_beta_schedule, linear_beta_schedule
from .block_gibbs import BlockGibbsSampler
from .gibbs import GibbsSampler
from .gwg import GWGSampler
from .langevin import LangevinSampler
from .parallel_tempering import ParallelTempering

__all__ = [
    "Sampler",
    "GibbsSampler",
    "BlockGibbsSampler",
    "GWGSampler",
    "LangevinSampler",
    "ParallelTempering",
    "linear_beta_schedule",
    "geometric_beta_schedule",
]
