"""Device helpers: where a generator draws, and "auto" resolution on a CPU-only machine."""

from __future__ import annotations

import torch

from discrete_ebm.devices import generator_device, resolve_device


def test_generator_device_is_the_generators_own_or_the_cpu():
    assert generator_device(None) == torch.device("cpu")
    assert generator_device(torch.Generator(device="cpu")) == torch.device("cpu")
    # draws made there with the generator are reproducible
    a = torch.rand(3, generator=torch.Generator().manual_seed(4), device=generator_device(None))
    b = torch.rand(3, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)


def test_auto_is_cpu_without_cuda_and_names_pass_through():
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
        assert resolve_device(None) == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
