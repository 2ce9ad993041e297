"""Transfer-matrix log Z of grid Ising models against exact enumeration, gradients, errors."""

from __future__ import annotations

import math

import pytest
import torch

from discrete_ebm import IsingModel
from discrete_ebm.evaluation import exact, lattice_log_likelihood, transfer_matrix_log_partition
from discrete_ebm.evaluation.transfer_matrix import MAX_COLS


def _randomised(model: IsingModel, seed: int, scale: float = 1.0) -> IsingModel:
    """``model`` with weights and fields ~ N(0, scale²) (same support), in float64."""
    g = torch.Generator().manual_seed(seed)
    model = model.double()
    with torch.no_grad():
        model.weights.copy_(scale * torch.randn(model.weights.shape, generator=g).double())
        model.h.copy_(scale * torch.randn(model.h.shape, generator=g).double())
    return model


def _grid(rows: int, cols: int, pairs, seed: int, scale: float = 1.0) -> IsingModel:
    """Sparse model on ``rows × cols`` with the given ``((r, c), (r', c'))`` pairs."""
    edges = [(r * cols + c, q * cols + k) for (r, c), (q, k) in pairs]
    g = torch.Generator().manual_seed(seed)
    w = scale * torch.randn(len(edges), generator=g, dtype=torch.float64)
    h = scale * torch.randn(rows * cols, generator=g, dtype=torch.float64)
    return IsingModel.from_edges(rows * cols, edges, w, h, dtype=torch.float64)


def _lattice_pairs(rows: int, cols: int, periodic: bool):
    pairs = []
    for r in range(rows):
        for c in range(cols):
            if c + 1 < cols or (periodic and cols > 2):
                pairs.append(((r, c), (r, (c + 1) % cols)))
            if r + 1 < rows or (periodic and rows > 2):
                pairs.append(((r, c), ((r + 1) % rows, c)))
    return pairs


def _assert_exact(model: IsingModel, rows: int, cols: int) -> None:
    got = transfer_matrix_log_partition(model, rows, cols)
    assert got.dtype == torch.float64
    assert got.item() == pytest.approx(exact.log_partition(model).item(), abs=1e-9, rel=0)


def test_periodic_3x4_random_couplings_and_fields():
    _assert_exact(_randomised(IsingModel.lattice((3, 4)), seed=1), 3, 4)


def test_open_4x3_lattice():
    m = _grid(4, 3, _lattice_pairs(4, 3, periodic=False), seed=2)
    _assert_exact(m, 4, 3)


def test_periodic_5x3_uses_wrap_row_coupling():
    m = _randomised(IsingModel.lattice((5, 3)), seed=3)
    _assert_exact(m, 5, 3)
    # dropping the wrap bonds changes log Z: the periodic form really uses them
    open_m = _grid(5, 3, _lattice_pairs(5, 3, periodic=False), seed=3)
    assert transfer_matrix_log_partition(open_m, 5, 3).item() == pytest.approx(
        exact.log_partition(open_m).item(), abs=1e-9
    )


@pytest.mark.parametrize("cols", [3, 5])
def test_two_rows_wrap_and_adjacent_bonds_are_one_pair(cols):
    # periodic 2 × cols lattice: the wrapped vertical bonds merge with the direct ones
    m = IsingModel.lattice((2, cols), coupling=0.7, field=-0.2, dtype=torch.float64)
    assert m.J[0, cols].item() == pytest.approx(1.4)  # merged: 2 × 0.7
    _assert_exact(m, 2, cols)
    # every pair between the two rows (a dense cross block) plus random within-row pairs
    pairs = [((0, a), (1, b)) for a in range(cols) for b in range(cols)]
    pairs += [((r, a), (r, b)) for r in range(2) for a in range(cols) for b in range(a + 1, cols)]
    _assert_exact(_grid(2, cols, pairs, seed=4), 2, cols)


def test_single_row_and_single_column():
    m = _randomised(IsingModel.lattice((1, 7)), seed=5)
    _assert_exact(m, 1, 7)
    m = _randomised(IsingModel.lattice((7, 1)), seed=6)
    _assert_exact(m, 7, 1)


def test_long_range_within_row_couplings():
    rows, cols = 3, 5
    pairs = _lattice_pairs(rows, cols, periodic=True)
    pairs += [((r, 0), (r, 3)) for r in range(rows)] + [((r, 1), (r, 4)) for r in range(rows)]
    pairs += [((1, 0), (1, 2))]
    _assert_exact(_grid(rows, cols, pairs, seed=7), rows, cols)


@pytest.mark.parametrize(
    "cross",
    [
        [((0, 0), (1, 1)), ((2, 3), (3, 2))],  # stays within column halves: V = V_A ⊗ V_B
        [((0, 0), (1, 3)), ((3, 1), (0, 2))],  # crosses the halves (one a wrap): dense V
    ],
)
def test_cross_row_couplings_between_different_columns(cross):
    rows, cols = 4, 4
    m = _grid(rows, cols, _lattice_pairs(rows, cols, periodic=True) + cross, seed=8)
    _assert_exact(m, rows, cols)


def test_dense_model_with_all_pairs_of_three_rows():
    # 3 rows: every pair of rows is adjacent on the ring, so any J is allowed
    g = torch.Generator().manual_seed(9)
    A = torch.randn(12, 12, generator=g, dtype=torch.float64)
    J = torch.triu(A, 1) + torch.triu(A, 1).T
    m = IsingModel(J, torch.randn(12, generator=g, dtype=torch.float64))
    _assert_exact(m, 3, 4)


