"""fit: stopping rules, exact checkpoint resume, NaN guard, L1, DataLoader, continuous models."""

from __future__ import annotations

import json
import math

import pytest
import torch

from discrete_ebm.models.base import EnergyModel
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.objectives.base import Objective
from discrete_ebm.objectives.energy_discrepancy import BernoulliED, GaussianED
from discrete_ebm.training import History, TrainingDiverged, fit

D = 7


def _data(n: int = 50, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # correlated rows: each bit copies its left neighbour with probability 0.8
    x = torch.zeros(n, D)
    x[:, 0] = torch.randint(0, 2, (n,), generator=g).float()
    for i in range(1, D):
        copy = torch.rand(n, generator=g) < 0.8
        x[:, i] = torch.where(copy, x[:, i - 1], torch.randint(0, 2, (n,), generator=g).float())
    return x


def _model() -> IsingModel:
    return IsingModel(torch.zeros(D, D), torch.zeros(D))


def _params(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _run(ckpt=None, callbacks=(), steps=23, data=None, **kw):
    model = _model()
    hist = fit(
        model,
        BernoulliED(epsilon=0.2, n_negatives=8),
        _data() if data is None else data,
        steps=steps,
        batch_size=16,
        lr=0.05,
        generator=torch.Generator().manual_seed(42),
        checkpoint=ckpt,
        checkpoint_every=5,
        callbacks=callbacks,
        progress=False,
        **kw,
    )
    return model, hist


def test_loss_decreases_and_history_is_complete():
    model, hist = _run(steps=60)
    assert hist.steps == 60 and len(hist.elapsed) == 60
    assert set(hist.metrics) == {"energy_pos", "energy_neg", "energy_gap"}
    assert all(len(v) == 60 for v in hist.metrics.values())
    assert all(b >= a for a, b in zip(hist.elapsed, hist.elapsed[1:]))
    # at J = h = 0 the loss is log(M + w) = log 9; the data are correlated, so it must fall
    assert hist.loss[0] == pytest.approx(math.log(9), abs=1e-6)
    assert sum(hist.loss[-10:]) / 10 < math.log(9) - 0.1
    # neighbouring bits are positively correlated: learned nearest couplings are positive
    assert float(model.J.detach()[0, 1]) > 0.1
    json.dumps(hist.to_dict())
    assert History.from_dict(hist.to_dict()).loss == hist.loss


def test_epochs_count_batches():
    # 50 rows in batches of 16 -> 4 batches per epoch (the last has 2 rows)
    model = _model()
    hist = fit(
        model,
        BernoulliED(),
        _data(),
        epochs=3,
        batch_size=16,
        progress=False,
        generator=torch.Generator().manual_seed(0),
    )
    assert hist.steps == 12 and hist.epochs == 3
    # steps stops first when both are given
    hist = fit(
        _model(),
        BernoulliED(),
        _data(),
        epochs=3,
        steps=5,
        batch_size=16,
        progress=False,
        generator=torch.Generator().manual_seed(0),
    )
    assert hist.steps == 5


class _Interrupt(Exception):
    pass


def _interrupt_at(step_to_stop):
    def cb(step, model, history):
        if step == step_to_stop:
            raise _Interrupt

    return cb


def test_resume_after_crash_equals_uninterrupted_run(tmp_path):
    ref_model, ref_hist = _run()
    ckpt = tmp_path / "run.pt"
    # crash at step 13: the last checkpoint is at step 10, steps 11-13 are redone on resume
    with pytest.raises(_Interrupt):
        _run(ckpt, callbacks=[_interrupt_at(13)])
    assert torch.load(ckpt, weights_only=True)["step"] == 10
    model, hist = _run(ckpt)
    for a, b in zip(_params(model), _params(ref_model)):
        assert torch.equal(a, b)
    assert hist.loss == ref_hist.loss
    assert hist.metrics == ref_hist.metrics


def test_early_stop_then_resume_equals_uninterrupted_run(tmp_path):
    ref_model, ref_hist = _run()
    ckpt = tmp_path / "run.pt"
    # stopping at step 9 (mid-epoch, not a multiple of checkpoint_every) writes a checkpoint
    _, h1 = _run(ckpt, callbacks=[lambda step, m, h: step == 9])
    assert h1.steps == 9
    model, hist = _run(ckpt)
    for a, b in zip(_params(model), _params(ref_model)):
        assert torch.equal(a, b)
    assert hist.loss == ref_hist.loss
    # resuming a finished run does nothing more
    model2, hist2 = _run(ckpt)
    assert hist2.loss == ref_hist.loss


class _NoisyRows(torch.utils.data.Dataset):
    """Rows re-randomised at every access from the dataset's own generator (as dynamically
    binarised images are): each bit of a data row is flipped with probability 0.1."""

    def __init__(self, seed: int = 3):
        self.x = _data()
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return self.x.shape[0]

    def __getitem__(self, i):
        flip = (torch.rand(D, generator=self.generator) < 0.1).float()
        return ((self.x[i] + flip) % 2,)


@pytest.mark.parametrize("dataset", ["tensor", "noisy"])
def test_resume_with_dataloader_equals_uninterrupted_run(tmp_path, dataset):
    # "noisy": the DataLoader's shuffle AND the dataset's own per-item randomness are
    # replayed from the epoch's start, so resuming mid-epoch equals the uninterrupted run
    def loader():
        ds = torch.utils.data.TensorDataset(_data()) if dataset == "tensor" else _NoisyRows()
        return torch.utils.data.DataLoader(
            ds, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(5)
        )

    ref_model, ref_hist = _run(data=loader())
    ckpt = tmp_path / "run.pt"
    with pytest.raises(_Interrupt):
        _run(ckpt, callbacks=[_interrupt_at(7)], data=loader())
    model, hist = _run(ckpt, data=loader())
    for a, b in zip(_params(model), _params(ref_model)):
        assert torch.equal(a, b)
    assert hist.loss == ref_hist.loss


def _fit_batches_of_10(**stop):
    return fit(
        _model(),
        BernoulliED(n_negatives=4),
        _data(),
        batch_size=10,
        generator=torch.Generator().manual_seed(0),
        progress=False,
        **stop,
    )


def test_epochs_are_counted_when_steps_end_on_an_epoch_boundary():
    # 50 rows in batches of 10: 5 batches per epoch
    by_steps = _fit_batches_of_10(steps=10)
    by_epochs = _fit_batches_of_10(epochs=2)
    assert by_steps.epochs == by_epochs.epochs == 2
    assert by_steps.loss == by_epochs.loss
    partial = _fit_batches_of_10(steps=7)
    assert partial.epochs == 1


class _Rows(torch.utils.data.IterableDataset):
    """An iterable dataset without a length."""

    def __iter__(self):
        return iter(_data())


def test_an_iterable_dataset_without_length_trains_by_epochs():
    loader = torch.utils.data.DataLoader(_Rows(), batch_size=16)
    hist = fit(
        _model(),
        BernoulliED(n_negatives=4),
        loader,
        epochs=2,
        generator=torch.Generator().manual_seed(0),
        progress=False,
    )
    assert hist.epochs == 2 and hist.steps == 2 * 4  # 50 rows: batches of 16, 16, 16, 2


class _PoisonAt:
    """Wraps an objective; returns a NaN loss at call number ``at``."""

    def __init__(self, inner, at):
        self.inner, self.at, self.calls = inner, at, 0

    @property
    def metrics(self):
        return self.inner.metrics

    def __call__(self, model, x, generator=None):
        self.calls += 1
        loss = self.inner(model, x, generator)
        return loss * float("nan") if self.calls == self.at else loss


def _fit_ed(model, steps, objective=None, **kw):
    """Fit ``model`` by BernoulliED (or ``objective``) with the divergence tests' settings."""
    fit(
        model,
        objective or BernoulliED(n_negatives=8),
        _data(),
        steps=steps,
        batch_size=16,
        generator=torch.Generator().manual_seed(1),
        progress=False,
        **kw,
    )
    return model


def test_nan_loss_stops_with_step_and_keeps_last_checkpoint(tmp_path):
    ckpt = tmp_path / "run.pt"
    model = _model()
    with pytest.raises(TrainingDiverged, match="step 7") as err:
        _fit_ed(
            model, 20, _PoisonAt(BernoulliED(n_negatives=8), 7), checkpoint=ckpt, checkpoint_every=5
        )
    assert isinstance(err.value, FloatingPointError) and err.value.step == 7
    assert str(ckpt) in str(err.value)
    state = torch.load(ckpt, weights_only=True)
    assert state["step"] == 5
    # the saved model is the one after step 5 of the same run
    ref = _fit_ed(_model(), 5)
    assert torch.equal(state["model"]["weights"], ref.weights.detach())
    # no optimiser step was taken on the NaN: parameters are still finite
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not list(tmp_path.glob("*.tmp*"))


class _PoisonGradAt(_PoisonAt):
    """Finite loss whose gradient w.r.t. the field is NaN at call number ``at``."""

    def __call__(self, model, x, generator=None):
        self.calls += 1
        loss = self.inner(model, x, generator)
        if self.calls == self.at:
            loss = loss + _nan_grad(model.h)
        return loss


def _nan_grad(t: torch.Tensor) -> torch.Tensor:
    """0 in value, NaN in gradient: d/dt sqrt(t − t) at 0 is infinite, times 0 is NaN."""
    return (0.0 * torch.sqrt(t - t.detach())).sum()


def test_non_finite_gradient_stops_before_the_step_and_names_the_parameter():
    model = _model()
    with pytest.raises(TrainingDiverged, match="step 4: the gradient of 'h'") as err:
        _fit_ed(model, 10, _PoisonGradAt(BernoulliED(n_negatives=8), 4))
    assert err.value.parameter == "h" and math.isfinite(err.value.loss)
    # the same run stopped after 3 steps: nothing moved on the poisoned step
    ref = _fit_ed(_model(), 3)
    for a, b in zip(model.parameters(), ref.parameters()):
        assert torch.equal(a.detach(), b.detach())


class _Zero(Objective):
    """Loss 0 with a gradient path through the model (so only the L1 term moves J)."""

    def loss(self, model, x, generator=None):
        return 0.0 * model.energy(x).sum()


def test_l1_penalty_is_a_soft_shrink_on_couplings():
    J = torch.zeros(D, D)
    J[0, 1] = J[1, 0] = 0.5
    J[2, 3] = J[3, 2] = -0.3
    model = IsingModel(J, torch.full((D,), 0.2))
    lr, lam = 0.01, 2.0
    hist = fit(
        model,
        _Zero(),
        _data(),
        steps=3,
        lr=lr,
        l1=lam,
        optimizer=lambda p: torch.optim.SGD(p, lr=lr),
        progress=False,
        generator=torch.Generator().manual_seed(0),
    )
    # SGD on λ Σ|J_ij|: each nonzero coupling moves 3·lr·λ toward 0; zero ones stay (sign 0)
    assert float(model.J.detach()[0, 1]) == pytest.approx(0.5 - 3 * lr * lam, abs=1e-6)
    assert float(model.J.detach()[2, 3]) == pytest.approx(-0.3 + 3 * lr * lam, abs=1e-6)
    assert float(model.J.detach()[0, 2]) == 0.0
    assert torch.allclose(model.h, torch.full((D,), 0.2))  # fields are not penalised
    assert hist.metrics["l1_penalty"][0] == pytest.approx(lam * 0.8, rel=1e-6)
    assert hist.loss[0] == 0.0


class _Quadratic(EnergyModel):
    """U(x) = ½|x − μ|² on R^d: a unit Gaussian with learnable mean."""

    def __init__(self, d):
        super().__init__(d, binary=False)
        self.mu = torch.nn.Parameter(torch.zeros(d))

    def energy(self, x):
        x = self.check_input(x)
        return 0.5 * ((x - self.mu) ** 2).sum(1)


def test_fit_trains_a_continuous_model_with_gaussian_ed():
    g = torch.Generator().manual_seed(2)
    mean = torch.tensor([1.0, -2.0, 0.5])
    data = mean + torch.randn(4000, 3, generator=g)
    model = _Quadratic(3)
    fit(
        model,
        GaussianED(t=0.5, n_negatives=8),
        data.numpy(),
        steps=600,
        batch_size=256,
        lr=0.02,
        generator=torch.Generator().manual_seed(3),
        progress=False,
    )
    # the ED minimiser is the sample mean (std 1/sqrt(4000) = 0.016 per coordinate); the
    # remaining error is Adam's stationary noise with 256-row batches (std ≈ lr-scale 0.02)
    assert float((model.mu.detach() - data.mean(0)).abs().max()) < 0.1


def test_optimizer_instance_and_device_argument(device):
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    hist = fit(
        model,
        BernoulliED(),
        _data(),
        steps=2,
        optimizer=opt,
        device=device,
        progress=False,
        generator=torch.Generator().manual_seed(0),
    )
    assert hist.steps == 2 and float(model.weights.detach().abs().sum()) > 0


def test_bad_arguments():
    model = _model()
    with pytest.raises(ValueError, match="epochs or steps"):
        fit(model, BernoulliED(), _data())
    with pytest.raises(TypeError, match="data"):
        fit(model, BernoulliED(), [[0, 1]], steps=1)
    with pytest.raises(ValueError, match="binary"):
        fit(model, BernoulliED(), torch.full((4, D), 0.5), steps=1)
    with pytest.raises(ValueError, match="width"):
        fit(model, BernoulliED(), torch.zeros(4, D + 1), steps=1)
    with pytest.raises(ValueError, match="batch_size"):
        fit(model, BernoulliED(), _data(), steps=1, batch_size=0)
    with pytest.raises(TypeError, match="optimizer"):
        fit(model, BernoulliED(), _data(), steps=1, optimizer="adam")
    with pytest.raises(ValueError, match="l1"):
        fit(model, BernoulliED(), _data(), steps=1, l1=-1.0)
