"""OffsetIsing: equals the explicit IsingModel, proper colourings, exact block-Gibbs sampling."""

from __future__ import annotations

import pytest
import torch

from discrete_ebm.evaluation import exact
from discrete_ebm.evaluation.metrics import total_variation as tv_distance
from discrete_ebm.evaluation.metrics import tv_tolerance
from discrete_ebm.models.base import EnergyModel
from discrete_ebm.models.offset_ising import OffsetIsing, half_offsets, lattice_coloring
from discrete_ebm.samplers.block_gibbs import BlockGibbsSampler, check_proper


def _model(shape=(5, 7), radius=2.0, seed=0, field_rows=None, dtype=torch.float64, boundary=0.0):
    g = torch.Generator().manual_seed(seed)
    n = len(half_offsets(radius))
    d = shape[0] * shape[1]
    field = None
    if field_rows is not None:
        field = 0.5 * torch.randn(field_rows, d, generator=g, dtype=dtype)
    J = 0.4 * torch.randn(n, generator=g, dtype=dtype)
    return OffsetIsing(shape, radius, J, 0.3, field, boundary=boundary, dtype=dtype)


def test_offset_counts():
    # lattice points in a disc of radius r, minus the centre, halved
    assert [len(half_offsets(r)) for r in (1, 1.5, 2, 3)] == [2, 4, 6, 14]
    assert half_offsets(1) == [(0, 1), (1, 0)]


@pytest.mark.parametrize("radius", [1, 1.5, 2, 3, 4])
def test_colouring_is_proper(radius):
    m = _model((7, 11), radius)
    check_proper(m.coloring(), m.interaction_graph())
    assert sum(len(b) for b in m.coloring()) == 77
    a, b, k = lattice_coloring(m.offsets)
    assert k == m.n_colors
    if radius == 1:
        assert m.n_colors == 2  # the checkerboard


@pytest.mark.parametrize("radius,boundary", [(1, 0.0), (1.5, -1.0), (3, 0.5)])
def test_energy_and_fields_equal_explicit_ising(radius, boundary):
    m = _model((5, 7), radius, field_rows=1, boundary=boundary)
    ising = m.to_ising()
    x = (torch.rand(11, 35, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    torch.testing.assert_close(m.energy(x), ising.energy(x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(m.local_fields(x), ising.local_fields(x), rtol=1e-12, atol=1e-12)
    # conditional logits are the energy differences U(x^{i<-0}) - U(x^{i<-1})
    sites = torch.arange(35)
    generic = EnergyModel.site_logits(m, x, sites)
    torch.testing.assert_close(m.conditional_logits(x), generic, rtol=1e-10, atol=1e-10)
    # the kernel is symmetric with a zero centre
    K = m.kernel
    assert torch.equal(K, K.flip(0, 1)) and K[m.R, m.R] == 0
    # a boundary spin b acts as b times the couplings to the missing neighbours
    H, W = m.image_shape
    for r, c in ((0, 0), (2, 3), (4, 6)):
        want = 0.0
        for (dr, dc), J in zip(m.offsets, m.couplings.tolist()):
            for sr, sc in ((dr, dc), (-dr, -dc)):
                if not (0 <= r + sr < H and 0 <= c + sc < W):
                    want += boundary * J
        assert m.boundary_field()[r * W + c].item() == pytest.approx(want, abs=1e-12)


def test_per_chain_fields_and_translation_invariance():
    m = _model((5, 7), 1.5, field_rows=3)
    x = (torch.rand(3, 35, generator=torch.Generator().manual_seed(2)) < 0.5).double()
    u = m.energy(x)
    for b in range(3):
        torch.testing.assert_close(u[b], m.to_ising(field_row=b).energy(x[b : b + 1])[0])
    with pytest.raises(ValueError, match="per-chain fields for 3 chains"):
        m.energy(x[:2])
    # the same couplings on a larger image: a pattern away from the border has the same
    # energy relative to the empty image
    big = m.for_shape((9, 12))
    small0 = m.for_shape((5, 7))
    pat = x[0].view(5, 7)
    img = torch.zeros(9, 12, dtype=torch.float64)
    img[2:7, 3:10] = pat
    # both padded with zeros beyond the pattern: pairs inside the pattern only differ by
    # pairs between the pattern and the empty surroundings, so compare via IsingModel
    torch.testing.assert_close(big.energy(img.view(1, -1)), big.to_ising().energy(img.view(1, -1)))
    assert torch.equal(big.couplings, small0.couplings)


def test_block_gibbs_matches_exact_distribution_with_clamp():
    m = _model((3, 3), 1.5, field_rows=1, seed=3)
    p = exact.probabilities(m.to_ising())
    n = 20000
    g = torch.Generator().manual_seed(4)
    sampler = BlockGibbsSampler(m)
    assert sampler.blocks is None  # uses the model's own colour sweep
    x = sampler.sample(n, 30, generator=g)
    assert tv_distance(x, p) < tv_tolerance(p, n)
    # clamp pixels 0 and 4 at 1 and 0: samples follow the exact conditional
    x0 = torch.zeros(n, 9, dtype=torch.float64)
    x0[:, 0] = 1
    clamp = torch.zeros(9, dtype=torch.bool)
    clamp[[0, 4]] = True
    xs = sampler.sample(x0=x0, n_steps=30, clamp=clamp, generator=g)
    assert (xs[:, 0] == 1).all() and (xs[:, 4] == 0).all()
    states = exact.all_states(9)
    keep = (states[:, 0] == 1) & (states[:, 4] == 0)
    pc = torch.where(keep, p, torch.zeros_like(p))
    pc = pc / pc.sum()
    assert tv_distance(xs, pc) < tv_tolerance(pc, n)


def test_icm_sweep_never_increases_energy():
    m = _model((6, 7), 2.0, field_rows=8, seed=5)
    x = (torch.rand(8, 42, generator=torch.Generator().manual_seed(6)) < 0.5).double()
    u = m.energy(x)
    for _ in range(5):
        x, _ = m.icm_sweep(x)
        u_new = m.energy(x)
        assert (u_new <= u + 1e-12).all()
        u = u_new
    # at a fixed point every pixel agrees with the sign of its field
    x2, changed = m.icm_sweep(x)
    if not changed.any():
        phi = m.local_fields(x2)
        assert ((phi > 0) <= (x2 == 1)).all() and ((phi < 0) <= (x2 == 0)).all()


def test_bad_input():
    with pytest.raises(ValueError, match="radius"):
        OffsetIsing((4, 4), 0.5)
    with pytest.raises(ValueError, match="couplings must have 2 entries"):
        OffsetIsing((4, 4), 1, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"field must have shape \(16,\)"):
        OffsetIsing((4, 4), 1, field=torch.zeros(15))
    with pytest.raises(TypeError, match="shape"):
        OffsetIsing(4, 1)
    m = OffsetIsing((4, 4), 1)
    with pytest.raises(ValueError, match="binary"):
        m.energy(torch.full((1, 16), 0.5))
