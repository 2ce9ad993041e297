"""FusedPCD: the fused PCD-k gradient equals a plain reference, the analytic PCD gradient and
autograd's; through ``fit`` with SGD it is scikit-learn's BernoulliRBM update; it resumes
exactly; input checks; training raises the likelihood."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from discrete_ebm.models.rbm import RBM
from discrete_ebm.objectives import FusedPCD, RBMPersistentCD, make
from discrete_ebm.training import fit


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
    yield


def random_state(n, m, C, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    rbm = RBM.from_parameters(  # MNIST-like scales: |W| ~ 0.1, |b|, |c| ~ 0.5
        0.1 * torch.randn(n, m, generator=g, dtype=torch.float64).to(dtype),
        0.5 * torch.randn(n, generator=g, dtype=torch.float64).to(dtype),
        0.5 * torch.randn(m, generator=g, dtype=torch.float64).to(dtype),
    )
    h0 = (torch.rand(C, m, generator=g) < 0.5).to(dtype)
    return rbm, h0


def reference_step(W, b, c, h, v, lr, draw, k=1):
    """PCD-k + SGD written out plainly: fresh tensors, separate products, the mean of each
    phase. ``draw(shape)`` returns the next uniforms; returns the new (W, b, c, h)."""
    C = h.shape[0]
    for sweep in range(k):
        v_neg = (draw((C, W.shape[0])) < torch.sigmoid(b + h @ W.T)).to(W.dtype)
        if sweep < k - 1:
            h = (draw((C, W.shape[1])) < torch.sigmoid(c + v_neg @ W)).to(W.dtype)
    p_pos = torch.sigmoid(c + v @ W)
    p_neg = torch.sigmoid(c + v_neg @ W)
    h_new = (draw((C, W.shape[1])) < p_neg).to(W.dtype)
    W_new = W + lr * (v.T @ p_pos / v.shape[0] - v_neg.T @ p_neg / C)
    b_new = b + lr * (v.mean(0) - v_neg.mean(0))
    c_new = c + lr * (p_pos.mean(0) - p_neg.mean(0))
    return W_new, b_new, c_new, h_new


def torch_draws(seed, dtype):
    g = torch.Generator().manual_seed(seed)
    return lambda shape: torch.rand(shape, generator=g, dtype=dtype)


def numpy_draws(seed, dtype):
    # FusedPCD(uniforms="numpy") seeds PCG64 from one draw of the torch generator it is given
    g = np.random.default_rng(
        int(torch.randint(0, 2**62, (1,), generator=torch.Generator().manual_seed(seed)))
    )
    np_dtype = {torch.float32: np.float32, torch.float64: np.float64}[dtype]
    return lambda shape: torch.from_numpy(g.random(shape, dtype=np_dtype))


def sgd_step(rbm, lr):
    with torch.no_grad():
        for p in rbm.parameters():
            p -= lr * p.grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("rng", ["torch", "numpy"])
@pytest.mark.parametrize(("k", "B"), [(1, 12), (2, 12), (1, 7), (3, 5)])
def test_gradient_step_equals_reference(dtype, rng, k, B):
    n, m, C, lr, seed = 31, 17, 12, 0.3, 11
    rbm, h0 = random_state(n, m, C, dtype)
    W, b, c = (p.detach().clone() for p in (rbm.W, rbm.b, rbm.c))
    v = (torch.rand(B, n, generator=torch.Generator().manual_seed(2)) < 0.4).to(dtype)
    objective = FusedPCD(C, k=k, chains=h0, uniforms=rng)
    objective.write_gradients(rbm, v, torch.Generator().manual_seed(seed))
    sgd_step(rbm, lr)
    draws = (torch_draws if rng == "torch" else numpy_draws)(seed, dtype)
    ref = reference_step(W, b, c, h0, v, lr, draws, k=k)
    assert torch.equal(objective.chains, ref[3])
    # same samples, so only rounding differs: float32 parameters of size <= 2 carry
    # ~1e-7 per operation (a few ulps in all); float64 agrees to ~1e-15
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    for got, want in zip((rbm.W, rbm.b, rbm.c), ref[:3]):
        assert float((got.detach() - want).abs().max()) < tol


@pytest.mark.parametrize("k", [1, 3])
def test_fused_analytic_and_autograd_gradients_agree(k):
    n, m, C, B = 13, 7, 11, 5
    rbm, h0 = random_state(n, m, C, torch.float64, seed=4)
    v = (torch.rand(B, n, generator=torch.Generator().manual_seed(6)) < 0.5).double()
    grads = {}
    for name, objective in (
        ("fused", FusedPCD(C, k=k, chains=h0)),
        ("analytic", RBMPersistentCD(k=k, chains=h0)),
    ):
        objective.write_gradients(rbm, v, torch.Generator().manual_seed(9))
        grads[name] = [p.grad.clone() for p in rbm.parameters()]
        chains = objective.chains
    surrogate = RBMPersistentCD(k=k, chains=h0)
    for p in rbm.parameters():
        p.grad = None
    surrogate(rbm, v, torch.Generator().manual_seed(9)).backward()
    assert torch.equal(surrogate.chains, chains)  # the same draws in the same order
    for a, b, c in zip(grads["fused"], grads["analytic"], [p.grad for p in rbm.parameters()]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-13)
        torch.testing.assert_close(a, c, rtol=0, atol=1e-13)


def test_fit_with_sgd_equals_scikit_learn_bernoulli_rbm():
    sklearn_rbm = pytest.importorskip("sklearn.neural_network")
    n, m, C, lr, seed = 40, 9, 10, 0.1, 5
    rbm, h0 = random_state(n, m, C, torch.float64, seed=3)
    x = (torch.rand(5 * C, n, generator=torch.Generator().manual_seed(4)) < 0.3).double()
    sk = sklearn_rbm.BernoulliRBM(n_components=m, learning_rate=lr, batch_size=C)
    sk.components_ = rbm.W.detach().T.numpy().copy()
    sk.intercept_visible_ = rbm.b.detach().numpy().copy()
    sk.intercept_hidden_ = rbm.c.detach().numpy().copy()
    sk.h_samples_ = h0.numpy().copy()

    class SameUniforms:  # scikit-learn draws rng.uniform(size=...) in the same order
        g = torch.Generator().manual_seed(seed)
        torch.randint(0, 2**62, (1,), generator=g)  # fit first seeds its shuffling from it

        def uniform(self, size):
            return torch.rand(size, generator=self.g, dtype=torch.float64).numpy()

    rng = SameUniforms()
    for a in range(0, 5 * C, C):
        sk._fit(x[a : a + C].numpy(), rng)
    objective = make("fused-pcd", n_chains=C, chains=h0)
    fit(
        rbm,
        objective,
        x,
        epochs=1,
        batch_size=C,
        shuffle=False,
        optimizer=torch.optim.SGD(rbm.parameters(), lr=lr),
        generator=torch.Generator().manual_seed(seed),
        progress=False,
    )
    np.testing.assert_allclose(rbm.W.detach().numpy(), sk.components_.T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rbm.b.detach().numpy(), sk.intercept_visible_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rbm.c.detach().numpy(), sk.intercept_hidden_, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(objective.chains.numpy(), sk.h_samples_)


def test_training_increases_exact_log_likelihood():
    # data from a known 8-3 RBM with strongly correlated units; the student starts at the
    # data marginals, so the likelihood gain comes from learning the correlations
    g = torch.Generator().manual_seed(1)
    W = 3.0 * torch.randn(8, 3, generator=g, dtype=torch.float64)
    teacher = RBM.from_parameters(W, -0.5 * W.sum(1), torch.full((3,), -1.0))
    data = teacher.sample(2000, 50, generator=g).float()
    student = RBM(8, 4, weight_std=0.1, generator=g).init_from_data(data)

    def avg_ll(model):
        with torch.no_grad():
            return float(-model.energy(data).double().mean() - model.exact_log_partition())

    ll0 = avg_ll(student)
    history = fit(
        student,
        FusedPCD(100),
        data,
        epochs=40,
        batch_size=100,
        optimizer=torch.optim.SGD(student.parameters(), lr=0.2),
        generator=torch.Generator().manual_seed(2),
        progress=False,
    )
    ll1 = avg_ll(student)
    assert history.steps == 800 and history.epochs == 40
    # 2000 samples: the LL estimate's noise is ~0.05 nats; the gain is several times that
    assert ll1 > ll0 + 0.3, (ll0, ll1)


@pytest.mark.parametrize("uniforms", ["torch", "numpy"])
def test_resumed_run_equals_uninterrupted(tmp_path, uniforms):
    data = (torch.rand(60, 9, generator=torch.Generator().manual_seed(0)) < 0.4).float()

    def run(steps, ckpt):
        rbm = RBM(9, 5, weight_std=0.1, generator=torch.Generator().manual_seed(1))
        objective = FusedPCD(8, k=2, uniforms=uniforms, init="data")
        fit(
            rbm,
            objective,
            data,
            steps=steps,
            batch_size=8,
            optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5),
            scheduler=lambda s: 1.0 / (1 + s),
            generator=torch.Generator().manual_seed(3),
            checkpoint=ckpt,
            checkpoint_every=4,
            progress=False,
        )
        return [p.detach().clone() for p in rbm.parameters()] + [objective.chains.clone()]

    straight = run(17, None)
    ckpt = tmp_path / "fused.pt"
    run(10, ckpt)  # stops at step 10: the checkpoint holds step 10
    resumed = run(17, ckpt)
    for a, b in zip(straight, resumed):
        assert torch.equal(a, b)


def test_input_errors_name_the_argument():
    rbm = RBM(6, 3)
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="between 1 and n_chains=4"):
        FusedPCD(4).write_gradients(rbm, torch.zeros(5, 6), g)
    with pytest.raises(ValueError, match="data must be binary"):
        fit(rbm, FusedPCD(4), torch.full((8, 6), 0.5), steps=1, batch_size=4, progress=False)
    loader = torch.utils.data.DataLoader(torch.full((8, 6), 0.5), batch_size=4)
    with pytest.raises(ValueError, match="batch must be binary"):
        fit(rbm, FusedPCD(4), loader, steps=1, progress=False)
    with pytest.raises(ValueError, match="n_chains must be"):
        FusedPCD(0)
    with pytest.raises(ValueError, match="uniforms must be"):
        FusedPCD(4, uniforms="mt")
    with pytest.raises(ValueError, match="init must be"):
        FusedPCD(4, init="noise")
    with pytest.raises(ValueError, match="chains must have n_chains=4 rows"):
        FusedPCD(4, chains=torch.zeros(3, 3))
    with pytest.raises(ValueError, match="chains have 2 hidden units"):
        FusedPCD(4, chains=torch.zeros(4, 2)).write_gradients(rbm, torch.zeros(2, 6), g)
    with pytest.raises(ValueError, match="uniforms='numpy' needs a float32/float64"):
        FusedPCD(4, uniforms="numpy").write_gradients(
            RBM(6, 3, dtype=torch.float16), torch.zeros(2, 6, dtype=torch.float16), g
        )
    with pytest.raises(TypeError, match="model must be a discrete_ebm RBM"):
        FusedPCD(4).write_gradients(torch.nn.Linear(2, 2), torch.zeros(2, 6), g)


def test_relayout_keeps_the_model():
    rbm = RBM(9, 4, weight_std=0.5, generator=torch.Generator().manual_seed(0))
    x = (torch.rand(6, 9, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    W0, e0 = rbm.W.detach().clone(), rbm.energy(x).detach()
    FusedPCD(3).write_gradients(rbm, x[:3], torch.Generator().manual_seed(2))
    assert rbm.W.shape == (9, 4) and rbm.W.T.is_contiguous()
    assert torch.equal(rbm.W.detach(), W0)
    torch.testing.assert_close(rbm.energy(x).detach(), e0)
    assert dict(rbm.named_parameters())["W"] is rbm.W
    assert rbm.W.grad.stride() == rbm.W.stride()


@pytest.mark.parametrize(
    "bad",
    [0.5, 2.0, -1.0, float("nan"), float("inf"), -float("inf"), 1e-45, 1 - 2**-24],
)
def test_the_two_pass_binary_check_rejects_every_non_binary_value(bad):
    from discrete_ebm._validation import check_states

    x = torch.zeros(3, 4)
    x[1, 2] = bad
    what = "contains NaN" if bad != bad else "must be binary"
    with pytest.raises(ValueError, match=f"v {what}"):
        check_states(x, 4, name="v")
    check_states(torch.tensor([[0.0, 1.0, -0.0, 1.0]]), 4)  # -0. is 0.


def _sgd_run(optimizer, steps=6, scheduler=None, data=None):
    data = (torch.rand(40, 9, generator=torch.Generator().manual_seed(0)) < 0.4).double()
    rbm, h0 = random_state(9, 5, 8, torch.float64, seed=2)
    objective = FusedPCD(8, chains=h0)
    fit(
        rbm,
        objective,
        data,
        steps=steps,
        batch_size=8,
        shuffle=False,
        optimizer=optimizer(rbm.parameters()),
        scheduler=scheduler,
        generator=torch.Generator().manual_seed(5),
        progress=False,
    )
    return rbm, objective


class _SGDByGradient(torch.optim.SGD):
    """Plain SGD that FusedPCD.update does not recognise: fit writes gradients instead."""


def test_owned_update_equals_gradient_plus_sgd_and_follows_the_schedule():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no scheduler-order warning from the owned update
        fused, obj_a = _sgd_run(lambda p: torch.optim.SGD(p, lr=0.3), scheduler=lambda s: 0.5**s)
    plain, obj_b = _sgd_run(lambda p: _SGDByGradient(p, lr=0.3), scheduler=lambda s: 0.5**s)
    assert fused.W.grad is None and plain.W.grad is not None  # the two paths were taken
    assert torch.equal(obj_a.chains, obj_b.chains)
    for a, b in zip(fused.parameters(), plain.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-13)
    # a different rate gives different parameters: the schedule reached the owned update
    other, _ = _sgd_run(lambda p: torch.optim.SGD(p, lr=0.3))
    assert not torch.allclose(other.W, fused.W)


def test_owned_update_declines_optimisers_it_cannot_fuse():
    from discrete_ebm.objectives.fused_pcd import plain_sgd_rate

    rbm = RBM(4, 3)
    assert plain_sgd_rate(torch.optim.SGD(rbm.parameters(), lr=0.1), list(rbm.parameters())) == 0.1
    for opt in (
        torch.optim.SGD(rbm.parameters(), lr=0.1, momentum=0.9),
        torch.optim.SGD(rbm.parameters(), lr=0.1, weight_decay=1e-4),
        torch.optim.Adam(rbm.parameters(), lr=0.1),
        torch.optim.SGD([rbm.W], lr=0.1),
        torch.optim.SGD([{"params": [rbm.W], "lr": 0.1}, {"params": [rbm.b, rbm.c]}], lr=0.2),
    ):
        assert FusedPCD(4).update(rbm, torch.zeros(2, 4), None, opt) is NotImplemented


def test_a_diverging_owned_update_stops_and_keeps_the_last_checkpoint(tmp_path):
    from discrete_ebm.training import TrainingDiverged

    data = (torch.rand(40, 9, generator=torch.Generator().manual_seed(0)) < 0.4).float()
    rbm = RBM(9, 5, generator=torch.Generator().manual_seed(1))
    ckpt = tmp_path / "c.pt"
    fit(
        rbm,
        FusedPCD(8),
        data,
        steps=2,
        batch_size=8,
        checkpoint=ckpt,
        optimizer=torch.optim.SGD(rbm.parameters(), lr=0.1),
        progress=False,
    )
    saved = torch.load(ckpt, weights_only=True)["model"]["W"].clone()
    with torch.no_grad():
        rbm.b[3] = float("inf")  # the next sweep's visible probabilities become NaN
    with pytest.raises(TrainingDiverged, match=r"step 1: the value of 'b' is not finite"):
        fit(
            rbm,
            FusedPCD(8),
            data,
            steps=4,
            batch_size=8,
            checkpoint=ckpt,
            resume=False,
            optimizer=torch.optim.SGD(rbm.parameters(), lr=0.1),
            progress=False,
            checkpoint_every=1,
        )
    assert torch.equal(torch.load(ckpt, weights_only=True)["model"]["W"], saved)


@pytest.mark.parametrize("where", [0, 70_000, 200 * 784 - 1])
def test_the_blocked_binary_check_of_large_batches_finds_one_bad_value(where):
    from discrete_ebm._validation import check_states

    x = (torch.rand(200, 784, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    check_states(x, 784)
    x.view(-1)[where] = 1e-45  # the smallest positive float: only its fractional part shows it
    with pytest.raises(ValueError, match="x must be binary"):
        check_states(x, 784)
