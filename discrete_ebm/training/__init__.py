"""Training: ``fit``, the one training loop, with its history, schedules and evaluations.

- ``fit(model, objective, data, ...)`` (``loop``): batches, optimiser and scheduler steps,
  divergence checks, progress bar, atomic checkpoints and exact resume.
- ``History`` (``history``): losses, metrics and wall times per step, evaluation records.
- ``Evaluation`` (``evaluation``): metrics recorded at chosen steps, off the training clock.
- ``linear_decay``, ``cosine_decay`` (``schedules``): learning-rate factors per step.
- ``CheckpointCorrupted``, ``CheckpointInUse`` (``checkpoint``): a checkpoint whose bytes
  differ from what was written; a checkpoint another run is training on.
- ``parallel``: what ``fit`` does under ``torchrun`` (data-parallel with DDP or FSDP2,
  per-rank generators and chains, rank-0 checkpoints of every rank's state).
"""

from .checkpoint import CheckpointCorrupted, CheckpointInUse
from .evaluation import Evaluation
from .history import History, TrainingDiverged
from .loop import fit, l1_penalty
from .schedules import cosine_decay, linear_decay

__all__ = [
    "fit",
    "History",
    "TrainingDiverged",
    "CheckpointCorrupted",
    "CheckpointInUse",
    "Evaluation",
    "linear_decay",
    "cosine_decay",
    "l1_penalty",
]
