"""FusedPCDTrainer: the fused PCD-k + SGD step equals a plain reference (and scikit-learn's
BernoulliRBM update) from the same state and the same uniforms; input checks; training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from discrete_ebm.models.rbm import RBM, FusedPCDTrainer, _check_binary_batch


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
    g = np.random.default_rng(seed)
    np_dtype = {torch.float32: np.float32, torch.float64: np.float64}[dtype]
    return lambda shape: torch.from_numpy(g.random(shape, dtype=np_dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("rng", ["torch", "numpy"])
@pytest.mark.parametrize(("k", "B"), [(1, 12), (2, 12), (1, 7), (3, 5)])
def test_step_equals_reference(dtype, rng, k, B):
    n, m, C, lr, seed = 31, 17, 12, 0.3, 11
    rbm, h0 = random_state(n, m, C, dtype)
    W, b, c = (p.detach().clone() for p in (rbm.W, rbm.b, rbm.c))
    v = (torch.rand(B, n, generator=torch.Generator().manual_seed(2)) < 0.4).to(dtype)
    gen = torch.Generator().manual_seed(seed) if rng == "torch" else np.random.default_rng(seed)
    trainer = FusedPCDTrainer(rbm, C, lr, k=k, chains=h0, generator=gen)
    trainer.step(v)
    draws = (torch_draws if rng == "torch" else numpy_draws)(seed, dtype)
    ref = reference_step(W, b, c, h0, v, lr, draws, k=k)
    assert torch.equal(trainer.chains, ref[3])
    # same samples, so only rounding differs: float32 parameters of size <= 2 carry
    # ~1e-7 per operation (a few ulps in all); float64 agrees to ~1e-15
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    for got, want in zip((rbm.W, rbm.b, rbm.c), ref[:3]):
        assert float((got.detach() - want).abs().max()) < tol
    assert rbm.W.grad is None  # no autograd involved


def test_several_steps_equal_scikit_learn_bernoulli_rbm():
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

        def uniform(self, size):
            return torch.rand(size, generator=self.g, dtype=torch.float64).numpy()

    rng = SameUniforms()
    for a in range(0, 5 * C, C):
        sk._fit(x[a : a + C].numpy(), rng)
    trainer = FusedPCDTrainer(rbm, C, lr, chains=h0, generator=torch.Generator().manual_seed(seed))
    trainer.fit_epoch(x)
    np.testing.assert_allclose(rbm.W.detach().numpy(), sk.components_.T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rbm.b.detach().numpy(), sk.intercept_visible_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rbm.c.detach().numpy(), sk.intercept_hidden_, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(trainer.chains.numpy(), sk.h_samples_)


def test_fit_epoch_increases_exact_log_likelihood():
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
    trainer = FusedPCDTrainer(student, 100, 0.2, generator=torch.Generator().manual_seed(2))
    for _ in range(40):
        trainer.fit_epoch(data[torch.randperm(2000, generator=g)])
    ll1 = avg_ll(student)
    # 2000 samples: the LL estimate's noise is ~0.05 nats; the gain is several times that
    assert ll1 > ll0 + 0.3, (ll0, ll1)


@pytest.mark.parametrize(
    "bad",
    [0.5, 2.0, -1.0, float("nan"), float("inf"), 1e-45, 1 - 2**-24],
)
def test_fast_binary_check_rejects_what_check_states_rejects(bad):
    x = torch.zeros(3, 4)
    x[1, 2] = bad
    with pytest.raises(ValueError, match="v must be binary"):
        _check_binary_batch(x, 4, "v")
    _check_binary_batch(torch.tensor([[0.0, 1.0, -0.0, 1.0]]), 4, "v")  # -0. is 0.


def test_input_errors_name_the_argument():
    rbm = RBM(6, 3)
    tr = FusedPCDTrainer(rbm, 4, 0.1)
    with pytest.raises(ValueError, match="v must have width 6"):
        tr.step(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="between 1 and n_chains=4"):
        tr.step(torch.zeros(5, 6))
    with pytest.raises(TypeError, match="v must be a floating"):
        tr.step(torch.zeros(2, 6, dtype=torch.long))
    with pytest.raises(ValueError, match="x must have width 6"):
        tr.fit_epoch(torch.zeros(8, 5))
    with pytest.raises(ValueError, match="x must be binary"):
        tr.fit_epoch(torch.full((8, 6), 0.5))
    with pytest.raises(ValueError, match="batch_size must be <= n_chains=4"):
        tr.fit_epoch(torch.zeros(8, 6), batch_size=5)
    with pytest.raises(ValueError, match="lr must be"):
        FusedPCDTrainer(rbm, 4, -0.1)
    with pytest.raises(ValueError, match="chains must have shape"):
        FusedPCDTrainer(rbm, 4, 0.1, chains=torch.zeros(3, 3))
    with pytest.raises(TypeError, match="generator must be"):
        FusedPCDTrainer(rbm, 4, 0.1, generator=0)
    with pytest.raises(ValueError, match="numpy Generator needs a float32/float64"):
        FusedPCDTrainer(RBM(6, 3, dtype=torch.float16), 4, 0.1, generator=np.random.default_rng())


def test_trainer_relayout_keeps_the_model():
    rbm = RBM(9, 4, weight_std=0.5, generator=torch.Generator().manual_seed(0))
    x = (torch.rand(6, 9, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    W0, e0 = rbm.W.detach().clone(), rbm.energy(x).detach()
    FusedPCDTrainer(rbm, 3, 0.1)
    assert rbm.W.shape == (9, 4) and rbm.W.T.is_contiguous()
    assert torch.equal(rbm.W.detach(), W0)
    torch.testing.assert_close(rbm.energy(x).detach(), e0)
    assert dict(rbm.named_parameters())["W"] is rbm.W
