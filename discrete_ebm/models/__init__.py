"""Energy models: the EnergyModel contract and concrete energies."""

from .base import EnergyModel
from .ising import IsingModel, ising_chain_log_partition

__all__ = ["EnergyModel", "IsingModel", "ising_chain_log_partition"]
