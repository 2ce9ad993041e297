"""RBMs on binary images: PCD training through ``fit``, AIS test log-likelihood, samples.

``train_rbm`` trains ``RBM(n_visible, n_hidden)`` (visible biases at the logits of the pixel
marginals) by PCD-``k`` with persistent hidden chains started from ``p(h | v)`` of random
training rows, SGD with momentum and a learning rate decaying linearly to 0, on a
``DataLoader`` (dynamically binarised images get a fresh binarisation every epoch). The
gradient is the fused three-GEMM ``FusedPCD`` when the batch fits in the chains, else the
analytic ``RBMPersistentCD`` (the same gradient). ``evaluate_rbm`` estimates ``log Z`` by
AIS from the training pixel marginals and reports the average test log-likelihood (exact
free energy − log Ẑ). ``run_rbm_mnist`` is what ``discrete-ebm rbm`` does.
"""

from __future__ import annotations

import torch

from ..data.images import BinaryImages, load_mnist
from ..devices import resolve_device
from ..evaluation import ais
from ..models.rbm import RBM
from ..objectives.fused_pcd import FusedPCD
from ..objectives.rbm_pcd import RBMPersistentCD
from ..training import History, fit, linear_decay


def train_rbm(
    train,
    *,
    n_hidden: int = 500,
    epochs: int = 5,
    batch_size: int = 100,
    lr: float = 0.05,
    momentum: float = 0.5,
    weight_decay: float = 0.0,
    n_chains: int = 100,
    k: int = 1,
    device: str | torch.device | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
    checkpoint=None,
    evaluations=(),
) -> tuple[RBM, History]:
    """Train an RBM on ``train`` (a ``BinaryImages`` split, or rows ``(N, n)`` of 0/1) by PCD.

    Returns the RBM and the ``History`` (one step per batch; ``evaluations`` as in ``fit``).
    """
    dev = resolve_device(device)
    g = generator if generator is not None else torch.Generator(device=dev).manual_seed(0)
    once = (train.tensor() if isinstance(train, BinaryImages) else torch.as_tensor(train)).to(dev)
    rbm = RBM(once.shape[1], n_hidden, generator=g, device=dev).init_from_data(once)
    chains = rbm.init_chains(n_chains, once, generator=g)
    if batch_size <= n_chains:
        objective = FusedPCD(n_chains, k, chains=chains)
    else:
        objective = RBMPersistentCD(n_chains, k, chains=chains)
    if isinstance(train, BinaryImages):
        shuffle = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), generator=g)))
        data = train.loader(batch_size, generator=shuffle)
        n_batches = len(data)
    else:
        data, n_batches = once, -(-once.shape[0] // batch_size)
    opt = torch.optim.SGD(rbm.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    history = fit(
        rbm,
        objective,
        data,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=opt,
        scheduler=linear_decay(epochs * n_batches),
        generator=g,
        progress=progress,
        checkpoint=checkpoint,
        evaluations=evaluations,
    )
    return rbm, history


def evaluate_rbm(
    rbm: RBM,
    test: torch.Tensor,
    base_marginals: torch.Tensor,
    *,
    ais_chains: int = 100,
    ais_betas: int = 2000,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> dict:
    """AIS ``log Ẑ`` ± its standard error and the average test log-likelihood (nats) ±
    its standard error over the test rows."""
    log_z, se = ais.log_partition(
        rbm,
        n_chains=ais_chains,
        n_betas=ais_betas,
        base_marginals=base_marginals,
        generator=generator,
        progress=progress,
    )
    with torch.no_grad():
        ll = -rbm.energy(test.to(rbm.device)).double() - log_z
    return {
        "log_z": log_z,
        "log_z_stderr": se,
        "test_log_likelihood": float(ll.mean()),
        "test_log_likelihood_sem": float(ll.std() / ll.numel() ** 0.5),
    }


def sample_probabilities(
    rbm: RBM, n: int, n_steps: int, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``p(v | h)`` after ``n_steps`` block-Gibbs sweeps of ``n`` chains from uniform;
    shape ``(n, d)``."""
    with torch.no_grad():
        v = rbm.sample(n, n_steps, generator=generator)
        return torch.sigmoid(rbm.visible_logits(rbm.sample_hidden(v, generator=generator)))


def run_rbm_mnist(
    *,
    root=None,
    n_hidden: int = 500,
    epochs: int = 5,
    batch_size: int = 100,
    lr: float = 0.05,
    momentum: float = 0.5,
    n_chains: int = 100,
    ais_chains: int = 100,
    ais_betas: int = 2000,
    sample_steps: int = 1000,
    train_rows: int | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = False,
) -> dict:
    """RBM-``n_hidden`` by PCD on dynamically binarised MNIST, scored by AIS on one seeded
    binarisation of the 10,000 test digits. Returns ``rbm``, ``history``, ``samples``
    (``p(v | h)`` of 100 chains after ``sample_steps`` sweeps) and the ``result`` dict
    (``evaluate_rbm``'s figures and the seconds per epoch)."""
    dev = resolve_device(device)
    gen = torch.Generator(device=dev).manual_seed(seed)
    data = load_mnist(root, binarize="dynamic", seed=seed)
    if train_rows is not None:
        if not 0 < train_rows <= len(data.train):
            raise ValueError(f"train_rows must lie in 1..{len(data.train)}, got {train_rows}")
        data.train = BinaryImages(
            data.train.grey[:train_rows].numpy(), data.train.labels[:train_rows].numpy(), seed=seed
        )
    marginals = ais.data_marginals(data.train.tensor())
    rbm, history = train_rbm(
        data.train,
        n_hidden=n_hidden,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        momentum=momentum,
        n_chains=n_chains,
        device=dev,
        generator=gen,
        progress=progress,
    )
    result = evaluate_rbm(
        rbm,
        data.test.tensor(),
        marginals.to(dev),
        ais_chains=ais_chains,
        ais_betas=ais_betas,
        generator=gen,
        progress=progress,
    )
    per_epoch = history.steps // max(history.epochs, 1)
    ends = [0.0] + [history.elapsed[e * per_epoch - 1] for e in range(1, history.epochs + 1)]
    result["seconds_per_epoch"] = [b - a for a, b in zip(ends, ends[1:])]
    samples = sample_probabilities(rbm, 100, sample_steps, generator=gen)
    return {"rbm": rbm, "history": history, "samples": samples.cpu(), "result": result}
