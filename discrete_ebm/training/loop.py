"""``fit``: the one training loop shared by every model, objective and recipe.

One step: take a batch, ``loss = objective(model, x, generator)`` (+ ``l1 ·`` penalty),
check it is finite, back-propagate (or let an objective that owns its gradient write it),
check the gradients are finite, step the optimiser and the learning-rate scheduler, record
the loss, the objective's ``metrics`` and the training time in a ``History``; run the
evaluations that are due. Checkpoints hold everything needed to continue the same run
(model, optimiser, scheduler, step, epoch and batch position, random generator states, the
objective's state, the history), so an interrupted and resumed run equals an uninterrupted
one bit for bit; they are checked, when read, to belong to this run and to be intact.

Under ``torchrun`` (or with a default process group already initialised) the same call
trains data-parallel on every process (``parallel``): ``batch_size`` and chain counts stay
global, each rank takes its share of every batch, gradients are averaged over ranks (DDP,
or FSDP2 with ``shard_parameters``), and rank 0 alone writes the checkpoint, which holds
every rank's generator and objective state.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn

from .. import distributed as D
from .._validation import first_non_finite
from ..devices import module_device, module_dtype, resolve_device
from .batches import Batches
from .checkpoint import checkpoint_lock, checkpoint_path, load_checkpoint, save_checkpoint
from .evaluation import Evaluator, check_evaluations
from .fingerprint import check_same_run, run_record
from .history import History, TrainingDiverged
from .parallel import (
    any_rank,
    average_gradients,
    check_same_data,
    check_same_step,
    gather_states,
    global_values,
    loss_module,
    reduce_later,
    shard_energy,
    shard_objective,
    shared_seeds,
)
from .schedules import make_scheduler


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """The L1 penalty ``fit`` adds: ``model.coupling_l1()`` if the model has it (Ising:
    ``Σ_{i<j} |J_ij|``), else the sum of absolute values of every parameter with two or more
    dimensions (the weight matrices; biases and fields are not penalised)."""
    if hasattr(model, "coupling_l1"):
        return model.coupling_l1()
    terms = [p.abs().sum() for p in model.parameters() if p.dim() >= 2]
    if not terms:
        raise ValueError(f"l1 > 0 but {type(model).__name__} has no weight matrix to penalise")
    return torch.stack(terms).sum()


def make_optimizer(optimizer, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """``None`` -> ``Adam(lr)``; an optimiser instance; or a callable ``params -> optimiser``."""
    if optimizer is None:
        return torch.optim.Adam(model.parameters(), lr=lr)
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    if callable(optimizer):
        opt = optimizer(model.parameters())
        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer callable must return a torch.optim.Optimizer, got {type(opt).__name__}"
            )
        return opt
    raise TypeError(
        "optimizer must be None, a torch.optim.Optimizer or a callable params -> optimizer, "
        f"got {type(optimizer).__name__}"
    )


def _seed_from(generator: torch.Generator) -> int:
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))


def _run_generator(generator: torch.Generator | None, device: torch.device) -> torch.Generator:
    """The generator of the run, on the model's device (seeded from ``generator``)."""
    if generator is None:
        generator = torch.Generator(device=device)
        generator.manual_seed(int(torch.randint(0, 2**62, (1,))))
    if generator.device.type != device.type:
        g = torch.Generator(device=device)
        g.manual_seed(_seed_from(generator))
        generator = g
    return generator


def _check_count(name: str, v, *, allow_none: bool = True, positive: bool = False) -> None:
    if v is None and allow_none:
        return
    bad = isinstance(v, bool) or not isinstance(v, int | np.integer) or v < (1 if positive else 0)
    if bad:
        what = "a positive int" if positive else "a non-negative int"
        raise ValueError(f"{name} must be {what}{' or None' if allow_none else ''}, got {v!r}")


