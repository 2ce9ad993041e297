"""Two-dimensional toy densities and their Gray-coded binary versions.

``sample_toy(name, n, generator)`` draws ``n`` points (a float tensor ``(n, 2)``) from one of
``TOY_DENSITIES``; ``log_density(name, x)`` is the exact ``log p(x)`` for the densities in
``EXACT_LOG_DENSITY``:

- ``8gaussians``: equal mixture of ``N(c_k, 0.35² I)``, ``c_k = 2.83 (cos 2πk/8, sin 2πk/8)``;
- ``25gaussians``: equal mixture of ``N(c, 0.15² I)`` on the grid ``c ∈ {−3, −1.5, 0, 1.5, 3}²``;
- ``circles``: radii 3 and 1.5 (equal weights), angle uniform, isotropic noise σ = 0.24;
  ``p(x) = Σ_k ½ (2πσ²)⁻¹ exp(−(|x|² + r_k²)/2σ²) I₀(r_k|x|/σ²)`` (exact, Bessel I₀);
- ``checkerboard``: uniform on the 8 squares of side 2 in [−4, 4]² whose cell indices
  ``(i, j)`` (from the lower-left corner) have ``i + j`` even: ``log p = −log 32`` there,
  ``−inf`` elsewhere.

``moons``, ``pinwheel``, ``swissroll`` and ``2spirals`` are curves blurred by noise; they
have no closed-form density (``log_density`` raises). All but a Gaussian tail (< 0.5%)
lies inside [−4, 4]² (the Gray code range).

Gray code (``encode_gray`` / ``decode_gray``): each coordinate becomes ``bits`` binary
digits, sign and magnitude: the first bit is the sign (1 for negative), the next
``bits − 1`` the Gray code (most significant first) of the magnitude index
``k = round(|x| / Δ)``, ``Δ = x_range / 2^(bits−1)``, ``0 ≤ k ≤ 2^(bits−1) − 1``. With the
defaults (``bits=16``, ``x_range=4``) two coordinates give 32 bits, the step is
``Δ = 4/32768 ≈ 1.2e−4`` and the representable range is ``[−(4 − Δ), 4 − Δ]``; values
outside are clipped (``clip=True``) or rejected. ``decode_gray(encode_gray(x))`` equals
``x`` exactly on the grid ``Δ·Z`` within range, and is within ``Δ/2`` of ``x`` otherwise.
A zero magnitude always gets sign bit 0. Adjacent magnitudes differ in one bit.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._validation import check_positive_int

TOY_DENSITIES = (
    "8gaussians",
    "25gaussians",
    "moons",
    "pinwheel",
    "swissroll",
    "circles",
    "2spirals",
    "checkerboard",
)
EXACT_LOG_DENSITY = ("8gaussians", "25gaussians", "circles", "checkerboard")
_ALIASES = {
    "two_moons": "moons",
    "swiss_roll": "swissroll",
    "two_spirals": "2spirals",
    "rings": "circles",
    "8_gaussians": "8gaussians",
    "25_gaussians": "25gaussians",
}

_R8, _S8 = 4.0 / 1.414, 0.5 / 1.414
_S25 = 0.15
_CIRCLE_RADII, _CIRCLE_SIGMA = (3.0, 1.5), 0.24


def _name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in TOY_DENSITIES:
        raise ValueError(f"unknown toy density {name!r}; expected one of {TOY_DENSITIES}")
    return key


def _rng(generator) -> np.random.Generator:
    if generator is None or isinstance(generator, int | np.integer):
        return np.random.default_rng(generator)
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(
        "generator must be a numpy.random.Generator, an int seed or None, "
        f"got {type(generator).__name__}"
    )


def _centers8() -> np.ndarray:
    a = 2 * np.pi * np.arange(8) / 8
    return _R8 * np.stack([np.cos(a), np.sin(a)], 1)


def _centers25() -> np.ndarray:
    g = np.array([-3.0, -1.5, 0.0, 1.5, 3.0])
    return np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)


def sample_toy(
    name: str,
    n: int,
    generator: np.random.Generator | int | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Draw ``n`` points of the 2-D density ``name`` (see ``TOY_DENSITIES``); ``(n, 2)`` tensor.

    ``generator``: a NumPy ``Generator`` or an int seed (``None``: fresh entropy).
    """
    key = _name(name)
    n = check_positive_int(n, "n")
    rng = _rng(generator)
    if key == "8gaussians":
        x = _centers8()[rng.integers(0, 8, n)] + _S8 * rng.standard_normal((n, 2))
    elif key == "25gaussians":
        x = _centers25()[rng.integers(0, 25, n)] + _S25 * rng.standard_normal((n, 2))
    elif key == "moons":
        t = np.pi * rng.random(n)
        upper = rng.random(n) < 0.5
        pts = np.where(
            upper[:, None],
            np.stack([np.cos(t), np.sin(t)], 1),
            np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], 1),
        )
        x = 2.0 * (pts + 0.1 * rng.standard_normal((n, 2))) + np.array([-1.0, -0.25])
    elif key == "pinwheel":
        arms, rate = 5, 0.25
        k = rng.integers(0, arms, n)
        feat = rng.standard_normal((n, 2)) * np.array([0.3, 0.1])
        feat[:, 0] += 1.0
        ang = 2 * np.pi * k / arms + rate * np.exp(feat[:, 0])
        c, s = np.cos(ang), np.sin(ang)
        x = 2.0 * np.stack([c * feat[:, 0] - s * feat[:, 1], s * feat[:, 0] + c * feat[:, 1]], 1)
    elif key == "swissroll":
        t = 1.5 * np.pi * (1.0 + 2.0 * rng.random(n))
        x = (np.stack([t * np.cos(t), t * np.sin(t)], 1) + rng.standard_normal((n, 2))) / 5.0
    elif key == "circles":
        r = np.where(rng.random(n) < 0.5, _CIRCLE_RADII[0], _CIRCLE_RADII[1])
        a = 2 * np.pi * rng.random(n)
        x = r[:, None] * np.stack([np.cos(a), np.sin(a)], 1) + _CIRCLE_SIGMA * rng.standard_normal(
            (n, 2)
        )
    elif key == "2spirals":
        t = np.sqrt(rng.random(n)) * 3 * np.pi
        sign = np.where(rng.random(n) < 0.5, 1.0, -1.0)[:, None]
        pts = np.stack([-np.cos(t) * t, np.sin(t) * t], 1) * sign
        x = pts / 3.0 + 0.1 * rng.standard_normal((n, 2))
    else:  # checkerboard
        black = np.array(
            [(i, j) for i in range(4) for j in range(4) if (i + j) % 2 == 0], dtype=float
        )
        cell = black[rng.integers(0, 8, n)]
        x = -4.0 + 2.0 * (cell + rng.random((n, 2)))
    return torch.as_tensor(x, dtype=dtype, device=device)


