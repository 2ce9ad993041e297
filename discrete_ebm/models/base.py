"""The EnergyModel contract: ``energy(x) -> (B,)`` with ``p(x) ∝ exp(−U(x))``.

A subclass defines only ``energy``; everything else has a generic default computed from
energy differences, which models with local structure (Ising, RBM) override with exact,
cheaper formulas. Lower energy is more likely.
"""

from __future__ import annotations

import abc

import torch
from torch import nn

from .._validation import check_states
from ..devices import module_device, module_dtype


class EnergyModel(nn.Module, abc.ABC):
    """Base class of every energy.

    Args:
        dim: number of coordinates ``d`` of a state.
        binary: ``True`` for states in {0, 1}^d (float tensors), ``False`` for R^d.

    Subclasses implement ``energy(x)``: ``(B, d) -> (B,)``. For latent-variable models it
    is the free energy of the visible units.
    """

    def __init__(self, dim: int, *, binary: bool = True):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self.dim = int(dim)
        self.binary = bool(binary)

    @abc.abstractmethod
    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """U(x) for a batch ``x`` of shape ``(B, d)``; returns shape ``(B,)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.energy(x)

    # ----------------------------------------------------------------- helpers
    @property
    def device(self) -> torch.device:
        return module_device(self)

    @property
    def dtype(self) -> torch.dtype:
        return module_dtype(self)

    def check_input(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """Validate a batch of states for this model (width, dtype, binary values, NaN)."""
        return check_states(x, self.dim, name=name, binary=self.binary)

    # ------------------------------------------------ conditionals (binary models)
    def site_logits(self, x: torch.Tensor, sites: torch.Tensor) -> torch.Tensor:
        """Logits of the single-site conditionals at ``sites``.

        ``out[b, k] = log p(x_s = 1 | x_−s) − log p(x_s = 0 | x_−s) = U(x^{s←0}) − U(x^{s←1})``
        with ``s = sites[k]``; shape ``(B, len(sites))``. The generic version evaluates the
        energy of ``2·B·k`` modified states in one batched call.
        """
        B, d = x.shape
        k = sites.numel()
        xx = x.unsqueeze(1).expand(B, k, d).repeat(2, 1, 1)  # (2B, k, d)
        cols = sites.view(1, k, 1).expand(2 * B, k, 1)
        vals = torch.cat(
            [x.new_zeros(B, k, 1), x.new_ones(B, k, 1)], dim=0
        )  # first half x_s=0, second x_s=1
        xx = xx.scatter(2, cols, vals)
        u = self.energy(xx.reshape(2 * B * k, d)).view(2, B, k)
        return u[0] - u[1]

    def conditional_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every single-site conditional, shape ``(B, d)`` (see ``site_logits``)."""
        return self.site_logits(x, torch.arange(self.dim, device=x.device))

    def interaction_graph(self):
        """The graph whose edges are the pairs of coordinates that interact, or ``None``.

        Block Gibbs needs it (sites of one colour must be conditionally independent). The
        generic model has no known structure and returns ``None``.
        """
        return None
