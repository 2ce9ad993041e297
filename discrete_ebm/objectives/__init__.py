"""Training objectives sharing one contract: ``objective(model, x) -> scalar loss``."""

from .base import Objective
from .contrastive_divergence import ContrastiveDivergence
from .dbm import DBMEnergyDiscrepancy, DBMPersistentCD
from .energy_discrepancy import (
    BernoulliED,
    EnergyDiscrepancy,
    GaussianED,
    GridED,
    energy_discrepancy_loss,
)
from .pseudo_likelihood import PseudoLikelihood
from .score_matching import DenoisingScoreMatching, ScoreMatching, SlicedScoreMatching

__all__ = [
    "Objective",
    "EnergyDiscrepancy",
    "BernoulliED",
    "GridED",
    "GaussianED",
    "energy_discrepancy_loss",
    "PseudoLikelihood",
    "ContrastiveDivergence",
    "ScoreMatching",
    "SlicedScoreMatching",
    "DenoisingScoreMatching",
    "DBMPersistentCD",
    "DBMEnergyDiscrepancy",
]