def _gaussian_mixture_logp(x: torch.Tensor, centers: np.ndarray, sigma: float) -> torch.Tensor:
    c = torch.as_tensor(centers, dtype=x.dtype, device=x.device)
    sq = ((x.unsqueeze(1) - c) ** 2).sum(-1)  # (n, K)
    log_comp = -sq / (2 * sigma**2) - math.log(2 * math.pi * sigma**2)
    return torch.logsumexp(log_comp, 1) - math.log(len(centers))


def log_density(name: str, x: torch.Tensor) -> torch.Tensor:
    """Exact ``log p(x)`` of a toy density, ``(n, 2) -> (n,)`` (computed in float64, returned
    in ``x``'s dtype). Only for ``EXACT_LOG_DENSITY``; ``−inf`` outside the support."""
    key = _name(name)
    if key not in EXACT_LOG_DENSITY:
        raise ValueError(f"{key!r} has no closed-form log-density; exact ones: {EXACT_LOG_DENSITY}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (n, 2), got {type(x).__name__}")
    if x.dim() != 2 or x.shape[1] != 2 or not x.is_floating_point():
        raise ValueError(
            f"x must be a floating-point tensor of shape (n, 2), got {tuple(x.shape)} {x.dtype}"
        )
    xd = x.double()
    if key == "8gaussians":
        out = _gaussian_mixture_logp(xd, _centers8(), _S8)
    elif key == "25gaussians":
        out = _gaussian_mixture_logp(xd, _centers25(), _S25)
    elif key == "circles":
        s2 = _CIRCLE_SIGMA**2
        r = xd.norm(dim=1)
        terms = []
        for rk in _CIRCLE_RADII:
            z = rk * r / s2
            # log I0(z) = log(i0e(z)) + z  (i0e is the exponentially scaled Bessel function)
            terms.append(-(r**2 + rk**2) / (2 * s2) + torch.log(torch.special.i0e(z)) + z)
        out = torch.logsumexp(torch.stack(terms, 1), 1) - math.log(2 * math.pi * s2) - math.log(2.0)
    else:  # checkerboard
        inside = (xd >= -4).all(1) & (xd < 4).all(1)
        cell = torch.floor((xd + 4.0) / 2.0).clamp(0, 3)
        black = (cell.sum(1) % 2) == 0
        out = torch.where(inside & black, -math.log(32.0), -math.inf).to(xd.dtype)
    return out.to(x.dtype)


