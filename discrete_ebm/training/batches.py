"""The batches ``fit`` trains on: tensor rows or a DataLoader, resumable mid-epoch.

Tensor data are batched here and reshuffled every epoch from a CPU generator whose state at
the epoch's start is kept, so a resumed run replays the same order and skips the batches
already used. A DataLoader is replayed the same way: the states of its ``torch.Generator``s
(its own, and its dataset's ``generator`` attribute, e.g. dynamic binarisation) are saved at
each epoch start (exact with ``num_workers=0``; worker processes hold their own copies).

In a distributed run every rank builds the same global batches (one shuffle seed) and
``epoch`` yields this rank's contiguous share of each (``parallel.local_share``): the world
size must divide ``batch_size``; a short last batch is split as evenly as possible, and
refused at the start if it has fewer rows than there are ranks (pass ``drop_last=True``).
A data loader must give every rank the same batches (seed its generators alike): the first
batch of every epoch is compared across ranks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from .. import distributed as D
from .parallel import check_same_batch, local_share


def _first_tensor(batch) -> torch.Tensor:
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, Sequence) and batch and isinstance(batch[0], torch.Tensor):
        return batch[0]
    raise TypeError(
        "the DataLoader must yield tensors or tuples whose first item is a tensor, "
        f"got {type(batch).__name__}"
    )


class Batches:
    """Epochs of batches of ``data`` for ``model`` (see the module docstring).

    Attributes:
        n_batches: batches per epoch (``None`` for a loader without a length).
        n_rows: rows of the data (``None`` for a loader whose dataset has no length).
        checked: whether every batch's values were already checked (tensor data are checked
            once, here; loader batches are checked by the objective).
    """

    def __init__(
        self,
        data,
        model: nn.Module,
        *,
        batch_size: int,
        shuffle: bool,
        drop_last: bool,
        seed: int,
        dtype: torch.dtype,
    ):
        self.loader = data if isinstance(data, torch.utils.data.DataLoader) else None
        self.shuffle, self.dtype = shuffle, dtype
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch_state = self.generator.get_state()
        world = D.world_size()
        if self.loader is not None:
            if world > 1:
                D.local_count(self.loader.batch_size or 1, "batch_size")
            try:
                self.n_rows = len(self.loader.dataset)
            except TypeError:
                self.n_rows = None
            self.checked = False
            try:
                self.n_batches = len(self.loader)
            except TypeError:  # an IterableDataset without a length: epochs end when it does
                self.n_batches = None
            self.loader_gens = [
                g
                for g in (
                    getattr(self.loader, "generator", None),
                    getattr(getattr(self.loader, "dataset", None), "generator", None),
                )
                if isinstance(g, torch.Generator)
            ]
            self.loader_states = [g.get_state() for g in self.loader_gens]
            return
        self.data = _check_rows(data, model, dtype)
        self.checked = True
        n = self.n_rows = self.data.shape[0]
        if world > 1:
            D.local_count(batch_size, "batch_size")
        self.batch_size = batch_size if drop_last else min(batch_size, n)
        full, rest = divmod(n, self.batch_size)
        self.n_batches = full if (drop_last or rest == 0) else full + 1
        if self.n_batches == 0:
            raise ValueError(f"batch_size ({batch_size}) exceeds the {n} rows with drop_last=True")
        if 0 < n - (self.n_batches - 1) * self.batch_size < world:
            raise ValueError(
                f"the last batch of an epoch has {n - (self.n_batches - 1) * self.batch_size} "
                f"rows ({n} rows, batch_size={batch_size}), fewer than the world size {world}: "
                "pass drop_last=True or another batch_size"
            )
        self.loader_gens, self.loader_states = [], []

    def epoch(self, skip: int) -> Iterator[tuple[torch.Tensor, bool, float]]:
        """The batches of the current epoch after the first ``skip``: this rank's rows of
        each, whether it is the epoch's last (a loader is read one batch ahead to know), and
        this rank's share of the batch's rows (1 in a single process)."""
        if self.loader is None:
            self.generator.set_state(self.epoch_state)
            n, bs = self.data.shape[0], self.batch_size
            order = torch.randperm(n, generator=self.generator) if self.shuffle else None
            index = torch.arange(n) if order is None else order
            for i in range(skip, self.n_batches):
                rows, share = local_share(index[i * bs : (i + 1) * bs])
                x = (
                    self.data[rows]
                    if order is not None
                    else self.data[int(rows[0]) : int(rows[-1]) + 1]
                )
                yield x, i == self.n_batches - 1, share
            return
        for g, st in zip(self.loader_gens, self.loader_states):
            g.set_state(st)
        it = iter(self.loader)
        for _ in range(skip):
            next(it)
        ahead = next(it, None)
        if ahead is not None:  # every rank must read the same batches
            check_same_batch(_first_tensor(ahead))
        while ahead is not None:
            x, ahead = ahead, next(it, None)
            x, share = local_share(_first_tensor(x))
            yield x, ahead is None, share

    def end_epoch(self) -> None:
        """Remember where the next epoch's random streams start."""
        self.epoch_state = self.generator.get_state()
        self.loader_states = [g.get_state() for g in self.loader_gens]

    def state_dict(self) -> dict:
        return {
            "shuffle_generator": self.generator.get_state(),
            "epoch_shuffle_state": self.epoch_state,
            "epoch_loader_states": list(self.loader_states),
        }

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["shuffle_generator"].cpu())
        self.epoch_state = state["epoch_shuffle_state"].cpu()
        saved = state["epoch_loader_states"]
        if len(saved) != len(self.loader_gens):
            raise ValueError(
                f"the checkpoint holds {len(saved)} data-loader random streams, this data "
                f"has {len(self.loader_gens)}: it was written for other data"
            )
        self.loader_states = [t.cpu() for t in saved]


def _check_rows(data, model: nn.Module, dtype: torch.dtype) -> torch.Tensor:
    """Tensor or NumPy rows ``(N, d)``, ``N > 0``, in the model's dtype, values checked."""
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
    return data
