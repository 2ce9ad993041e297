"""Sharded sampling: a global chain count split across the ranks of a ``torch.distributed`` run.

``sampler.sample(n_chains=N, ..., distributed=True)`` on ``w`` ranks runs ``N / w`` chains
per rank (rank ``r`` takes rows ``[r N/w, (r+1) N/w)`` of ``x0`` and of a per-chain
``clamp``) from the rank's own random stream, then gathers: every rank returns all ``N``
final states in rank order, and the diagnostics over all chains (``energy`` ``(N,)``,
``energy_trace`` ``(T, N)``, ``acceptance_rate`` / ``flip_rate`` and other rates averaged
over the ranks (equal chain counts: the mean over all chains), ``seconds`` of the slowest
rank).

Random streams: rank ``r`` draws from ``rank_generator(s, r)`` where ``s`` is one 62-bit draw
from the caller's generator (or from torch's default generator when none is given), the
same draw on every rank when the callers' generators agree; so a run is reproducible from
the seed and the world size, and ranks draw independent streams. Outside a distributed run
(one process) ``distributed=True`` is the plain call, draws included.
"""

from __future__ import annotations

import torch

from .. import distributed as dist_utils
from .._validation import check_positive_int
from ..devices import generator_device


def rank_stream(
    generator: torch.Generator | None, device: str | torch.device
) -> torch.Generator | None:
    """The generator this rank draws from in a sharded computation (module docstring):
    ``generator`` itself when not distributed, else a rank generator on ``device`` seeded
    from one draw of ``generator`` (which advances it, as the plain call would)."""
    if not dist_utils.is_distributed():
        return generator
    source = generator_device(generator)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=source))
    return dist_utils.rank_generator(seed, device)


#: diagnostics laid out ``(steps or temperatures, n_chains)``
_CHAINS_LAST = ("energy_trace", "replica_labels")


def _mean_over_ranks(value, device: torch.device):
    """Element-wise mean over the ranks of a number or tensor (a float for a number);
    communicated on ``device`` (NCCL gathers CUDA tensors only)."""
    t = torch.as_tensor(value, dtype=torch.float64).to(device)
    mean = dist_utils.all_gather_rows(t.reshape(1, *t.shape)).mean(0)
    return float(mean) if not isinstance(value, torch.Tensor) else mean.to(value.dtype)


def _chain_axis(key: str, value, n_local: int) -> int | None:
    """The axis of ``value`` that runs over this rank's chains, or ``None``."""
    if not isinstance(value, torch.Tensor) or value.ndim == 0:
        return None
    if value.ndim == 2 and value.shape[1] == n_local:
        if key in _CHAINS_LAST or value.shape[0] != n_local:
            return 1
    return 0 if value.shape[0] == n_local else None


def gather_diagnostics(diag: dict, n_local: int, device: torch.device) -> dict:
    """Per-rank diagnostics -> diagnostics over all chains: per-chain tensors (``(n, ...)``,
    or ``(T, n)`` for ``energy_trace``-like entries) gathered in rank order, ``seconds`` the
    slowest rank's, numbers and other tensors (rates) averaged over the ranks (numbers are
    communicated as tensors on ``device``, the states' device)."""
    out = {}
    for key, value in diag.items():
        axis = _chain_axis(key, value, n_local)
        if axis == 0:
            out[key] = dist_utils.all_gather_rows(value)
        elif axis == 1:
            out[key] = dist_utils.all_gather_rows(value.T.contiguous()).T
        elif key == "seconds":
            t = torch.tensor([float(value)], dtype=torch.float64, device=device)
            t = dist_utils.all_gather_rows(t)
            out[key] = float(t.max())
        elif key in ("n_steps", "steps_per_second") or not isinstance(
            value, int | float | torch.Tensor
        ):
            out[key] = value
        else:
            out[key] = _mean_over_ranks(value, device)
    if out.get("seconds", 0) > 0:
        out["steps_per_second"] = out["n_steps"] / out["seconds"]
    return out


def gather_states(x: torch.Tensor, binary: bool) -> torch.Tensor:
    """All ranks' states in rank order; binary states travel as uint8 (exact, a quarter of
    float32's bytes)."""
    if binary and x.is_floating_point():
        return dist_utils.all_gather_rows(x.to(torch.uint8)).to(x.dtype)
    return dist_utils.all_gather_rows(x)


def _shard(value, rows: slice, name: str):
    """Rows ``rows`` of a per-chain argument (``x0``, or a ``clamp`` of shape ``(N, d)``)."""
    t = torch.as_tensor(value)
    if name == "clamp" and t.ndim < 2:
        return value  # one mask (d,) for every chain
    return t[rows]


def sample_sharded(
    sampler,
    n_chains: int | None,
    n_steps: int,
    x0,
    *,
    clamp=None,
    generator: torch.Generator | None = None,
    return_diagnostics: bool = False,
    **kwargs,
):
    """``sampler.sample`` with ``n_chains`` (or the rows of ``x0``) split across the ranks
    and the results gathered on every rank (module docstring). Initialises the default
    process group first when ``torchrun`` started the process and none exists. ValueError
    naming ``n_chains`` when the world size does not divide it."""
    common = dict(clamp=clamp, return_diagnostics=return_diagnostics, **kwargs)
    dist_utils.ensure_process_group(sampler.model.device)
    if not dist_utils.is_distributed():
        return sampler.sample(n_chains, n_steps, x0, generator=generator, **common)
    if x0 is not None:
        n_rows = torch.as_tensor(x0).shape[0]
        if n_chains is not None and n_chains != n_rows:
            raise ValueError(f"n_chains={n_chains} does not match x0 with {n_rows} rows")
        n_chains = n_rows
    if n_chains is None:
        raise ValueError("give n_chains or x0")
    n_chains = check_positive_int(n_chains, "n_chains")
    rows = dist_utils.local_rows(n_chains, "n_chains")
    n_local = rows.stop - rows.start
    if x0 is not None:
        x0 = _shard(x0, rows, "x0")
    if clamp is not None:
        common["clamp"] = _shard(clamp, rows, "clamp")
    stream = rank_stream(generator, sampler.model.device)
    out = sampler.sample(
        None if x0 is not None else n_local, n_steps, x0, generator=stream, **common
    )
    if not return_diagnostics:
        return gather_states(out, sampler.model.binary)
    x, diag = out
    return gather_states(x, sampler.model.binary), gather_diagnostics(diag, n_local, x.device)
