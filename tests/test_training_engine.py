"""fit's engine: learning-rate schedules, evaluation hooks off the training clock, objectives
that write their own gradient, drop_last, History.concatenate, batches that never come."""

from __future__ import annotations

import math
import time

import pytest
import torch

from discrete_ebm.models.ising import IsingModel
from discrete_ebm.models.rbm import RBM
from discrete_ebm.objectives import BernoulliED, PseudoLikelihood, RBMPersistentCD
from discrete_ebm.training import (
    Evaluation,
    History,
    cosine_decay,
    fit,
    linear_decay,
)

D = 5


def _data(n: int = 40, seed: int = 0) -> torch.Tensor:
    return (torch.rand(n, D, generator=torch.Generator().manual_seed(seed)) < 0.4).float()


def _model() -> IsingModel:
    return IsingModel(torch.zeros(D, D), torch.zeros(D))


def _fit(model=None, **kw):
    model = model or _model()
    kw.setdefault("progress", False)
    kw.setdefault("generator", torch.Generator().manual_seed(1))
    kw.setdefault("batch_size", 8)
    return model, fit(model, kw.pop("objective", PseudoLikelihood()), kw.pop("data", _data()), **kw)


def _lr_recorder(opt, seen):
    return lambda step, model, history: seen.append(opt.param_groups[0]["lr"])


@pytest.mark.parametrize(
    ("schedule", "factors"),
    [
        (linear_decay(4, 0.1), [1.0, 0.75, 0.5, 0.25, 0.1, 0.1]),
        (
            cosine_decay(4),
            [1.0, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 - math.cos(math.pi / 4)) / 2, 0.0, 0.0],
        ),
    ],
)
def test_callable_schedule_sets_the_rate_of_each_step(schedule, factors):
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    seen = []
    # the callback runs after step s's scheduler step: it sees the rate of step s + 1
    _fit(model, steps=5, optimizer=opt, scheduler=schedule, callbacks=[_lr_recorder(opt, seen)])
    assert seen == pytest.approx([0.2 * f for f in factors[1:6]], abs=1e-12)


def test_lr_scheduler_instance_is_stepped_and_checkpointed(tmp_path):
    def run(steps, ckpt):
        model = _model()
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
        seen = []
        _fit(
            model,
            steps=steps,
            optimizer=opt,
            scheduler=sched,
            checkpoint=ckpt,
            checkpoint_every=2,
            callbacks=[_lr_recorder(opt, seen)],
        )
        return model, seen

    straight, seen = run(8, None)
    assert seen == [0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125, 0.125]
    run(5, tmp_path / "c.pt")
    resumed, seen2 = run(8, tmp_path / "c.pt")
    assert seen2 == seen[5:]
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_scheduler_must_belong_to_the_optimizer_and_be_usable():
    model = _model()
    other = torch.optim.SGD(_model().parameters(), lr=0.1)
    with pytest.raises(ValueError, match="scheduler must be built on the optimizer"):
        _fit(model, steps=1, scheduler=torch.optim.lr_scheduler.StepLR(other, 1))
    with pytest.raises(TypeError, match="scheduler must be None"):
        _fit(model, steps=1, scheduler=0.5)
    with pytest.raises(ValueError, match="total_steps must be a positive int"):
        linear_decay(0)
    with pytest.raises(ValueError, match="final_fraction must lie in"):
        cosine_decay(10, 1.5)


def test_evaluations_run_when_due_and_are_not_training_time():
    calls = []

    def slow_eval(model):
        calls.append(1)
        time.sleep(0.05)
        return {"j01": model.J[0, 1], "n": len(calls)}

    _, hist = _fit(
        steps=12,  # 40 rows in batches of 8: 5 batches per epoch
        evaluations=[
            Evaluation(slow_eval, every=4),
            Evaluation(lambda m: {"e": 1.0}, at_epoch_end=True),
        ],
    )
    steps = [r["step"] for r in hist.evaluations]
    # every 4 steps (4, 8, 12), epoch ends (5, 10), and at the end (12: already run, merged)
    assert steps == [4, 5, 8, 10, 12]
    assert [r.get("n") for r in hist.evaluations] == [1, None, 2, None, 3]
    assert hist.evaluations[-1]["e"] == 1.0 and "e" not in hist.evaluations[0]
    assert [r["epoch"] for r in hist.evaluations] == [0, 1, 1, 2, 2]
    assert hist.eval_seconds >= 0.15
    assert hist.seconds < 0.15  # PL steps on 8 × 5 rows take far less than the sleeps
    assert hist.evaluations[-1]["seconds"] == pytest.approx(hist.seconds, abs=0.01)
    assert hist.evaluation("n") == [1.0, 2.0, 3.0]


