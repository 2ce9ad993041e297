"""Deep Boltzmann machine with binary layers ``x_0 = v, x_1 = h¹, ..., x_L = h^L`` (L ≥ 2).

``E(x) = −Σ_{l<L} x_lᵀ W_l x_{l+1} − Σ_l b_lᵀ x_l`` with ``W_l`` of shape ``(n_l, n_{l+1})``
(the RBM convention ``E = −vᵀWh − bᵀv − cᵀh``, stacked). Layers of equal parity do not interact, so
given the even layers the odd ones are independent Bernoullis and vice versa: one block
Gibbs sweep redraws all odd layers, then all even layers; and either parity class can be
summed out analytically:
``U_even(x_0, x_2, ...) = −Σ_{l even} b_lᵀx_l − Σ_{l odd} softplus(input_l)`` with
``input_l = b_l + x_{l−1}W_{l−1} + x_{l+1}W_lᵀ``.

How the sampler contract (states ``(n_chains, d)``) sees a DBM:
- ``DBM`` itself is an EnergyModel on the visible units (``dim = n_0``); ``energy(v)`` is
  the exact free energy, computed by summing one parity class analytically and enumerating
  the hidden layers of the other (feasible when those hold ≤ ``max_enumerated`` units;
  otherwise a ``ValueError`` points to AIS and the variational bound). ``GibbsSampler``
  works on it for small models through the generic energy differences.
- ``DBM.joint`` is an EnergyModel on the concatenated state ``[v, h¹, ..., h^L]``
  (``dim = Σ n_l``) with the joint energy, an ``interaction_graph`` and a
  ``block_gibbs_sweep`` (even/odd), so ``BlockGibbsSampler(dbm.joint)`` samples the joint
  distribution with the common contract (clamp visible columns to condition on ``v``).
- ``DBM.sample`` returns visible states of joint chains; ``DBM.sample_joint`` all layers.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import networkx as nx
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_positive_int, check_states
from ..states import all_states
from .base import EnergyModel


def _bernoulli(p: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return (u < p).to(p.dtype)


def _entropy(mu: torch.Tensor) -> torch.Tensor:
    """Summed Bernoulli entropy ``−Σ μ log μ + (1 − μ) log(1 − μ)`` per row, ``(B,)``."""
    return -(torch.xlogy(mu, mu) + torch.xlogy(1 - mu, 1 - mu)).sum(1)


class DBM(EnergyModel):
    """Binary deep Boltzmann machine.

    Args:
        layer_sizes: ``(n_0, n_1, ..., n_L)``, visible first, at least two hidden layers.
        weight_std: initial ``W_l ~ N(0, weight_std²)``; biases start at 0.
        max_enumerated: largest number of hidden units ``energy(v)`` enumerates (exactly).
        generator, dtype, device: of the initial parameters.

    Parameters: ``weights[l]`` ``(n_l, n_{l+1})`` and ``biases[l]`` ``(n_l,)``.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        *,
        weight_std: float = 0.01,
        max_enumerated: int = 16,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device | None = None,
    ):
        if isinstance(layer_sizes, int | str) or not isinstance(layer_sizes, Sequence):
            raise TypeError(f"layer_sizes must be a sequence of ints, got {layer_sizes!r}")
        sizes = tuple(check_positive_int(n, "layer_sizes[i]") for n in layer_sizes)
        if len(sizes) < 3:
            raise ValueError(
                f"layer_sizes must list the visible layer and at least 2 hidden layers, got "
                f"{sizes} (use RBM for one hidden layer)"
            )
        super().__init__(sizes[0], binary=True)
        self.layer_sizes = sizes
        self.max_enumerated = check_positive_int(max_enumerated, "max_enumerated")
        self.weights = nn.ParameterList(
            [
                nn.Parameter(
                    (weight_std * torch.randn(a, b, generator=generator, dtype=torch.float64)).to(
                        dtype=dtype, device=device
                    )
                )
                for a, b in zip(sizes[:-1], sizes[1:])
            ]
        )
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.zeros(n, dtype=dtype, device=device)) for n in sizes]
        )

    @property
    def n_layers(self) -> int:
        """Number of layers including the visible one (``L + 1``)."""
        return len(self.layer_sizes)

    # ------------------------------------------------------------------ layers
    def check_layers(self, layers: Sequence[torch.Tensor], name: str = "layers") -> list:
        """Check a full state: one ``(B, n_l)`` binary (or mean-field, with ``binary=False``)
        tensor per layer."""
        if len(layers) != self.n_layers:
            raise ValueError(f"{name} must hold {self.n_layers} layers, got {len(layers)}")
        out = [
            check_states(x, n, name=f"{name}[{l}]")
            for l, (x, n) in enumerate(zip(layers, self.layer_sizes))
        ]
        if len({x.shape[0] for x in out}) != 1:
            raise ValueError(f"{name}: every layer must have the same batch size")
        return out

    def split(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Concatenated state ``(B, Σ n_l)`` -> list of layers."""
        return list(torch.split(x, list(self.layer_sizes), dim=1))

    def layer_input(self, layers: Sequence[torch.Tensor], l: int) -> torch.Tensor:
        """Total input to layer ``l``: ``b_l + x_{l−1} W_{l−1} + x_{l+1} W_lᵀ``, ``(B, n_l)``."""
        ref = layers[l - 1] if l > 0 else layers[l + 1]
        out = self.biases[l].expand(ref.shape[0], -1)
        if l > 0:
            out = torch.addmm(out, layers[l - 1], self.weights[l - 1])
        if l < self.n_layers - 1:
            out = torch.addmm(out, layers[l + 1], self.weights[l].T)
        return out

    def joint_energy(self, v: torch.Tensor, *h: torch.Tensor) -> torch.Tensor:
        """``E(v, h¹, ..., h^L) = −Σ_l x_lᵀ W_l x_{l+1} − Σ_l b_lᵀ x_l``, shape ``(B,)``.

        Also exact for mean-field values ``μ`` in place of ``h`` (the energy is linear in
        each layer, so ``E_q[E] = E(v, μ)`` under a factorised ``q``)."""
        layers = [self.check_input(v, "v"), *h]
        if len(layers) != self.n_layers:
            raise ValueError(f"joint_energy needs v and {self.n_layers - 1} hidden layers")
        for l, (x, n) in enumerate(zip(layers, self.layer_sizes)):
            if x.dim() != 2 or x.shape[1] != n or x.shape[0] != layers[0].shape[0]:
                raise ValueError(f"layer {l} must have shape (B, {n}), got {tuple(x.shape)}")
        return self._joint_energy(layers)

    def _joint_energy(self, layers: Sequence[torch.Tensor]) -> torch.Tensor:
        e = -sum(x @ b for x, b in zip(layers, self.biases))
        for l, W in enumerate(self.weights):
            e = e - ((layers[l] @ W) * layers[l + 1]).sum(1)
        return e

    # ------------------------------------------------------ summing out a parity
    def parity_free_energy(
        self, layers: Sequence[torch.Tensor | None], parity: int
    ) -> torch.Tensor:
        """Energy of the layers of ``parity`` (0: even incl. ``v``, 1: odd) with the other
        parity summed out: ``−Σ_{l∈P} b_lᵀx_l − Σ_{l∉P} softplus(input_l)``, ``(B,)``.

        ``layers`` is the full list; entries of the summed parity are ignored (may be None).
        """
        kept = [l for l in range(self.n_layers) if l % 2 == parity]
        zero = [torch.zeros_like(self.biases[l]) for l in range(self.n_layers)]
        B = layers[kept[0]].shape[0]
        full = [
            layers[l] if l % 2 == parity else zero[l].expand(B, -1) for l in range(self.n_layers)
        ]
        e = -sum(full[l] @ self.biases[l] for l in kept)
        for l in range(self.n_layers):
            if l % 2 != parity:
                e = e - F.softplus(self.layer_input(full, l)).sum(1)
        return e

    def even_free_energy(self, v: torch.Tensor, *h_even: torch.Tensor) -> torch.Tensor:
        """``U(v, h², h⁴, ...)`` with the odd layers summed out (for 2 hidden layers: the
        free energy of ``(v, h²)``), shape ``(B,)``."""
        layers: list = [None] * self.n_layers
        layers[0] = v
        evens = list(range(2, self.n_layers, 2))
        if len(h_even) != len(evens):
            raise ValueError(f"even_free_energy needs v and the layers {evens}")
        for l, x in zip(evens, h_even):
            layers[l] = x
        return self.parity_free_energy(layers, 0)

    # ----------------------------------------------------------- free energy
    def _enumeration_plan(self, include_visible: bool) -> tuple[int, int]:
        """``(parity to enumerate, number of units)``: the cheaper of the two classes
        (hidden layers only unless ``include_visible``)."""
        counts = []
        for parity in (0, 1):
            ls = [l for l in range(self.n_layers) if l % 2 == parity and (include_visible or l > 0)]
            counts.append(sum(self.layer_sizes[l] for l in ls))
        parity = 0 if counts[0] <= counts[1] else 1
        return parity, counts[parity]

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """Exact free energy ``F(v) = −log Σ_h exp(−E(v, h))``, shape ``(B,)``.

        Sums one parity class of hidden layers analytically and enumerates the other
        (``2^k`` terms, ``k`` ≤ ``max_enumerated``); raises ``ValueError`` otherwise (use
        ``evaluation.ais`` for ``log Z`` and ``variational_lower_bound`` for ``log p(v)``).
        """
        v = self.check_input(x, "x")
        parity, k = self._enumeration_plan(include_visible=False)
        if k > self.max_enumerated:
            raise ValueError(
                f"the exact free energy of this DBM enumerates 2^{k} hidden configurations "
                f"(max_enumerated={self.max_enumerated}); use variational_lower_bound(v, log_z) "
                f"with discrete_ebm.evaluation.ais.log_partition instead"
            )
        hidden = [l for l in range(1, self.n_layers) if l % 2 == parity]
        B = v.shape[0]
        terms = []
        for a in range(0, 2**k, 4096):
            s = all_states(k, a, min(a + 4096, 2**k), dtype=v.dtype, device=v.device)
            S = s.shape[0]
            layers: list = [None] * self.n_layers
            layers[0] = v.repeat_interleave(S, 0)
            parts = torch.split(s, [self.layer_sizes[l] for l in hidden], dim=1)
            for l, p in zip(hidden, parts):
                layers[l] = p.repeat(B, 1)
            if parity == 0:
                u = self.parity_free_energy(layers, 0)  # v and even hidden kept
            else:
                # keep the odd layers; v (even) is observed, so it keeps its bias and its
                # coupling to h¹; the even hidden layers are summed:
                # U = −bᵀv − vᵀW_0h¹ − Σ_odd bᵀh − Σ_{even>0} softplus(input)
                u = -(layers[0] @ self.biases[0]) - ((layers[0] @ self.weights[0]) * layers[1]).sum(
                    1
                )
                u = u - sum(layers[l] @ self.biases[l] for l in hidden)
                for l in range(2, self.n_layers, 2):
                    u = u - F.softplus(self.layer_input(layers, l)).sum(1)
            terms.append(u.view(B, S))
        return -torch.logsumexp(-torch.cat(terms, 1), 1)

    def exact_log_partition(self, beta: float = 1.0, *, chunk_size: int = 2**14) -> torch.Tensor:
        """Exact ``log Z`` (float64): enumerates the smaller parity class (``≤ 22`` units,
        visible included) and sums the other analytically. ``β ≠ 1`` enumerates ``v`` with
        the exact free energy. Raises ``ValueError`` when too large (use AIS)."""
        beta = float(beta)
        if beta != 1.0:
            from ..evaluation import exact

            return torch.logsumexp(-beta * exact.energies(self), 0)
        parity, k = self._enumeration_plan(include_visible=True)
        if k > 22:
            raise ValueError(
                f"exact log Z enumerates 2^{k} states (max 2^22); use "
                "discrete_ebm.evaluation.ais.log_partition"
            )
        m = self if self.dtype == torch.float64 else copy.deepcopy(self).double()
        with torch.no_grad():
            kept = [l for l in range(self.n_layers) if l % 2 == parity]
            out = []
            for a in range(0, 2**k, chunk_size):
                stop = min(a + chunk_size, 2**k)
                s = all_states(k, a, stop, dtype=torch.float64, device=self.device)
                layers: list = [None] * self.n_layers
                for l, p in zip(kept, torch.split(s, [self.layer_sizes[l] for l in kept], 1)):
                    layers[l] = p
                out.append(-m.parity_free_energy(layers, parity))
            return torch.logsumexp(torch.cat(out), 0)

    # ---------------------------------------------------------------- sampling
    def gibbs_sweep(
        self,
        layers: list[torch.Tensor],
        *,
        beta: float = 1.0,
        clamp: torch.Tensor | None = None,
        v0: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> list[torch.Tensor]:
        """One even/odd sweep at inverse temperature β: odd layers ``~ σ(β·input)`` given the
        even ones, then even layers given the odd ones. ``clamp`` ``(B, n_0)`` holds visible
        units at ``v0`` (``clamp=True`` everywhere = sampling the posterior ``p(h | v)``)."""
        layers = list(layers)
        for parity in (1, 0):
            for l in range(parity, self.n_layers, 2):
                new = _bernoulli(torch.sigmoid(beta * self.layer_input(layers, l)), generator)
                if l == 0 and clamp is not None:
                    new = torch.where(clamp, v0, new)
                layers[l] = new
        return layers

    def init_layers(self, n: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Uniform random states of every layer, ``n`` chains."""
        return [
            _bernoulli(torch.full((n, k), 0.5, dtype=self.dtype, device=self.device), generator)
            for k in self.layer_sizes
        ]

    def sample_joint(
        self,
        n_chains: int,
        n_steps: int,
        *,
        init: list[torch.Tensor] | None = None,
        beta: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> list[torch.Tensor]:
        """``n_steps`` even/odd sweeps of joint chains from ``init`` (uniform if None)."""
        n_steps = check_positive_int(n_steps, "n_steps", allow_zero=True)
        with torch.no_grad():
            if init is None:
                layers = self.init_layers(check_positive_int(n_chains, "n_chains"), generator)
            else:
                layers = [x.clone() for x in self.check_layers(init, "init")]
            for _ in range(n_steps):
                layers = self.gibbs_sweep(layers, beta=beta, generator=generator)
        return layers

    def sample(self, n_chains: int, n_steps: int, *, generator=None) -> torch.Tensor:
        """Visible states ``(n_chains, n_0)`` after ``n_steps`` joint sweeps from uniform."""
        return self.sample_joint(n_chains, n_steps, generator=generator)[0]

    def sample_posterior(
        self,
        v: torch.Tensor,
        n_steps: int,
        *,
        init: list[torch.Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> list[torch.Tensor]:
        """Block Gibbs on ``p(h | v)`` (visible clamped), ``n_steps`` sweeps starting from
        ``init`` or from a draw of the mean-field posterior; returns all layers."""
        v = self.check_input(v, "v")
        with torch.no_grad():
            if init is None:
                mu = self.mean_field(v)
                layers = [v] + [_bernoulli(m, generator) for m in mu]
            else:
                layers = [v] + [x.clone() for x in init[1:]]
            clamp = torch.ones_like(v, dtype=torch.bool)
            for _ in range(check_positive_int(n_steps, "n_steps", allow_zero=True)):
                layers = self.gibbs_sweep(layers, clamp=clamp, v0=v, generator=generator)
        return layers

    @property
    def joint(self) -> DBMJoint:
        """EnergyModel view on the concatenated state ``[v, h¹, ..., h^L]`` (see module doc)."""
        return DBMJoint(self)  # not cached: a cached child module would make a cycle

    # -------------------------------------------------------------- mean field
    def mean_field(
        self,
        v: torch.Tensor,
        n_iter: int = 10,
        *,
        init: list[torch.Tensor] | None = None,
    ) -> list[torch.Tensor]:
        """Mean-field posterior ``q(h | v) = Π_l Π_j Bernoulli(μ_{l,j})``; returns
        ``[μ¹, ..., μ^L]``.

        Initialised by a bottom-up pass that doubles the upward input of the middle layers
        (they will also get top-down input; Salakhutdinov & Hinton 2009), then ``n_iter``
        block updates ``μ_l = σ(b_l + μ_{l−1}W_{l−1} + μ_{l+1}W_lᵀ)`` over the odd then the
        even hidden layers. Each block update maximises the bound exactly in its block, so
        the lower bound never decreases.
        """
        v = self.check_input(v, "v")
        if init is None:
            mu = [v]
            for l in range(1, self.n_layers):
                scale = 2.0 if l < self.n_layers - 1 else 1.0
                mu.append(torch.sigmoid(self.biases[l] + scale * (mu[-1] @ self.weights[l - 1])))
        else:
            mu = [v] + list(init)
        for _ in range(n_iter):
            for parity in (1, 0):
                for l in range(1 if parity else 2, self.n_layers, 2):
                    mu[l] = torch.sigmoid(self.layer_input(mu, l))
        return mu[1:]

    def variational_lower_bound(
        self, v: torch.Tensor, log_z: float | torch.Tensor, *, n_iter: int = 30
    ) -> torch.Tensor:
        """``log p(v) ≥ −E(v, μ) + Σ_l H(μ_l) − log Z`` with the mean-field ``μ``; ``(B,)``."""
        mu = self.mean_field(v, n_iter)
        return -self._joint_energy([v, *mu]) + sum(_entropy(m) for m in mu) - log_z

    # ---------------------------------------------------------------- AIS path
    def ais_path(
        self, base_logits: torch.Tensor, hidden_logits: dict[int, torch.Tensor] | None = None
    ) -> DBMAnnealingPath:
        """AIS on the even layers with the odd ones summed out (see ``DBMAnnealingPath``)."""
        return DBMAnnealingPath(self, base_logits, hidden_logits)

    def extra_repr(self) -> str:
        return f"layer_sizes={self.layer_sizes}"


class DBMJoint(EnergyModel):
    """The DBM's joint distribution as an EnergyModel on ``[v, h¹, ..., h^L]`` (``Σ n_l``)."""

    def __init__(self, dbm: DBM):
        super().__init__(sum(dbm.layer_sizes), binary=True)
        self.dbm = dbm

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """Joint energy of concatenated states ``(B, Σ n_l)`` -> ``(B,)``."""
        x = self.check_input(x)
        return self.dbm._joint_energy(self.dbm.split(x))

    def tempered_energy(self, x: torch.Tensor, beta: torch.Tensor | float) -> torch.Tensor:
        """``β E(x)``, the law of ``block_gibbs_sweep`` at ``β`` (the sweep redraws every layer);
        ``beta`` a float -> ``(B,)``, a tensor ``(B, r)`` -> ``(B, r)``."""
        u = self.energy(x)
        return beta * u if not isinstance(beta, torch.Tensor) else beta * u.unsqueeze(1)

    def block_gibbs_sweep(self, x, *, beta=1.0, clamp=None, x0=None, generator=None):
        """Even/odd sweep on concatenated states; clamped columns keep their ``x0`` values."""
        layers = self.dbm.gibbs_sweep(self.dbm.split(x), beta=beta, generator=generator)
        new = torch.cat(layers, 1)
        if clamp is not None:
            new = torch.where(clamp, x0, new)
        return new, {"flip_rate": (new != x).sum() / x.numel()}

    def interaction_graph(self) -> nx.Graph:
        """Complete bipartite graphs between consecutive layers (nodes = columns)."""
        G = nx.Graph()
        G.add_nodes_from(range(self.dim))
        offsets = [0]
        for n in self.dbm.layer_sizes:
            offsets.append(offsets[-1] + n)
        for l in range(self.dbm.n_layers - 1):
            for i in range(offsets[l], offsets[l + 1]):
                G.add_edges_from((i, j) for j in range(offsets[l + 1], offsets[l + 2]))
        return G


class DBMAnnealingPath:
    """AIS path for a DBM (Salakhutdinov & Hinton 2009) on the even layers ``(v, h², ...)``.

    ``p_β(x) ∝ exp((1 − β) Σ_{l even} a_lᵀx_l − β E(x))``: a factorised Bernoulli ``σ(a_l)``
    base on the even layers (``a_0`` = ``base_logits`` on ``v``; ``a_l`` =
    ``hidden_logits[l]`` for the even hidden layers, 0 = uniform by default) at ``β = 0``;
    ``Z_0 = Π_{l even} Π_i (1 + e^{a_l,i}) · 2^{Σ_{l odd} n_l}``. Summing the odd layers:
    ``log f_β = (1 − β) Σ_{l even} a_lᵀx_l + β Σ_{l even} b_lᵀx_l
    + Σ_{l odd} softplus(β · (x_{l−1}W_{l−1} + x_{l+1}W_lᵀ + b_l))``. The transition draws
    the odd layers from ``p_β(odd | even)``, then the even layers from ``p_β(even | odd)``.
    A base close to the model's marginals of the hidden layers (e.g. their mean-field means
    on the data) keeps the path away from the phase change a uniform ``h²`` goes through.
    """

    def __init__(
        self,
        model: DBM,
        base_logits: torch.Tensor,
        hidden_logits: dict[int, torch.Tensor] | None = None,
    ):
        self.model = model
        kw = {"device": model.device, "dtype": model.dtype}
        self.base_logits = base_logits.to(**kw)
        self.hidden_logits = {
            l: (hidden_logits or {}).get(l, torch.zeros(model.layer_sizes[l])).to(**kw)
            for l in range(2, model.n_layers, 2)
        }
        for l, a in self.hidden_logits.items():
            if a.shape != (model.layer_sizes[l],):
                raise ValueError(f"hidden_logits[{l}] must have shape ({model.layer_sizes[l]},)")
        self._cache: tuple | None = None  # (state, its odd-layer inputs)

    def _base(self, l: int) -> torch.Tensor:
        return self.base_logits if l == 0 else self.hidden_logits[l]

    def log_z_base(self) -> float:
        m = self.model
        n_odd = sum(m.layer_sizes[l] for l in range(1, m.n_layers, 2))
        evens = sum(
            float(F.softplus(self._base(l).double()).sum()) for l in range(0, m.n_layers, 2)
        )
        return n_odd * math.log(2.0) + evens

    def sample_base(self, n: int, generator):
        m = self.model
        layers: list = [None] * m.n_layers
        for l in range(0, m.n_layers, 2):
            layers[l] = _bernoulli(torch.sigmoid(self._base(l)).expand(n, -1), generator)
        return layers

    def _odd_inputs(self, layers):
        m = self.model
        full = list(layers)
        for l in range(1, m.n_layers, 2):
            full[l] = layers[0].new_zeros(layers[0].shape[0], m.layer_sizes[l])
        return full

    def _inputs(self, layers) -> dict[int, torch.Tensor]:
        """``input_l`` of the odd layers given the even ones, kept for the last state seen
        (AIS evaluates ``log f`` at two temperatures and one transition per state)."""
        key = [layers[l] for l in range(0, self.model.n_layers, 2)]
        if self._cache is not None and all(a is b for a, b in zip(self._cache[0], key)):
            return self._cache[1]
        full = self._odd_inputs(layers)
        inputs = {l: self.model.layer_input(full, l) for l in range(1, self.model.n_layers, 2)}
        self._cache = (key, inputs)
        return inputs

    def log_f(self, layers, beta: float) -> torch.Tensor:
        m = self.model
        out = 0.0
        for l in range(0, m.n_layers, 2):
            out = out + layers[l] @ ((1 - beta) * self._base(l) + beta * m.biases[l])
        for inp in self._inputs(layers).values():
            out = out + F.softplus(beta * inp).sum(1)
        return out

    def transition(self, layers, beta: float, generator):
        m = self.model
        full = self._odd_inputs(layers)
        for l, inp in self._inputs(layers).items():
            full[l] = _bernoulli(torch.sigmoid(beta * inp), generator)
        for l in range(0, m.n_layers, 2):
            logits = beta * m.layer_input(full, l) + (1 - beta) * self._base(l)
            full[l] = _bernoulli(torch.sigmoid(logits), generator)
        return [full[l] if l % 2 == 0 else None for l in range(m.n_layers)]