# ------------------------------------------------------------------------ Gray code
def _check_bits(bits: int) -> int:
    bits = check_positive_int(bits, "bits")
    if not 2 <= bits <= 62:
        raise ValueError(f"bits must be between 2 and 62 (1 sign bit + magnitude bits), got {bits}")
    return bits


def _check_range(x_range: float) -> float:
    if (
        isinstance(x_range, bool)
        or not isinstance(x_range, int | float)
        or not 0 < x_range < math.inf
    ):
        raise ValueError(f"x_range must be a positive finite float, got {x_range!r}")
    return float(x_range)


def gray_step(bits: int = 16, x_range: float = 4.0) -> float:
    """Quantisation step ``Δ = x_range / 2^(bits−1)`` of the Gray code."""
    return _check_range(x_range) / 2 ** (_check_bits(bits) - 1)


def encode_gray(
    x: torch.Tensor, bits: int = 16, *, x_range: float = 4.0, clip: bool = True
) -> torch.Tensor:
    """Sign-and-magnitude Gray code of each coordinate: ``(n, d) -> (n, d·bits)`` in {0., 1.}.

    Bit ``j·bits`` is the sign of ``x_j`` (1 if negative and nonzero after rounding); bits
    ``j·bits + 1 … j·bits + bits − 1`` the Gray code ``k ⊕ (k >> 1)`` of
    ``k = round(|x_j| / Δ)``, most significant first, ``Δ = x_range / 2^(bits−1)``.
    ``clip=False`` raises if some ``k`` exceeds ``2^(bits−1) − 1``.
    """
    bits, x_range = _check_bits(bits), _check_range(x_range)
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() != 2:
        raise TypeError("x must be a floating-point torch.Tensor of shape (n, d)")
    if not torch.isfinite(x).all():
        raise ValueError("x contains NaN or infinite values")
    m_bits = bits - 1
    kmax = 2**m_bits - 1
    step = x_range / 2**m_bits
    k = torch.round(x.double().abs() / step).long()
    if (k > kmax).any():
        if not clip:
            raise ValueError(
                f"x has values beyond ±{x_range - step} (x_range={x_range}, bits={bits}); "
                "use clip=True"
            )
        k = k.clamp(max=kmax)
    sign = ((x < 0) & (k > 0)).long()
    g = k ^ (k >> 1)
    shifts = torch.arange(m_bits - 1, -1, -1, device=x.device)
    mag = (g.unsqueeze(-1) >> shifts) & 1  # (n, d, m_bits)
    out = torch.cat([sign.unsqueeze(-1), mag], -1)
    return out.reshape(x.shape[0], -1).to(x.dtype)


def decode_gray(
    b: torch.Tensor, bits: int = 16, *, x_range: float = 4.0, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Inverse of ``encode_gray``: ``(n, d·bits)`` binary -> ``(n, d)`` values ``±k·Δ``."""
    bits, x_range = _check_bits(bits), _check_range(x_range)
    if not isinstance(b, torch.Tensor) or b.dim() != 2:
        raise TypeError("b must be a torch.Tensor of shape (n, d·bits)")
    if b.shape[1] % bits:
        raise ValueError(
            f"b must have a width divisible by bits={bits}, got shape {tuple(b.shape)}"
        )
    if ((b != 0) & (b != 1)).any():
        raise ValueError("b must be binary: every value 0 or 1")
    m_bits = bits - 1
    bb = b.long().reshape(b.shape[0], -1, bits)
    sign, g = bb[..., 0], bb[..., 1:]
    # Gray -> binary: each binary digit is the XOR (prefix parity) of the Gray digits above it
    binary = torch.cumsum(g, -1) % 2
    weights = 2 ** torch.arange(m_bits - 1, -1, -1, device=b.device)
    k = (binary * weights).sum(-1)
    step = x_range / 2**m_bits
    val = k.double() * step * (1 - 2 * sign).double()
    out_dtype = dtype or (b.dtype if b.is_floating_point() else torch.get_default_dtype())
    return val.to(out_dtype)


def sample_toy_gray(
    name: str,
    n: int,
    generator: np.random.Generator | int | None = None,
    *,
    bits: int = 16,
    x_range: float = 4.0,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Gray-coded binary version of ``sample_toy``: ``(n, 2·bits)`` float tensor in {0, 1}."""
    x = sample_toy(name, n, generator, dtype=torch.float64, device=device)
    return encode_gray(x, bits, x_range=x_range).float()
