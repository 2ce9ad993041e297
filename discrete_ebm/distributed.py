"""Many processes with ``torch.distributed``: rank, world size, shares of rows, collectives.

A run started by ``torchrun`` (``WORLD_SIZE > 1`` in the environment) or one with an
initialised default process group is *distributed*. Counts the user gives (batch size,
chains) are global; each of the ``w`` ranks takes ``n / w`` of them, in rank order. Outside
a distributed run every function here is the single-process identity: ``rank() == 0``,
``world_size() == 1``, the collectives return their input.
"""

from __future__ import annotations

import atexit
import gc
import os

import numpy as np
import torch
import torch.distributed as dist

#: backends each device type can run a process group on
_BACKENDS = {"cpu": ("gloo", "mpi"), "cuda": ("nccl", "gloo", "mpi")}


def is_distributed() -> bool:
    """True when a default process group is initialised with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank in the default group; 0 when not distributed."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes in the default group; 1 when not distributed."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """``rank() == 0``: the process that prints reports and writes files."""
    return rank() == 0


def launched_by_torchrun() -> bool:
    """True when the environment says this is one of several processes (``WORLD_SIZE > 1``)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def writes_files() -> bool:
    """True on the process that writes files: rank 0 of the group, or, before a group
    exists, the process whose environment ``RANK`` is 0 (every process of a plain run)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


def check_backend(backend: str, device: str | torch.device) -> None:
    """ValueError naming ``backend`` and ``device`` when the device cannot use that backend
    (``nccl`` needs CUDA; gloo or mpi serve CPU tensors) or this torch build lacks it."""
    kind = torch.device(device).type
    if ":" in backend:  # a per-device group such as "cpu:gloo,cuda:nccl"
        per_device = dict(item.split(":", 1) for item in backend.split(","))
        if kind not in per_device:
            raise ValueError(f"backend {backend!r} does not support device {str(device)!r}")
        backend = per_device[kind]
    if backend not in _BACKENDS.get(kind, ()):
        raise ValueError(
            f"backend {backend!r} does not support device {str(device)!r}; "
            f"use one of {list(_BACKENDS.get(kind, ()))} for {kind} tensors"
        )
    if not dist.is_backend_available(backend):
        raise ValueError(f"backend {backend!r} is not available in this torch build")


def ensure_process_group(device: str | torch.device = "cpu", backend: str | None = None) -> bool:
    """Initialise the default group when ``torchrun`` started this process and none exists.

    ``backend`` defaults to gloo for CPU devices and NCCL for CUDA; a CUDA process also
    selects its GPU (the device's index, else ``LOCAL_RANK``). A backend the device does not
    support (asked for, or of an existing group) raises ValueError naming both. Returns
    ``is_distributed()``."""
    device = torch.device(device)
    if dist.is_available() and dist.is_initialized():
        check_backend(backend or dist.get_backend(), device)
        return is_distributed()
    if not launched_by_torchrun():
        if backend is not None:
            check_backend(backend, device)
        return False
    backend = backend or ("nccl" if device.type == "cuda" else "gloo")
    check_backend(backend, device)
    if device.type == "cuda":
        index = device.index if device.index is not None else os.environ.get("LOCAL_RANK", 0)
        torch.cuda.set_device(int(index))
    dist.init_process_group(backend=backend)
    atexit.register(_destroy_group)  # the group started here ends with the process
    return is_distributed()


def _destroy_group() -> None:
    close_process_group()


def close_process_group() -> None:
    """Destroy the default process group, after a barrier: every rank's outstanding
    collectives have completed before any rank tears its connections down (a rank that
    destroyed its gloo group while a peer was still finishing could abort the peer at exit
    with "terminate called without an active exception")."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    # free unreachable objects that hold the group (a DDP wrapper left in a reference cycle,
    # its reducer, pending gloo work holding tensors) while the interpreter and the group are
    # alive: destroyed during interpreter teardown they can abort the process (SIGABRT,
    # "terminate called without an active exception"; seen once in CI, 2026-12-05)
    gc.collect()
    try:
        if dist.get_world_size() > 1:
            dist.barrier()
    finally:
        dist.destroy_process_group()
        gc.collect()


def local_device(device: str | torch.device) -> torch.device:
    """``device`` with this process's GPU made explicit: ``"cuda"`` without an index is the
    current CUDA device (``LOCAL_RANK``'s once ``ensure_process_group`` ran)."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return device


def comm_device() -> torch.device:
    """Where small tensors for collectives must live: the current GPU for an NCCL group,
    else the CPU."""
    if is_distributed() and "nccl" in str(dist.get_backend()):
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def local_count(n: int, name: str) -> int:
    """``n // world_size()``; ValueError naming ``name`` unless the world size divides ``n``."""
    w = world_size()
    if n % w:
        raise ValueError(f"{name}={n} is not divisible by the world size {w}")
    return n // w


def local_rows(n: int, name: str) -> slice:
    """This rank's contiguous share ``[r n/w, (r+1) n/w)`` of ``n`` global rows."""
    m = local_count(n, name)
    r = rank()
    return slice(r * m, (r + 1) * m)


def rank_seed(seed: int, of_rank: int | None = None) -> int:
    """Seed of rank ``r``'s stream: ``seed`` itself on rank 0 (so rank 0 draws what a
    single process draws), a ``SeedSequence((seed, r))`` draw on every other rank."""
    r = rank() if of_rank is None else int(of_rank)
    if r == 0:
        return int(seed)
    words = np.random.SeedSequence([int(seed) & (2**63 - 1), r]).generate_state(2, np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


def rank_generator(
    seed: int, device: str | torch.device = "cpu", *, of_rank: int | None = None
) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``rank_seed(seed, rank)``: independent
    streams per rank, and a 1-process run reproduces its single-process draws."""
    return torch.Generator(device=torch.device(device)).manual_seed(rank_seed(seed, of_rank))


def all_gather_rows(t: torch.Tensor) -> torch.Tensor:
    """Concatenation along dim 0 of every rank's ``t`` in rank order, on every rank.

    Ranks may hold different numbers of rows (same trailing shape); ``t`` itself when not
    distributed."""
    if not is_distributed():
        return t
    w = world_size()
    n = torch.tensor([t.shape[0]], device=t.device, dtype=torch.long)
    sizes = [torch.zeros_like(n) for _ in range(w)]
    dist.all_gather(sizes, n)
    sizes = [int(s.item()) for s in sizes]
    big = max(sizes)
    padded = t.new_zeros((big, *t.shape[1:]))
    padded[: t.shape[0]] = t
    parts = [torch.empty_like(padded) for _ in range(w)]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([p[:s] for p, s in zip(parts, sizes, strict=True)])


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over ranks in place (every rank ends with the sum); returns ``t``."""
    if is_distributed():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def barrier() -> None:
    """Wait for every rank (nothing when not distributed)."""
    if is_distributed():
        dist.barrier()
