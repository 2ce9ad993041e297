"""Test set-up: one intra-op thread (small tensors; no spinning threads on a busy machine)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
    yield
