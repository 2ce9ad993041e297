"""Data-parallel ``fit`` over ``torch.distributed``: what each rank trains on and how the
ranks agree.

Every rank holds the same data and the same shuffle order (one seed, broadcast from rank 0)
and takes a contiguous share of each global batch of ``B`` rows: ``B / w`` rows on each of
the ``w`` ranks (a short last batch of ``b`` rows is split as evenly as possible, the first
``b mod w`` ranks taking one row more). Rank ``r``'s loss ``L_r`` over its ``b_r`` rows is
weighted by its share ``s_r = b_r / B``, so the gradients summed over ranks are those of the
global-batch mean ``Σ_r s_r L_r`` (DDP averages, so its loss is scaled by ``w s_r``).

- Objectives trained by autograd run inside ``ObjectiveLoss`` wrapped in
  ``DistributedDataParallel`` (its hooks all-reduce the model's gradients during backward),
  or with ``shard_parameters`` the energy is sharded by FSDP2 ``fully_shard``.
- Objectives that write their own gradients (``write_gradients``) have them all-reduced
  here (``average_gradients``); an objective's own fused ``update`` is not used (it would
  apply one rank's gradient).
- Random draws of objectives come from per-rank generators (``rank_generator``); global
  chain counts (``n_chains``, ``buffer_size``) and given initial chains are split across
  ranks (``shard_objective``).
- Per-rank state a checkpoint needs for exact resume (generator, objective state) is
  gathered to rank 0 (``gather_states``) and each rank takes its own back on resume.
"""

from __future__ import annotations

import warnings

import torch
import torch.distributed as dist
from torch import nn

from .. import distributed as D


class ObjectiveLoss(nn.Module):
    """``forward(x, generator, scale) -> (scale · (loss + penalty), loss, penalty)``: the
    objective's loss on ``model`` as a module, so that DDP can wrap it (its parameters are
    the model's); ``penalty`` is ``None`` when ``penalty_fn`` is."""

    def __init__(self, model: nn.Module, objective, penalty_fn=None):
        super().__init__()
        self.model = model
        self.objective = objective
        self.penalty_fn = penalty_fn

    def forward(self, x: torch.Tensor, generator: torch.Generator | None, scale: float):
        with warnings.catch_warnings():
            # FSDP2 warns of energies that return a view; the objectives never write into it
            warnings.filterwarnings("ignore", "FSDP2-wrapped module .* returned a view")
            loss = self.objective(self.model, x, generator)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise TypeError("objective must return a scalar tensor loss")
        penalty = None if self.penalty_fn is None else self.penalty_fn(self.model)
        total = loss if penalty is None else loss + penalty
        return total * scale, loss, penalty


def wrap_ddp(model: nn.Module, objective, penalty_fn) -> nn.Module:
    """``DistributedDataParallel(ObjectiveLoss(...))``: the model's parameters are broadcast
    from rank 0 now and their gradients averaged over ranks in every backward. Buffers are
    not re-broadcast each step (``forward_sync_buffers=False``: the energies' buffers are
    constants); ``static_graph`` lets parameters that take no part in the loss be."""
    from torch.nn.parallel import DistributedDataParallel

    module = ObjectiveLoss(model, objective, penalty_fn)
    dev = next(iter(model.parameters())).device
    ids = [dev] if dev.type == "cuda" else None
    return DistributedDataParallel(
        module, device_ids=ids, forward_sync_buffers=False, static_graph=True
    )


def share_bounds(b: int, world: int, rank: int) -> tuple[int, int]:
    """Rows ``[start, stop)`` of rank ``rank`` in a batch of ``b`` rows split over ``world``
    ranks as evenly as possible (the first ``b mod world`` ranks take one row more)."""
    base, extra = divmod(b, world)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def local_share(x: torch.Tensor, name: str = "batch") -> tuple[torch.Tensor, float]:
    """This rank's rows of the global batch ``x`` and its share ``b_r / B`` of them;
    ``(x, 1.0)`` when not distributed. ValueError when ``x`` has fewer rows than ranks."""
    w = D.world_size()
    if w == 1:
        return x, 1.0
    b = x.shape[0]
    if b < w:
        raise ValueError(
            f"a {name} of {b} rows cannot give every one of the {w} processes a row; "
            "use drop_last=True or a batch size that is a multiple of the world size"
        )
    start, stop = share_bounds(b, w, D.rank())
    return x[start:stop], (stop - start) / b


