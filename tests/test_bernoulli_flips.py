"""Bernoulli flip masks drawn from geometric gaps have the law of i.i.d. Bernoulli bits."""

import itertools
import math

import pytest
import torch

from discrete_ebm.objectives.bernoulli_flips import (
    SPARSE_MAX_EPSILON,
    bernoulli_flip_mask,
    xor_bernoulli,
)
from discrete_ebm.objectives.energy_discrepancy import BernoulliED


def _pattern_chi2(mask: torch.Tensor, eps: float) -> tuple[float, int]:
    """Pearson χ² of the 2^d row patterns of ``mask (n, d)`` against Bernoulli(eps)^d."""
    n, d = mask.shape
    codes = (mask.long() * (2 ** torch.arange(d))).sum(1)
    counts = torch.bincount(codes, minlength=2**d).double()
    chi2 = 0.0
    for code, bits in enumerate(itertools.product([0, 1], repeat=d)):
        k = sum(bits)  # the number of ones does not depend on the bit order
        expected = n * eps**k * (1 - eps) ** (d - k)
        chi2 += (counts[code].item() - expected) ** 2 / expected
    return chi2, 2**d - 1


# 99.9 % quantile of χ² with 7 degrees of freedom (the 2^3 patterns of three bits)
CHI2_7_999 = 24.32


@pytest.mark.parametrize("gaps_per_draw", [None, 1, 2])
def test_three_bit_patterns_have_the_product_law(gaps_per_draw):
    # gaps_per_draw=1 makes nearly every row draw several rounds: the continuation must not
    # change the law
    eps = 0.15
    g = torch.Generator().manual_seed(0)
    m = bernoulli_flip_mask((40_000, 3), eps, generator=g, gaps_per_draw=gaps_per_draw)
    assert m.shape == (40_000, 3) and m.dtype == torch.float32
    chi2, dof = _pattern_chi2(m, eps)
    assert dof == 7 and chi2 < CHI2_7_999


@pytest.mark.parametrize("eps", [0.001, 0.05, 0.1, SPARSE_MAX_EPSILON, 0.5])
def test_marginals_counts_and_neighbour_pairs(eps):
    n, d = 20_000, 64
    g = torch.Generator().manual_seed(1)
    m = bernoulli_flip_mask((n, d), eps, generator=g).double()
    # every coordinate: frequency within 5 binomial standard errors
    se = math.sqrt(eps * (1 - eps) / n)
    assert (m.mean(0) - eps).abs().max().item() < 5 * se
    # ones per row ~ Binomial(d, eps): mean and variance (sd of the sample variance ≈
    # var·sqrt(2/n) for a near-normal count; 6 of them for the rare-event case)
    k = m.sum(1)
    mean, var = d * eps, d * eps * (1 - eps)
    assert abs(k.mean().item() - mean) < 5 * math.sqrt(var / n)
    assert abs(k.var().item() - var) < 6 * var * math.sqrt(2 / n) + 6 * mean / n
    # independence of neighbours (the gaps encode them): P(both) = eps²
    both = (m[:, :-1] * m[:, 1:]).mean().item()
    assert abs(both - eps**2) < 5 * math.sqrt(eps**2 * (1 - eps**2) / (n * (d - 1))) + 1e-12


def test_batched_shape_and_dtype_and_repeatability():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a = bernoulli_flip_mask((4, 5, 30), 0.1, generator=g1, dtype=torch.float64)
    b = bernoulli_flip_mask((4, 5, 30), 0.1, generator=g2, dtype=torch.float64)
    assert a.shape == (4, 5, 30) and a.dtype == torch.float64
    assert torch.equal(a, b) and set(a.unique().tolist()) <= {0.0, 1.0}


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="epsilon"):
        bernoulli_flip_mask((3, 4), 1.5)
    with pytest.raises(ValueError, match="gaps_per_draw"):
        bernoulli_flip_mask((3, 4), 0.1, gaps_per_draw=0)
    with pytest.raises(ValueError, match="shape"):
        bernoulli_flip_mask((), 0.1)


@pytest.mark.parametrize(
    "eps,gaps_per_draw",
    [(0.001, None), (0.1, None), (0.1, 2), (SPARSE_MAX_EPSILON, 1), (0.5, None)],
)
def test_xor_is_the_mask_of_the_same_stream(eps, gaps_per_draw):
    # gaps_per_draw 1 or 2 forces continuation rounds; x is an expanded (stride-0) view
    base = (torch.rand(7, 1, 40, generator=torch.Generator().manual_seed(0)) < 0.3).double()
    x = base.expand(7, 9, 40)
    m = bernoulli_flip_mask(
        (7, 9, 40), eps, generator=torch.Generator().manual_seed(5), gaps_per_draw=gaps_per_draw
    )
    z = xor_bernoulli(
        x, eps, generator=torch.Generator().manual_seed(5), gaps_per_draw=gaps_per_draw
    )
    assert z.shape == x.shape and z.dtype == torch.float64
    assert torch.equal(z, (x != m).double())
    assert torch.equal(
        base, (torch.rand(7, 1, 40, generator=torch.Generator().manual_seed(0)) < 0.3).double()
    )


def test_bernoulli_ed_negatives_are_xor_with_the_mask():
    y = (torch.rand(6, 50, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    m = bernoulli_flip_mask((6, 4, 50), 0.1, generator=torch.Generator().manual_seed(1))
    xn = BernoulliED(0.1).negatives(y, 4, torch.Generator().manual_seed(1))
    assert torch.equal(xn, (y.unsqueeze(1) != m).float())
