"""I.i.d. Bernoulli(ε) flip masks, drawn from the gaps between flips when ε is small.

A row of ``d`` independent Bernoulli(ε) bits is a Bernoulli process: the gaps between
successive ones are i.i.d. geometric, ``P(G = g) = (1 − ε)^{g−1} ε`` for ``g = 1, 2, …``,
and ``G = ⌊log(1 − u) / log(1 − ε)⌋ + 1`` with ``u ~ U[0, 1)``. The flips sit at the partial
sums ``G_1 − 1, G_1 + G_2 − 1, …`` that fall below ``d``. Drawing the gaps costs about
``εd + 1`` uniforms per row instead of ``d`` (plus a margin): 4× fewer for energy
discrepancy's usual ``ε = 0.1`` at ``d = 100``, about 100× fewer at ``ε = 0.001`` on MNIST
(``d = 784``). Rows whose
first gaps do not reach ``d`` draw more gaps from where they stopped, so the law is exact
(not truncated) for every row.
"""

from __future__ import annotations

import math

import torch

from .._validation import check_probability

#: Above this ε the dense draw ``u < ε`` (one uniform per bit) is as cheap as the gaps (a gap
#: costs a logarithm and a scatter on top of its uniform).
SPARSE_MAX_EPSILON = 0.2


def bernoulli_flip_mask(
    shape: tuple[int, ...],
    epsilon: float,
    *,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    gaps_per_draw: int | None = None,
) -> torch.Tensor:
    """A 0/1 tensor of ``shape`` (``(..., d)``) with i.i.d. Bernoulli(``epsilon``) entries.

    For ``epsilon <= SPARSE_MAX_EPSILON`` the flip positions of each length-``d`` row come
    from geometric gaps (see the module docstring); otherwise from one uniform per entry.
    Both draw from ``generator`` and are exact up to the resolution of the uniforms.
    ``gaps_per_draw``: gaps drawn per row and round (default ``εd + 4√(εd) + 4``, so a second
    round is rare); any value gives the same law.
    """
    epsilon = check_probability(epsilon, "epsilon")
    shape = tuple(int(s) for s in shape)
    if not shape or min(shape) < 0:
        raise ValueError(f"shape must be a non-empty tuple of sizes >= 0, got {shape}")
    if epsilon > SPARSE_MAX_EPSILON or math.prod(shape) == 0:
        u = torch.rand(shape, generator=generator, device=device)
        return (u < epsilon).to(dtype)
    d = shape[-1]
    rows = math.prod(shape[:-1])
    mask = torch.zeros(rows, d + 1, dtype=torch.bool, device=device)  # column d: "past the end"
    log_keep = math.log1p(-epsilon)
    mean = epsilon * d
    chunk = int(mean + 4.0 * math.sqrt(mean) + 4) if gaps_per_draw is None else gaps_per_draw
    if not (isinstance(chunk, int) and chunk >= 1):
        raise ValueError(f"gaps_per_draw must be a positive integer, got {gaps_per_draw!r}")
    pending = None  # rows whose flips may still fall below d (None: all rows)
    start = None  # their next position, minus 1
    while True:
        n = rows if pending is None else pending.numel()
        u = torch.rand(n, chunk, generator=generator, device=device)
        # float32 is exact here: gaps and positions are integers far below 2^24
        pos = torch.cumsum(torch.floor(torch.log1p(-u) / log_keep) + 1.0, dim=1) - 1.0
        if pending is None:
            mask.scatter_(1, pos.clamp(max=d).long(), True)
        else:
            pos += start.unsqueeze(1)
            mask[pending.unsqueeze(1), pos.clamp(max=d).long()] = True
        more = pos[:, -1] < d
        if not bool(more.any()):
            break
        start = pos[more, -1] + 1.0
        pending = more.nonzero().squeeze(1) if pending is None else pending[more]
    return mask[:, :d].to(dtype).reshape(shape)
