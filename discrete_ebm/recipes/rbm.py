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

import time
from pathlib import Path

import torch

from ..data.images import BinaryImages, load_mnist
from ..devices import resolve_device
from ..evaluation import ais
from ..evaluation.reverse_ais import reverse_log_partition
from ..models.rbm import RBM
from ..objectives.fused_pcd import FusedPCD
from ..objectives.rbm_pcd import RBMPersistentCD
from ..training import Evaluation, History, fit, linear_decay


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
    checkpoint_every: int = 500,
    evaluations=(),
    callbacks=(),
    centred: bool = False,
    offset_rate: float = 0.01,
    schedule: str = "linear",
) -> tuple[RBM, History]:
    """Train an RBM on ``train`` (a ``BinaryImages`` split, or rows ``(N, n)`` of 0/1) by PCD.

    ``centred`` trains by the centred gradient (``FusedPCD(centred=True)``: visible offsets
    at the mean of one binarisation of ``train``, hidden offsets a moving average of rate
    ``offset_rate``, from 0.5); ``schedule`` is ``"linear"`` (rate decaying to 0) or
    ``"constant"``. ``checkpoint`` (a file) makes the run resumable: a rerun with the same
    settings continues from it and ends equal to an uninterrupted run. Returns the RBM and
    the ``History`` (one step per batch; ``evaluations`` as in ``fit``).
    """
    if schedule not in ("linear", "constant"):
        raise ValueError(f"schedule must be 'linear' or 'constant', got {schedule!r}")
    dev = resolve_device(device)
    g = generator if generator is not None else torch.Generator(device=dev).manual_seed(0)
    once = (train.tensor() if isinstance(train, BinaryImages) else torch.as_tensor(train)).to(dev)
    rbm = RBM(once.shape[1], n_hidden, generator=g, device=dev).init_from_data(once)
    chains = rbm.init_chains(n_chains, once, generator=g)
    if centred and batch_size > n_chains:
        raise ValueError(f"centred training needs batch_size <= n_chains={n_chains}")
    if centred:
        mu = once.double().mean(0)
        objective = FusedPCD(
            n_chains, k, chains=chains, centred=True, visible_offsets=mu, offset_rate=offset_rate
        )
    elif batch_size <= n_chains:
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
        scheduler=linear_decay(epochs * n_batches) if schedule == "linear" else None,
        generator=g,
        progress=progress,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        evaluations=evaluations,
        callbacks=callbacks,
    )
    return rbm, history


def evaluate_rbm(
    rbm: RBM,
    test: torch.Tensor,
    base_marginals: torch.Tensor,
    *,
    ais_chains: int = 100,
    ais_betas: int = 2000,
    reverse_samples: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
    distributed: bool = False,
) -> dict:
    """Forward-AIS ``log Ẑ`` ± its standard error and the average test log-likelihood (nats)
    ± its standard error over the test rows; with ``reverse_samples`` (approximate model
    samples, one reverse run each) also the reverse-AIS ``log Ẑ_rev`` over the same
    ``ais_betas`` temperatures and the conservative log-likelihood it gives
    (``discrete_ebm.evaluation.reverse_ais``: forward is optimistic, reverse conservative).
    ``distributed``: the forward runs are split across the ranks of a ``torch.distributed``
    run (``ais.log_partition(distributed=True)``; every rank gets the same estimate)."""
    t0 = time.perf_counter()
    log_z, se = ais.log_partition(
        rbm,
        n_chains=ais_chains,
        n_betas=ais_betas,
        base_marginals=base_marginals,
        generator=generator,
        progress=progress,
        distributed=distributed,
    )
    with torch.no_grad():
        neg_f = -rbm.energy(test.to(rbm.device)).double()
    ll = neg_f - log_z
    out = {
        "log_z": log_z,
        "log_z_stderr": se,
        "test_log_likelihood": float(ll.mean()),
        "test_log_likelihood_sem": float(ll.std() / ll.numel() ** 0.5),
        "ais_chains": ais_chains,
        "ais_betas": ais_betas,
        "ais_seconds": time.perf_counter() - t0,
    }
    if reverse_samples is not None:
        t0 = time.perf_counter()
        log_z_rev, se_rev = reverse_log_partition(
            rbm,
            reverse_samples,
            ais_betas,
            base_marginals=base_marginals,
            generator=generator,
            progress=progress,
        )
        out.update(
            log_z_reverse=log_z_rev,
            log_z_reverse_stderr=se_rev,
            test_log_likelihood_reverse=float(neg_f.mean()) - log_z_rev,
            reverse_chains=reverse_samples.shape[0],
            reverse_seconds=time.perf_counter() - t0,
        )
    return out


