"""Deep Boltzmann machines: greedy layer-wise pre-training and PCD, each through ``fit``.

``greedy_pretrain`` (Salakhutdinov & Hinton 2009) trains one RBM per pair of adjacent
layers by CD-1 with doubled inputs (``objectives.DoubledInputCD``: the bottom RBM's upward
input doubled, the top one's downward input, both in the middle), plain SGD, visible biases
starting at the logits of the input marginals; the next RBM trains on binary samples of the
layer below. The DBM's weights are set to the RBMs' and each layer's bias to the average of
the biases it had in its (at most two) RBMs. ``train_dbm`` pre-trains and then runs PCD with
a mean-field positive phase (``objectives.DBMPersistentCD``).
"""

from __future__ import annotations

import torch

from .._validation import check_positive_int
from ..models.dbm import DBM, _bernoulli
from ..models.rbm import RBM
from ..objectives.dbm import DBMPersistentCD
from ..objectives.dbm_pretraining import DoubledInputCD
from ..training import History, fit


def _last_epoch_error(history: History, n_batches: int) -> float:
    """Mean squared reconstruction error of the last epoch, weighted by batch rows."""
    errors, rows = history.loss[-n_batches:], history.metrics["rows"][-n_batches:]
    return sum(e * r for e, r in zip(errors, rows)) / sum(rows)


def greedy_pretrain(
    dbm: DBM,
    data: torch.Tensor,
    *,
    epochs: int = 5,
    batch_size: int = 100,
    lr: float = 0.05,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> list[float]:
    """Greedy layer-wise pre-training of ``dbm`` on rows ``data (N, n_0)`` (module
    docstring). Returns each RBM's mean squared reconstruction error over its last epoch."""
    if not isinstance(dbm, DBM):
        raise TypeError(f"dbm must be a discrete_ebm DBM, got {type(dbm).__name__}")
    x = dbm.check_input(data, "data").to(dtype=dbm.dtype, device=dbm.device)
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    L = dbm.n_layers - 1
    bias_sum = [torch.zeros_like(b) for b in dbm.biases]
    bias_cnt = [0] * (L + 1)
    errors = []
    for l in range(L):
        up = 1.0 if l == L - 1 else 2.0
        down = 1.0 if l == 0 else 2.0
        m = x.mean(0).clamp(1e-3, 1 - 1e-3)  # visible bias at the logits of the marginals
        rbm = RBM.from_parameters(dbm.weights[l].detach().clone(), torch.log(m) - torch.log1p(-m))
        history = fit(
            rbm,
            DoubledInputCD(up, down),
            x,
            epochs=epochs,
            batch_size=batch_size,
            optimizer=torch.optim.SGD(rbm.parameters(), lr=lr),
            generator=generator,
            progress=progress,
        )
        errors.append(_last_epoch_error(history, -(-x.shape[0] // min(batch_size, x.shape[0]))))
        with torch.no_grad():
            dbm.weights[l].copy_(rbm.W)
            bias_sum[l] += rbm.b
            bias_sum[l + 1] += rbm.c
            bias_cnt[l] += 1
            bias_cnt[l + 1] += 1
            x = _bernoulli(torch.sigmoid(rbm.c + up * (x @ rbm.W)), generator)
    with torch.no_grad():
        for l in range(L + 1):
            dbm.biases[l].copy_(bias_sum[l] / bias_cnt[l])
    return errors


def train_dbm(
    data,
    layer_sizes: tuple[int, ...] = (784, 500, 1000),
    *,
    pretrain_epochs: int = 1,
    pretrain_lr: float = 0.05,
    epochs: int = 1,
    lr: float = 0.005,
    momentum: float = 0.5,
    batch_size: int = 100,
    n_chains: int = 100,
    mean_field_iters: int = 10,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> tuple[DBM, History, list[float]]:
    """A DBM on ``data`` (rows ``(N, n_0)``, or a DataLoader for the PCD stage with the rows
    as ``data.dataset.tensor()``): greedy pre-training (``pretrain_epochs``, 0 to skip), then
    PCD with a mean-field positive phase, SGD with momentum. Returns the DBM, the PCD
    history and the pre-training reconstruction errors."""
    rows = data.dataset.tensor() if isinstance(data, torch.utils.data.DataLoader) else data
    dbm = DBM(layer_sizes, generator=generator)
    errors = []
    if pretrain_epochs:
        errors = greedy_pretrain(
            dbm,
            rows,
            epochs=pretrain_epochs,
            lr=pretrain_lr,
            generator=generator,
            progress=progress,
        )
    history = fit(
        dbm,
        DBMPersistentCD(n_chains=n_chains, k=1, mean_field_iters=mean_field_iters),
        data,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=torch.optim.SGD(dbm.parameters(), lr=lr, momentum=momentum),
        generator=generator,
        progress=progress,
    )
    return dbm, history, errors
