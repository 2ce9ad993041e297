"""``trusted_values`` skips only the O(B·d) value checks, and only inside its block."""

import pytest
import torch

from discrete_ebm import BernoulliED, IsingModel
from discrete_ebm._validation import check_states, trusted_values


def test_value_checks_are_skipped_inside_the_block_only():
    bad = torch.tensor([[0.0, 0.5]])
    with pytest.raises(ValueError, match="binary"):
        check_states(bad, 2)
    with trusted_values():
        assert check_states(bad, 2) is bad
        with pytest.raises(ValueError, match="width 2"):  # shapes are still checked
            check_states(torch.zeros(1, 3), 2)
        with pytest.raises(TypeError, match="floating-point"):  # and dtypes
            check_states(torch.zeros(1, 2, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="binary"):
        check_states(bad, 2)


def test_block_is_left_clean_after_an_error():
    with pytest.raises(RuntimeError), trusted_values():
        raise RuntimeError("boom")
    with pytest.raises(ValueError, match="NaN"):
        check_states(torch.tensor([[float("nan"), 0.0]]), 2)


def test_energy_discrepancy_still_rejects_bad_data():
    model = IsingModel(torch.zeros(3, 3), torch.zeros(3))
    objective = BernoulliED(0.1, 4)
    with pytest.raises(ValueError, match="binary"):
        objective(model, torch.tensor([[0.0, 1.0, 0.3]]))
    with pytest.raises(ValueError, match="binary"):
        objective.loss(model, torch.tensor([[0.0, 1.0, 0.3]]))


def test_energies_work_inside_torch_func_transforms():
    # vmap/grad tensors cannot drive Python control flow: the value checks step aside there
    # (shapes are still checked) and the result equals the plain evaluation
    from discrete_ebm.models.neural import MLPEnergy

    torch.manual_seed(0)
    m = MLPEnergy(3, (5,)).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    g = torch.func.vmap(torch.func.grad(lambda z: m.energy(z[None])[0]))(x)
    xr = x.clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(m.energy(xr).sum(), xr)
    torch.testing.assert_close(g, ref)
    with pytest.raises(ValueError, match="width 3"):
        torch.func.vmap(lambda z: m.energy(z[None]))(torch.zeros(4, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="infinite"):  # outside a transform: checked
        m.energy(torch.full((1, 3), float("inf"), dtype=torch.float64))
