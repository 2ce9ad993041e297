"""``fit``: the training loop shared by every model and objective.

One step: draw a batch, ``loss = objective(model, x, generator)`` (+ ``l1 ·`` penalty),
check the loss is finite, back-propagate, take an optimiser step, record the loss, the
objective's ``metrics`` and the wall time in a ``History``. Checkpoints hold everything
needed to continue the same run (model, optimiser, step, epoch and batch position, random
generator states, the objective's state, the history) and are written atomically, so an
interrupted and resumed run equals an uninterrupted one bit for bit.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .cpu_allocator import keep_freed_memory
from .devices import module_device, module_dtype, resolve_device


class TrainingDiverged(FloatingPointError):
    """The loss, or the gradient of a parameter, became NaN or infinite; ``step`` is the
    (1-based) step that produced it and ``parameter`` the parameter's name (``None``: the
    loss itself)."""

    def __init__(
        self,
        step: int,
        loss: float,
        checkpoint: str | None = None,
        parameter: str | None = None,
    ):
        self.step = step
        self.loss = loss
        self.checkpoint = checkpoint
        self.parameter = parameter
        where = f"; the last good checkpoint {checkpoint} is left intact" if checkpoint else ""
        what = (
            f"loss is {loss}"
            if parameter is None
            else f"the gradient of {parameter!r} is not finite (loss {loss})"
        )
        super().__init__(
            f"training diverged at step {step}: {what} (no optimiser step taken){where}"
        )


def _first_non_finite_grad(named_params: list[tuple[str, torch.Tensor]]) -> str | None:
    """Name of the first parameter whose gradient has a NaN or infinite entry (one device
    sync for all of them), or ``None``."""
    grads = [(n, p.grad) for n, p in named_params if p.grad is not None]
    if not grads:
        return None
    finite = torch.stack([g.isfinite().all().to(grads[0][1].device) for _, g in grads])
    if bool(finite.all()):
        return None
    return grads[int((~finite).nonzero()[0])][0]


@dataclass
class History:
    """What ``fit`` recorded, one entry per optimiser step.

    Attributes:
        loss: objective loss per step (without the L1 penalty).
        metrics: name -> list of floats, one per step (NaN where a step did not report it).
        elapsed: wall-clock seconds since the start of training after each step.
        epochs: completed epochs.
    """

    loss: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    elapsed: list[float] = field(default_factory=list)
    epochs: int = 0

    @property
    def steps(self) -> int:
        """Number of steps recorded."""
        return len(self.loss)

    @property
    def seconds(self) -> float:
        """Total wall time of training in seconds."""
        return self.elapsed[-1] if self.elapsed else 0.0

    def append(self, loss: float, metrics: dict, elapsed: float) -> None:
        n = len(self.loss)
        self.loss.append(float(loss))
        self.elapsed.append(float(elapsed))
        for k, v in metrics.items():
            if k not in self.metrics:
                self.metrics[k] = [math.nan] * n
            self.metrics[k].append(_as_float(v))
        for v in self.metrics.values():
            if len(v) == n:
                v.append(math.nan)

    def to_dict(self) -> dict:
        """A JSON-ready dict (lists of floats)."""
        return {
            "loss": list(self.loss),
            "metrics": {k: list(v) for k, v in self.metrics.items()},
            "elapsed": list(self.elapsed),
            "seconds": self.seconds,
            "steps": self.steps,
            "epochs": self.epochs,
        }

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(
            loss=[float(v) for v in d["loss"]],
            metrics={k: [float(x) for x in v] for k, v in d["metrics"].items()},
            elapsed=[float(v) for v in d["elapsed"]],
            epochs=int(d.get("epochs", 0)),
        )


def _as_float(v) -> float:
    if isinstance(v, torch.Tensor):
        return float(v.detach().reshape(()).item())
    return float(v)


# --------------------------------------------------------------------------- pieces
def _make_optimizer(optimizer, model: nn.Module, lr: float) -> torch.optim.Optimizer:
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


def _first_tensor(batch) -> torch.Tensor:
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, Sequence) and batch and isinstance(batch[0], torch.Tensor):
        return batch[0]
    raise TypeError(
        "the DataLoader must yield tensors or tuples whose first item is a tensor, "
        f"got {type(batch).__name__}"
    )


def _seed_from(generator: torch.Generator) -> int:
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))


def _atomic_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _progress_enabled(progress: bool) -> bool:
    return bool(progress) and sys.stderr.isatty()


def linear_lr_decay(
    optimizer: torch.optim.Optimizer, total_steps: int, final_fraction: float = 0.01
) -> Callable:
    """A ``fit`` callback setting each group's learning rate after step ``t`` to
    ``lr₀ · max(final_fraction, 1 − t / total_steps)`` (``lr₀`` read now, at creation).

    It depends on the step only, so a resumed run gets the same rates."""
    if total_steps <= 0:
        raise ValueError(f"total_steps must be > 0, got {total_steps}")
    base = [group["lr"] for group in optimizer.param_groups]

    def callback(step: int, model, history) -> None:
        factor = max(final_fraction, 1.0 - step / total_steps)
        for group, lr0 in zip(optimizer.param_groups, base):
            group["lr"] = lr0 * factor

    return callback


# --------------------------------------------------------------------------- fit
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
    l1: float = 0.0,
    device: str | torch.device | None = None,
    generator: torch.Generator | None = None,
    callbacks: Iterable[Callable] = (),
    progress: bool = True,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 100,
    resume: bool = True,
    shuffle: bool = True,
) -> History:
    """Train ``model`` by minimising ``objective(model, x, generator) + l1 · penalty``.

    Args:
        model: an ``EnergyModel`` (binary or continuous).
        objective: callable ``(model, x, generator) -> scalar loss`` with a ``metrics`` dict
            (and ``state_dict``/``load_state_dict`` if it keeps state, e.g. persistent CD).
        data: rows ``(N, d)`` as a tensor or NumPy array (batched here, reshuffled every
            epoch with ``shuffle``), or a ``torch.utils.data.DataLoader`` yielding tensors
            or tuples whose first item is the batch. Resuming a DataLoader run replays the
            interrupted epoch and skips the batches already used; it is exact when the
            loader's order is reproducible (no shuffling, or ``generator=`` set on the loader)
            and any per-item randomness of the dataset comes from a ``torch.Generator`` in
            its ``generator`` attribute (e.g. dynamically binarised MNIST), with
            ``num_workers=0``: both generators' states are checkpointed at each epoch start.
            A dataset without a length (``IterableDataset``) ends an epoch when it runs out.
        epochs, steps: stop after this many epochs and/or optimiser steps (whichever comes
            first; at least one is required). Both count from the start of the run, so a
            resumed run stops where the uninterrupted one would.
        batch_size: rows per step for tensor data (the last batch of an epoch may be smaller).
        lr: learning rate of the default optimiser ``Adam``.
        optimizer: ``None`` (Adam(lr)), an optimiser instance, or ``params -> optimiser``.
        l1: weight of the L1 penalty (see ``l1_penalty``); ``0`` disables it.
        device: ``None`` follows the model; otherwise the model and batches move there
            (``"auto"`` picks CUDA when available).
        generator: seeds every random draw (shuffling and the objective). ``None`` draws a
            seed from torch's global RNG. A second, CPU generator for shuffling is seeded
            from it.
        callbacks: ``cb(step, model, history)`` after every step; returning ``True`` stops.
        progress: tqdm bar with the loss (only when stderr is a terminal).
        checkpoint: file to write every ``checkpoint_every`` steps and at the end.
        resume: continue from ``checkpoint`` if it exists.
        shuffle: reshuffle tensor data every epoch.

    On the CPU, ``fit`` raises glibc's malloc thresholds once per process
    (``cpu_allocator.keep_freed_memory``; ``DISCRETE_EBM_MALLOC_TUNING=0`` turns it off).

    Returns the ``History``. Raises ``TrainingDiverged`` (a ``FloatingPointError``) naming
    the step if the loss, or the gradient of any parameter (named in the error), is NaN or
    infinite; no optimiser step is taken and the last checkpoint file is left as it was.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {type(objective).__name__}")
    if epochs is None and steps is None:
        raise ValueError("give epochs or steps (or both) to say when training stops")
    for name, v in (("epochs", epochs), ("steps", steps)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0):
            raise ValueError(f"{name} must be a non-negative int or None, got {v!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if (
        isinstance(checkpoint_every, bool)
        or not isinstance(checkpoint_every, int)
        or checkpoint_every <= 0
    ):
        raise ValueError(f"checkpoint_every must be a positive int, got {checkpoint_every!r}")
    l1 = float(l1)
    if not l1 >= 0 or math.isinf(l1):
        raise ValueError(f"l1 must be a finite number >= 0, got {l1}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    callbacks = list(callbacks)
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"callbacks must be callables cb(step, model, history), got {cb!r}")

    if device is not None:
        model.to(resolve_device(device))
    dev = module_device(model)
    dtype = module_dtype(model)
    if dev.type == "cpu":
        keep_freed_memory()  # reuse the step's large temporaries (see cpu_allocator)

    # ---- data
    loader = None
    if isinstance(data, torch.utils.data.DataLoader):
        loader = data
        try:
            n_batches = len(loader)
        except TypeError:  # an IterableDataset without a length: epochs end when it does
            n_batches = None
    else:
        if isinstance(data, np.ndarray):
            data = torch.from_numpy(np.ascontiguousarray(data))
        if not isinstance(data, torch.Tensor):
            raise TypeError(
                "data must be a tensor or NumPy array of rows (N, d) or a DataLoader, "
                f"got {type(data).__name__}"
            )
        if data.dim() != 2 or data.shape[0] == 0:
            raise ValueError(f"data must have shape (N, d) with N > 0, got {tuple(data.shape)}")
        data = data.to(dtype)
        if hasattr(model, "check_input"):
            model.check_input(data, name="data")
        n_rows = data.shape[0]
        bs = min(batch_size, n_rows)
        n_batches = (n_rows + bs - 1) // bs

    # ---- optimiser and generators
    opt = _make_optimizer(optimizer, model, lr)
    named_params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if generator is None:
        generator = torch.Generator(device=dev)
        generator.manual_seed(int(torch.randint(0, 2**62, (1,))))
    if generator.device.type != dev.type:
        g = torch.Generator(device=dev)
        g.manual_seed(_seed_from(generator))
        generator = g
    shuffle_gen = torch.Generator()
    shuffle_gen.manual_seed(_seed_from(generator))

    history = History()
    step, epoch, batch_pos = 0, 0, 0
    epoch_shuffle_state = shuffle_gen.get_state()
    # the loader's random streams: its sampler's generator and the dataset's own (e.g. the
    # dynamic binarisation of images.MnistDataset); replayed from each epoch's start on resume
    # (exact with num_workers=0: worker processes hold their own copies of the dataset)
    loader_gens = [
        g
        for g in (
            getattr(loader, "generator", None),
            getattr(getattr(loader, "dataset", None), "generator", None),
        )
        if isinstance(g, torch.Generator)
    ]
    epoch_loader_states = [g.get_state() for g in loader_gens]

    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    if ckpt_path is not None and resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=dev, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, epoch, batch_pos = state["step"], state["epoch"], state["batch_pos"]
        generator.set_state(state["generator"].cpu())
        shuffle_gen.set_state(state["shuffle_generator"].cpu())
        epoch_shuffle_state = state["epoch_shuffle_state"].cpu()
        saved = state.get("epoch_loader_states")
        if saved is None and state.get("epoch_loader_state") is not None:  # older checkpoints
            saved = [state["epoch_loader_state"]]
        if saved is not None and len(saved) == len(loader_gens):
            epoch_loader_states = [t.cpu() for t in saved]
        if hasattr(objective, "load_state_dict"):
            objective.load_state_dict(state["objective"])
        history = History.from_dict(state["history"])

    def save_checkpoint() -> None:
        if ckpt_path is None:
            return
        _atomic_save(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "step": step,
                "epoch": epoch,
                "batch_pos": batch_pos,
                "generator": generator.get_state(),
                "shuffle_generator": shuffle_gen.get_state(),
                "epoch_shuffle_state": epoch_shuffle_state,
                "epoch_loader_states": epoch_loader_states,
                "objective": objective.state_dict() if hasattr(objective, "state_dict") else {},
                "history": history.to_dict(),
            },
            ckpt_path,
        )

    def end_epoch() -> None:
        nonlocal epoch, batch_pos, epoch_shuffle_state, epoch_loader_states
        epoch += 1
        batch_pos = 0
        history.epochs = epoch
        epoch_shuffle_state = shuffle_gen.get_state()
        epoch_loader_states = [g.get_state() for g in loader_gens]

    def done() -> bool:
        return (epochs is not None and epoch >= epochs) or (steps is not None and step >= steps)

    total = None
    if steps is not None:
        total = steps
    if epochs is not None and n_batches is not None:
        total = min(total, epochs * n_batches) if total is not None else epochs * n_batches

    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=step, disable=not _progress_enabled(progress), unit="step")
    t0 = time.perf_counter() - history.seconds
    stop = False
    was_training = model.training
    model.train()
    try:
        while not done() and not stop:
            # One epoch; a resumed run replays the epoch's order and skips consumed batches.
            if loader is None:
                shuffle_gen.set_state(epoch_shuffle_state)
                if shuffle:
                    order = torch.randperm(n_rows, generator=shuffle_gen)
                else:
                    order = torch.arange(n_rows)
                batches = (order[i * bs : (i + 1) * bs] for i in range(batch_pos, n_batches))
            else:
                for g, st in zip(loader_gens, epoch_loader_states):
                    g.set_state(st)
                it = iter(loader)
                for _ in range(batch_pos):
                    next(it)
                batches = it
            for item in batches:
                x = data[item] if loader is None else _first_tensor(item)
                x = x.to(device=dev, dtype=dtype, non_blocking=True)
                loss = objective(model, x, generator)
                if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                    raise TypeError("objective must return a scalar tensor loss")
                total_loss = loss + l1 * l1_penalty(model) if l1 > 0 else loss
                loss_value = float(total_loss.detach())
                if not math.isfinite(loss_value):
                    raise TrainingDiverged(
                        step + 1, loss_value, str(ckpt_path) if ckpt_path is not None else None
                    )
                opt.zero_grad(set_to_none=True)
                total_loss.backward()
                bad = _first_non_finite_grad(named_params)
                if bad is not None:
                    raise TrainingDiverged(
                        step + 1,
                        loss_value,
                        str(ckpt_path) if ckpt_path is not None else None,
                        parameter=bad,
                    )
                opt.step()
                step += 1
                batch_pos += 1
                metrics = dict(getattr(objective, "metrics", {}) or {})
                if l1 > 0:
                    metrics["l1_penalty"] = (total_loss - loss).detach()
                obj_loss = float(loss.detach()) if l1 > 0 else loss_value
                history.append(obj_loss, metrics, time.perf_counter() - t0)
                bar.update(1)
                bar.set_postfix(loss=f"{obj_loss:.4g}", refresh=False)
                for cb in callbacks:
                    if cb(step, model, history) is True:
                        stop = True
                if ckpt_path is not None and step % checkpoint_every == 0:
                    save_checkpoint()
                if stop or (steps is not None and step >= steps):
                    break
            else:
                end_epoch()
            if n_batches is not None and batch_pos >= n_batches:
                end_epoch()  # stopped on the epoch's last batch: the epoch is complete
            if stop or (steps is not None and step >= steps):
                break
        save_checkpoint()
    finally:
        bar.close()
        model.train(was_training)
    return history
