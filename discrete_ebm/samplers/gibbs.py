"""Single-site heat-bath Gibbs sampler for any binary EnergyModel.

At each update a site ``i`` is redrawn from its exact conditional
``p_β(x_i = 1 | x_−i) = σ(β · [U(x^{i←0}) − U(x^{i←1})])``, for all chains at once. The
logit comes from the model's ``site_logits`` (``2 φ_i`` for an Ising model; energy
differences for a generic model, e.g. a neural energy).
"""

from __future__ import annotations

import torch

from ..models.base import EnergyModel
from .base import Sampler, heat_bath


class GibbsSampler(Sampler):
    """Heat-bath Gibbs sampler; one step is a sweep of ``d`` single-site updates.

    Args:
        model: a binary EnergyModel.
        scan: ``"systematic"`` visits sites ``0..d−1`` in order; ``"random"`` draws each of the
            ``d`` sites of a sweep uniformly at random (one draw shared by all chains, which
            stay independent given the scan order).
    """

    binary = True
    other_domain_hint = "; use LangevinSampler on R^d"

    def __init__(self, model: EnergyModel, scan: str = "systematic"):
        super().__init__(model)
        if scan not in ("systematic", "random"):
            raise ValueError(f"scan must be 'systematic' or 'random', got {scan!r}")
        self.scan = scan

    def step(self, x, beta, clamp, x0, generator):
        d = x.shape[1]
        if self.scan == "systematic":
            order = torch.arange(d, device=x.device)
        else:
            order = torch.randint(0, d, (d,), generator=generator, device=x.device)
        flips = x.new_zeros(())
        for i in order:
            site = i.view(1)
            old = x[:, site]
            new = heat_bath(old, self.model.site_logits(x, site), beta, generator)
            if clamp is not None:
                new = torch.where(clamp[:, site], x0[:, site], new)
            flips = flips + (new != old).sum()
            x[:, site] = new
        return x, {"flip_rate": flips / x.numel()}
