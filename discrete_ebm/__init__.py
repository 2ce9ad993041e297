"""discrete_ebm: energy-based models on binary and graph spaces, with a continuous branch.

Conventions: binary states are float tensors in {0, 1} of shape ``(B, d)``;
``energy(x)`` returns ``U(x)`` with ``p(x) ∝ exp(−U(x))``, shape ``(B,)``.
"""

from . import cpu_allocator
from .cpu_allocator import keep_freed_memory
from .devices import resolve_device
from .evaluation import ais, exact
from .models import (
    DBM,
    RBM,
    BernoulliBase,
    ConvEnergy,
    EnergyModel,
    GaussianBase,
    IsingModel,
    MLPEnergy,
    OffsetIsing,
    QuadraticEnergy,
)
from .objectives import (
    BernoulliED,
    ContrastiveDivergence,
    DBMEnergyDiscrepancy,
    DBMPersistentCD,
    DenoisingScoreMatching,
    FusedPCD,
    GaussianED,
    GridED,
    Objective,
    PseudoLikelihood,
    RBMPersistentCD,
    ScoreMatching,
    SlicedScoreMatching,
)
from .samplers import BlockGibbsSampler, GibbsSampler, GWGSampler, LangevinSampler, Sampler
from .training import Evaluation, History, TrainingDiverged, cosine_decay, fit, linear_decay

__version__ = "0.1.0"

__all__ = [
    "cpu_allocator",
    "keep_freed_memory",
    "EnergyModel",
    "IsingModel",
    "RBM",
    "DBM",
    "MLPEnergy",
    "ConvEnergy",
    "QuadraticEnergy",
    "GaussianBase",
    "BernoulliBase",
    "OffsetIsing",
    "Sampler",
    "GibbsSampler",
    "BlockGibbsSampler",
    "GWGSampler",
    "LangevinSampler",
    "Objective",
    "BernoulliED",
    "GridED",
    "GaussianED",
    "PseudoLikelihood",
    "ContrastiveDivergence",
    "ScoreMatching",
    "SlicedScoreMatching",
    "DenoisingScoreMatching",
    "DBMPersistentCD",
    "DBMEnergyDiscrepancy",
    "RBMPersistentCD",
    "FusedPCD",
    "fit",
    "Evaluation",
    "linear_decay",
    "cosine_decay",
    "History",
    "TrainingDiverged",
    "exact",
    "ais",
    "resolve_device",
]
