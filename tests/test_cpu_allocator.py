"""``keep_freed_memory``: glibc malloc thresholds, applied once, with an opt-out."""

import ctypes
import os
import subprocess
import sys

import pytest

from discrete_ebm import cpu_allocator

_GLIBC = sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "mallopt")


@pytest.mark.skipif(not _GLIBC, reason="glibc only")
def test_applies_on_glibc_and_is_idempotent(monkeypatch):
    monkeypatch.delenv("DISCRETE_EBM_MALLOC_TUNING", raising=False)
    assert cpu_allocator.keep_freed_memory() is True
    assert cpu_allocator.keep_freed_memory() is True


def test_environment_opt_out(monkeypatch):
    monkeypatch.setenv("DISCRETE_EBM_MALLOC_TUNING", "0")
    assert cpu_allocator.keep_freed_memory() is False


@pytest.mark.skipif(not _GLIBC, reason="glibc only")
def test_fit_applies_it_in_a_fresh_process():
    # a fresh interpreter: nothing applied before fit, applied after a CPU fit
    code = (
        "import torch\n"
        "from discrete_ebm import IsingModel, PseudoLikelihood, fit, cpu_allocator\n"
        "assert cpu_allocator._applied is None\n"
        "m = IsingModel(torch.zeros(3, 3), torch.zeros(3))\n"
        "fit(m, PseudoLikelihood(), torch.ones(4, 3), steps=1, progress=False)\n"
        "assert cpu_allocator._applied is True\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DISCRETE_EBM_MALLOC_TUNING"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
