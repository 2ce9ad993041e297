"""Corruption utilities: rates match their parameters, outputs are consistent, bad input fails."""

from __future__ import annotations

import math

import pytest
import torch

from discrete_ebm.data.corruption import (
    flip_noise,
    mask_block,
    mask_pixels,
    pixel_error,
    salt_and_pepper,
    salt_and_pepper_flip_rate,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: a second intra-op thread only adds synchronisation (and on a busy
    machine spin-waiting), so these tests run single-threaded."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _images(n=50, H=29, W=31, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, H, W, generator=g) < 0.3).float()


def _z_bound(p: float, n: int, z: float = 5.0) -> float:
    """Binomial proportion tolerance: ``z`` standard deviations ``sqrt(p(1−p)/n)``."""
    return z * math.sqrt(p * (1 - p) / n)


def test_flip_noise_rate_and_consistency():
    x = _images()
    n = x.numel()  # 44,950 pixels
    y, flipped = flip_noise(x, 0.1, generator=torch.Generator().manual_seed(1))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.equal(y != x, flipped)
    assert abs(flipped.double().mean().item() - 0.1) < _z_bound(0.1, n)
    assert pixel_error(y, x) == pytest.approx(flipped.double().mean().item())
    y2, _ = flip_noise(x, 0.1, generator=torch.Generator().manual_seed(1))
    assert torch.equal(y, y2)
    y0, f0 = flip_noise(x, 0.0)
    assert torch.equal(y0, x) and not f0.any()


def test_salt_and_pepper_is_flip_noise_at_half_the_rate():
    x = _images(n=100)
    n = x.numel()
    q = 0.3
    y, replaced = salt_and_pepper(x, q, generator=torch.Generator().manual_seed(2))
    assert abs(replaced.double().mean().item() - q) < _z_bound(q, n)
    assert torch.equal(y[~replaced], x[~replaced])
    # replaced pixels are fair coins: half salt, half pepper
    salt = y[replaced].double().mean().item()
    assert abs(salt - 0.5) < _z_bound(0.5, int(replaced.sum()))
    assert abs(pixel_error(y, x) - salt_and_pepper_flip_rate(q)) < _z_bound(q / 2, n)


def test_mask_pixels_and_block():
    x = _images()
    y, observed = mask_pixels(x, 0.25, generator=torch.Generator().manual_seed(3))
    assert abs((~observed).double().mean().item() - 0.25) < _z_bound(0.25, x.numel())
    assert torch.equal(y[observed], x[observed]) and (y[~observed] == 0).all()
    yb, ob = mask_block(x, 3, 5, 7, 11)
    assert int((~ob).sum()) == x.shape[0] * 7 * 11
    assert (~ob[:, 3:10, 5:16]).all() and torch.equal(yb[ob], x[ob])


def test_bad_input():
    x = _images(n=2)
    with pytest.raises(ValueError, match="p must lie"):
        flip_noise(x, 1.5)
    with pytest.raises(ValueError, match="p must lie"):
        flip_noise(x, 1.0)
    with pytest.raises(ValueError, match="binary"):
        flip_noise(x * 0.5, 0.1)
    with pytest.raises(TypeError, match="floating"):
        flip_noise(x.long(), 0.1)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        mask_pixels([[0, 1]], 0.1)
    with pytest.raises(ValueError, match="fraction"):
        mask_pixels(x, -0.1)
    with pytest.raises(ValueError, match=r"\(n, H, W\)"):
        mask_block(x[0], 0, 0, 1, 1)
    with pytest.raises(ValueError, match="differ in shape"):
        pixel_error(x, x[0])
