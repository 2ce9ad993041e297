"""Deep Boltzmann machines (Salakhutdinov & Hinton 2009): pre-training and PCD through ``fit``.

``greedy_pretrain`` trains one RBM per pair of adjacent layers by CD-1 with doubled inputs
(``objectives.DoubledInputCD``): the bottom RBM's upward input doubled (two tied copies of
the visible layer), the top RBM's downward input doubled (two tied copies of its hidden
layer), both doubled in the middle ones (weights halved when composed: the DBM uses ``W``
where the RBM used ``2W``). Visible biases start at the logits of the input marginals; the
next RBM trains on binary samples of the layer below. The DBM takes the RBMs' weights, each
layer's bias the average of the biases it had in its (at most two) RBMs.

``train_dbm`` pre-trains, then runs PCD (``objectives.FusedDBMPCD``: mean-field positive
phase, ``n_chains`` persistent joint chains advanced by ``k`` block-Gibbs sweeps, analytic
gradients) with SGD, momentum ``momentum`` for the first ``momentum_epochs`` epochs then
``final_momentum``, weight decay on the weights only, and the rate
``lr · τ / (τ + t)`` at update ``t`` (S&H 2009: 0.005 and ``τ = 2000``, i.e. ``10 / (2000 + t)``;
it does not depend on the number of epochs, so a run can be extended by resuming it with
more). Every stage goes through ``fit``; with ``checkpoint_dir`` each writes its own file
there (``pretrain_<l>.pt``, ``pcd.pt``) and a resumed call equals an uninterrupted one bit
for bit (finished stages are read back, the unfinished one continues).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from .._validation import check_positive_int
from ..models.dbm import DBM, _bernoulli
from ..models.rbm import RBM
from ..objectives.dbm_pretraining import DoubledInputCD
from ..objectives.fused_dbm_pcd import FusedDBMPCD
from ..training import History, fit


@dataclass(frozen=True)
class DBMSettings:
    """Hyper-parameters of ``train_dbm`` (defaults: the S&H 2009 MNIST recipe where it
    states them; pre-training epochs shortened)."""

    layer_sizes: tuple[int, ...] = (784, 500, 1000)
    pretrain_epochs: int = 20
    pretrain_lr: float = 0.05
    pretrain_weight_decay: float = 2e-4
    epochs: int = 600
    lr: float = 0.005
    lr_decay_steps: float = 2000.0
    momentum: float = 0.5
    final_momentum: float = 0.9
    momentum_epochs: int = 5
    weight_decay: float = 2e-4
    k: int = 5
    mean_field_iters: int = 10
    n_chains: int = 100
    batch_size: int = 100


class inverse_time_decay:  # noqa: N801 (used like a function)
    """``factor(t) = τ / (τ + t)``: the rate ``lr · τ / (τ + t)`` at update ``t``."""

    def __init__(self, tau: float):
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        self.tau = float(tau)

    def __call__(self, step: int) -> float:
        return self.tau / (self.tau + step)

    def __repr__(self) -> str:
        return f"inverse_time_decay({self.tau})"


class _MomentumSwitch:
    """Callback: the optimiser's momentum becomes ``value`` once ``after`` steps are done."""

    def __init__(self, optimizer: torch.optim.Optimizer, after: int, value: float):
        self.optimizer, self.after, self.value = optimizer, after, float(value)

    def __call__(self, step: int, model, history) -> None:
        if step >= self.after:
            for g in self.optimizer.param_groups:
                g["momentum"] = self.value


def _sgd(weights, biases, lr: float, momentum: float, weight_decay: float) -> torch.optim.SGD:
    """SGD with momentum; weight decay on the weight matrices only."""
    groups = [{"params": list(weights), "weight_decay": weight_decay}, {"params": list(biases)}]
    return torch.optim.SGD(groups, lr=lr, momentum=momentum)


