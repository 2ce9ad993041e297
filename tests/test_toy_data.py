"""Toy 2-D densities (sampling vs exact log-densities) and their Gray-coded binary versions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from discrete_ebm.data.toy import (
    EXACT_LOG_DENSITY,
    TOY_DENSITIES,
    decode_gray,
    encode_gray,
    gray_step,
    log_density,
    sample_toy,
    sample_toy_gray,
)
from discrete_ebm.evaluation.continuous_metrics import mmd2, normalise_on_grid, square_grid


@pytest.mark.parametrize("name", TOY_DENSITIES)
def test_samples_are_reproducible_and_in_range(name):
    a = sample_toy(name, 500, np.random.default_rng(3))
    b = sample_toy(name, 500, 3)
    assert a.shape == (500, 2) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(a, sample_toy(name, 500, 4))
    # the Gray code range: all but a Gaussian tail (< 0.5% of points) inside [−4, 4]²
    assert (a.abs().max(1).values >= 4.0).double().mean() < 0.005


@pytest.mark.parametrize("name", EXACT_LOG_DENSITY)
def test_exact_log_density_integrates_to_one_and_matches_samples(name):
    pts, area = square_grid(4.5, 360, dtype=torch.float64)
    lp = log_density(name, pts)
    # midpoint rule on a 0.025 grid; the densities are smooth at scale ≥ 0.15 (or piecewise
    # constant on squares aligned with the grid), so the quadrature error is < 1e-3
    total = torch.exp(lp).sum() * area
    assert abs(float(total) - 1.0) < 2e-3
    # samples follow the density: the histogram on an 8×8 grid of [−4, 4]² against the exact
    # cell probabilities, chi-square with 63 dof (mean 63, sd 11.2): 63 + 6 sd ≈ 130
    n = 20000
    x = sample_toy(name, n, 0, dtype=torch.float64)
    edges = torch.linspace(-4, 4, 9, dtype=torch.float64)
    ix = torch.bucketize(x[:, 0].contiguous(), edges[1:-1])
    iy = torch.bucketize(x[:, 1].contiguous(), edges[1:-1])
    counts = torch.bincount(ix * 8 + iy, minlength=64).double()
    fine = torch.exp(lp).reshape(360, 360) * area  # rows along y
    cx = torch.bucketize(pts[:, 0].contiguous(), edges[1:-1]).reshape(360, 360)
    cy = torch.bucketize(pts[:, 1].contiguous(), edges[1:-1]).reshape(360, 360)
    probs = torch.zeros(64, dtype=torch.float64).index_add_(
        0, (cx * 8 + cy).reshape(-1), fine.reshape(-1)
    )
    expected = n * probs / probs.sum()
    keep = expected > 5
    chi2 = (((counts - expected) ** 2)[keep] / expected[keep]).sum()
    assert chi2 < 130, chi2
    assert counts[~keep].sum() <= 5 * max(1.0, float(expected[~keep].sum()))


def test_closed_forms_of_the_mixtures():
    # a point at a centre of 8gaussians: one component dominates
    s = 0.5 / 1.414
    c = torch.tensor([[4.0 / 1.414, 0.0]], dtype=torch.float64)
    assert (
        abs(float(log_density("8gaussians", c)) - (-math.log(2 * math.pi * s * s) - math.log(8)))
        < 1e-6
    )
    # checkerboard: −log 32 on a black square, −inf on a white one and outside
    lp = log_density("checkerboard", torch.tensor([[-3.0, -3.0], [-3.0, -1.0], [5.0, 0.0]]))
    assert lp[0] == pytest.approx(-math.log(32)) and lp[1] == -math.inf and lp[2] == -math.inf
    # circles: far from both rings the density is the Bessel formula's asymptote, matched
    # against a direct 1-D quadrature over the angle
    x = torch.tensor([[0.7, -2.1]], dtype=torch.float64)
    th = torch.linspace(0, 2 * math.pi, 20001, dtype=torch.float64)[:-1]
    sig2 = 0.24**2
    dens = 0.0
    for r in (3.0, 1.5):
        c = r * torch.stack([torch.cos(th), torch.sin(th)], 1)
        dens += 0.5 * torch.exp(-((x - c) ** 2).sum(1) / (2 * sig2)).mean() / (2 * math.pi * sig2)
    assert abs(float(log_density("circles", x)) - math.log(float(dens))) < 1e-8


def test_no_closed_form_raises_and_bad_names():
    with pytest.raises(ValueError, match="no closed-form"):
        log_density("moons", torch.zeros(3, 2))
    with pytest.raises(ValueError, match="unknown toy density"):
        sample_toy("9gaussians", 10)
    with pytest.raises(ValueError, match="n must be > 0"):
        sample_toy("moons", 0)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        log_density("8gaussians", torch.zeros(3, 3))
    assert torch.equal(sample_toy("two_moons", 7, 0), sample_toy("moons", 7, 0))


def test_gray_code_round_trip_is_exact_on_the_grid():
    bits, rng_ = 16, 4.0
    step = gray_step(bits, rng_)
    assert step == 4.0 / 2**15
    k = torch.arange(-(2**15 - 1), 2**15, dtype=torch.float64)  # every grid value
    x = torch.stack([k * step, k.flip(0) * step], 1)
    b = encode_gray(x, bits, x_range=rng_)
    assert b.shape == (x.shape[0], 32) and set(b.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(decode_gray(b, bits, x_range=rng_), x)
    # off-grid values come back within half a step
    y = torch.empty(1000, 2, dtype=torch.float64).uniform_(
        -3.99, 3.99, generator=torch.Generator().manual_seed(0)
    )
    assert (decode_gray(encode_gray(y)) - y).abs().max() <= step / 2 + 1e-12


def test_gray_code_sign_and_adjacency():
    step = gray_step()
    x = torch.tensor([[0.0, -0.0], [step, -step], [-3.5, 3.5], [-1e-9, 1e-9]], dtype=torch.float64)
    b = encode_gray(x)
    assert b[:, 0].tolist() == [0, 0, 1, 0] and b[:, 16].tolist() == [0, 1, 0, 0]
    assert torch.equal(b[0], torch.zeros(32, dtype=torch.float64))  # zero and −0: all bits off
    assert torch.equal(b[2, 1:16], b[2, 17:32])  # same magnitude, opposite signs
    assert torch.equal(b[1, 1:16], b[1, 17:32])
    assert torch.equal(decode_gray(b)[2], torch.tensor([-3.5, 3.5], dtype=torch.float64))
    # neighbouring magnitudes differ in exactly one bit (the Gray property)
    k = torch.arange(0, 2**15, dtype=torch.float64)
    codes = encode_gray(torch.stack([k * step, k * step], 1))[:, 1:16]
    assert ((codes[1:] != codes[:-1]).sum(1) == 1).all()


def test_gray_code_range_and_input_checks():
    with pytest.raises(ValueError, match="beyond"):
        encode_gray(torch.tensor([[4.5, 0.0]]), clip=False)
    clipped = decode_gray(encode_gray(torch.tensor([[4.5, -9.0]], dtype=torch.float64)))
    assert torch.equal(
        clipped, torch.tensor([[4 - gray_step(), -(4 - gray_step())]], dtype=torch.float64)
    )
    with pytest.raises(ValueError, match="divisible"):
        decode_gray(torch.zeros(2, 31))
    with pytest.raises(ValueError, match="binary"):
        decode_gray(torch.full((2, 32), 0.5))
    with pytest.raises(ValueError, match="bits"):
        encode_gray(torch.zeros(2, 2), bits=1)
    # other widths: 8 bits per coordinate on [−2, 2]
    x = torch.tensor([[0.25, -1.5]], dtype=torch.float64)
    assert torch.equal(decode_gray(encode_gray(x, 8, x_range=2.0), 8, x_range=2.0), x)


def test_gray_coded_samples_decode_to_the_toy_density():
    b = sample_toy_gray("8gaussians", 1000, 0)
    assert b.shape == (1000, 32) and b.dtype == torch.float32
    x = decode_gray(b, dtype=torch.float64)
    ref = sample_toy("8gaussians", 1000, 0, dtype=torch.float64)
    assert (x - ref).abs().max() <= gray_step() / 2 + 1e-12
    # MMD between the decoded set and an independent sample is at the noise level of two
    # independent samples of the same size (quantisation at 1.2e-4 is invisible)
    other = sample_toy("8gaussians", 1000, 1, dtype=torch.float64)
    assert abs(float(mmd2(x, other)) - float(mmd2(ref, other))) < 1e-6
    # and the grid normalisation helper turns exact log-densities into a distribution
    pts, area = square_grid(4.0, 50, dtype=torch.float64)
    lp = normalise_on_grid(log_density("8gaussians", pts), area)
    assert abs(float(torch.exp(lp).sum() * area) - 1) < 1e-12


def test_checkerboard_gray_code_is_a_four_bit_parity():
    """Why binary models find the checkerboard hard: in the code its squares are the parity of
    the sign bit and the top magnitude bit of both coordinates (bits 0, 1, 16, 17), and every
    moment of those four bits below the fourth order vanishes, so no lower-order feature of
    the code carries any signal about which squares hold the mass."""
    n = 20_000
    s = 2 * sample_toy_gray("checkerboard", n, 0).double() - 1  # ±1 spins
    top = [0, 1, 16, 17]
    assert float(s[:, top].prod(1).mean()) > 0.999  # the 4-bit parity is (almost) fixed
    # each lower-order moment is a mean of n ±1 terms with true value 0: SE = 1/sqrt(n);
    # 5 SE over the 14 moments keeps the family-wise false alarm below 1e-5
    tol = 5 / math.sqrt(n)
    for k in (1, 2, 3):
        for subset in itertools.combinations(top, k):
            assert abs(float(s[:, list(subset)].prod(1).mean())) < tol, subset
