"""The Objective contract: ``objective(model, x) -> scalar loss`` to minimise.

Every objective (discrete and continuous) is a callable object that returns a scalar
tensor and leaves what it measured in ``self.metrics`` (a dict of floats or 0-d tensors,
read by ``fit`` after the step). Objectives hold no data; stateful ones (persistent
contrastive divergence) keep their chains as attributes and expose ``state_dict`` /
``load_state_dict`` so checkpoints can resume them.

``objective(model, x)`` checks its arguments before ``loss`` runs: ``x`` must have at least
one row (an empty batch would make every mean NaN), the model's domain must be the
objective's (an objective for one domain fixes an undeclared one, see ``EnergyModel``), and
``x`` goes through ``model.check_input`` (width, values, and a floating-point batch of
another dtype converted to the model's). Objectives that also offer ``write_gradients`` or
``update`` call ``check_rows`` there.
"""

from __future__ import annotations

import abc

import torch

from .._validation import check_rows
from ..models.base import EnergyModel


class Objective(abc.ABC):
    """Base class for training objectives."""

    #: whether the objective needs binary data (``True``), continuous data (``False``) or either.
    binary: bool | None = None

    def __init__(self):
        self.metrics: dict = {}

    @abc.abstractmethod
    def loss(
        self, model: EnergyModel, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The scalar loss on a batch ``x`` of shape ``(B, d)``."""

    def __call__(
        self, model: EnergyModel, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if not isinstance(model, EnergyModel):
            raise TypeError(f"model must be a discrete_ebm.EnergyModel, got {type(model).__name__}")
        check_rows(x)
        if self.binary is not None:
            model.require_domain(self.binary, type(self).__name__)
        x = model.check_input(x)
        self.metrics = {}
        return self.loss(model, x, generator)

    def state_dict(self) -> dict:
        """Objective state to checkpoint (empty for stateless objectives)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned (nothing to restore for stateless objectives)."""
        return None
