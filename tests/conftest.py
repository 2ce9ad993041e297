"""Test set-up: two intra-op threads (the CI machine has two cores)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)
    yield
