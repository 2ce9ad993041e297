"""Priors: PL recovers known offset couplings, RBM training fits data, files round-trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from discrete_ebm.denoise.finetune import PosteriorContrastiveDivergence
from discrete_ebm.denoise.pretrain import pretrained_prior
from discrete_ebm.denoise.priors import (
    HAND_BIAS,
    HAND_COUPLING,
    finetune_rbm_denoising,
    fit_offset_ising,
    fit_rbm,
    lattice_prior,
    load_prior,
    prior_meta,
    save_prior,
)
from discrete_ebm.evaluation import exact
from discrete_ebm.models.offset_ising import OffsetIsing
from discrete_ebm.models.rbm import RBM
from discrete_ebm.samplers.block_gibbs import BlockGibbsSampler


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: a second intra-op thread only adds synchronisation."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_pseudo_likelihood_recovers_offset_couplings():
    true = OffsetIsing((13, 11), 1.5, [0.3, 0.2, 0.1, -0.05], -0.1)
    g = torch.Generator().manual_seed(0)
    x = BlockGibbsSampler(true).sample(1500, 150, generator=g)
    model = fit_offset_ising(
        x, shape=(13, 11), radius=1.5, epochs=40, batch_size=500, lr=0.03, generator=g
    )
    # N·d = 214,500 site conditionals; the PL standard error of each shared coupling is about
    # 1/sqrt(N·d·I) with Fisher information I ≥ 0.1 per site, i.e. ≤ 0.007; allow 5 of them
    # (plus the bias of the finite Gibbs run and of 120 Adam steps): 0.04
    err = (model.couplings.detach() - true.couplings.detach()).abs().max().item()
    assert err < 0.04, model.couplings
    assert abs(model.bias.item() - true.bias.item()) < 0.04


def test_rbm_training_fits_data_better_than_independent_pixels():
    # data: three 3×3 patterns, each pixel flipped with probability 0.05
    g = torch.Generator().manual_seed(1)
    patterns = torch.tensor(
        [[1, 1, 1, 0, 0, 0, 1, 1, 1], [1, 0, 1, 1, 0, 1, 1, 0, 1], [0, 1, 0, 1, 1, 1, 0, 1, 0]],
        dtype=torch.float32,
    )
    clean = patterns[torch.randint(0, 3, (3000,), generator=g)]
    flips = (torch.rand(clean.shape, generator=g) < 0.05).float()
    data = (clean + flips) % 2
    rbm = fit_rbm(
        data,
        shape=(3, 3),
        n_hidden=6,
        epochs=30,
        batch_size=50,
        lr=0.01,
        k=5,
        weight_decay=0.0,
        generator=torch.Generator().manual_seed(3),
    )
    emp = torch.bincount(exact.state_index(data), minlength=512).double() / data.shape[0]
    p_rbm = exact.probabilities(rbm)
    m = data.double().mean(0)
    states = exact.all_states(9)
    p_ind = (states * m + (1 - states) * (1 - m)).prod(1)
    nz = emp > 0
    kl = lambda q: (emp[nz] * (emp[nz] / q[nz]).log()).sum().item()  # noqa: E731
    # independent pixels cannot represent the three patterns: KL ≈ 2 nats here; a trained RBM
    # with 6 hidden units (PCD-5) gets below a quarter of that
    assert kl(p_rbm) < 0.25 * kl(p_ind), (kl(p_rbm), kl(p_ind))
    assert rbm.image_shape == (3, 3)


def test_save_load_round_trip(tmp_path):
    m = OffsetIsing((5, 7), 2.0, torch.linspace(-0.3, 0.5, 6), 0.2, boundary=-1.0)
    path = save_prior(m, tmp_path / "ising.npz", meta={"note": "x"})
    back = load_prior(path)
    assert torch.equal(back.couplings, m.couplings) and back.bias.item() == pytest.approx(0.2)
    assert back.boundary == -1.0
    assert prior_meta(path) == {"note": "x"}
    other = load_prior(path, shape=(9, 4))
    assert other.image_shape == (9, 4) and torch.equal(other.couplings, m.couplings)
    g = torch.Generator().manual_seed(2)
    rbm = RBM(12, 5, weight_std=0.5, generator=g)
    rbm.image_shape = (3, 4)
    back = load_prior(save_prior(rbm, tmp_path / "rbm.npz", half=True))
    # float16 keeps 11 significant bits: relative rounding ≤ 2^-11
    torch.testing.assert_close(back.W, rbm.W.detach(), rtol=2**-11, atol=1e-7)
    with pytest.raises(ValueError, match=r"for \(3, 4\) images"):
        load_prior(tmp_path / "rbm.npz", shape=(4, 3))
    with pytest.raises(FileNotFoundError):
        load_prior(tmp_path / "missing.npz")


def test_lattice_and_pretrained_priors():
    lat = lattice_prior((6, 9))
    assert lat.offsets == [(0, 1), (1, 0)]
    assert lat.couplings.tolist() == pytest.approx([HAND_COUPLING] * 2)
    assert lat.bias.item() == pytest.approx(HAND_BIAS)
    ising = pretrained_prior("ising", (17, 23))
    assert isinstance(ising, OffsetIsing) and ising.image_shape == (17, 23)
    assert ising.radius >= 2 and ising.couplings[0] > 0  # nearest neighbours attract
    assert ising.boundary == -1.0  # MNIST digits: black background outside the image
    rbm = pretrained_prior("rbm")
    assert isinstance(rbm, RBM) and rbm.dim == 784 and rbm.image_shape == (28, 28)
    with pytest.raises(ValueError, match=r"for \(28, 28\) images"):
        pretrained_prior("rbm", (20, 20))
    with pytest.raises(ValueError, match="kind must be"):
        pretrained_prior("glass")
    with pytest.raises(ValueError, match="need shape"):
        fit_offset_ising(torch.zeros(4, 10))
    with pytest.raises(ValueError, match="method must be"):
        fit_offset_ising(torch.zeros(4, 3, 3), method="cd")
    with pytest.raises(ValueError, match="binary"):
        fit_rbm(np.full((4, 3, 3), 0.5))


def _cond_nll(prior_energies: torch.Tensor, x: torch.Tensor, y: torch.Tensor, p: float) -> float:
    """Exact ``−mean log p(x | y)`` under a prior given by its energies on all ``2^d`` states
    and flip noise of rate ``p`` (enumeration)."""
    lam = 0.5 * math.log((1 - p) / p)
    s = 2 * exact.all_states(x.shape[1]).double() - 1  # (2^d, d)
    obs = lam * (2 * y.double() - 1) @ s.T  # (N, 2^d): λ Σ_i t_i s_i
    logp = -prior_energies.double() + obs
    logp = logp - torch.logsumexp(logp, 1, keepdim=True)
    return -logp.gather(1, exact.state_index(x).unsqueeze(1)).mean().item()


def test_denoising_finetune_raises_the_conditional_likelihood():
    # clean images: the three 3×3 patterns, each pixel flipped with probability 0.05 (their
    # exact law is known); observations: flip noise p = 0.2 on top
    g = torch.Generator().manual_seed(4)
    patterns = torch.tensor(
        [[1, 1, 1, 0, 0, 0, 1, 1, 1], [1, 0, 1, 1, 0, 1, 1, 0, 1], [0, 1, 0, 1, 1, 1, 0, 1, 0]],
        dtype=torch.float32,
    )

    def draw(n):
        clean = patterns[torch.randint(0, 3, (n,), generator=g)]
        return torch.where(torch.rand(clean.shape, generator=g) < 0.05, 1 - clean, clean)

    train, test = draw(3000), draw(4000)
    noisy = torch.where(torch.rand(test.shape, generator=g) < 0.2, 1 - test, test)
    start = RBM(9, 6, weight_std=0.1, generator=torch.Generator().manual_seed(5))
    start.init_from_data(train)
    start.image_shape = (3, 3)
    tuned = finetune_rbm_denoising(
        start, train, shape=(3, 3), flip_rates=(0.2,), epochs=15, batch_size=50, lr=0.02, k=5,
        weight_decay=0.0, generator=torch.Generator().manual_seed(6),
    )  # fmt: skip
    assert tuned is not start and tuned.image_shape == (3, 3)
    # the start is untouched
    assert torch.equal(
        start.W, RBM(9, 6, weight_std=0.1, generator=torch.Generator().manual_seed(5)).W
    )
    states = exact.all_states(9)
    # the true prior of the clean images: mixture of the patterns with 5 % flips
    hd = (states.unsqueeze(1) != patterns.unsqueeze(0)).sum(2).double()  # (512, 3)
    true_logp = torch.logsumexp(hd * math.log(0.05) + (9 - hd) * math.log(0.95), 1) - math.log(3)
    nll_true = _cond_nll(-true_logp, test, noisy, 0.2)
    nll_start = _cond_nll(exact.energies(start), test, noisy, 0.2)
    nll_tuned = _cond_nll(exact.energies(tuned), test, noisy, 0.2)
    # 4,000 held-out pairs: the standard error of each mean NLL is about sd/sqrt(4000) ≈ 0.02
    # nats (sd ≈ 1.3), and the three means share the pairs. The start (independent pixels) is
    # 2.46 nats above the truth; the fine-tune must close at least 95 % of that gap (measured:
    # 0.026 nats left, 1.1 % of the gap; over ten fine-tuning seeds 0.7-1.3 %)
    assert nll_start - nll_true > 1.5, (nll_start, nll_true)
    assert nll_tuned - nll_true < 0.05 * (nll_start - nll_true), (nll_tuned, nll_start, nll_true)
    with pytest.raises(ValueError, match="flip_rates"):
        finetune_rbm_denoising(start, train, shape=(3, 3), flip_rates=(0.6,))
    with pytest.raises(ValueError, match="visible units"):
        finetune_rbm_denoising(start, torch.zeros(60, 4, 4))
    with pytest.raises(TypeError, match="rbm must be"):
        finetune_rbm_denoising(lattice_prior((3, 3)), train, shape=(3, 3))


def test_fit_rbm_cosine_schedule_and_chain_count():
    data = (torch.rand(200, 3, 3, generator=torch.Generator().manual_seed(7)) < 0.3).float()
    rbm = fit_rbm(data, n_hidden=4, epochs=2, batch_size=50, n_chains=20, lr_schedule="cosine")
    assert rbm.image_shape == (3, 3) and torch.isfinite(rbm.W).all()
    with pytest.raises(ValueError, match="lr_schedule"):
        fit_rbm(data, n_hidden=4, epochs=1, batch_size=50, lr_schedule="step")
    with pytest.raises(ValueError, match="batch_size"):
        fit_rbm(data, n_hidden=4, epochs=1, batch_size=500)


def test_posterior_cd_writes_the_gradient_of_its_surrogate_loss():
    # write_gradients (no autograd) and autograd of loss, from the same random stream, must
    # give the same gradient: ∇[mean E_y(x) − mean E_y(v)], E_y(v) = F(v) − 2λ_p tᵀv
    g = torch.Generator().manual_seed(8)
    rbm = RBM(12, 5, weight_std=0.5, generator=g).double()
    x = (torch.rand(40, 12, generator=g, dtype=torch.float64) < 0.4).double()
    objective = PosteriorContrastiveDivergence(flip_rates=(0.1, 0.3), k=3)
    loss = objective.write_gradients(rbm, x, torch.Generator().manual_seed(9))
    written = [p.grad.clone() for p in (rbm.W, rbm.b, rbm.c)]
    error = objective.metrics["sample_error"]
    for p in rbm.parameters():
        p.grad = None
    auto = objective.loss(rbm, x, torch.Generator().manual_seed(9))
    auto.backward()
    assert loss.item() == pytest.approx(auto.item(), rel=1e-12, abs=1e-12)
    for w, p in zip(written, (rbm.W, rbm.b, rbm.c)):
        torch.testing.assert_close(w, p.grad, rtol=1e-12, atol=1e-12)
    assert objective.metrics["sample_error"] == error and 0 < error < 0.5
    with pytest.raises(TypeError, match="must be a discrete_ebm RBM"):
        objective.write_gradients(lattice_prior((3, 4)), x)
    with pytest.raises(ValueError, match="flip_rates"):
        PosteriorContrastiveDivergence(flip_rates=())
    with pytest.raises(ValueError, match="k"):
        PosteriorContrastiveDivergence(k=0)


def test_fit_rbm_and_finetune_train_through_fit(monkeypatch):
    # both trainers are one call of discrete_ebm.training.fit: full batches only, Adam with
    # weight decay on W alone, the cosine schedule over exactly epochs · (N // batch) steps
    from discrete_ebm.denoise import priors

    calls = []
    real_fit = priors.fit

    def spy(model, objective, data, **kw):
        calls.append((type(objective).__name__, kw))
        return real_fit(model, objective, data, **kw)

    monkeypatch.setattr(priors, "fit", spy)
    data = (torch.rand(230, 3, 3, generator=torch.Generator().manual_seed(7)) < 0.3).float()
    rbm = fit_rbm(data, n_hidden=4, epochs=2, batch_size=50, lr_schedule="cosine")
    finetune_rbm_denoising(rbm, data, epochs=3, batch_size=100, k=2)
    (name1, kw1), (name2, kw2) = calls
    assert (name1, name2) == ("RBMPersistentCD", "PosteriorContrastiveDivergence")
    for kw, total in ((kw1, 2 * 4), (kw2, 3 * 2)):
        assert kw["drop_last"] is True and kw["scheduler"].total_steps == total
        groups = kw["optimizer"].param_groups
        assert [g["weight_decay"] for g in groups] == [1e-4, 0.0]
        assert groups[0]["params"][0].shape == (9, 4)  # W
    assert fit_rbm(data, n_hidden=4, epochs=1, batch_size=50) is not None
    assert calls[-1][1]["scheduler"] is None  # lr_schedule="constant"