def sample_probabilities(
    rbm: RBM, n: int, n_steps: int, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``p(v | h)`` after ``n_steps`` block-Gibbs sweeps of ``n`` chains from uniform;
    shape ``(n, d)``."""
    with torch.no_grad():
        v = rbm.sample(n, n_steps, generator=generator)
        return torch.sigmoid(rbm.visible_logits(rbm.sample_hidden(v, generator=generator)))


def reverse_start(
    rbm: RBM, data: torch.Tensor, n: int, sweeps: int, *, generator=None
) -> torch.Tensor:
    """Approximate model samples for reverse AIS: ``sweeps`` block-Gibbs sweeps from ``n``
    random rows of ``data``; ``(n, d)``."""
    idx = torch.randint(0, data.shape[0], (n,), generator=generator, device=data.device)
    return rbm.sample(n, sweeps, x0=data[idx].to(rbm.device, rbm.dtype), generator=generator)


def likelihood_curve(
    test: torch.Tensor,
    base_marginals: torch.Tensor,
    *,
    every: int,
    ais_chains: int = 100,
    ais_betas: int = 1000,
    seed: int = 0,
    log=None,
) -> Evaluation:
    """An ``Evaluation`` for ``fit``: a quick forward-AIS test log-likelihood every ``every``
    steps (recorded as ``quick_test_ll`` with ``quick_log_z``; cheap, so noisier and more
    optimistic than the final estimate), printed through ``log`` if given."""
    g = torch.Generator().manual_seed(seed)

    def quick(model: RBM) -> dict:
        r = evaluate_rbm(
            model, test, base_marginals, ais_chains=ais_chains, ais_betas=ais_betas, generator=g
        )
        if log is not None:
            log(
                f"quick AIS ({ais_chains} chains, {ais_betas} betas): test LL "
                f"{r['test_log_likelihood']:.2f} (log Z {r['log_z']:.2f} ± {r['log_z_stderr']:.2f})"
            )
        return {"quick_test_ll": r["test_log_likelihood"], "quick_log_z": r["log_z"]}

    return Evaluation(quick, every=every, at_end=False)


def epoch_logger(steps_per_epoch: int, epochs: int, log):
    """A ``fit`` callback that reports each finished epoch and the training time so far."""

    def report(step: int, model, history) -> None:
        if step % steps_per_epoch == 0:
            log(f"epoch {step // steps_per_epoch}/{epochs}: {history.seconds:.0f} s of training")

    return report


def recipe_settings(recipe: str = "default", **overrides) -> dict:
    """The keyword arguments of ``run_rbm_mnist`` for a named recipe (``RECIPES``), with the
    ``overrides`` that are not ``None`` applied on top."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {sorted(RECIPES)}, got {recipe!r}")
    settings = dict(RECIPES[recipe])
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return settings


def mnist_splits(root, binarize: str, seed: int, train_rows: int | None):
    """``load_mnist`` with ``binarize``; the training split cut to ``train_rows`` if given."""
    data = load_mnist(root, binarize=binarize, seed=seed)
    if train_rows is not None:
        if not 0 < train_rows <= len(data.train):
            raise ValueError(f"train_rows must lie in 1..{len(data.train)}, got {train_rows}")
        data.train = BinaryImages(
            data.train.grey[:train_rows].numpy(),
            data.train.labels[:train_rows].numpy(),
            binarize=binarize,
            seed=seed,
        )
    return data


#: ``discrete-ebm rbm --recipe centred``: the centred RBM-500 of Melchior, Fischer & Wiskott
#: (2016) by PCD-1 on thresholded MNIST (``g > 127``, the binarisation of their figure),
#: scored by forward and reverse AIS at 10,000 betas.
RECIPES = {
    "default": {},
    "centred": {
        "centred": True,
        "binarize": "threshold",
        "epochs": 60,
        "lr": 0.03,
        "momentum": 0.5,
        "schedule": "linear",
        "ais_chains": 200,
        "ais_betas": 10_000,
        "reverse_chains": 200,
        "reverse_sweeps": 2000,
        "eval_every": 10,
    },
}