def _rows_and_batches(data, batch_size: int) -> tuple[torch.Tensor, int]:
    """The rows of ``data`` (a DataLoader's dataset drawn once) and the batches per epoch."""
    if isinstance(data, torch.utils.data.DataLoader):
        return data.dataset.tensor(), len(data)
    return data, -(-data.shape[0] // min(batch_size, data.shape[0]))


def _reseed_loader(data, generator: torch.Generator | None) -> None:
    """Seed a DataLoader's shuffling and dataset generators from ``generator``, so each
    stage starts its data streams from a state a resumed run reproduces (``fit`` restores
    them only for the stage it continues)."""
    if generator is None or not isinstance(data, torch.utils.data.DataLoader):
        return
    for g in (data.generator, getattr(data.dataset, "generator", None)):
        if isinstance(g, torch.Generator):
            seed = torch.randint(0, 2**62, (1,), generator=generator, device=generator.device)
            g.manual_seed(int(seed))


def _ckpt(folder, name: str):
    return None if folder is None else Path(folder) / name


def greedy_pretrain(
    dbm: DBM,
    data,
    *,
    epochs: int = 5,
    batch_size: int = 100,
    lr: float = 0.05,
    momentum: float = 0.0,
    final_momentum: float | None = None,
    momentum_epochs: int = 5,
    weight_decay: float = 0.0,
    generator: torch.Generator | None = None,
    progress: bool = False,
    checkpoint_dir=None,
    histories: list | None = None,
    checkpoint_every: int = 1000,
) -> list[float]:
    """Greedy layer-wise pre-training of ``dbm`` (module docstring) on ``data``: rows
    ``(N, n_0)`` or a DataLoader (the bottom RBM trains on it; the layers above on samples
    of one draw of its dataset). SGD at ``lr`` with ``momentum`` (``final_momentum`` after
    ``momentum_epochs`` epochs). Returns each RBM's mean squared reconstruction error over
    its last epoch (and appends each RBM's ``History`` to ``histories`` if given)."""
    if not isinstance(dbm, DBM):
        raise TypeError(f"dbm must be a discrete_ebm DBM, got {type(dbm).__name__}")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    L = dbm.n_layers - 1
    bias_sum = [torch.zeros_like(b) for b in dbm.biases]
    bias_cnt = [0] * (L + 1)
    errors, source = [], data
    for l in range(L):
        up = 1.0 if l == L - 1 else 2.0
        down = 1.0 if l == 0 else 2.0
        if l == 0:
            _reseed_loader(data, generator)
        if l == 0 and not isinstance(data, torch.utils.data.DataLoader):
            source = dbm.check_input(data, "data").to(dtype=dbm.dtype, device=dbm.device)
        rows, n_batches = _rows_and_batches(source, batch_size)
        rows = rows.to(dtype=dbm.dtype, device=dbm.device)
        m = rows.mean(0).clamp(1e-3, 1 - 1e-3)
        rbm = RBM.from_parameters(dbm.weights[l].detach().clone(), torch.log(m) - torch.log1p(-m))
        opt = _sgd([rbm.W], [rbm.b, rbm.c], lr, momentum, weight_decay)
        switch = (
            []
            if final_momentum is None
            else [_MomentumSwitch(opt, momentum_epochs * n_batches, final_momentum)]
        )
        history = fit(
            rbm,
            DoubledInputCD(up, down),
            source,
            epochs=epochs,
            batch_size=batch_size,
            optimizer=opt,
            callbacks=switch,
            generator=generator,
            progress=progress,
            checkpoint=_ckpt(checkpoint_dir, f"pretrain_{l}.pt"),
            checkpoint_every=checkpoint_every,
        )
        if histories is not None:
            histories.append(history)
        last = history.loss[-n_batches:], history.metrics["rows"][-n_batches:]
        errors.append(sum(e * r for e, r in zip(*last)) / sum(last[1]))
        with torch.no_grad():
            dbm.weights[l].copy_(rbm.W)
            for i, b in ((l, rbm.b), (l + 1, rbm.c)):
                bias_sum[i] += b
                bias_cnt[i] += 1
            source = _bernoulli(torch.sigmoid(rbm.c + up * (rows @ rbm.W)), generator)
    with torch.no_grad():
        for l in range(L + 1):
            dbm.biases[l].copy_(bias_sum[l] / bias_cnt[l])
    return errors


def _pretraining_record(folder, n_rbms: int, histories: list | None) -> list[float]:
    """The reconstruction errors (and histories) of finished pre-training checkpoints."""
    from ..training.checkpoint import load_checkpoint

    errors = []
    for l in range(n_rbms):
        path = Path(folder) / f"pretrain_{l}.pt"
        h = History.from_dict(load_checkpoint(path, torch.device("cpu"))["history"])
        if histories is not None:
            histories.append(h)
        n = h.steps // max(h.epochs, 1)
        loss, rows = h.loss[-n:], h.metrics["rows"][-n:]
        errors.append(sum(e * r for e, r in zip(loss, rows)) / sum(rows))
    return errors


def train_dbm(
    data,
    settings: DBMSettings | tuple[int, ...] | None = None,
    *,
    generator: torch.Generator | None = None,
    progress: bool = False,
    checkpoint_dir=None,
    resume: bool = True,
    evaluations=(),
    callbacks=(),
    device=None,
    pretrain_histories: list | None = None,
    checkpoint_every: int = 1000,
    **overrides,
) -> tuple[DBM, History, list[float]]:
    """A DBM on ``data`` (rows ``(N, n_0)`` or a DataLoader; module docstring) with the
    hyper-parameters ``settings``. Returns the DBM, the PCD history (``evaluations`` and
    ``callbacks`` as in ``fit``) and the pre-training reconstruction errors (the RBMs'
    histories are appended to ``pretrain_histories`` if given).

    ``settings`` may also be the layer sizes; keyword ``overrides`` replace fields of
    ``settings`` (``train_dbm(rows, (784, 500, 1000), epochs=10)``). ``resume=False``
    starts afresh, overwriting the checkpoints in ``checkpoint_dir`` (written every
    ``checkpoint_every`` steps of each stage and at its end). Once the PCD stage has a
    checkpoint, a resumed call reads the pre-training errors and histories from the
    pre-training checkpoints and continues the PCD stage (which restores everything it
    needs) without redoing the composition."""
    if settings is None or isinstance(settings, DBMSettings):
        s = replace(settings or DBMSettings(), **overrides)
    else:
        s = replace(DBMSettings(), layer_sizes=tuple(settings), **overrides)
    if checkpoint_dir is not None and not resume:
        for f in Path(checkpoint_dir).glob("*.pt"):
            f.unlink()
    dbm = DBM(s.layer_sizes, generator=generator, device=device)
    errors = []
    pcd = _ckpt(checkpoint_dir, "pcd.pt")
    if s.pretrain_epochs and resume and pcd is not None and pcd.exists():
        errors = _pretraining_record(checkpoint_dir, dbm.n_layers - 1, pretrain_histories)
    elif s.pretrain_epochs:
        errors = greedy_pretrain(
            dbm,
            data,
            epochs=s.pretrain_epochs,
            batch_size=s.batch_size,
            lr=s.pretrain_lr,
            momentum=s.momentum,
            final_momentum=s.final_momentum,
            momentum_epochs=s.momentum_epochs,
            weight_decay=s.pretrain_weight_decay,
            generator=generator,
            progress=progress,
            checkpoint_dir=checkpoint_dir,
            histories=pretrain_histories,
            checkpoint_every=checkpoint_every,
        )
    n_batches = len(data) if isinstance(data, torch.utils.data.DataLoader) else None
    if n_batches is None:
        n_batches = -(-data.shape[0] // min(s.batch_size, data.shape[0]))
    _reseed_loader(data, generator)
    opt = _sgd(dbm.weights, dbm.biases, s.lr, s.momentum, s.weight_decay)
    switch = _MomentumSwitch(opt, s.momentum_epochs * n_batches, s.final_momentum)
    history = fit(
        dbm,
        FusedDBMPCD(n_chains=s.n_chains, k=s.k, mean_field_iters=s.mean_field_iters),
        data,
        epochs=s.epochs,
        batch_size=s.batch_size,
        optimizer=opt,
        scheduler=inverse_time_decay(s.lr_decay_steps),
        callbacks=[switch, *callbacks],
        evaluations=evaluations,
        generator=generator,
        progress=progress,
        checkpoint=pcd,
        checkpoint_every=checkpoint_every,
    )
    return dbm, history, errors


def bound_terms(dbm: DBM, v: torch.Tensor, *, n_iter: int = 30, chunk: int = 1000) -> torch.Tensor:
    """``−E(v, μ) + H(μ)`` per row (the mean-field bound before ``− log Z``), float64 ``(N,)``."""
    with torch.no_grad():
        parts = [
            dbm.variational_lower_bound(v[a : a + chunk], 0.0, n_iter=n_iter).double()
            for a in range(0, v.shape[0], chunk)
        ]
    return torch.cat(parts)


def hidden_marginals(dbm: DBM, rows: torch.Tensor, *, n_iter: int = 30) -> dict:
    """Mean-field means of the even hidden layers on ``rows``: ``{l: (n_l,)}``, the AIS base
    of those layers (``DBMAnnealingPath``)."""
    with torch.no_grad():
        mu = dbm.mean_field(rows.to(device=dbm.device, dtype=dbm.dtype), n_iter)
    return {l: mu[l - 1].double().mean(0) for l in range(2, dbm.n_layers, 2)}


def evaluate_dbm(
    dbm: DBM,
    test: torch.Tensor,
    base_marginals: torch.Tensor,
    *,
    ais_chains: int = 100,
    ais_betas: int = 20000,
    reverse_betas: int | None = None,
    reverse_sweeps: int = 1000,
    gap_digits: int = 100,
    gap_chains: int = 20,
    gap_betas: int = 2000,
    bound_iters: int = 30,
    base_rows: torch.Tensor | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """Test log-likelihood as S&H 2009 report it, with its error bars and bracket.

    - ``log_z`` ± ``log_z_stderr``: forward AIS (``ais_betas`` temperatures, base = the
      training pixel marginals ``base_marginals``); ``log_z_reverse``: reverse AIS
      (``reverse_betas``, default ``ais_betas``) from ``ais_chains`` joint chains started at
      test digits and run ``reverse_sweeps`` block-Gibbs sweeps (0 skips it); the base of
      the even hidden layers is their mean-field means on ``base_rows`` (training rows;
      uniform if ``None``, which anneals through a phase change of ``h²`` on MNIST models
      and under-estimates ``log Z`` by tens of nats);
    - ``test_bound``: the mean-field bound ``−E(v, μ) + H(μ) − log Ẑ`` averaged over
      ``test`` (``bound_iters`` iterations) ± ``test_bound_sem`` over digits;
      ``test_bound_reverse`` with the reverse ``log Ẑ`` (the conservative one);
    - ``gap``: mean over the first ``gap_digits`` test digits of ``log Z(v) − (−E(v, μ) +
      H(μ))`` (``log Z(v)`` by AIS over the hidden layers, ``gap_chains`` runs of
      ``gap_betas`` temperatures each) ± ``gap_sem``; ``test_ll_estimate`` = bound + gap;
    - ``hidden_base``: whether the hidden layers' AIS base came from ``base_rows``.
    """
    from ..evaluation.dbm_ais import (
        conditional_log_partition,
        forward_log_partition,
        reverse_log_partition,
    )

    gen = torch.Generator(device=dbm.device).manual_seed(seed)
    test = test.to(device=dbm.device, dtype=dbm.dtype)
    t = time.perf_counter()
    base = {"base_marginals": base_marginals, "generator": gen}
    base["hidden_marginals"] = None if base_rows is None else hidden_marginals(dbm, base_rows)
    log_z, se = forward_log_partition(dbm, ais_chains, ais_betas, **base)
    terms = bound_terms(dbm, test, n_iter=bound_iters)
    out = {
        "log_z": log_z,
        "log_z_stderr": se,
        "ais_betas": ais_betas,
        "ais_chains": ais_chains,
        "test_bound": float(terms.mean()) - log_z,
        "test_bound_sem": float(terms.std() / terms.numel() ** 0.5),
        "test_rows": test.shape[0],
        "hidden_base": base_rows is not None,
    }
    if reverse_sweeps:
        with torch.no_grad():
            v0 = test[:ais_chains]
            init = [v0] + [_bernoulli(m, gen) for m in dbm.mean_field(v0, bound_iters)]
            start = dbm.sample_joint(0, reverse_sweeps, init=init, generator=gen)
        rz, rse = reverse_log_partition(dbm, start, reverse_betas or ais_betas, **base)
        out.update(
            log_z_reverse=rz,
            log_z_reverse_stderr=rse,
            reverse_sweeps=reverse_sweeps,
            test_bound_reverse=float(terms.mean()) - rz,
        )
    if gap_digits:
        v = test[:gap_digits]
        log_zv, _ = conditional_log_partition(dbm, v, gap_chains, gap_betas, generator=gen)
        gap = log_zv - terms[:gap_digits]
        out.update(
            gap=float(gap.mean()),
            gap_sem=float(gap.std() / gap.numel() ** 0.5) if gap_digits > 1 else math.inf,
            gap_digits=gap_digits,
            gap_chains=gap_chains,
            gap_betas=gap_betas,
            test_ll_estimate=out["test_bound"] + float(gap.mean()),
        )
    out["evaluation_seconds"] = time.perf_counter() - t
    return out


def _tracker(test, marginals, base_rows, n_betas: int, n_chains: int, seed: int):
    """Evaluation fn: a quick forward-AIS ``log Z`` and the mean-field bound on ``test``."""
    from ..evaluation.dbm_ais import forward_log_partition

    def track(dbm: DBM) -> dict:
        gen = torch.Generator(device=dbm.device).manual_seed(seed)
        log_z, se = forward_log_partition(
            dbm,
            n_chains,
            n_betas,
            base_marginals=marginals,
            hidden_marginals=hidden_marginals(dbm, base_rows),
            generator=gen,
        )
        bound = float(bound_terms(dbm, test.to(device=dbm.device, dtype=dbm.dtype)).mean())
        return {"log_z": log_z, "log_z_stderr": se, "test_bound": bound - log_z}

    return track


def run_dbm_mnist(
    settings: DBMSettings | None = None,
    *,
    root=None,
    checkpoint_dir=None,
    resume: bool = True,
    track_every: int = 5,
    track_digits: int = 1000,
    track_betas: int = 1000,
    evaluation: dict | None = None,
    sample_steps: int = 1000,
    train_rows: int | None = None,
    seed: int = 0,
    device="cpu",
    progress: bool = False,
) -> dict:
    """The S&H 2009 DBM on dynamically binarised MNIST (what ``discrete-ebm dbm`` does).

    Trains with ``train_dbm`` (checkpoints in ``checkpoint_dir``), tracking the bound on
    the first ``track_digits`` test digits with a ``track_betas``-temperature AIS every
    ``track_every`` epochs (0: never), then ``evaluate_dbm`` (keyword arguments
    ``evaluation``) on one seeded binarisation of the 10,000 test digits. Returns ``dbm``,
    ``history`` (PCD), ``samples`` (``p(v | h¹)`` of 100 joint chains after
    ``sample_steps`` sweeps from uniform) and the ``result`` dict (the evaluation, the
    pre-training errors, the tracked bound and the training seconds)."""
    from ..data.images import BinaryImages, load_mnist
    from ..devices import resolve_device
    from ..training import Evaluation

    s = settings or DBMSettings()
    dev = resolve_device(device)
    gen = torch.Generator(device=dev).manual_seed(seed)
    data = load_mnist(root, binarize="dynamic", seed=seed)
    if train_rows is not None:
        if not 0 < train_rows <= len(data.train):
            raise ValueError(f"train_rows must lie in 1..{len(data.train)}, got {train_rows}")
        grey, labels = data.train.grey[:train_rows].numpy(), data.train.labels[:train_rows]
        data.train = BinaryImages(grey, labels.numpy(), seed=seed)
    marginals = (data.train.grey.double().mean(0) / 255.0).to(dev)
    grey = data.train.grey[:1000].float()  # one fixed binarisation: the hidden layers' AIS base
    u = torch.rand(grey.shape, generator=torch.Generator().manual_seed(seed + 4))
    base_rows = (u * 255 < grey).float().to(dev)
    test = data.test.tensor().to(dev)
    loader = data.train.loader(s.batch_size, generator=torch.Generator().manual_seed(seed + 1))
    tracks = []
    if track_every:
        fn = _tracker(test[:track_digits], marginals, base_rows, track_betas, 100, seed + 2)
        tracks = [Evaluation(fn, every=track_every * len(loader), at_end=True)]
    pre: list = []
    dbm, history, errors = train_dbm(
        loader,
        s,
        generator=gen,
        progress=progress,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
        evaluations=tracks,
        device=dev,
        pretrain_histories=pre,
    )
    result = evaluate_dbm(
        dbm,
        test,
        marginals,
        base_rows=base_rows,
        seed=seed + 3,
        progress=progress,
        **(evaluation or {}),
    )
    with torch.no_grad():
        layers = dbm.sample_joint(100, sample_steps, generator=gen)
        samples = torch.sigmoid(dbm.layer_input(layers, 0))
    result.update(
        pretrain_errors=errors,
        pretrain_seconds=sum(h.seconds for h in pre),
        pcd_seconds=history.seconds,
        training_seconds=sum(h.seconds for h in pre) + history.seconds,
        epochs_done=history.steps / len(loader),
        steps_done=history.steps,
        track=list(history.evaluations),
    )
    return {"dbm": dbm, "history": history, "samples": samples.cpu(), "result": result}


def save_dbm(out: dict, folder, *, settings: dict, track_title: str) -> Path:
    """Write what ``discrete-ebm dbm`` shows into ``folder``: ``samples.png``,
    ``filters.png`` (first layer), ``bound.png`` (the tracked bound, titled
    ``track_title``), ``dbm.pt`` and ``dbm.json`` (``out["result"]`` with ``settings`` and the
    file list); returns the JSON's path."""
    from ..io import save_torch, write_json
    from ..plotting.dbm import plot_bound_curve
    from ..plotting.rbm import plot_filters, plot_image_grid

    folder, res, dbm = Path(folder), out["result"], out["dbm"]
    steps_per_epoch = res["steps_done"] / max(res["epochs_done"], 1e-12)
    files = [
        plot_image_grid(out["samples"], folder / "samples.png", title="p(v | h¹) of 100 chains"),
        plot_filters(dbm.weights[0].detach().cpu(), folder / "filters.png", title="layer 1"),
        plot_bound_curve(
            res["track"], folder / "bound.png", steps_per_epoch=steps_per_epoch, title=track_title
        ),
        save_torch(dbm.state_dict(), folder / "dbm.pt"),
    ]
    record = {**res, "settings": settings, "files": [str(f) for f in files]}
    return write_json(folder / "dbm.json", record)


def describe_dbm(res: dict) -> str:
    """One line: the test bound of ``res`` with its AIS and training figures."""
    return (
        f"test bound {res['test_bound']:.2f} nats (log Z ± {res['log_z_stderr']:.2f} by "
        f"{res['ais_betas']}-temperature AIS, ± {res['test_bound_sem']:.2f} s.e.m.) after "
        f"{res['epochs_done']:.2f} epochs, {res['training_seconds']:.0f} s of training"
    )
