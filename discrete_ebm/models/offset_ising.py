"""Translation-invariant Ising model on images: couplings shared by offset within a radius.

``U(x) = −Σ_{i<j} J_{o(i,j)} s_i s_j − Σ_i (h + f_i) s_i`` with ``s = 2x − 1``, sites the
pixels of an ``H × W`` image (row-major, ``i = row·W + col``), ``o(i, j)`` the offset
``(Δrow, Δcol)`` between two pixels, and ``J_o`` one coupling per offset with
``0 < Δrow² + Δcol² ≤ radius²`` (an offset and its negative share a coupling). Pixels
outside the image do not exist (free boundary). ``h`` is a scalar bias and ``f`` an
optional external field, either one map ``(d,)`` or one per chain ``(B, d)`` (the
observation field of a batch of noisy images, see ``discrete_ebm.denoise.posterior``).

Because the couplings do not depend on position, the same parameters apply to any image
size (``for_shape``). Local fields are the 2-D convolution of the spin image with the
symmetric offset kernel ``K`` (``K[R+Δr, R+Δc] = J_(Δr,Δc)``, zero centre), computed by
shifted adds of the padded image:
``φ = K ⋆ s + h + f`` and ``p(x_i = 1 | x_−i) = σ(2 φ_i)``, as for ``IsingModel``.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import as_tensor
from .base import EnergyModel
from .ising import IsingModel


def half_offsets(radius: float) -> list[tuple[int, int]]:
    """Offsets ``(Δr, Δc)`` with ``0 < Δr² + Δc² ≤ radius²`` and ``Δr > 0`` or
    (``Δr = 0`` and ``Δc > 0``): one representative per ± pair, sorted by length."""
    if isinstance(radius, bool) or not isinstance(radius, int | float) or not radius >= 1:
        raise ValueError(f"radius must be a number >= 1, got {radius!r}")
    R = int(math.floor(radius))
    r2 = radius * radius + 1e-9
    out = []
    for dr in range(0, R + 1):
        for dc in range(-R, R + 1):
            if (dr > 0 or dc > 0) and dr * dr + dc * dc <= r2:
                out.append((dr, dc))
    return sorted(out, key=lambda o: (o[0] ** 2 + o[1] ** 2, o))


def lattice_coloring(offsets: list[tuple[int, int]]) -> tuple[int, int, int]:
    """A proper linear colouring ``colour(r, c) = (a·r + b·c) mod m`` of the infinite grid.

    Two pixels at offset ``(Δr, Δc)`` get the same colour iff ``a·Δr + b·Δc ≡ 0 (mod m)``, so
    the colouring is proper when that fails for every interacting offset. Returns the
    ``(a, b, m)`` with the fewest colours ``m`` (searched upwards from 2).
    """
    if not offsets:
        return 1, 1, 1
    for m in range(2, 4 * max(max(abs(dr), abs(dc)) for dr, dc in offsets) ** 2 + 4):
        for a in range(m):
            for b in range(1, m):
                if all((a * dr + b * dc) % m != 0 for dr, dc in offsets):
                    return a, b, m
    raise RuntimeError("no linear colouring found")  # unreachable: m = (2R+1)² always works


class OffsetIsing(EnergyModel):
    """Ising model on ``H × W`` images with offset-shared couplings (see module docstring).

    Args:
        shape: image shape ``(H, W)``; ``dim = H·W``.
        radius: neighbourhood radius (Euclidean, ``≥ 1``; 1 = nearest neighbours, 1.5 adds the
            diagonals, 2 the offsets (0, 2) and (2, 0), ...).
        couplings: initial ``J_o`` per offset of ``half_offsets(radius)`` (zeros if ``None``),
            or one float for all offsets.
        bias: scalar field ``h``.
        field: optional external field ``(d,)`` or ``(B, d)`` (a buffer, not trained).
        boundary: spin value ``b`` of the pixels outside the image: ``0`` a free boundary,
            ``−1`` a black (``+1`` white) background. Pixel ``i`` then feels the boundary
            field ``g_i = b Σ_{o: i+o outside} J_o``, added to ``h + f``.
        dtype: parameter dtype.

    Parameters ``couplings (n_offsets,)`` and ``bias ()``; the offsets are ``self.offsets``.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        radius: float = 1.0,
        couplings=None,
        bias: float = 0.0,
        field=None,
        *,
        boundary: float = 0.0,
        dtype: torch.dtype = torch.float32,
    ):
        H, W = _check_shape(shape)
        super().__init__(H * W, binary=True)
        self.image_shape = (H, W)
        boundary = float(boundary)
        if not -1.0 <= boundary <= 1.0:
            raise ValueError(f"boundary must be a spin value in [-1, 1], got {boundary}")
        self.boundary = boundary
        self.radius = float(radius)
        self.offsets = half_offsets(radius)
        R = int(math.floor(radius))
        self.R = R
        n = len(self.offsets)
        if couplings is None:
            couplings = torch.zeros(n, dtype=dtype)
        elif isinstance(couplings, int | float):
            couplings = torch.full((n,), float(couplings), dtype=dtype)
        couplings = as_tensor(couplings, name="couplings").to(dtype).reshape(-1)
        if couplings.numel() != n:
            raise ValueError(
                f"couplings must have {n} entries (one per offset of radius {radius}), "
                f"got {couplings.numel()}"
            )
        if not torch.isfinite(couplings).all():
            raise ValueError("couplings contain NaN or infinite values")
        self.couplings = nn.Parameter(couplings.clone())
        self.bias = nn.Parameter(torch.tensor(float(bias), dtype=dtype))
        # scatter matrix: kernel_flat = couplings @ M, M[k] marks (R+Δ) and (R−Δ)
        K = 2 * R + 1
        M = torch.zeros(n, K * K, dtype=dtype)
        for k, (dr, dc) in enumerate(self.offsets):
            M[k, (R + dr) * K + (R + dc)] = 1
            M[k, (R - dr) * K + (R - dc)] = 1
        self.register_buffer("_scatter", M, persistent=False)
        self.register_buffer("field", None, persistent=False)
        self.set_field(field)
        a, b, m = lattice_coloring(self.offsets)
        self.coloring_params = (a, b, m)
        r, c = np.divmod(np.arange(H * W), W)
        colours = torch.as_tensor((a * r + b * c) % m)
        self.register_buffer(
            "colour_masks", torch.stack([colours == k for k in range(m)]), persistent=False
        )

    # ------------------------------------------------------------ construction
    def set_field(self, field) -> None:
        """Set the external field ``f``: ``None``, ``(d,)`` or ``(B, d)`` (spin convention)."""
        if field is None:
            self.field = None
            return
        field = as_tensor(field, name="field").to(self.couplings.dtype).to(self.couplings.device)
        if field.dim() == 1:
            field = field.unsqueeze(0)
        if field.dim() != 2 or field.shape[1] != self.dim:
            raise ValueError(
                f"field must have shape ({self.dim},) or (B, {self.dim}), got {tuple(field.shape)}"
            )
        if not torch.isfinite(field).all():
            raise ValueError("field contains NaN or infinite values")
        self.field = field.clone()

    def for_shape(self, shape: tuple[int, int], field=None) -> OffsetIsing:
        """The same couplings and bias on images of another ``shape`` (detached copy)."""
        return OffsetIsing(
            shape,
            self.radius,
            self.couplings.detach().clone(),
            float(self.bias.detach()),
            field,
            boundary=self.boundary,
            dtype=self.couplings.dtype,
        ).to(self.couplings.device)

    def with_field(self, field) -> OffsetIsing:
        """A detached copy of this model with external field ``field`` ``(d,)`` or ``(B, d)``."""
        return self.for_shape(self.image_shape, field)

    def to_ising(self, field_row: int = 0) -> IsingModel:
        """The equivalent ``IsingModel`` (sparse) with ``h = bias + field[field_row]``."""
        H, W = self.image_shape
        edges, weights = [], []
        Jv = self.couplings.detach().cpu().tolist()
        for k, (dr, dc) in enumerate(self.offsets):
            for r in range(H):
                for c in range(W):
                    r2, c2 = r + dr, c + dc
                    if 0 <= r2 < H and 0 <= c2 < W:
                        edges.append((r * W + c, r2 * W + c2))
                        weights.append(Jv[k])
        h = torch.full((self.dim,), float(self.bias.detach()), dtype=torch.float64)
        h = h + self.boundary_field().detach().cpu().double()
        if self.field is not None:
            h = h + self.field[field_row].detach().cpu().double()
        edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        return IsingModel.from_edges(
            self.dim, edges, np.asarray(weights), h, sparse=True, dtype=self.couplings.dtype
        )

    # ----------------------------------------------------------------- views
    @property
    def kernel(self) -> torch.Tensor:
        """The symmetric ``(2R+1, 2R+1)`` coupling kernel (zero centre)."""
        K = 2 * self.R + 1
        return (self.couplings @ self._scatter).view(K, K)

    @property
    def n_colors(self) -> int:
        return int(self.colour_masks.shape[0])

    def interaction_graph(self) -> nx.Graph:
        """Pixels ``0..d−1`` joined when their offset is within the radius."""
        H, W = self.image_shape
        G = nx.Graph()
        G.add_nodes_from(range(self.dim))
        for dr, dc in self.offsets:
            for r in range(H):
                for c in range(W):
                    r2, c2 = r + dr, c + dc
                    if 0 <= r2 < H and 0 <= c2 < W:
                        G.add_edge(r * W + c, r2 * W + c2)
        return G

    def coloring(self) -> list[np.ndarray]:
        """The colour blocks (site arrays) used by the sweeps; a proper colouring."""
        return [np.flatnonzero(m.cpu().numpy()) for m in self.colour_masks]

    # -------------------------------------------------------------- energies
    def _field_for(self, B: int) -> torch.Tensor | None:
        f = self.field
        if f is None or f.shape[0] == 1:
            return f
        if f.shape[0] != B:
            raise ValueError(
                f"the model has per-chain fields for {f.shape[0]} chains, x has {B} rows"
            )
        return f

    def boundary_field(self) -> torch.Tensor:
        """``g_i = b Σ_{o: i+o outside} J_o``, shape ``(d,)`` (zeros for a free boundary)."""
        if self.boundary == 0:
            return self.couplings.new_zeros(self.dim)
        inside = self.couplings.new_ones(1, self.dim)
        padded = self._coupling_fields(inside, pad_value=1.0)
        return self.boundary * (padded - self._coupling_fields(inside))[0]

    def _coupling_fields(self, s: torch.Tensor, pad_value: float = 0.0) -> torch.Tensor:
        """``K ⋆ s`` for spins ``s`` ``(B, d)``; shape ``(B, d)`` (zero padding = free boundary).

        Computed as ``Σ_o J_o (s shifted by +o  +  s shifted by −o)`` on the zero-padded image:
        one slice-and-add per offset, much faster on CPU than a one-channel ``conv2d``."""
        H, W = self.image_shape
        R = self.R
        sp = F.pad(s.view(-1, H, W), (R, R, R, R), value=pad_value)
        J = self.couplings.to(s.dtype)
        out = None
        for k, (dr, dc) in enumerate(self.offsets):
            pair = (
                sp[:, R + dr : R + dr + H, R + dc : R + dc + W]
                + sp[:, R - dr : R - dr + H, R - dc : R - dc + W]
            )
            out = J[k] * pair if out is None else out + J[k] * pair
        return out.reshape(s.shape[0], self.dim)

    def _fields_of_spins(self, s: torch.Tensor) -> torch.Tensor:
        phi = self._coupling_fields(s) + self.bias.to(s.dtype)
        if self.boundary != 0:
            phi = phi + self.boundary_field().to(s.dtype)
        f = self._field_for(s.shape[0])
        return phi if f is None else phi + f.to(s.dtype)

    def local_fields(self, x: torch.Tensor) -> torch.Tensor:
        """``φ(x) = K ⋆ s + h + f``, shape ``(B, d)``; ``p(x_i = 1 | x_−i) = σ(2 φ_i)``."""
        x = self.check_input(x)
        return self._fields_of_spins(2 * x - 1)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``U(x) = −½ sᵀ(K ⋆ s) − Σ_i (h + f_i) s_i``; shape ``(B,)``."""
        x = self.check_input(x)
        s = 2 * x - 1
        u = -0.5 * (s * self._coupling_fields(s)).sum(1) - self.bias.to(s.dtype) * s.sum(1)
        if self.boundary != 0:
            u = u - s @ self.boundary_field().to(s.dtype)
        f = self._field_for(s.shape[0])
        if f is not None:
            u = u - (s * f.to(s.dtype)).sum(1)
        return u

    def conditional_logits(self, x: torch.Tensor) -> torch.Tensor:
        """``2 φ(x)``, shape ``(B, d)``: logits of ``p(x_i = 1 | x_−i)``."""
        return 2 * self._fields_of_spins(2 * x - 1)

    def site_logits(self, x: torch.Tensor, sites: torch.Tensor) -> torch.Tensor:
        """``2 φ_s`` at ``sites``; shape ``(B, len(sites))``."""
        return self.conditional_logits(x)[:, sites]

    # ---------------------------------------------------------------- sweeps
    def block_gibbs_sweep(
        self,
        x: torch.Tensor,
        *,
        beta: float = 1.0,
        clamp: torch.Tensor | None = None,
        x0: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict]:
        """One heat-bath sweep over the colour classes: all pixels of a colour are redrawn at
        once from ``σ(β · 2φ_i)``; clamped pixels keep their value in ``x0``."""
        flips = x.new_zeros(())
        for mask in self.colour_masks:
            logits = self.conditional_logits(x)
            u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            new = (u < torch.sigmoid(beta * logits)).to(x.dtype)
            upd = mask if clamp is None else mask & ~clamp
            flips = flips + ((new != x) & upd).sum()
            x = torch.where(upd, new, x)
        return x, {"flip_rate": flips / x.numel()}

    def icm_sweep(
        self, x: torch.Tensor, *, clamp: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One iterated-conditional-modes sweep: each colour class is set to its conditional
        mode ``x_i = 1[φ_i > 0]`` (ties keep the current value). The energy never increases.
        Returns ``(x, n_changed)`` with ``n_changed`` per chain ``(B,)``."""
        changed = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        for mask in self.colour_masks:
            logits = self.conditional_logits(x)
            new = torch.where(
                logits > 0, torch.ones_like(x), torch.where(logits < 0, torch.zeros_like(x), x)
            )
            upd = mask if clamp is None else mask & ~clamp
            changed += ((new != x) & upd).sum(1)
            x = torch.where(upd, new, x)
        return x, changed

    def extra_repr(self) -> str:
        f = "none" if self.field is None else f"{tuple(self.field.shape)}"
        return (
            f"shape={self.image_shape}, radius={self.radius}, offsets={len(self.offsets)}, "
            f"colours={self.n_colors}, field={f}"
        )


def _check_shape(shape) -> tuple[int, int]:
    try:
        H, W = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise TypeError(f"shape must be a pair (H, W) of ints, got {shape!r}") from None
    if H < 1 or W < 1:
        raise ValueError(f"shape must be positive, got {shape!r}")
    return H, W
