"""Training objectives sharing one contract: ``objective(model, x) -> scalar loss``.

``make(name, model=None, **settings)`` builds one by name (``names()`` lists them).
"""

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
from .fused_dbm_pcd import FusedDBMPCD
from .fused_pcd import FusedPCD
from .pseudo_likelihood import PseudoLikelihood
from .rbm_pcd import RBMPersistentCD
from .registry import make, names, register
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
    "RBMPersistentCD",
    "FusedPCD",
    "FusedDBMPCD",
    "make",
    "names",
    "register",
]
