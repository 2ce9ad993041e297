"""Test set-up: one intra-op thread (small tensors; no spinning threads on a busy machine);
the ``device`` fixture: a test taking it runs on CPU, and on CUDA when
``torch.cuda.is_available()`` (skipped otherwise); such tests carry the ``device`` marker
(``pytest -m device``, what ``benchmarks/gpu_check.py`` runs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from discrete_ebm.data.ising import lattice_model
from discrete_ebm.evaluation import exact

DEVICES = ["cpu", "cuda"]


def pytest_configure(config):
    config.addinivalue_line("markers", "device: the test takes the device fixture (cpu, cuda)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "device" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.device)


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """``"cpu"``, and ``"cuda"`` when a GPU is available (skipped otherwise)."""
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    return request.param


@pytest.fixture
def load_script():
    """``load_script(path)``: the module of the Python file at ``path`` (a benchmark script,
    a file a test wrote), imported under its file name."""

    def load(path):
        path = Path(path)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
    yield


@pytest.fixture(scope="session")
def lattice_data():
    """2,000 exact i.i.d. samples of the periodic 4 × 4 lattice, σ = 0.2 (J = 0.4), drawn by
    enumerating its 65,536 states (tests of learning, not of a sampler): ``(x, J_true)``."""
    true = lattice_model(4, 0.2)
    g = torch.Generator().manual_seed(0)
    idx = torch.multinomial(exact.probabilities(true), 2000, replacement=True, generator=g)
    return exact.all_states(16)[idx].float(), true.J.detach()
