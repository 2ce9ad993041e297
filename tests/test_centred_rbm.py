"""Centred RBMs (Melchior, Fischer & Wiskott 2016) in the fused PCD step."""

import pytest
import torch

from discrete_ebm import fit
from discrete_ebm.models.rbm import RBM, centred_constant, centred_free_energy
from discrete_ebm.objectives import FusedPCD
from discrete_ebm.states import all_states


def _state(n=9, m=5, C=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    rbm = RBM.from_parameters(
        0.3 * torch.randn(n, m, generator=g, dtype=torch.float64),
        0.5 * torch.randn(n, generator=g, dtype=torch.float64),
        0.5 * torch.randn(m, generator=g, dtype=torch.float64),
    )
    h0 = (torch.rand(C, m, generator=g, dtype=torch.float64) < 0.5).double()
    mu = torch.rand(n, generator=g, dtype=torch.float64)
    lam = torch.rand(m, generator=g, dtype=torch.float64)
    return rbm, h0, mu, lam


def _expected(rbm, h0, v, mu, lam0, rate, seed):
    """The centred PCD-1 gradient on the plain parameters, by autograd of the centred
    surrogate ``mean F̃(v) − mean F̃(v⁻)`` with the draws ``FusedPCD`` makes."""
    g = torch.Generator().manual_seed(seed)
    W, b, c = (p.detach() for p in (rbm.W, rbm.b, rbm.c))
    C, n = h0.shape[0], W.shape[0]
    u = torch.rand((C, n), generator=g, dtype=torch.float64)
    v_neg = (u < torch.sigmoid(b + h0 @ W.T)).double()
    lam = (1 - rate) * lam0 + rate * torch.sigmoid(c + v @ W).mean(0)
    Wc = W.clone().requires_grad_()
    bc = (b + W @ lam).requires_grad_()
    cc = (c + W.T @ mu).requires_grad_()
    loss = (
        centred_free_energy(v, Wc, bc, cc, mu, lam).mean()
        - centred_free_energy(v_neg, Wc, bc, cc, mu, lam).mean()
    )
    gW, gb, gc = torch.autograd.grad(loss, (Wc, bc, cc))
    return gW, gb - gW @ lam, gc - gW.T @ mu, v_neg, lam


@pytest.mark.parametrize("B", [8, 5])
def test_centred_gradient_equals_autograd_of_the_centred_surrogate(B):
    rbm, h0, mu, lam0 = _state()
    v = (torch.rand(B, 9, generator=torch.Generator().manual_seed(1)) < 0.4).double()
    obj = FusedPCD(
        8, chains=h0, centred=True, visible_offsets=mu, hidden_offsets=lam0, offset_rate=0.1
    )
    obj.write_gradients(rbm, v, torch.Generator().manual_seed(7))
    gW, gb, gc, v_neg, lam = _expected(rbm, h0, v, mu, lam0, 0.1, 7)
    for got, want in ((rbm.W.grad, gW), (rbm.b.grad, gb), (rbm.c.grad, gc)):
        assert (got - want).abs().max() < 1e-12
    assert (obj.hidden_offsets - lam).abs().max() < 1e-15
    # the centred weight gradient is the plain one minus ∇b λᵀ + μ ∇cᵀ (Melchior et al., eq. 12)
    pW, pb, pc = rbm.contrastive_gradient(v, v_neg)
    formula = pW - torch.outer(pb, lam) - torch.outer(mu, pc)
    assert (rbm.W.grad - formula).abs().max() < 1e-12


def test_owned_centred_update_is_sgd_on_the_centred_gradient():
    rbm, h0, mu, lam0 = _state(seed=3)
    before = [p.detach().clone() for p in (rbm.W, rbm.b, rbm.c)]
    v = (torch.rand(8, 9, generator=torch.Generator().manual_seed(2)) < 0.5).double()
    obj = FusedPCD(8, chains=h0, centred=True, visible_offsets=mu, hidden_offsets=lam0)
    opt = torch.optim.SGD(rbm.parameters(), lr=0.3)
    assert obj.update(rbm, v, torch.Generator().manual_seed(5), opt) is None
    grads = _expected(RBM.from_parameters(*before), h0, v, mu, lam0, 0.01, 5)[:3]
    for p, p0, g in zip((rbm.W, rbm.b, rbm.c), before, grads):
        assert (p.detach() - (p0 - 0.3 * g)).abs().max() < 1e-12


def test_plain_parameters_of_a_centred_rbm_give_the_same_free_energies():
    g = torch.Generator().manual_seed(4)
    n, m = 8, 5
    W = torch.randn(n, m, generator=g, dtype=torch.float64)
    bc, cc = torch.randn(n, generator=g, dtype=torch.float64), torch.randn(m, generator=g).double()
    mu, lam = torch.rand(n, generator=g).double(), torch.rand(m, generator=g).double()
    rbm = RBM.from_centred(W, bc, cc, mu, lam)
    v = all_states(n, dtype=torch.float64)
    shift = centred_constant(W, bc, cc, mu, lam)
    assert (centred_free_energy(v, W, bc, cc, mu, lam) - shift - rbm.energy(v)).abs().max() < 1e-12
    # the round trip, and log Z moves by exactly the constant
    W2, bc2, cc2 = rbm.centred_parameters(mu, lam)
    assert max((a - b).abs().max() for a, b in ((W2, W), (bc2, bc), (cc2, cc))) < 1e-12
    log_zc = torch.logsumexp(-centred_free_energy(v, W, bc, cc, mu, lam), 0)
    assert abs(float(log_zc + shift - rbm.exact_log_partition())) < 1e-12


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_zero_offsets_reduce_to_the_plain_fused_step_exactly(momentum):
    data = (torch.rand(40, 9, generator=torch.Generator().manual_seed(0)) < 0.4).double()
    runs = []
    for centred in (False, True):
        rbm, h0, _, _ = _state(seed=2)
        extra = {"visible_offsets": torch.zeros(9), "hidden_offsets": torch.zeros(5)}
        obj = FusedPCD(8, chains=h0, centred=centred, offset_rate=0.0, **(extra if centred else {}))
        opt = torch.optim.SGD(rbm.parameters(), lr=0.1, momentum=momentum)
        fit(
            rbm,
            obj,
            data,
            epochs=2,
            batch_size=8,
            optimizer=opt,
            progress=False,
            generator=torch.Generator().manual_seed(3),
        )
        runs.append([p.detach().clone() for p in (rbm.W, rbm.b, rbm.c)] + [obj.chains])
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def test_centring_changes_the_step_and_the_offsets_follow_the_hidden_means():
    rbm, h0, mu, _ = _state(seed=6)
    v = (torch.rand(8, 9, generator=torch.Generator().manual_seed(2)) < 0.5).double()
    plain = FusedPCD(8, chains=h0)
    plain.write_gradients(rbm, v, torch.Generator().manual_seed(1))
    g_plain = rbm.b.grad.clone()
    obj = FusedPCD(8, chains=h0, centred=True, visible_offsets=mu, offset_rate=1.0)
    obj.write_gradients(rbm, v, torch.Generator().manual_seed(1))
    assert (rbm.b.grad - g_plain).abs().max() > 1e-3
    want = torch.sigmoid(rbm.hidden_logits(v)).mean(0).detach()
    assert (obj.hidden_offsets - want).abs().max() < 1e-14  # rate 1: the batch's mean p⁺


def test_centred_run_resumes_exactly_with_its_offsets(tmp_path):
    data = (torch.rand(60, 9, generator=torch.Generator().manual_seed(0)) < 0.4).float()

    def run(steps, ckpt):
        rbm = RBM(9, 4, generator=torch.Generator().manual_seed(1))
        obj = FusedPCD(10, centred=True, visible_offsets=data.mean(0), uniforms="numpy")
        opt = torch.optim.SGD(rbm.parameters(), lr=0.05, momentum=0.5)
        fit(
            rbm,
            obj,
            data,
            steps=steps,
            batch_size=10,
            optimizer=opt,
            checkpoint=ckpt,
            checkpoint_every=4,
            progress=False,
            generator=torch.Generator().manual_seed(2),
        )
        return rbm, obj

    full, full_obj = run(12, tmp_path / "a.pt")
    run(8, tmp_path / "b.pt")
    resumed, res_obj = run(12, tmp_path / "b.pt")
    for a, b in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(full_obj.hidden_offsets, res_obj.hidden_offsets)
    assert not torch.equal(full_obj.hidden_offsets, torch.full((4,), 0.5))


def test_centred_arguments_are_checked():
    with pytest.raises(ValueError, match="offset_rate"):
        FusedPCD(4, centred=True, offset_rate=1.5)
    with pytest.raises(ValueError, match="centred=True"):
        FusedPCD(4, hidden_offsets=torch.zeros(3))
    with pytest.raises(TypeError, match="centred"):
        FusedPCD(4, centred=1)
    rbm, h0, _, _ = _state()
    obj = FusedPCD(8, chains=h0, centred=True, visible_offsets=torch.zeros(4))
    with pytest.raises(ValueError, match="visible_offsets must have shape"):
        obj.write_gradients(rbm, torch.zeros(8, 9, dtype=torch.float64))