def shared_seeds(generator: torch.Generator) -> tuple[int, int]:
    """(shuffle seed, run seed) drawn from ``generator`` on rank 0 and broadcast, so every
    rank shuffles alike whatever generator it was given."""
    seeds = torch.randint(0, 2**62, (2,), generator=generator, device=generator.device)
    seeds = seeds.to(torch.int64)
    if D.is_distributed():
        dist.broadcast(seeds, src=0)
    return int(seeds[0]), int(seeds[1])


_INT_OF_SIZE = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def _position_hash(k: torch.Tensor) -> torch.Tensor:
    """A 32-bit mixing hash of the positions ``k`` (int64): multiply, xor-shift, twice."""
    h = (k * 2654435761) & 0xFFFFFFFF
    h = ((h ^ (h >> 15)) * 2246822519) & 0xFFFFFFFF
    return h ^ (h >> 13)


def data_checksum(x: torch.Tensor, chunk: int = 4096) -> int:
    """An exact checksum of ``x``'s bytes: ``Σ_k bits_k · h(k)`` in wrapping int64 arithmetic
    (the same on every device and machine), ``bits_k`` the k-th element's bits as an integer
    and ``h`` a 32-bit mixing hash of its position (so moving values changes the sum);
    read in row chunks."""
    flat = x.detach().contiguous().reshape(x.shape[0], -1)
    width = flat.shape[1]
    total = torch.zeros((), dtype=torch.int64, device=x.device)
    for start in range(0, flat.shape[0], chunk):
        bits = flat[start : start + chunk].view(_INT_OF_SIZE[flat.element_size()]).to(torch.int64)
        k = torch.arange(start * width, start * width + bits.numel(), device=x.device)
        total += (bits.reshape(-1) * _position_hash(k)).sum()
    return int(total)


def check_same_data(n: int | None, data: torch.Tensor | None, device: torch.device) -> None:
    """ValueError when ranks hold data of different lengths (``n`` rows here) or, for
    tensor ``data``, different values (``data_checksum``)."""
    if not D.is_distributed():
        return
    check = 0 if data is None else data_checksum(data)
    mine = torch.tensor([[-1 if n is None else int(n), check]], dtype=torch.int64, device=device)
    every = D.all_gather_rows(mine).tolist()
    if len({row[0] for row in every}) > 1:
        listing = ", ".join(f"rank {r}: {row[0]}" for r, row in enumerate(every))
        raise ValueError(
            f"data have different lengths on different ranks ({listing}); every process "
            "must load the same data (each takes its own share of every batch)"
        )
    if len({row[1] for row in every}) > 1:
        raise ValueError(
            "data differ between ranks (same length, different values); every process must "
            "load or generate the same data (e.g. from the same seed)"
        )


def check_same_batch(x: torch.Tensor) -> None:
    """ValueError when ranks drew different global batches (a data loader whose order or
    per-item randomness is not seeded alike on every rank)."""
    if not D.is_distributed():
        return
    mine = torch.tensor([[data_checksum(x)]], dtype=torch.int64, device=D.comm_device())
    if len(set(D.all_gather_rows(mine).reshape(-1).tolist())) > 1:
        raise ValueError(
            "the data loader gives different batches on different ranks: give it (and any "
            "random dataset) a torch.Generator seeded alike on every rank, e.g. "
            "DataLoader(..., generator=torch.Generator().manual_seed(seed))"
        )


def _split_rows(value, name: str):
    if isinstance(value, torch.Tensor):
        return value[D.local_rows(value.shape[0], name)].clone()
    if isinstance(value, list | tuple) and value and isinstance(value[0], torch.Tensor):
        return [_split_rows(v, name) for v in value]
    return value


def shard_objective(objective) -> None:
    """Turn the objective's global counts into this rank's share, once per world: integer
    ``n_chains`` and ``buffer_size`` become ``n / w`` (ValueError naming the count when ``w``
    does not divide it) and given ``chains`` / ``buffer`` keep this rank's rows."""
    if not D.is_distributed():
        return
    here = (D.world_size(), D.rank())
    done = getattr(objective, "_distributed_share", None)
    if done == here:
        return
    if done is not None:
        raise ValueError(
            f"this objective was split for {done[0]} processes; build a new one for {here[0]}"
        )
    for name in ("n_chains", "buffer_size"):
        v = getattr(objective, name, None)
        if isinstance(v, int) and not isinstance(v, bool):
            setattr(objective, name, D.local_count(v, name))
    for name in ("chains", "buffer"):
        if getattr(objective, name, None) is not None:
            setattr(objective, name, _split_rows(getattr(objective, name), name))
    objective._distributed_share = here


