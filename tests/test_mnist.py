"""load_mnist: shapes, the 50k/10k/10k split, the three binarisations, clear errors."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from discrete_ebm.data.images import BinaryImages, load_mnist, mnist_path


def _root() -> Path | None:
    for cand in (
        os.environ.get("DISCRETE_EBM_DATA"),
        Path(__file__).parents[2] / "shared" / "data",
    ):
        if cand and (Path(cand) / "mnist" / "mnist_uint8.npz").is_file():
            return Path(cand)
    return None


ROOT = _root()


needs_data = pytest.mark.skipif(ROOT is None, reason="MNIST file not available")


@pytest.fixture(scope="module")
def raw():
    with np.load(ROOT / "mnist" / "mnist_uint8.npz") as f:
        return {k: f[k] for k in f.files}


@needs_data
def test_shapes_and_split(raw):
    d = load_mnist(ROOT, binarize="threshold")
    assert (len(d.train), len(d.valid), len(d.test)) == (50_000, 10_000, 10_000)
    assert d.train.dim == d.valid.dim == d.test.dim == 784
    assert d.path == ROOT / "mnist" / "mnist_uint8.npz"
    # the split: first 50k training images, last 10k as validation, the test set as test
    assert torch.equal(d.train.grey, torch.from_numpy(raw["x_train"][:50_000]))
    assert torch.equal(d.valid.grey, torch.from_numpy(raw["x_train"][50_000:]))
    assert torch.equal(d.test.labels, torch.from_numpy(raw["y_test"].astype(np.int64)))
    x = d.test.tensor()
    assert x.shape == (10_000, 784) and x.dtype == torch.float32
    assert torch.equal(x, torch.from_numpy(raw["x_test"] > 127).float())
    batch = next(iter(d.valid.loader(100, generator=torch.Generator().manual_seed(0))))
    assert batch.shape == (100, 784)
    assert set(torch.unique(batch).tolist()) <= {0.0, 1.0}


@needs_data
def test_dynamic_redraws_with_the_right_mean(raw):
    d = load_mnist(ROOT, binarize="dynamic", seed=3)
    a, b = d.test.tensor(), d.test.tensor()
    assert not torch.equal(a, b)
    assert set(torch.unique(a).tolist()) == {0.0, 1.0}
    # pixels that are 0 or 255 are deterministic
    g = torch.from_numpy(raw["x_test"])
    assert torch.all(a[g == 0] == 0) and torch.all(a[g == 255] == 1)
    # mean over 7.84e6 independent Bernoulli draws: sd <= 0.5 / sqrt(7.84e6) = 1.8e-4; 6 sd
    tol = 6 * 0.5 / math.sqrt(g.numel())
    assert abs(float(a.mean()) - float(g.double().mean() / 255)) < tol
    # the same seed reproduces the stream
    assert torch.equal(load_mnist(ROOT, binarize="dynamic", seed=3).test.tensor(), a)


@needs_data
def test_static_is_fixed_and_seeded():
    s1 = load_mnist(ROOT, binarize="static", seed=1)
    assert torch.equal(s1.valid.tensor(), s1.valid.tensor())
    assert torch.equal(s1.valid[7], s1.valid.tensor()[7])
    assert torch.equal(
        load_mnist(ROOT, binarize="static", seed=1).valid.tensor(), s1.valid.tensor()
    )
    assert not torch.equal(
        load_mnist(ROOT, binarize="static", seed=2).valid.tensor(), s1.valid.tensor()
    )


def test_missing_file_error_names_path_and_remedy(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError) as e:
        load_mnist(tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "mnist" / "mnist_uint8.npz") in msg
    assert "DISCRETE_EBM_DATA" in msg and "root" in msg
    monkeypatch.setenv("DISCRETE_EBM_DATA", str(tmp_path / "elsewhere"))
    assert mnist_path() == tmp_path / "elsewhere" / "mnist" / "mnist_uint8.npz"
    with pytest.raises(FileNotFoundError, match="DISCRETE_EBM_DATA"):
        load_mnist()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="binarize"):
        load_mnist(tmp_path, binarize="otsu")
    with pytest.raises(TypeError, match="seed"):
        load_mnist(tmp_path, seed=1.5)
    with pytest.raises(TypeError, match="grey"):
        BinaryImages(np.zeros((3, 4)), np.zeros(3))
    grey = np.array([[0, 255, 128], [255, 0, 64]], dtype=np.uint8)
    imgs = BinaryImages(grey, np.zeros(2), binarize="threshold")
    assert imgs.tensor().tolist() == [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]


@needs_data
def test_rbm_subcommand_writes_json_and_pngs(tmp_path):
    import json

    from discrete_ebm.cli import main

    out = tmp_path / "rbm"
    code = main(
        [
            "rbm",
            "--data",
            str(ROOT),
            "--hidden",
            "7",
            "--epochs",
            "1",
            "--train-rows",
            "1000",
            "--ais-chains",
            "20",
            "--ais-betas",
            "50",
            "--sample-steps",
            "5",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    res = json.loads((out / "rbm.json").read_text())
    assert res["n_hidden"] == 7 and len(res["seconds_per_epoch"]) == 1
    # 784 independent-ish pixels: the test log-likelihood of any sensible model lies
    # between −784 log 2 = −543 (uniform) and 0
    assert -543.5 < res["test_log_likelihood"] < 0 and res["log_z_stderr"] >= 0
    for name in ("samples.png", "filters.png", "rbm.pt"):
        assert (out / name).stat().st_size > 0