def run_rbm_mnist(
    *,
    root=None,
    n_hidden: int = 500,
    epochs: int = 5,
    batch_size: int = 100,
    lr: float = 0.05,
    momentum: float = 0.5,
    weight_decay: float = 0.0,
    n_chains: int = 100,
    centred: bool = False,
    offset_rate: float = 0.01,
    schedule: str = "linear",
    binarize: str = "dynamic",
    ais_chains: int = 100,
    ais_betas: int = 2000,
    reverse_chains: int = 0,
    reverse_sweeps: int = 1000,
    eval_every: int | None = None,
    eval_betas: int = 1000,
    sample_steps: int = 1000,
    train_rows: int | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = False,
    checkpoint=None,
    log=None,
) -> dict:
    """RBM-``n_hidden`` by PCD (``centred``: the centred gradient) on binarised MNIST
    (``binarize``: ``"dynamic"`` draws afresh every epoch, ``"threshold"`` is ``g > 127``),
    scored by forward AIS (and reverse AIS from ``reverse_chains`` chains of
    ``reverse_sweeps`` Gibbs sweeps started at test digits, if > 0) on the 10,000 test
    digits (one seeded binarisation if dynamic). ``eval_every`` (epochs) records a quick
    AIS test log-likelihood during training (``eval_betas`` betas, 100 chains; off the
    training clock). ``checkpoint``: resumable training (``train_rbm``). Returns ``rbm``,
    ``history``, ``samples`` (``p(v | h)`` of 100 chains after ``sample_steps`` sweeps from
    noise) and the ``result`` dict (``evaluate_rbm``'s figures, seconds per epoch, the
    training wall and CPU seconds of this call)."""
    dev = resolve_device(device)
    gen = torch.Generator(device=dev).manual_seed(seed)
    data = mnist_splits(root, binarize, seed, train_rows)
    marginals = ais.data_marginals(data.train.tensor()).to(dev)
    test = data.test.tensor()
    evaluations, callbacks = [], []
    per_epoch = -(-len(data.train) // batch_size)
    if log is not None:
        callbacks.append(epoch_logger(per_epoch, epochs, log))
    if eval_every:
        evaluations.append(
            likelihood_curve(
                test,
                marginals,
                every=eval_every * per_epoch,
                ais_betas=eval_betas,
                seed=seed + 1,
                log=log,
            )
        )
    wall, cpu = time.perf_counter(), time.process_time()
    rbm, history = train_rbm(
        data.train,
        n_hidden=n_hidden,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        n_chains=n_chains,
        device=dev,
        generator=gen,
        progress=progress,
        checkpoint=checkpoint,
        evaluations=evaluations,
        callbacks=callbacks,
        centred=centred,
        offset_rate=offset_rate,
        schedule=schedule,
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    eval_gen = torch.Generator(device=dev).manual_seed(seed + 2)
    start = None
    if reverse_chains > 0:
        start = reverse_start(rbm, test.to(dev), reverse_chains, reverse_sweeps, generator=eval_gen)
    result = evaluate_rbm(
        rbm,
        test,
        marginals,
        ais_chains=ais_chains,
        ais_betas=ais_betas,
        reverse_samples=start,
        generator=eval_gen,
        progress=progress,
    )
    per_epoch = history.steps // max(history.epochs, 1)
    ends = [0.0] + [history.elapsed[e * per_epoch - 1] for e in range(1, history.epochs + 1)]
    result["seconds_per_epoch"] = [b - a for a, b in zip(ends, ends[1:])]
    result.update(
        eval_every=eval_every,
        eval_betas=eval_betas,
        call_wall_seconds=wall,
        call_cpu_seconds=cpu,
        binarize=binarize,
        training_seconds=history.seconds,
        curve=list(history.evaluations),
    )
    samples = sample_probabilities(rbm, 100, sample_steps, generator=eval_gen)
    return {"rbm": rbm, "history": history, "samples": samples.cpu(), "result": result}


def save_rbm(out: dict, folder, *, settings: dict) -> Path:
    """Write what ``discrete-ebm rbm`` shows into ``folder``: ``samples.png``,
    ``filters.png``, ``likelihood.png``, ``rbm.pt`` and ``rbm.json`` (``out["result"]`` with
    the hidden size, epochs, ``settings`` and the file list); returns the JSON's path."""
    from ..io import save_torch, write_json
    from ..plotting.rbm import plot_filters, plot_image_grid, plot_likelihood_curve

    folder, result, rbm = Path(folder), out["result"], out["rbm"]
    steps = settings.get("sample_steps", 1000)
    files = [
        plot_image_grid(out["samples"], folder / "samples.png",
                        title=f"p(v | h) after {steps} sweeps from noise"),
        plot_filters(rbm.W.detach().cpu(), folder / "filters.png", title="first 100 filters"),
        plot_likelihood_curve(result, folder / "likelihood.png",
                              title="average test log-likelihood"),
        save_torch(rbm.state_dict(), folder / "rbm.pt"),
    ]  # fmt: skip
    record = {
        "n_hidden": rbm.n_hidden,
        "epochs": out["history"].epochs,
        **result,
        "settings": settings,
        "files": [str(f) for f in files],
    }
    return write_json(folder / "rbm.json", record)


def describe_rbm(result: dict) -> str:
    """One line: the forward (and, if run, reverse) AIS test log-likelihood of ``result``."""
    line = (
        f"test log-likelihood {result['test_log_likelihood']:.2f} nats by forward AIS (± "
        f"{result['log_z_stderr']:.2f} from log Z, ± {result['test_log_likelihood_sem']:.2f} "
        "s.e.m. over test images)"
    )
    if "test_log_likelihood_reverse" in result:
        line += (
            f", {result['test_log_likelihood_reverse']:.2f} by reverse AIS (± "
            f"{result['log_z_reverse_stderr']:.2f})"
        )
    return line
