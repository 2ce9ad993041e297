"""Parallel tempering (replica exchange) over a ladder of inverse temperatures.

Each chain holds ``K`` replicas at ``β_0 < β_1 < ... < β_{K−1} = 1`` (Swendsen & Wang 1986;
Geyer 1991; Earl & Deem 2005). One step sweeps every replica with a heat-bath kernel
(block Gibbs or Gibbs) at its own β, then proposes to exchange the states of neighbouring
replicas ``(k, k+1)``, the even pairs ``k = 0, 2, ...`` and the odd pairs ``k = 1, 3, ...``
on alternate steps. Replica ``k`` targets ``π_k(x) ∝ exp(−E_k(x))``; the exchange of
``x_k`` and ``x_{k+1}`` is accepted with probability

    min(1, exp(E_k(x_k) + E_{k+1}(x_{k+1}) − E_k(x_{k+1}) − E_{k+1}(x_k)))

which for ``E_k = β_k U`` is ``min(1, exp((β_{k+1} − β_k)(U(x_{k+1}) − U(x_k))))``: a
hotter replica holding a lower energy than its colder neighbour always moves down. The
kernel fixes ``E_k``: ``β_k U(x)`` for Gibbs and chromatic block Gibbs; for a model with
its own ``block_gibbs_sweep`` the model's ``tempered_energy(x, beta)`` (an RBM's sweep
tempers the joint energy with the hidden units, so its visible law is not ``exp(−β F)``).

All replicas of all chains live in one tensor ``(K·n, d)``, replica-major (row ``k·n + c``
is replica ``k`` of chain ``c``), swept by one batched kernel call with a per-row β
``(K·n, 1)``. The states returned are the ``β = 1`` replicas. The replicas persist between
calls with the same number of chains (PT-PCD: ``ContrastiveDivergence`` passes its cold
chains and the hot replicas continue); ``reset()`` drops them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

from .._validation import check_positive_int
from ..models.base import EnergyModel
from .base import Sampler
from .block_gibbs import BlockGibbsSampler
from .gibbs import GibbsSampler


def geometric_ladder(n_temperatures: int, beta_min: float) -> list[float]:
    """``K`` inverse temperatures from ``beta_min`` to 1, geometrically spaced (K = 1: [1])."""
    if isinstance(n_temperatures, bool) or not isinstance(n_temperatures, int):
        raise TypeError(f"n_temperatures must be an int, got {type(n_temperatures).__name__}")
    if n_temperatures < 1:
        raise ValueError(f"n_temperatures must be >= 1, got {n_temperatures}")
    if not 0 < float(beta_min) < 1:
        raise ValueError(f"beta_min must be in (0, 1), got {beta_min}")
    if n_temperatures == 1:
        return [1.0]
    k = torch.arange(n_temperatures, dtype=torch.float64) / (n_temperatures - 1)
    out = float(beta_min) ** (1 - k)
    out[-1] = 1.0
    return out.tolist()


def check_ladder(betas) -> torch.Tensor:
    """``betas`` as a float64 tensor ``(K,)``: finite, ``>= 0``, strictly ascending, last 1."""
    try:
        b = torch.as_tensor(betas, dtype=torch.float64).detach().cpu()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"betas must be a sequence of floats, got {type(betas).__name__}") from None
    if b.dim() != 1 or b.numel() == 0:
        raise ValueError(f"betas must be a non-empty 1-D sequence, got shape {tuple(b.shape)}")
    if not torch.isfinite(b).all() or (b < 0).any():
        raise ValueError(f"betas must be finite and >= 0, got {b.tolist()}")
    if (b[1:] <= b[:-1]).any():
        raise ValueError(f"betas must be strictly ascending (hottest first), got {b.tolist()}")
    if b[-1].item() != 1.0:
        raise ValueError(f"the last of betas must be exactly 1.0 (the target), got {b[-1].item()}")
    return b


def swap_log_acceptance(e_lo_lo, e_hi_hi, e_lo_hi, e_hi_lo) -> torch.Tensor:
    """``log α = E_lo(x_lo) + E_hi(x_hi) − E_lo(x_hi) − E_hi(x_lo)`` for exchanging ``x_lo``
    (held by the hotter replica) and ``x_hi`` (the colder); ``E_b = −log π_b`` unnormalised.
    With ``E_b = b U``: ``(b_hi − b_lo)(U(x_hi) − U(x_lo))``."""
    return e_lo_lo + e_hi_hi - e_lo_hi - e_hi_lo


def advance_round_trips(phase: torch.Tensor, position: torch.Tensor, n_temperatures: int):
    """One update of the round-trip state machine; returns ``(phase, completed)``.

    ``position`` is each walker's replica index (0 the hottest, ``K−1`` the β = 1 one).
    ``phase``: 0 = not yet at β = 1, 1 = left β = 1, 2 = reached the hottest since. A round
    trip completes when a walker in phase 2 is back at β = 1.
    """
    at_cold = position == n_temperatures - 1
    phase = torch.where((position == 0) & (phase == 1), torch.full_like(phase, 2), phase)
    completed = at_cold & (phase == 2)
    phase = torch.where(at_cold, torch.ones_like(phase), phase)
    return phase, completed


def count_round_trips(positions: torch.Tensor, n_temperatures: int) -> torch.Tensor:
    """Round trips β = 1 → hottest → β = 1 of each walker over a trajectory
    ``positions (T, W)`` of replica indices; returns ``(W,)`` counts."""
    positions = torch.as_tensor(positions, dtype=torch.long)
    phase = torch.zeros(positions.shape[1:], dtype=torch.int8)
    count = torch.zeros(positions.shape[1:], dtype=torch.long)
    for pos in positions:
        phase, done = advance_round_trips(phase, pos, n_temperatures)
        count += done
    return count


def equalise_ladder(betas, acceptance, *, damping: float = 0.5, floor: float = 1e-3):
    """One step of the ladder towards equal swap acceptance between neighbours.

    Gap ``k`` gets the length ``r_k = max(1 − A_k, floor)`` (its rejection rate); the new
    interior temperatures sit at equal cumulative length, interpolated piecewise linearly in
    ``log β`` (in ``β`` if ``β_0 = 0``), and mixed with the old ones:
    ``β ← (1 − damping) β + damping β_new``. The ends stay where they are.
    """
    b = check_ladder(betas)
    a = torch.as_tensor(acceptance, dtype=torch.float64).cpu().nan_to_num(0.5)
    if a.shape != (b.numel() - 1,):
        raise ValueError(f"acceptance must have shape ({b.numel() - 1},), got {tuple(a.shape)}")
    if b.numel() < 3:
        return b
    cum = torch.cat([a.new_zeros(1), (1 - a).clamp(min=floor).cumsum(0)])
    target = torch.linspace(0.0, cum[-1].item(), b.numel(), dtype=torch.float64)
    coord = b.log() if b[0] > 0 else b
    seg = torch.searchsorted(cum, target, right=True).clamp(1, b.numel() - 1)
    w = (target - cum[seg - 1]) / (cum[seg] - cum[seg - 1])
    new = coord[seg - 1] + w * (coord[seg] - coord[seg - 1])
    new = new.exp() if b[0] > 0 else new
    out = (1 - damping) * b + damping * new
    out[0], out[-1] = b[0], 1.0
    return out


@dataclasses.dataclass
class ReplicaState:
    """Replicas ``x (K·n, d)`` (replica-major), walker ``labels (K, n)``, round-trip
    ``phase (K, n)``, the parity of the next exchange, and counters since the last reset:
    exchanges ``accepted``/``attempted`` per pair ``(K−1,)``, ``round_trips`` per chain."""

    x: torch.Tensor
    labels: torch.Tensor
    phase: torch.Tensor
    parity: int
    accepted: torch.Tensor
    attempted: torch.Tensor
    round_trips: torch.Tensor


def _make_kernel(model: EnergyModel, kernel, coloring) -> Sampler:
    """The kernel: ``"auto"`` (block Gibbs where the model has a block structure, else
    Gibbs), ``"block-gibbs"``, ``"gibbs"``, or a sampler on ``model`` that takes a per-row β
    (a Gibbs/BlockGibbs sampler, or any sampler declaring ``row_beta = True``)."""
    if isinstance(kernel, Sampler):
        if not isinstance(kernel, GibbsSampler | BlockGibbsSampler) and not getattr(
            kernel, "row_beta", False
        ):
            raise TypeError(
                f"kernel {type(kernel).__name__} does not declare row_beta = True: its step must "
                "take beta as a (N, 1) tensor (one inverse temperature per row) and target "
                "exp(−β U)"
            )
        if kernel.model is not model:
            raise ValueError("kernel must be a sampler built on the same model")
        if coloring is not None:
            raise ValueError("coloring applies to a kernel built by name, not to a sampler")
        return kernel
    if kernel == "auto":  # a model's own sweep, or a declared interaction graph (not built here)
        declares_graph = type(model).interaction_graph is not EnergyModel.interaction_graph
        structured = hasattr(model, "block_gibbs_sweep") or declares_graph
        kernel = "block-gibbs" if structured or coloring is not None else "gibbs"
    if kernel == "block-gibbs":
        return BlockGibbsSampler(model, coloring=coloring)
    if kernel == "gibbs":
        if coloring is not None:
            raise ValueError("coloring applies to kernel='block-gibbs' only")
        return GibbsSampler(model)
    raise ValueError(
        "kernel must be 'auto', 'block-gibbs', 'gibbs' or a GibbsSampler/BlockGibbsSampler, "
        f"got {kernel!r}"
    )


class ParallelTempering(Sampler):
    """Replica-exchange sampler (see the module docstring); ``sample`` follows the contract.

    Args:
        model: a binary EnergyModel (Ising, RBM, ``DBM.joint``, a user's energy...).
        betas: the ladder ``β_0 < ... < β_{K−1} = 1`` (hottest first), or an int ``K`` for a
            geometric ladder from ``beta_min`` to 1.
        beta_min: the hottest β of a geometric ladder (``betas`` an int).
        kernel: ``"auto"`` (block Gibbs where the model has its own sweep or an interaction
            graph, else single-site Gibbs), ``"block-gibbs"``, ``"gibbs"``, or a sampler built
            on ``model``: a ``GibbsSampler``/``BlockGibbsSampler``, or any ``Sampler`` that
            declares ``row_beta = True`` (its ``step`` takes ``beta`` as an ``(N, 1)`` tensor,
            one β per row, and targets ``exp(−β U)``; e.g. a graph edge sampler).
        coloring: passed to the block-Gibbs kernel.
        adapt: before the first run, move the ladder towards equal swap acceptance
            (``adapt_ladder`` with ``adapt_steps`` sweeps per round, ``adapt_rounds`` rounds).
        persistent: keep the hot replicas between calls with the same number of chains.

    ``sample``'s ``beta`` scales the whole ladder (replica ``k`` runs at ``β_t · β_k``).
    ``clamp`` holds the masked coordinates at ``x0`` in every replica. New replicas start as
    copies of their chain's starting state. Diagnostics add ``swap_acceptance`` ``(K−1,)``
    (NaN for a pair never proposed), ``round_trips`` ``(n,)`` completed in this call,
    ``replica_labels`` ``(K, n)`` (which walker holds each temperature), ``betas`` and the
    kernel's ``flip_rate``.
    """

    binary = True
    other_domain_hint = "; use LangevinSampler on R^d"

    def __init__(
        self,
        model: EnergyModel,
        betas: Sequence[float] | torch.Tensor | int = 10,
        *,
        beta_min: float = 0.1,
        kernel="auto",
        coloring=None,
        adapt: bool = False,
        adapt_steps: int = 100,
        adapt_rounds: int = 10,
        persistent: bool = True,
    ):
        super().__init__(model)
        if isinstance(betas, int) and not isinstance(betas, bool):
            betas = geometric_ladder(betas, beta_min)
        self.betas = check_ladder(betas)
        self.kernel = _make_kernel(model, kernel, coloring)
        self._tempered = self._tempered_energy_fn()
        self.adapt = bool(adapt)
        self.adapt_steps = check_positive_int(adapt_steps, "adapt_steps")
        self.adapt_rounds = check_positive_int(adapt_rounds, "adapt_rounds")
        self.persistent = bool(persistent)
        self.state: ReplicaState | None = None
        self._adapted = False

    @property
    def n_temperatures(self) -> int:
        return self.betas.numel()

    def _tempered_energy_fn(self):
        """``E(x (N, d), beta (N, r)) -> (N, r)``, the kernel's ``−log π_β`` (unnormalised)."""
        own_sweep = isinstance(self.kernel, BlockGibbsSampler) and self.kernel.blocks is None
        if not own_sweep:
            return lambda x, beta: self.model(x).unsqueeze(1) * beta
        fn = getattr(self.model, "tempered_energy", None)
        if fn is None:
            raise TypeError(
                f"{type(self.model).__name__} has its own block_gibbs_sweep but no "
                "tempered_energy(x, beta) stating the sweep's law at beta; use kernel='gibbs'"
            )
        return fn

    def reset(self) -> None:
        """Forget the replicas and counters (the next call starts every replica afresh)."""
        self.state = None

    def state_dict(self) -> dict:
        """The ladder and the replica state (tensors), for checkpoints."""
        st = None if self.state is None else dataclasses.asdict(self.state)
        return {"betas": self.betas.clone(), "state": st, "adapted": self._adapted}

    def load_state_dict(self, saved: dict) -> None:
        """Restore what ``state_dict`` returned."""
        self.betas = check_ladder(saved["betas"])
        st = saved.get("state")
        self.state = None if st is None else ReplicaState(**st)
        self._adapted = bool(saved.get("adapted", False))

    # -------------------------------------------------------------- running
    def step(self, x, beta, clamp, x0, generator):
        """One PT step (sweeps, then exchanges) of the chains whose β = 1 states are ``x``;
        the hot replicas continue as in ``run_chains``. Returns ``(x, {"flip_rate": ...})``."""
        x, _, stats = self._run(x, [float(beta)], clamp, x0, generator)
        return x, {"flip_rate": stats["flip_rate"]}

    def run_chains(self, x, betas, clamp, x0, generator, *, thin=1, record=False):
        """Run ``len(betas)`` PT steps from the β = 1 states ``x (n, d)`` (see the class)."""
        if self.adapt and not self._adapted:
            self._adapted = True
            x = self._adapt_rounds(x, clamp, x0, generator, self.adapt_steps, self.adapt_rounds)
        return self._run(x, betas, clamp, x0, generator, thin=thin, record=record)

    def _start(self, x, clamp, x0) -> ReplicaState:
        """The replica state for chains ``x``: the kept one (cold replicas replaced by ``x``)
        when it matches, else every replica a copy of ``x``."""
        K, (n, d) = self.n_temperatures, x.shape
        st = self.state
        fits = (
            self.persistent
            and st is not None
            and st.x.shape == (K * n, d)
            and st.x.device == x.device
            and st.x.dtype == x.dtype
        )
        if not fits:
            dev = x.device
            labels = torch.arange(K, device=dev).unsqueeze(1).expand(K, n).clone()
            phase = torch.zeros(K, n, dtype=torch.int8, device=dev)
            phase[K - 1] = 1
            zeros = torch.zeros(max(K - 1, 0), dtype=torch.long, device=dev)
            st = ReplicaState(
                x.repeat(K, 1), labels, phase, 0, zeros, zeros.clone(),
                torch.zeros(n, dtype=torch.long, device=dev),
            )  # fmt: skip
        else:
            st.x[(K - 1) * n :] = x
        if clamp is not None:
            st.x = torch.where(clamp.repeat(K, 1), x0.repeat(K, 1), st.x)
        return st

    def _run(self, x, betas, clamp, x0, generator, *, thin=1, record=False):
        K, n = self.n_temperatures, x.shape[0]
        st = self._start(x, clamp, x0)
        clamp_rep = None if clamp is None else clamp.repeat(K, 1)
        x0_rep = None if clamp is None else x0.repeat(K, 1)
        ladder = self.betas.to(device=x.device, dtype=x.dtype)
        rows = ladder.repeat_interleave(n).unsqueeze(1)  # (K·n, 1)
        acc0, att0, trips0 = st.accepted.clone(), st.attempted.clone(), st.round_trips.clone()
        trace, flips = [], x.new_zeros(())
        for t, scale in enumerate(betas):
            st.x, stats = self.kernel.step(st.x, rows * scale, clamp_rep, x0_rep, generator)
            flips = flips + stats.get("flip_rate", 0.0)
            self._exchange(st, ladder * scale, generator)
            if record and (t + 1) % thin == 0:
                trace.append(self._energy(st.x[(K - 1) * n :]))
        self.state = st
        attempted = (st.attempted - att0).double()
        out = {
            "flip_rate": float(flips) / max(len(betas), 1),
            "swap_acceptance": (st.accepted - acc0).double() / attempted,
            "round_trips": st.round_trips - trips0,
            "replica_labels": st.labels.clone(),
            "betas": self.betas.clone(),
        }
        return st.x[(K - 1) * n :].clone(), trace, out

    def _exchange(self, st: ReplicaState, ladder: torch.Tensor, generator) -> None:
        """Propose the exchanges of this step's pairs (even or odd), then update the labels,
        the round-trip phases and the counters, all in place on ``st``."""
        K = self.n_temperatures
        if K < 2:
            return
        lo = torch.arange(st.parity, K - 1, 2, device=st.x.device)
        st.parity = 1 - st.parity
        if lo.numel() > 0:
            n, d = st.labels.shape[1], st.x.shape[1]
            st.x = st.x.contiguous()
            X = st.x.view(K, n, d)  # a view: writes to X land in st.x
            hi = lo + 1
            P = lo.numel()
            xs = torch.cat([X[lo], X[hi]]).reshape(2 * P * n, d)
            b_lo = ladder[lo].repeat_interleave(n).repeat(2)
            b_hi = ladder[hi].repeat_interleave(n).repeat(2)
            e = self._tempered(xs, torch.stack([b_lo, b_hi], 1)).view(2, P, n, 2)
            log_alpha = swap_log_acceptance(e[0, ..., 0], e[1, ..., 1], e[1, ..., 0], e[0, ..., 1])
            u = torch.rand(P, n, generator=generator, device=st.x.device, dtype=log_alpha.dtype)
            accept = u.log() < log_alpha
            for arr, pair in ((X, xs.view(2, P, n, d)), (st.labels, None), (st.phase, None)):
                a_lo, a_hi = (arr[lo], arr[hi]) if pair is None else pair
                m = accept.view(P, n, *([1] * (arr.dim() - 2)))
                arr[lo] = torch.where(m, a_hi, a_lo)
                arr[hi] = torch.where(m, a_lo, a_hi)
            st.accepted[lo] += accept.sum(1)
            st.attempted[lo] += n
        slots = torch.arange(K, device=st.x.device).unsqueeze(1)
        st.phase, done = advance_round_trips(st.phase, slots, K)
        st.round_trips += done[K - 1]

    # ---------------------------------------------------------- adaptation
    def _adapt_rounds(self, x, clamp, x0, generator, n_steps, n_rounds, damping=0.5):
        """``n_rounds`` × (``n_steps`` PT steps, then ``equalise_ladder``); the β = 1 states."""
        for _ in range(n_rounds):
            x, _, stats = self._run(x, [1.0] * n_steps, clamp, x0, generator)
            self.betas = equalise_ladder(self.betas, stats["swap_acceptance"], damping=damping)
        return x

    def adapt_ladder(
        self,
        n_chains: int | None = None,
        n_steps: int = 100,
        x0: torch.Tensor | None = None,
        *,
        n_rounds: int = 10,
        damping: float = 0.5,
        clamp: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Move the interior temperatures towards equal swap acceptance: ``n_rounds`` rounds
        of ``n_steps`` PT steps, each followed by ``equalise_ladder``; returns the new ladder.
        The replicas continue from round to round (and into the next ``sample``)."""
        self._adapted = True
        if not 0 < damping <= 1:
            raise ValueError(f"damping must be in (0, 1], got {damping}")
        for _ in range(n_rounds):
            x0, diag = self.sample(
                n_chains, n_steps, x0, clamp=clamp, generator=generator, return_diagnostics=True
            )
            self.betas = equalise_ladder(self.betas, diag["swap_acceptance"], damping=damping)
            n_chains = None
        return self.betas.clone()
