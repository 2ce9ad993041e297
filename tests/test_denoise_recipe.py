"""The denoising recipe (``discrete_ebm.recipes.denoise``) and the rebuilding of the default
priors (``discrete_ebm.denoise.pretrain``, ``discrete-ebm priors``) on small synthetic images."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from discrete_ebm.cli import main
from discrete_ebm.denoise import pretrain
from discrete_ebm.denoise.priors import fit_rbm, lattice_prior, load_prior, prior_meta, save_prior
from discrete_ebm.models.offset_ising import OffsetIsing
from discrete_ebm.models.rbm import RBM
from discrete_ebm.recipes.denoise import denoise_images, write_outputs


def _blobs(n, H=28, W=28, seed=0):
    """Filled rectangles on a black background, float32 ``(n, H, W)``."""
    rng = np.random.default_rng(seed)
    imgs = np.zeros((n, H, W), dtype=np.float32)
    for k in range(n):
        r, c = rng.integers(1, H // 2), rng.integers(1, W // 2)
        h, w = rng.integers(H // 4, H // 2), rng.integers(W // 4, W // 2)
        imgs[k, r : r + h, c : c + w] = 1
    return imgs


FAST = {"sweeps": 6, "burn_in": 3, "anneal_sweeps": 6}


def test_denoise_images_with_missing_pixels_and_a_prior_file(tmp_path):
    clean = _blobs(5, 11, 13)
    path = save_prior(lattice_prior((11, 13), 0.8), tmp_path / "mine.npz")
    result = denoise_images(
        images=clean, noise=0.1, missing=0.25, priors=["lattice", str(path)], methods=["icm"],
        seed=3, **FAST,
    )  # fmt: skip
    s = result.summary
    assert list(s["methods"]) == ["lattice-icm", "mine-icm"]
    assert s["settings"]["noisy_error_over"] == "observed pixels" and s["settings"]["noise"] == 0.1
    obs = result.observed
    # 715 pixels, a quarter hidden: about 536 observed of which about 10 % flipped
    assert obs.double().mean().item() == pytest.approx(0.75, abs=0.05)
    wrong = (result.noisy != torch.from_numpy(clean))[obs].double().mean().item()
    assert s["noisy_error"] == pytest.approx(wrong) and 0.05 < wrong < 0.15
    for name, entry in s["methods"].items():
        assert entry["error"] == pytest.approx(float((result.estimates[name] != clean).mean()))
    assert s["best"] in s["methods"]
    paths = write_outputs(result, tmp_path / "out", rows=3)
    assert [p.name for p in paths] == ["denoise.json", "denoised.npz", "denoise.png"]
    arrays = np.load(paths[1])
    assert np.array_equal(arrays["observed"], obs.numpy())
    assert np.array_equal(arrays["clean"], clean.astype(np.uint8))
    assert json.loads(paths[0].read_text())["best"] == s["best"]
    # the same seed gives the same corruption and estimates
    again = denoise_images(
        images=clean, noise=0.1, missing=0.25, priors=["lattice"], methods=["icm"], seed=3, **FAST
    )
    assert torch.equal(again.noisy, result.noisy)
    assert np.array_equal(again.estimates["lattice-icm"], result.estimates["lattice-icm"])


def test_denoise_images_bad_arguments():
    clean = _blobs(2, 6, 6)
    with pytest.raises(ValueError, match="methods"):
        denoise_images(images=clean, methods=["mode"])
    with pytest.raises(ValueError, match="noise"):
        denoise_images(images=clean, noise=0.5)
    with pytest.raises(ValueError, match="missing"):
        denoise_images(noisy=clean, missing=0.1)
    with pytest.raises(ValueError, match="priors entries"):
        denoise_images(images=clean, priors=["glass"])
    with pytest.raises(ValueError, match="no prior left"):
        denoise_images(images=clean, priors=["rbm"])  # 28×28 only
    with pytest.raises(ValueError, match="not both"):
        denoise_images(images=clean, noisy=clean)


@pytest.fixture
def tiny_settings(monkeypatch):
    """Synthetic 28×28 training / validation images and settings small enough for seconds."""
    train, valid = _blobs(300, seed=1), _blobs(60, seed=2)
    data = (torch.from_numpy(train), torch.from_numpy(valid).reshape(60, -1))
    monkeypatch.setattr(pretrain, "mnist_train_valid", lambda root=None: data)
    monkeypatch.setitem(pretrain.ISING, "radius", 1.5)
    monkeypatch.setitem(pretrain.ISING, "batch_size", 100)
    monkeypatch.setitem(pretrain.ISING, "scales", (0.3, 1.0))
    for key, value in {"n_hidden": 8, "epochs": 2, "batch_size": 50}.items():
        monkeypatch.setitem(pretrain.RBM_SETTINGS, key, value)
    for key, value in {"epochs": 1, "batch_size": 50, "k": 2}.items():
        monkeypatch.setitem(pretrain.RBM_FINETUNE, key, value)
    monkeypatch.setattr(
        pretrain, "VALIDATION", {**pretrain.VALIDATION, "n_images": 40, "n_sweeps": 4}
    )
    return data


def test_priors_command_builds_both_priors(tmp_path, tiny_settings):
    out = tmp_path / "priors"
    assert main(["priors", "--out", str(out), "--quiet"]) == 0
    ising = load_prior(out / "ising_mnist.npz", shape=(20, 20))
    assert isinstance(ising, OffsetIsing) and ising.image_shape == (20, 20)
    assert ising.boundary == -1.0
    meta = prior_meta(out / "ising_mnist.npz")
    errors = {float(k): v for k, v in meta["validation_mpm_error_by_scale"].items()}
    assert meta["temperature_scale"] == min(errors, key=errors.get)
    # the stored couplings are the pseudo-likelihood ones times the chosen factor (float32)
    tau, stored = meta["temperature_scale"], ising.couplings.detach().numpy()
    np.testing.assert_allclose(stored, tau * np.array(meta["pl_couplings"]), rtol=2**-23)
    rbm = load_prior(out / "rbm_mnist.npz")
    assert isinstance(rbm, RBM) and (rbm.n_visible, rbm.n_hidden) == (784, 8)
    with np.load(out / "rbm_mnist.npz") as f:
        assert f["W"].dtype == np.float16
    meta = prior_meta(out / "rbm_mnist.npz")
    assert meta["stage1_generative"]["method"] == "PCD"
    assert 0 <= meta["validation_mpm_error"] < 0.5 and meta["seconds"] > 0
    with pytest.raises(SystemExit, match="--device"):
        main(["priors", "--out", str(out), "--device", "cuda:0", "--quiet"])


def test_rbm_init_skips_stage_one_with_the_same_result(tmp_path, tiny_settings):
    # stage (2) draws from its own stream: fine-tuning a saved stage-(1) RBM (float32, exact)
    # writes the same prior as training both stages
    images, _ = tiny_settings
    s = pretrain.RBM_SETTINGS
    stage1 = fit_rbm(images, generator=torch.Generator().manual_seed(0), **s)
    init = save_prior(stage1, tmp_path / "stage1.npz")
    both = pretrain.build_prior("rbm", tmp_path / "both.npz")
    assert main(["priors", "--only", "rbm", "--rbm-init", str(init), "--out", str(tmp_path),
                 "--quiet"]) == 0  # fmt: skip
    with np.load(both) as a, np.load(tmp_path / "rbm_mnist.npz") as b:
        for key in ("W", "b", "c"):
            assert np.array_equal(a[key], b[key])
    meta = prior_meta(tmp_path / "rbm_mnist.npz")
    assert meta["stage1_generative"]["loaded_from"] == str(init)
    with pytest.raises(ValueError, match="kind must be"):
        pretrain.build_prior("glass", tmp_path / "x.npz")
    with pytest.raises(ValueError, match="kinds must be"):
        pretrain.build_priors(tmp_path, kinds=["glass"])