def _check_arguments(model, objective, epochs, steps, batch_size, checkpoint_every, l1, generator):
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {type(objective).__name__}")
    if epochs is None and steps is None:
        raise ValueError("give epochs or steps (or both) to say when training stops")
    _check_count("epochs", epochs)
    _check_count("steps", steps)
    _check_count("batch_size", batch_size, allow_none=False, positive=True)
    _check_count("checkpoint_every", checkpoint_every, allow_none=False, positive=True)
    l1 = float(l1)
    if not l1 >= 0 or math.isinf(l1):
        raise ValueError(f"l1 must be a finite number >= 0, got {l1}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )


class _Run:
    """The state of one training run and the named pieces of its loop."""

    def __init__(self, model, objective, batches, optimizer, scheduler, l1, generator, ckpt):
        self.model, self.objective, self.batches = model, objective, batches
        self.optimizer, self.scheduler, self.l1 = optimizer, scheduler, l1
        self.generator, self.ckpt = generator, ckpt
        self.writes_gradients = callable(getattr(objective, "write_gradients", None))
        self.parallel = D.is_distributed()
        # a fused update applies one rank's gradient: distributed runs average gradients first
        self.owns_update = callable(getattr(objective, "update", None)) and not self.parallel
        self.named_params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.step, self.epoch, self.batch_pos = 0, 0, 0
        self.history = History()
        self.record = None if ckpt is None else run_record(model, objective, optimizer, batches)
        self.loss_module = None  # DDP- or FSDP-run ObjectiveLoss of a distributed autograd run
        self.sharded = False  # the model's parameters are sharded by FSDP2

    # ------------------------------------------------------------- checkpoints
    def rank_state(self) -> dict:
        """What differs between ranks: the generator and the objective's state (chains)."""
        obj = self.objective
        return {
            "generator": self.generator.get_state(),
            "objective": obj.state_dict() if hasattr(obj, "state_dict") else {},
        }

    def model_states(self) -> tuple[dict, dict]:
        """The model's and the optimiser's state dicts; whole tensors on the CPU, gathered
        from every rank, when FSDP2 shards the parameters (then called on every rank)."""
        if not self.sharded:
            return self.model.state_dict(), self.optimizer.state_dict()
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        return get_state_dict(self.model, self.optimizer, options=options)

    def load_model_states(self, model_state: dict, optimizer_state: dict) -> None:
        """Load what ``model_states`` returned (each rank keeps its shards when sharded)."""
        if not self.sharded:
            self.model.load_state_dict(model_state)
            self.optimizer.load_state_dict(optimizer_state)
            return
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

        set_state_dict(
            self.model,
            self.optimizer,
            model_state_dict=model_state,
            optim_state_dict=optimizer_state,
            options=StateDictOptions(full_state_dict=True),
        )

    def state_dict(self, ranks: list[dict] | None = None, states=None) -> dict:
        """The checkpoint; with ``ranks`` (every rank's ``rank_state``) a distributed one;
        ``states``: ``model_states()`` if already taken."""
        model_state, optimizer_state = self.model_states() if states is None else states
        state = {
            "run": self.record,
            "model": model_state,
            "optimizer": optimizer_state,
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_pos": self.batch_pos,
            **self.rank_state(),
            **self.batches.state_dict(),
            "history": self.history.to_dict(),
        }
        if ranks is not None:
            state.update(world_size=len(ranks), ranks=ranks)
        return state

    def save(self) -> None:
        """Write the checkpoint (if any) once every parameter is checked finite: a step
        that made one NaN or infinite raises ``TrainingDiverged`` and the file keeps the
        last good state. Distributed: every rank's state is gathered to rank 0, which
        writes; the others wait for the file."""
        bad = first_non_finite([(n, p.detach()) for n, p in self.named_params])
        if bad is not None:
            loss = self.history.loss[-1] if self.history.loss else math.nan
            where = str(self.ckpt) if self.ckpt is not None else None
            raise TrainingDiverged(self.step, loss, where, parameter=bad, step_taken=True)
        if self.ckpt is None:
            return
        ranks = gather_states(self.rank_state()) if self.parallel else None
        states = self.model_states()  # collective when sharded
        if D.is_main():
            save_checkpoint(self.ckpt, self.state_dict(ranks, states))
        D.barrier()

    def restore(self, device: torch.device) -> None:
        """Continue from the checkpoint: its checksum and its run record (model, objective,
        optimiser, data) are checked before anything is loaded; a distributed checkpoint
        gives each rank its own generator and objective state."""
        state = load_checkpoint(self.ckpt, device)
        check_same_run(state.get("run"), self.record, self.ckpt)
        saved_world, world = state.get("world_size", 1), D.world_size()
        if saved_world != world:
            raise ValueError(
                f"checkpoint {self.ckpt} was written by {saved_world} process(es), this run "
                f"has {world}: resume it with the same number of processes"
            )
        self.load_model_states(state["model"], state["optimizer"])
        if (self.scheduler is None) != (state["scheduler"] is None):
            had = "no scheduler" if state["scheduler"] is None else "a scheduler"
            raise ValueError(f"checkpoint {self.ckpt} was written with {had}; resume it alike")
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.epoch, self.batch_pos = state["step"], state["epoch"], state["batch_pos"]
        mine = state["ranks"][D.rank()] if self.parallel else state
        self.generator.set_state(mine["generator"].cpu())
        self.batches.load_state_dict(state)
        if hasattr(self.objective, "load_state_dict"):
            self.objective.load_state_dict(mine["objective"])
        self.history = History.from_dict(state["history"])

    # ------------------------------------------------------------------- a step
    def _diverged(self, loss_value: float, parameter: str | None = None) -> TrainingDiverged:
        where = str(self.ckpt) if self.ckpt is not None else None
        return TrainingDiverged(self.step + 1, loss_value, where, parameter=parameter)

    def _written_gradients(self, x: torch.Tensor, share: float):
        """``write_gradients`` (+ the penalty's gradient), averaged over ranks."""
        model, l1 = self.model, self.l1
        if not self.batches.checked and hasattr(model, "check_input"):
            x = model.check_input(x, name="batch")
        loss = self.objective.write_gradients(model, x, self.generator)
        value = math.nan if loss is None else float(loss)
        if self.parallel:
            (value,) = global_values([value], share, self.device)
        if loss is not None and not math.isfinite(value):
            raise self._diverged(value)
        penalty = None
        if l1 > 0:
            penalty = l1 * l1_penalty(model)
            penalty.backward()  # adds the penalty's (sub)gradient to the written ones
            penalty = penalty.detach()
        if self.parallel:
            average_gradients([p for _, p in self.named_params], share)
        total = value if penalty is None else value + float(penalty)
        return value, total, penalty

    def _module_gradients(self, x: torch.Tensor, share: float):
        """Autograd through the DDP/FSDP-run ``ObjectiveLoss``: the loss of this rank's
        rows scaled by ``w · share`` (the ranks' gradients are averaged in backward); the
        global loss is all-reduced meanwhile and checked finite before any step."""
        self.optimizer.zero_grad(set_to_none=True)
        scaled, loss, penalty = self.loss_module(x, self.generator, D.world_size() * share)
        total_loss = loss if penalty is None else loss + penalty
        reduced = reduce_later(torch.stack([loss.detach(), total_loss.detach()]), share)
        scaled.backward()
        value, total = reduced()
        if not math.isfinite(total):  # checked before the step, as for one process
            raise self._diverged(total)
        return value, total, None if penalty is None else penalty.detach()

    def _gradients(self, x: torch.Tensor, share: float = 1.0):
        """Set every parameter's ``.grad``; returns (objective loss, total loss, penalty)."""
        if self.writes_gradients:
            return self._written_gradients(x, share)
        if self.loss_module is not None:
            return self._module_gradients(x, share)
        model, obj, l1 = self.model, self.objective, self.l1
        loss = obj(model, x, self.generator)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise TypeError("objective must return a scalar tensor loss")
        penalty = l1 * l1_penalty(model) if l1 > 0 else None
        total_loss = loss if penalty is None else loss + penalty
        total = float(total_loss.detach())
        if not math.isfinite(total):
            raise self._diverged(total)
        self.optimizer.zero_grad(set_to_none=True)
        total_loss.backward()
        value = total if penalty is None else float(loss.detach())
        return value, total, None if penalty is None else penalty.detach()

    def _owned_update(self, x: torch.Tensor) -> float | None:
        """Let an objective that owns its parameter update apply it (``objective.update``);
        returns its loss (NaN if it reports none), or ``None`` if it declined (returned
        ``NotImplemented``, e.g. for an optimiser it cannot fuse) or L1 needs gradients."""
        if not self.owns_update or self.l1 > 0:
            return None
        if not self.batches.checked and hasattr(self.model, "check_input"):
            x = self.model.check_input(x, name="batch")
        loss = self.objective.update(self.model, x, self.generator, self.optimizer)
        if loss is NotImplemented:
            return None
        value = math.nan if loss is None else float(loss)
        bad = first_non_finite([(n, p.detach()) for n, p in self.named_params])
        if bad is not None or (loss is not None and not math.isfinite(value)):
            where = str(self.ckpt) if self.ckpt is not None else None
            raise TrainingDiverged(self.step + 1, value, where, parameter=bad, step_taken=True)
        return value

    def train_step(self, x: torch.Tensor, seconds: Callable[[], float], share=1.0) -> float:
        """One optimiser step on the batch ``x`` (this rank's ``share`` of the global batch);
        returns the objective's loss (of the global batch)."""
        value, penalty = self._owned_update(x), None
        if value is None:
            value, total, penalty = self._gradients(x, share)
            bad = first_non_finite([(n, p.grad) for n, p in self.named_params])
            if bad is not None:
                raise self._diverged(total, parameter=bad)
            self.optimizer.step()
        if self.scheduler is not None:
            with warnings.catch_warnings():  # an owned update does not call optimizer.step()
                warnings.filterwarnings(
                    "ignore", re.escape("Detected call of `lr_scheduler.step()`")
                )
                self.scheduler.step()
        self.step += 1
        self.batch_pos += 1
        metrics = dict(getattr(self.objective, "metrics", {}) or {})
        if penalty is not None:
            metrics["l1_penalty"] = penalty
        self.history.append(value, metrics, seconds())
        return value

    def end_epoch(self) -> None:
        self.epoch += 1
        self.batch_pos = 0
        self.history.epochs = self.epoch
        self.batches.end_epoch()


def _penalty_fn(l1: float):
    """``model -> l1 · l1_penalty(model)``, or ``None`` when ``l1 == 0``."""
    return None if l1 == 0 else (lambda model: l1 * l1_penalty(model))


def _progress_enabled(progress: bool) -> bool:
    return bool(progress) and sys.stderr.isatty()


def _total_steps(epochs: int | None, steps: int | None, n_batches: int | None) -> int | None:
    total = steps
    if epochs is not None and n_batches is not None:
        total = min(total, epochs * n_batches) if total is not None else epochs * n_batches
    return total


def _train(run: _Run, epochs, steps, callbacks, evaluator, checkpoint_every, bar) -> None:
    """The epochs of ``fit``: a resumed run replays its epoch and skips used batches."""
    t0 = time.perf_counter() - run.history.seconds

    def seconds() -> float:
        return time.perf_counter() - t0 - evaluator.paused

    def finished() -> bool:
        return (epochs is not None and run.epoch >= epochs) or (
            steps is not None and run.step >= steps
        )

    stop = False
    while not finished() and not stop:
        start, seen = run.batch_pos, 0
        for x, last, share in run.batches.epoch(start):
            seen += 1
            loss = run.train_step(x.to(device=run.device, dtype=run.dtype), seconds, share)
            if last:
                run.end_epoch()
            bar.update(1)
            if math.isfinite(loss):
                bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
            stop = any([cb(run.step, run.model, run.history) is True for cb in callbacks])
            if callbacks and run.parallel:  # every rank stops when one callback asks
                stop = any_rank(stop, run.device)
            evaluator.after_step(run.step, run.epoch, seconds())
            if last:
                evaluator.after_epoch(run.step, run.epoch, seconds())
            if run.ckpt is not None and run.step % checkpoint_every == 0:
                run.save()
            if stop or last or (steps is not None and run.step >= steps):
                break
        else:
            if seen == 0:
                raise ValueError("data yielded no batch in an epoch: nothing to train on")
    evaluator.at_end(run.step, run.epoch, seconds())


def fit(
    model: nn.Module,
    objective: Callable,
    data,
    *,
    epochs: int | None = None,
    steps: int | None = None,
    batch_size: int = 128,
    lr: float = 1e-2,
    optimizer=None,
    scheduler=None,
    l1: float = 0.0,
    device: str | torch.device | None = None,
    generator: torch.Generator | None = None,
    callbacks: Iterable[Callable] = (),
    evaluations: Iterable = (),
    progress: bool = True,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 100,
    resume: bool = True,
    shuffle: bool = True,
    drop_last: bool = False,
    shard_parameters: bool = False,
    backend: str | None = None,
) -> History:
    """Train ``model`` by minimising ``objective(model, x, generator) + l1 · penalty``.

    Args:
        model: an ``EnergyModel`` (binary or continuous).
        objective: callable ``(model, x, generator) -> scalar loss`` with a ``metrics`` dict
            (and ``state_dict``/``load_state_dict`` if it keeps state, e.g. persistent CD).
            An objective with a method ``write_gradients(model, x, generator) -> loss or
            None`` owns its gradient: ``fit`` calls it instead of back-propagating (it sets
            every parameter's ``.grad`` without autograd), then checks, steps and records
            as for any other objective. An objective with ``update(model, x, generator,
            optimizer) -> loss, None or NotImplemented`` owns its parameter update: ``fit``
            lets it apply the step itself (e.g. the fused RBM PCD step for plain SGD, at the
            rate the scheduler set in ``optimizer.param_groups``) and checks the parameters
            are finite afterwards; ``NotImplemented`` falls back to the gradient.
        data: rows ``(N, d)`` as a tensor or NumPy array (batched here, reshuffled every
            epoch with ``shuffle``), or a ``torch.utils.data.DataLoader`` yielding tensors
            or tuples whose first item is the batch. Resuming a DataLoader run replays the
            interrupted epoch and skips the batches already used; it is exact when the
            loader's order is reproducible (no shuffling, or ``generator=`` set on the loader)
            and any per-item randomness of the dataset comes from a ``torch.Generator`` in
            its ``generator`` attribute, with ``num_workers=0``. A dataset without a length
            (``IterableDataset``) ends an epoch when it runs out.
        epochs, steps: stop after this many epochs and/or optimiser steps (whichever comes
            first; at least one is required). Both count from the start of the run, so a
            resumed run stops where the uninterrupted one would.
        batch_size: rows per step for tensor data (the last batch of an epoch may be
            smaller, or is skipped with ``drop_last``).
        lr: learning rate of the default optimiser ``Adam``.
        optimizer: ``None`` (Adam(lr)), an optimiser instance, or ``params -> optimiser``.
        scheduler: ``None``, a ``torch.optim.lr_scheduler.LRScheduler`` of ``optimizer``, or
            a callable ``step -> factor`` of the base rate (``schedules.linear_decay``,
            ``cosine_decay``); stepped after every optimiser step, checkpointed.
        l1: weight of the L1 penalty (see ``l1_penalty``); ``0`` disables it.
        device: ``None`` follows the model; otherwise the model and batches move there
            (``"auto"`` picks CUDA when available).
        generator: seeds every random draw (shuffling and the objective). ``None`` draws a
            seed from torch's global RNG. A second, CPU generator for shuffling is seeded
            from it.
        callbacks: ``cb(step, model, history)`` after every step; returning ``True`` stops.
        evaluations: ``Evaluation`` hooks (metrics recorded in ``history.evaluations`` at
            chosen steps and epoch ends; their time is not training time).
        progress: tqdm bar with the loss (only when stderr is a terminal).
        checkpoint: file to write every ``checkpoint_every`` steps and at the end (its
            folder is created; an empty name, a folder or an unwritable path is refused
            before training). It records the run it belongs to (``fingerprint``: model
            class and tensor shapes, objective and settings, optimiser type, data
            fingerprint) and the SHA-256 of its content (``checkpoint``). While ``fit``
            runs it holds a lock on ``<checkpoint>.lock``: a second run on the same path
            raises ``CheckpointInUse``.
        resume: continue from ``checkpoint`` if it exists. A checkpoint of another run is
            refused (``ValueError`` naming what differs), a damaged one too
            (``CheckpointCorrupted``, a ``ValueError``); either file is left as it is.
            ``resume=False`` starts afresh and overwrites it.
        shuffle: reshuffle tensor data every epoch.
        drop_last: skip the last, incomplete batch of each epoch of tensor data.
        shard_parameters: in a distributed run, shard the model's parameters across ranks
            with FSDP2 (``torch.distributed.fsdp.fully_shard``) instead of replicating them
            with DDP, for an energy too large for one device: the objective must train by
            autograd and reach the parameters only through ``model(x)``; ``optimizer`` must
            be ``None`` or a callable. Ignored in a single process.
        backend: the process group's backend when ``fit`` starts one under ``torchrun``
            (default gloo on the CPU, NCCL on CUDA); one the device does not support (e.g.
            ``"nccl"`` for a CPU model, also of a group already initialised) raises
            ``ValueError`` naming both.

    Distributed (``torchrun --nproc-per-node N``, ``WORLD_SIZE > 1``, or an initialised
    default process group of several processes; ``fit`` initialises the group itself when
    none exists): every process must hold the same data (checked: lengths and an exact
    checksum; a loader's first batch of each epoch) and shuffles it alike; rank ``r`` trains
    on its contiguous share of every global batch of ``batch_size`` rows, which the world
    size must divide (a short last batch is split as evenly as possible and weighted by
    rows, so the loss is still the global-batch mean; one with fewer rows than ranks is
    refused: pass ``drop_last=True``). Objectives trained by autograd run under
    ``DistributedDataParallel``; gradients an objective writes itself are all-reduced; an
    objective's fused ``update`` is not used (``write_gradients`` and the optimiser step
    replace it). Each rank draws from its own generator (``distributed.rank_generator``)
    and keeps its own share of the objective's chains: the objective's ``n_chains`` and
    ``buffer_size`` (and given initial chains) are global and split across ranks once. The
    loss in the history is the global batch's; the metrics are rank 0's. Callbacks and
    evaluations run on every rank (a callback stopping on any rank stops all). Only rank 0
    writes checkpoints, shows the progress bar and (``discrete_ebm.io``) writes files; every
    rank resumes from the same checkpoint file, which must be on a file system all ranks
    read, with the same number of processes, and a resumed run equals the uninterrupted one
    bit for bit.

    With ``l1 > 0`` the penalty's (sub)gradient is added to what ``write_gradients``
    wrote, and an objective's own ``update`` is not used (it has no gradient to add to).

    Returns the ``History``. Raises ``TrainingDiverged`` (a ``FloatingPointError``) naming
    the step if the loss, or the gradient of any parameter (named in the error), is NaN or
    infinite: no optimiser step is taken. After an objective's own ``update`` the
    parameters are checked instead (that step was applied), and so they are before every
    checkpoint and at the end: a step that made a parameter NaN or infinite raises then.
    Either way the last checkpoint file is left as it was.
    """
    _check_arguments(model, objective, epochs, steps, batch_size, checkpoint_every, l1, generator)
    callbacks = list(callbacks)
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"callbacks must be callables cb(step, model, history), got {cb!r}")
    evaluations = check_evaluations(evaluations)
    ckpt = checkpoint_path(checkpoint)
    target = resolve_device(device) if device is not None else module_device(model)
    parallel = D.ensure_process_group(target, backend)  # also selects this rank's GPU
    if device is not None:
        model.to(D.local_device(target))
    dev, dtype = module_device(model), module_dtype(model)
    if parallel:
        shard_objective(objective)
        if shard_parameters:
            shard_energy(model, objective, optimizer, float(l1))
    lock = contextlib.nullcontext() if ckpt is None or not D.is_main() else checkpoint_lock(ckpt)
    with lock:  # held from the resume to the last save
        opt = make_optimizer(optimizer, model, lr)
        sched = make_scheduler(scheduler, opt)
        generator = _run_generator(generator, dev)
        if parallel:  # one shuffle order for all ranks; a generator per rank
            shuffle_seed, run_seed = shared_seeds(generator)
            generator = D.rank_generator(run_seed, dev)
        else:
            shuffle_seed = _seed_from(generator)
        batches = Batches(
            data,
            model,
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            seed=shuffle_seed,
            dtype=dtype,
        )
        check_same_data(batches.n_rows, getattr(batches, "data", None), dev)
        run = _Run(model, objective, batches, opt, sched, float(l1), generator, ckpt)
        run.device, run.dtype = dev, dtype
        run.sharded = parallel and shard_parameters
        if ckpt is not None and resume and ckpt.exists():
            run.restore(dev)
        check_same_step(run.step, dev)
        if parallel and not run.writes_gradients:
            run.loss_module = loss_module(
                model, objective, _penalty_fn(float(l1)), shard_parameters
            )
        evaluator = Evaluator(evaluations, model, run.history)

        from tqdm.auto import tqdm

        total = _total_steps(epochs, steps, batches.n_batches)
        show = _progress_enabled(progress) and D.is_main()
        bar = tqdm(total=total, initial=run.step, disable=not show, unit="step")
        was_training = model.training
        model.train()
        try:
            _train(run, epochs, steps, callbacks, evaluator, checkpoint_every, bar)
            run.save()
        finally:
            bar.close()
            model.train(was_training)
            run.loss_module = None  # DDP's gradient hooks leave the model with it
        return run.history
