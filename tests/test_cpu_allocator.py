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
def test_fit_leaves_malloc_alone_and_the_cli_tunes_it_in_a_fresh_process(tmp_path):
    # a fresh interpreter: a library call changes no process-wide setting; the CLI does
    code = (
        "import torch\n"
        "from discrete_ebm import IsingModel, PseudoLikelihood, fit, cpu_allocator\n"
        "m = IsingModel(torch.zeros(3, 3), torch.zeros(3))\n"
        "fit(m, PseudoLikelihood(), torch.ones(4, 3), steps=1, progress=False)\n"
        "assert cpu_allocator._applied is None\n"
        "from discrete_ebm.cli import main\n"
        f"main(['sample', '--size', '3', '--sweeps', '1', '--chains', '1', '--temperatures',"
        f" '2', '--quiet', '--out', {str(tmp_path)!r}])\n"
        "assert cpu_allocator._applied is True\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DISCRETE_EBM_MALLOC_TUNING"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
