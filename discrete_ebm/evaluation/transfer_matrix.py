"""Exact ``log Z`` of an Ising model on a ``rows × cols`` grid by the row transfer matrix.

Sites are laid out row-major (site ``r * cols + c``). Couplings may join any two sites of one
row (nearest neighbours, wrap-around, long range) and any two sites of adjacent rows ``r`` and
``r + 1``, including the wrap pair ``rows − 1`` and ``0``; rows further apart must not be
coupled. With ``K = 2^cols`` row states ``a`` (spins ``s_a ∈ {−1, +1}^cols``, ``x_c`` = bit
``cols − 1 − c`` of ``a`` as in ``exact.all_states``):

    w_r(a)    = exp(½ s_aᵀ J_rr s_a + h_rᵀ s_a)           within-row weight, (K,)
    V_r[a, b] = exp(s_aᵀ J_{r,r+1} s_b)                  row r in state a, row r+1 in b, (K, K)
    Z = Tr Π_r diag(w_r) V_r                             with a wrap coupling (rows ≥ 3)
    Z = w_0ᵀ V_0 diag(w_1) V_1 ⋯ diag(w_{R−1}) 1          open in the row direction

``J_rr``, ``J_{r,r+1}`` are the ``(cols, cols)`` blocks of the model's ``J``. For ``rows == 2``
the wrap pair and the adjacent pair are the same pair of rows, so the open form with the whole
block ``J_01`` is exact. Everything runs in float64; the running product is rescaled every
row (the log scales are accumulated), so strong couplings do not overflow. The result is
differentiable by autograd w.r.t. the model's parameters.

Cost: ``V_r`` factorises as ``V_A ⊗ V_B`` when the pairs between the two rows only join the
first half of the columns to the first half and the second half to the second (e.g. a
square lattice), and is applied in ``O(P K^{3/2})``; otherwise it is a dense ``(K, K)``
matrix (``O(P K²)``). ``P = K`` with a wrap coupling (the running product is a matrix), else 1.
"""

from __future__ import annotations

import numbers

import torch

from ..models.ising import IsingModel
from .exact import all_states

#: largest ``cols`` accepted (a ``2^cols × 2^cols`` float64 matrix is 2 GiB at 14).
MAX_COLS = 14


def _matrix_gib(cols: int) -> float:
    return (2**cols) ** 2 * 8 / 2**30


def _check_args(model: IsingModel, rows: int, cols: int) -> tuple[int, int]:
    if not isinstance(model, IsingModel):
        raise TypeError(f"model must be an IsingModel, got {type(model).__name__}")
    for name, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    rows, cols = int(rows), int(cols)
    if rows * cols != model.dim:
        raise ValueError(
            f"rows * cols must equal the model's dimension {model.dim}, got {rows} * {cols}"
        )
    if cols > MAX_COLS:
        raise ValueError(
            f"cols must be <= {MAX_COLS}: cols={cols} needs 2^{cols} row states and "
            f"2^{cols} × 2^{cols} float64 matrices of {_matrix_gib(cols):.0f} GiB each "
            f"(lay the grid out with the shorter side as cols)"
        )
    return rows, cols


def _row_distance(rows: int) -> torch.Tensor:
    """``(rows, rows)`` distance between rows on a ring (wrap-around allowed)."""
    r = torch.arange(rows)
    delta = (r[:, None] - r[None, :]).abs()
    return torch.minimum(delta, rows - delta)


def _row_spins(cols: int, *, device=None) -> torch.Tensor:
    """Spins of the ``2^cols`` row states, ``(2^cols, cols)`` float64 (``x_0`` the top bit)."""
    return 2.0 * all_states(cols, dtype=torch.float64, device=device) - 1.0


def _is_split(block: torch.Tensor, half: int) -> bool:
    """Whether a ``(cols, cols)`` support mask only joins first half to first half and second
    half to second half (then ``V = V_A ⊗ V_B``)."""
    return not (block[:half, half:].any() or block[half:, :half].any())