def average_gradients(params: list[torch.Tensor], share: float) -> None:
    """``p.grad ← Σ_r s_r p.grad_r`` over ranks (one flat all-reduce per dtype)."""
    grads = [p.grad for p in params if p.grad is not None]
    for dtype in {g.dtype for g in grads}:
        group = [g for g in grads if g.dtype == dtype]
        flat = torch.cat([g.reshape(-1) for g in group]).mul_(share)
        D.all_reduce_sum(flat)
        offset = 0
        for g in group:
            g.copy_(flat[offset : offset + g.numel()].view(g.shape))
            offset += g.numel()


def global_values(values: list[float], share: float, device: torch.device) -> list[float]:
    """``Σ_r s_r v_r`` over ranks for each value (NaN stays NaN)."""
    if not D.is_distributed():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device) * share
    return D.all_reduce_sum(t).tolist()


def reduce_later(values: torch.Tensor, share: float):
    """Start the all-reduce of ``Σ_r s_r v_r`` for a 1-d tensor of values and return a
    function that waits for it and returns the sums as floats (the reduction runs while
    the caller back-propagates)."""
    t = values.detach().to(torch.float64) * share
    work = dist.all_reduce(t, async_op=True) if D.is_distributed() else None

    def finish() -> list[float]:
        if work is not None:
            work.wait()
        return t.tolist()

    return finish


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on any."""
    if not D.is_distributed():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    return bool(D.all_reduce_sum(t).item() > 0)


def _cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_cpu(v) for v in obj)
    return obj


def gather_states(state: dict) -> list[dict] | None:
    """Every rank's ``state`` (tensors on the CPU) on rank 0, in rank order; ``None`` on the
    other ranks."""
    state = _cpu(state)
    out = [None] * D.world_size() if D.is_main() else None
    dist.gather_object(state, out, dst=0)
    return out


def check_same_step(step: int, device: torch.device) -> None:
    """ValueError when ranks start at different steps (a checkpoint only some ranks saw)."""
    if not D.is_distributed():
        return
    steps = D.all_gather_rows(torch.tensor([[step]], dtype=torch.int64, device=device))
    steps = [int(v) for v in steps.reshape(-1).tolist()]
    if len(set(steps)) > 1:
        raise ValueError(
            f"the ranks start at different steps {steps}: the checkpoint must be on a file "
            "system that every process reads"
        )


def bytes_per_step(params: list[torch.Tensor], *, writes_gradients: bool = False) -> int:
    """Bytes each rank all-reduces in one data-parallel (DDP) step: ``Σ_p numel(p) ·
    itemsize(p)`` over the trainable parameters' gradients, plus the global loss values in
    float64 (16 bytes: loss and loss + penalty; 8 for an objective writing its gradients).
    A stop flag (4 bytes) is added when there are callbacks."""
    return sum(p.numel() * p.element_size() for p in params) + (8 if writes_gradients else 16)


def loss_module(model: nn.Module, objective, penalty_fn, sharded: bool) -> nn.Module:
    """The module a distributed autograd step calls: DDP around ``ObjectiveLoss``, or the
    bare ``ObjectiveLoss`` of an energy FSDP2 already sharded (its hooks gather the
    parameters in forward and reduce-scatter the gradients in backward)."""
    if sharded:
        return ObjectiveLoss(model, objective, penalty_fn)
    return wrap_ddp(model, objective, penalty_fn)


def shard_energy(model: nn.Module, objective, optimizer, l1: float = 0.0) -> None:
    """Shard ``model``'s parameters across ranks with FSDP2 ``fully_shard`` (each rank keeps
    ``1/w`` of every parameter, gathered for each energy call), starting from rank 0's
    values. The objective must train by autograd and reach the parameters only through
    ``model(x)`` calls, and the optimiser must be built after sharding (``None`` or
    ``params -> optimizer``)."""
    if callable(getattr(objective, "write_gradients", None)):
        raise ValueError(
            f"shard_parameters=True needs an objective trained by autograd; "
            f"{type(objective).__name__} writes its own gradients into whole parameters"
        )
    if isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            "shard_parameters=True needs optimizer=None or a callable params -> optimizer "
            "(an optimiser built before sharding holds the unsharded parameters)"
        )
    if l1 > 0:
        raise ValueError(
            "shard_parameters=True does not take l1 > 0: the penalty reads whole parameters "
            "outside the energy's forward"
        )
    from torch.distributed.fsdp import FSDPModule, fully_shard

    if isinstance(model, FSDPModule):  # sharded by an earlier fit
        return

    with torch.no_grad():  # start from rank 0's values, as DDP does
        for t in [*model.parameters(), *model.buffers()]:
            dist.broadcast(t, src=0)
    fully_shard(model)
