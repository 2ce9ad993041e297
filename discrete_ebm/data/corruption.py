"""Corruption of binary images: flip noise, salt-and-pepper, masked (missing) pixels.

Inputs are binary float tensors of any shape (``(n, H, W)`` images or ``(B, d)`` rows) with
values in {0, 1}; outputs have the same shape. Every draw goes through a caller-seedable
``torch.Generator``.

Channel likelihoods (``x`` clean, ``y`` observed):

- flip noise with rate ``p``: ``y_i = 1 − x_i`` with probability ``p``, independently;
- salt-and-pepper with rate ``q``: each pixel is replaced with probability ``q`` by a fair
  random value (salt = 1 or pepper = 0), so for binary images it is flip noise with rate
  ``q / 2`` (``salt_and_pepper_flip_rate``);
- masking: each pixel is missing with probability ``fraction``; the observed ones are exact.
"""

from __future__ import annotations

import torch

from .._validation import check_probability


def _check_binary(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of 0/1 values, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor of 0./1. (use .float()), got {x.dtype}"
        )
    if torch.isnan(x).any() or ((x != 0) & (x != 1)).any():
        raise ValueError(f"{name} must be binary: every value 0. or 1.")
    return x


def _uniform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(x.shape, generator=generator, device=x.device, dtype=torch.float64)


def flip_noise(
    x: torch.Tensor, p: float, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip each pixel independently with probability ``p``: ``y = x XOR b``, ``b ~ Bernoulli(p)``.

    Args:
        x: binary float tensor, any shape.
        p: flip rate in ``[0, 1)``.
    Returns:
        ``(y, flipped)``: the noisy tensor (same shape and dtype as ``x``) and the boolean mask
        of flipped pixels.
    """
    x = _check_binary(x, "x")
    p = check_probability(p, "p", open_interval=False)
    if p >= 1:
        raise ValueError(f"p must lie in [0, 1), got {p}")
    flipped = _uniform(x, generator) < p
    return torch.where(flipped, 1 - x, x), flipped


def salt_and_pepper(
    x: torch.Tensor, q: float, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace each pixel with probability ``q`` by a fair random value (1 = salt, 0 = pepper).

    Returns ``(y, replaced)``. A replaced pixel keeps its value half of the time, so the
    observation channel is flip noise with rate ``q / 2`` (see ``salt_and_pepper_flip_rate``).
    """
    x = _check_binary(x, "x")
    q = check_probability(q, "q", open_interval=False)
    replaced = _uniform(x, generator) < q
    value = (_uniform(x, generator) < 0.5).to(x.dtype)
    return torch.where(replaced, value, x), replaced


def salt_and_pepper_flip_rate(q: float) -> float:
    """The flip rate ``q / 2`` of binary salt-and-pepper noise with replacement rate ``q``."""
    return check_probability(q, "q", open_interval=False) / 2


def mask_pixels(
    x: torch.Tensor, fraction: float, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide each pixel independently with probability ``fraction`` (inpainting input).

    Returns ``(y, observed)``: ``y`` equals ``x`` on observed pixels and 0 on missing ones
    (a placeholder; use ``observed`` to know which is which), ``observed`` a boolean mask.
    """
    x = _check_binary(x, "x")
    fraction = check_probability(fraction, "fraction", open_interval=False)
    observed = _uniform(x, generator) >= fraction
    return torch.where(observed, x, torch.zeros_like(x)), observed


def mask_block(
    x: torch.Tensor, top: int, left: int, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide a rectangle ``[top:top+height, left:left+width]`` of images ``x`` ``(n, H, W)``.

    Returns ``(y, observed)`` as ``mask_pixels`` does (missing pixels set to 0).
    """
    x = _check_binary(x, "x")
    if x.dim() != 3:
        raise ValueError(f"x must have shape (n, H, W), got {tuple(x.shape)}")
    for name, v in (("top", top), ("left", left)):
        if not isinstance(v, int) or v < 0:
            raise ValueError(f"{name} must be an int >= 0, got {v!r}")
    for name, v in (("height", height), ("width", width)):
        if not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name} must be an int > 0, got {v!r}")
    observed = torch.ones_like(x, dtype=torch.bool)
    observed[:, top : top + height, left : left + width] = False
    return torch.where(observed, x, torch.zeros_like(x)), observed


def pixel_error(estimate: torch.Tensor, clean: torch.Tensor) -> float:
    """Fraction of pixels where ``estimate`` and ``clean`` differ (same shapes)."""
    if estimate.shape != clean.shape:
        raise ValueError(
            f"estimate {tuple(estimate.shape)} and clean {tuple(clean.shape)} differ in shape"
        )
    return float((estimate != clean).double().mean())