def test_evaluation_at_end_runs_once_and_not_again_on_resume(tmp_path):
    ckpt = tmp_path / "e.pt"
    _, hist = _fit(steps=3, evaluations=[lambda m: {"x": 1.0}], checkpoint=ckpt)
    assert [r["step"] for r in hist.evaluations] == [3]
    _, again = _fit(steps=3, evaluations=[lambda m: {"x": 2.0}], checkpoint=ckpt)
    assert again.evaluations == hist.evaluations  # finished run: nothing new
    with pytest.raises(ValueError, match="every must be a positive int"):
        Evaluation(lambda m: {}, every=0)
    with pytest.raises(TypeError, match="Evaluation objects or callables"):
        _fit(steps=1, evaluations=[3])


class _Counting(RBMPersistentCD):
    """RBMPersistentCD that reports a loss of 0.5 and counts its calls."""

    calls = 0

    def write_gradients(self, model, x, generator=None):
        type(self).calls += 1
        super().write_gradients(model, x, generator)
        return torch.tensor(0.5)


def test_an_objective_that_writes_its_gradient_is_stepped_by_the_optimiser():
    x = (torch.rand(30, 6, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    rbm = RBM(6, 4, weight_std=0.1, generator=torch.Generator().manual_seed(0))
    W0 = rbm.W.detach().clone()
    objective = RBMPersistentCD(n_chains=10)
    _, hist = _fit(
        rbm,
        objective=objective,
        data=x,
        steps=3,
        batch_size=10,
        optimizer=torch.optim.SGD(rbm.parameters(), lr=0.1),
    )
    assert hist.steps == 3 and all(math.isnan(v) for v in hist.loss)  # it reports no loss
    assert not torch.equal(rbm.W.detach(), W0)
    # a reported loss is recorded, and the L1 subgradient is added to the written gradient
    rbm2 = RBM(6, 4, weight_std=0.1, generator=torch.Generator().manual_seed(0))
    _, hist2 = _fit(rbm2, objective=_Counting(n_chains=10), data=x, steps=2, batch_size=10, l1=0.01)
    assert hist2.loss == [0.5, 0.5] and _Counting.calls == 2
    assert len(hist2.metrics["l1_penalty"]) == 2


def test_written_gradient_with_l1_equals_autograd_with_l1():
    x = (torch.rand(10, 6, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    grads = []
    for use_autograd in (False, True):
        rbm = RBM(6, 4, weight_std=0.3, generator=torch.Generator().manual_seed(0))
        objective = RBMPersistentCD(n_chains=10)
        if use_autograd:
            objective.write_gradients = None  # not callable: fit back-propagates the surrogate
        opt = torch.optim.SGD(rbm.parameters(), lr=1.0)
        _fit(
            rbm,
            objective=objective,
            data=x,
            steps=1,
            batch_size=10,
            l1=0.05,
            optimizer=opt,
            shuffle=False,
        )
        grads.append([p.grad.clone() for p in rbm.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_drop_last_skips_the_incomplete_batch():
    _, hist = _fit(
        data=_data(42),
        epochs=2,
        batch_size=8,
        drop_last=True,
    )
    assert hist.steps == 10 and hist.epochs == 2  # 42 rows: 5 full batches of 8 per epoch
    _, hist = _fit(data=_data(42), epochs=2, batch_size=8)
    assert hist.steps == 12
    with pytest.raises(ValueError, match="exceeds the 6 rows with drop_last=True"):
        _fit(data=_data(6), epochs=1, batch_size=8, drop_last=True)


def test_a_loader_that_yields_nothing_is_an_error_not_a_hang():
    empty = torch.utils.data.DataLoader(torch.zeros(0, D), batch_size=4)
    with pytest.raises(ValueError, match="data yielded no batch"):
        _fit(data=empty, steps=3)


def test_history_concatenate_offsets_steps_times_and_evaluations():
    a = History(
        loss=[1.0, 2.0],
        metrics={"m": [0.1, 0.2]},
        elapsed=[0.5, 1.0],
        epochs=1,
        evaluations=[{"step": 2, "epoch": 1, "seconds": 1.0, "r": 3.0}],
        eval_seconds=0.2,
    )
    b = History(
        loss=[3.0],
        metrics={"k": [7.0]},
        elapsed=[0.25],
        epochs=0,
        evaluations=[{"step": 1, "epoch": 0, "seconds": 0.25, "r": 4.0}],
        eval_seconds=0.1,
    )
    c = History.concatenate(a, b)
    assert c.loss == [1.0, 2.0, 3.0] and c.elapsed == [0.5, 1.0, 1.25]
    assert c.metrics["m"][:2] == [0.1, 0.2] and math.isnan(c.metrics["m"][2])
    assert math.isnan(c.metrics["k"][0]) and c.metrics["k"][2] == 7.0
    assert [r["step"] for r in c.evaluations] == [2, 3] and c.evaluations[1]["seconds"] == 1.25
    assert c.epochs == 1 and c.eval_seconds == pytest.approx(0.3) and c.steps == 3
    assert History.from_dict(c.to_dict()).evaluations == c.evaluations


def test_fit_leaves_malloc_alone(monkeypatch):
    from discrete_ebm import cpu_allocator

    called = []
    monkeypatch.setattr(cpu_allocator, "keep_freed_memory", lambda: called.append(1) or True)
    _fit(steps=2, objective=BernoulliED(n_negatives=2))
    assert called == []


def test_resuming_with_or_without_a_scheduler_unlike_the_checkpoint_is_refused(tmp_path):
    ckpt = tmp_path / "s.pt"
    _fit(steps=2, checkpoint=ckpt)
    with pytest.raises(ValueError, match="written with no scheduler; resume it alike"):
        _fit(steps=4, checkpoint=ckpt, scheduler=linear_decay(4))
    _fit(steps=2, checkpoint=tmp_path / "t.pt", scheduler=linear_decay(4))
    with pytest.raises(ValueError, match="written with a scheduler; resume it alike"):
        _fit(steps=4, checkpoint=tmp_path / "t.pt")


class _Rows(torch.utils.data.IterableDataset):
    """56 rows and no length: fit learns where an epoch ends when the rows run out."""

    def __iter__(self):
        yield from _data(56)


class _Stop(Exception):
    pass


def test_resume_with_a_loader_without_length_keeps_the_epoch_end_evaluations(tmp_path):
    def run(ckpt, stop_at=None):
        def cb(step, model, history):
            if step == stop_at:
                raise _Stop

        evaluations = [
            Evaluation(lambda m: {"a": m.J.sum()}, every=7),
            Evaluation(lambda m: {"b": m.J.abs().sum()}, at_epoch_end=True, at_end=False),
        ]
        loader = torch.utils.data.DataLoader(_Rows(), batch_size=8)
        model, hist = _fit(
            data=loader,
            epochs=3,
            evaluations=evaluations,
            callbacks=[cb],
            checkpoint=ckpt,
            checkpoint_every=7,
            objective=BernoulliED(n_negatives=4),
        )
        return model, [{k: v for k, v in r.items() if k != "seconds"} for r in hist.evaluations]

    straight, records = run(None)
    # 7 batches per epoch: every 7th step is an epoch end, both evaluations in one record
    assert [(r["step"], r["epoch"], sorted(r)) for r in records] == [
        (7 * e, e, ["a", "b", "epoch", "step"]) for e in (1, 2, 3)
    ]
    ckpt = tmp_path / "it.pt"
    with pytest.raises(_Stop):
        run(ckpt, stop_at=10)
    resumed, records2 = run(ckpt)
    assert records2 == records
    assert torch.equal(resumed.J, straight.J)


def test_evaluation_results_must_be_dicts_without_the_records_keys():
    with pytest.raises(ValueError, match=r"reserved key\(s\) \['step'\]"):
        _fit(steps=2, evaluations=[lambda m: {"step": 99.0}])
    with pytest.raises(TypeError, match="must return a dict of numbers, got float"):
        _fit(steps=2, evaluations=[lambda m: 1.0])
