"""``discrete-ebm denoise`` end to end on small user images (no MNIST needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from discrete_ebm.cli import main


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: a second intra-op thread only adds synchronisation."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _blobs(n=6, H=13, W=17, seed=0):
    """Images of filled rectangles (what an Ising prior likes)."""
    rng = np.random.default_rng(seed)
    imgs = np.zeros((n, H, W), dtype=np.uint8)
    for k in range(n):
        r, c = rng.integers(1, H // 2), rng.integers(1, W // 2)
        imgs[k, r : r + H // 2, c : c + W // 2] = 1
    return imgs


FAST = ["--sweeps", "8", "--burn-in", "4", "--anneal-sweeps", "8", "--quiet"]


def test_denoise_clean_images(tmp_path):
    path = tmp_path / "clean.npy"
    clean = _blobs()
    np.save(path, clean)
    out = tmp_path / "run"
    assert main(["denoise", "--images", str(path), "--noise", "0.1", "--out", str(out), *FAST]) == 0
    summary = json.loads((out / "denoise.json").read_text())
    # the default priors minus the RBM, which is for 28×28 digits only
    assert summary["settings"]["priors"] == ["lattice", "ising"]
    names = {f"{p}-{m}" for p in ("lattice", "ising") for m in ("mpm", "map", "icm")}
    assert set(summary["methods"]) == names
    arrays = np.load(out / "denoised.npz")
    noisy = arrays["noisy"]
    assert summary["noisy_error"] == pytest.approx(float((noisy != clean).mean()))
    for name, entry in summary["methods"].items():
        est = arrays[name]
        assert est.shape == clean.shape and set(np.unique(est)) <= {0, 1}
        assert entry["error"] == pytest.approx(float((est != clean).mean()))
        assert entry["seconds"] >= 0
        # rectangles are easy: every method removes most of the noise
        assert entry["error"] < 0.5 * summary["noisy_error"]
    assert (out / "denoise.png").stat().st_size > 0


def test_denoise_noisy_images_estimates_the_rate(tmp_path):
    rng = np.random.default_rng(1)
    clean = _blobs(n=20, seed=1)
    noisy = np.where(rng.random(clean.shape) < 0.1, 1 - clean, clean).astype(np.uint8)
    path = tmp_path / "noisy.npy"
    np.save(path, noisy)
    out = tmp_path / "run"
    args = ["denoise", "--noisy", str(path), "--priors", "ising", "--methods", "mpm", *FAST]
    assert main([*args, "--out", str(out)]) == 0
    summary = json.loads((out / "denoise.json").read_text())
    assert summary["noisy_error"] is None
    assert summary["methods"]["ising-mpm"]["error"] is None
    assert summary["settings"]["noise_estimated"] is True
    p_hat = summary["settings"]["noise_used"]["ising"]
    # 20 × 221 pixels, true rate 0.1: EM lands within a few binomial sd (0.006) of it, plus
    # the prior's misfit to rectangles; 0.04 is a loose bound that still rules out p_init = 0.2
    assert abs(p_hat - 0.1) < 0.04


def test_png_folder_and_bad_input(tmp_path, capsys):
    from matplotlib.image import imsave

    folder = tmp_path / "pngs"
    folder.mkdir()
    for k, img in enumerate(_blobs(n=3)):
        imsave(folder / f"{k}.png", img.astype(float), cmap="gray", vmin=0, vmax=1)
    out = tmp_path / "run"
    args = ["denoise", "--images", str(folder), "--priors", "lattice", "--methods", "icm"]
    assert main([*args, "--out", str(out), *FAST]) == 0
    arrays = np.load(out / "denoised.npz")
    assert np.array_equal(arrays["clean"], _blobs(n=3))
    bad = tmp_path / "bad.npy"
    np.save(bad, np.full((2, 5, 5), 0.5))
    capsys.readouterr()
    assert main(["denoise", "--images", str(bad), "--out", str(out), *FAST]) == 2
    assert "images must be binary" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="--methods"):
        main(["denoise", "--images", str(bad), "--methods", "mode", *FAST])
    with pytest.raises(SystemExit, match="--noise"):
        main(["denoise", "--images", str(bad), "--noise", "0.7", *FAST])
    with pytest.raises(SystemExit, match="--missing .* --noisy"):
        main(["denoise", "--noisy", str(bad), "--missing", "0.5", *FAST])