class _RowCoupling:
    """``M ↦ M V`` for ``V[a, b] = exp(s_aᵀ K s_b − shift)``, ``M`` of shape ``(P, 2^cols)``.

    ``split`` is ``None`` (dense ``V``) or the number of leading columns ``g`` such that ``K``
    is block diagonal over columns ``[0, g)`` and ``[g, cols)``: ``V = V_A ⊗ V_B``.
    """

    def __init__(self, K: torch.Tensor, spins: torch.Tensor, split: int | None):
        self.split = split
        if split is None:
            log_v = spins @ K @ spins.T
            self.shift = log_v.max().detach()
            self.V = torch.exp(log_v - self.shift)
            return
        sa, sb = _row_spins(split, device=K.device), _row_spins(K.shape[0] - split, device=K.device)
        log_a = sa @ K[:split, :split] @ sa.T
        log_b = sb @ K[split:, split:] @ sb.T
        sh_a, sh_b = log_a.max().detach(), log_b.max().detach()
        self.shift = sh_a + sh_b
        self.VA, self.VB = torch.exp(log_a - sh_a), torch.exp(log_b - sh_b)

    def apply(self, M: torch.Tensor) -> torch.Tensor:
        if self.split is None:
            return M @ self.V
        P, ka, kb = M.shape[0], self.VA.shape[0], self.VB.shape[0]
        t = (M.reshape(P * ka, kb) @ self.VB).reshape(P, ka, kb)
        return (self.VA.T @ t).reshape(P, ka * kb)


def transfer_matrix_log_partition(model: IsingModel, rows: int, cols: int) -> torch.Tensor:
    """Exact ``log Z`` (float64 scalar, differentiable) of ``model`` on a ``rows × cols`` grid.

    Args:
        model: an ``IsingModel`` of dimension ``rows * cols``, sites row-major.
        rows: number of rows ``R`` (the transfer direction; any size).
        cols: sites per row ``C`` (``2^C`` row states; at most ``MAX_COLS``).

    Raises ``ValueError`` if rows further apart than adjacent (on the ring of rows) have a
    nonzero coupling, if ``rows * cols != model.dim`` or if ``cols > MAX_COLS``. A stored
    (trainable) pair between adjacent rows is kept in the computation even when it is zero,
    so its gradient is exact; pairs of rows further apart are constants (zero) here, their
    gradient is not computed.
    """
    rows, cols = _check_args(model, rows, cols)
    J = model.J.to(torch.float64)
    h = model.h.to(torch.float64)
    device = J.device
    R, C = rows, cols
    J4 = J.reshape(R, C, R, C)
    far = _row_distance(R).to(device) > 1
    bad = (J4.detach() != 0).permute(0, 2, 1, 3).any(-1).any(-1) & far
    if bad.any():
        r1, r2 = (int(v) for v in torch.nonzero(bad)[0])
        raise ValueError(
            f"model couples row {r1} to row {r2} of a {R} × {C} grid; the transfer matrix "
            f"only allows couplings within a row and between adjacent rows (with wrap-around)"
        )
    # support: stored (trainable) pairs, and any nonzero value
    stored = torch.zeros(R * C, R * C, dtype=torch.bool, device=device)
    e = model.edges.to(device)
    stored[e[:, 0], e[:, 1]] = True
    stored = (stored | stored.T | (J.detach() != 0)).reshape(R, C, R, C)

    spins = _row_spins(C, device=device)
    blocks = J4.diagonal(dim1=0, dim2=2).permute(2, 0, 1)  # (R, C, C): J_rr
    log_w = 0.5 * torch.einsum("kc,rcd,kd->rk", spins, blocks, spins) + h.reshape(R, C) @ spins.T
    w_shift = log_w.max(1, keepdim=True).values.detach()
    w = torch.exp(log_w - w_shift)
    log_scale = w_shift.sum()
    if R == 1:
        return torch.log(w.sum()) + log_scale

    periodic = R >= 3 and bool(stored[R - 1, :, 0, :].any())
    n_links = R if periodic else R - 1
    half = C // 2
    pairs = [(r, (r + 1) % R) for r in range(n_links)]
    split = (
        half if half >= 1 and all(_is_split(stored[a, :, b, :], half) for a, b in pairs) else None
    )

    M = torch.diag(w[0]) if periodic else w[0].unsqueeze(0)
    for r, (a, b) in enumerate(pairs):
        link = _RowCoupling(J4[a, :, b, :], spins, split)
        M = link.apply(M)
        log_scale = log_scale + link.shift
        if r == R - 1:  # the wrap link closes the trace
            break
        M = M * w[r + 1]
        m = M.detach().abs().max()
        M = M / m
        log_scale = log_scale + torch.log(m)
    total = torch.diagonal(M).sum() if periodic else M.sum()
    return torch.log(total) + log_scale


def lattice_log_likelihood(
    model: IsingModel, x: torch.Tensor, rows: int, cols: int
) -> torch.Tensor:
    """Exact mean log-likelihood ``mean_i (−U(x_i)) − log Z`` of data ``x (N, rows * cols)``
    in {0, 1}, float64 scalar (differentiable)."""
    log_z = transfer_matrix_log_partition(model, rows, cols)
    u = model.energy(x.to(model.dtype)).to(torch.float64)
    return -u.mean() - log_z


__all__ = ["MAX_COLS", "lattice_log_likelihood", "transfer_matrix_log_partition"]