def test_strong_couplings_do_not_overflow():
    # J in [2.5, 3.5] (ferromagnetic), random fields: log Z > 96 > log(float32 max) ≈ 88.7,
    # so Z itself (and every naive product of transfer matrices) overflows float32
    m = _randomised(IsingModel.lattice((4, 4)), seed=10)
    with torch.no_grad():
        m.weights.copy_(2.5 + torch.rand(m.weights.shape, dtype=torch.float64))
    assert exact.log_partition(m).item() > 96
    _assert_exact(m, 4, 4)
    # a float32 model is evaluated in float64 all the same
    m32 = m.float()
    assert transfer_matrix_log_partition(m32, 4, 4).item() == pytest.approx(
        exact.log_partition(m32).item(), abs=1e-9
    )
    # |J| ~ 30 (mixed signs): Z ≈ e^{700+} overflows even float64; the rescaled product not
    huge = _randomised(IsingModel.lattice((4, 4)), seed=11, scale=30.0)
    assert exact.log_partition(huge).item() > 710
    _assert_exact(huge, 4, 4)


def _spin_moments(model: IsingModel) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact ``E[s_i s_j]`` (d, d) and ``E[s_i]`` (d,) with ``s = 2x − 1``."""
    m = exact.marginals(model)
    p = exact.pairwise(model)
    return 4 * p - 2 * m[:, None] - 2 * m[None, :] + 1, 2 * m - 1


@pytest.mark.parametrize(
    "model,rows,cols",
    [
        (_randomised(IsingModel.lattice((4, 3)), seed=12), 4, 3),  # factorised V, wrap
        (
            _grid(3, 4, [((0, 0), (1, 2)), ((1, 1), (2, 3))] + _lattice_pairs(3, 4, True), 13),
            3,
            4,
        ),  # dense V
    ],
)
def test_gradient_is_the_exact_spin_moments(model, rows, cols):
    # U = −Σ_{i<j} J_ij s_i s_j − Σ h_i s_i, so ∂ log Z/∂J_ij = E[s_i s_j], ∂ log Z/∂h_i = E[s_i]
    model.zero_grad()
    transfer_matrix_log_partition(model, rows, cols).backward()
    ss, s = _spin_moments(model)
    i, j = model.edges[:, 0], model.edges[:, 1]
    torch.testing.assert_close(model.weights.grad, ss[i, j], atol=1e-9, rtol=0)
    torch.testing.assert_close(model.h.grad, s, atol=1e-9, rtol=0)


def test_gradient_of_zero_stored_pairs_dense_model():
    # a dense model whose cross-row and wrap pairs are all zero but trainable: the gradient
    # w.r.t. every pair is still E[s_i s_j] (the support, not the values, picks the form)
    m = IsingModel(torch.zeros(12, 12, dtype=torch.float64), torch.zeros(12, dtype=torch.float64))
    with torch.no_grad():
        m.h.copy_(torch.linspace(-1, 1, 12, dtype=torch.float64))
        m.weights.copy_(0.3 * ((m.edges[:, 0] // 4) == (m.edges[:, 1] // 4)).double())
    transfer_matrix_log_partition(m, 3, 4).backward()
    ss, _ = _spin_moments(m)
    torch.testing.assert_close(m.weights.grad, ss[m.edges[:, 0], m.edges[:, 1]], atol=1e-9, rtol=0)


def test_lattice_log_likelihood_matches_enumeration():
    m = _randomised(IsingModel.lattice((3, 3)), seed=14)
    x = exact.all_states(9)[torch.tensor([0, 5, 77, 300, 511])].float()
    want = (-m.energy(x.double()) - exact.log_partition(m)).mean()
    assert lattice_log_likelihood(m, x, 3, 3).item() == pytest.approx(want.item(), abs=1e-9)


def test_errors_name_the_argument():
    m = IsingModel.lattice((4, 3), dtype=torch.float64)
    with pytest.raises(ValueError, match="rows \\* cols"):
        transfer_matrix_log_partition(m, 3, 3)
    with pytest.raises(ValueError, match="rows must be a positive int"):
        transfer_matrix_log_partition(m, 0, 12)
    with pytest.raises(ValueError, match="cols must be a positive int"):
        transfer_matrix_log_partition(m, 4, 3.0)
    with pytest.raises(TypeError, match="model must be an IsingModel"):
        transfer_matrix_log_partition(torch.zeros(12, 12), 4, 3)
    # rows 0 and 2 of a 4-row ring are not adjacent
    far = _grid(4, 3, _lattice_pairs(4, 3, True) + [((0, 1), (2, 1))], seed=15)
    with pytest.raises(ValueError, match="couples row 0 to row 2"):
        transfer_matrix_log_partition(far, 4, 3)
    # stored but zero pairs between far rows (a dense model at zero) are allowed
    zero = IsingModel(torch.zeros(12, 12, dtype=torch.float64))
    assert transfer_matrix_log_partition(zero, 4, 3).item() == pytest.approx(12 * math.log(2))
    wide = IsingModel.lattice((1, MAX_COLS + 1))
    with pytest.raises(ValueError, match=f"cols must be <= {MAX_COLS}.*GiB"):
        transfer_matrix_log_partition(wide, 1, MAX_COLS + 1)
