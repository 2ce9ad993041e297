"""Energy models: the EnergyModel contract and concrete energies."""

from .base import EnergyModel
from .dbm import DBM
from .ising import IsingModel, ising_chain_log_partition
from .neural import BernoulliBase, ConvEnergy, GaussianBase, MLPEnergy, QuadraticEnergy
from .offset_ising import OffsetIsing
from .rbm import RBM

__all__ = [
    "EnergyModel",
    "IsingModel",
    "ising_chain_log_partition",
    "RBM",
    "DBM",
    "MLPEnergy",
    "ConvEnergy",
    "QuadraticEnergy",
    "GaussianBase",
    "BernoulliBase",
    "OffsetIsing",
]
