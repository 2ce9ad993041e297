"""discrete_ebm: energy-based models on binary and graph spaces, with a continuous branch.

Conventions: binary states are float tensors in {0, 1} of shape ``(B, d)``;
``energy(x)`` returns ``U(x)`` with ``p(x) ∝ exp(−U(x))``, shape ``(B,)``.
"""

import importlib
import importlib.util

#: submodule -> the public names it defines. They load on first use (PEP 562), so
#: ``import discrete_ebm`` loads no torch: the ``discrete-ebm`` command sets the OpenMP wait
#: policy before torch starts (``discrete_ebm.threads``), and a program importing the
#: library keeps its own settings.
_EXPORTS = {
    "cpu_allocator": ("keep_freed_memory",),
    "devices": ("resolve_device",),
    "evaluation": ("ais", "exact", "reverse_ais"),
    "models": (
        "DBM",
        "RBM",
        "BernoulliBase",
        "ConvEnergy",
        "EnergyModel",
        "GaussianBase",
        "IsingModel",
        "MLPEnergy",
        "OffsetIsing",
        "QuadraticEnergy",
    ),
    "objectives": (
        "BernoulliED",
        "ContrastiveDivergence",
        "DBMEnergyDiscrepancy",
        "DBMPersistentCD",
        "DenoisingScoreMatching",
        "FusedPCD",
        "FusedDBMPCD",
        "GaussianED",
        "GridED",
        "Objective",
        "PseudoLikelihood",
        "RBMPersistentCD",
        "ScoreMatching",
        "SlicedScoreMatching",
    ),
    "samplers": (
        "BlockGibbsSampler",
        "GibbsSampler",
        "GWGSampler",
        "LangevinSampler",
        "ParallelTempering",
        "Sampler",
    ),
    "training": (
        "CheckpointCorrupted",
        "CheckpointInUse",
        "Evaluation",
        "History",
        "TrainingDiverged",
        "cosine_decay",
        "fit",
        "linear_decay",
    ),
}
_ORIGIN = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    """Load a public name (or a submodule such as ``discrete_ebm.models``) on first use."""
    if name in _ORIGIN:
        value = getattr(importlib.import_module(f"{__name__}.{_ORIGIN[name]}"), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}"):
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
    "ParallelTempering",
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
    "FusedDBMPCD",
    "fit",
    "Evaluation",
    "linear_decay",
    "cosine_decay",
    "History",
    "TrainingDiverged",
    "CheckpointCorrupted",
    "CheckpointInUse",
    "exact",
    "ais",
    "reverse_ais",
    "resolve_device",
]
