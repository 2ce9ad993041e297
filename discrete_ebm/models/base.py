"""The EnergyModel contract: ``energy(x) -> (B,)`` with ``p(x) ∝ exp(−U(x))``.

A subclass defines only ``energy``; everything else has a generic default computed from
energy differences, which models with local structure (Ising, RBM) override with exact,
cheaper formulas. Lower energy is more likely.

A user's energy needs no more than this::

    class MyEnergy(EnergyModel):
        def __init__(self):
            super().__init__()                      # dim and domain: from the first batch
            self.w = torch.nn.Parameter(torch.ones(3))

        def energy(self, x):                        # (B, d) -> (B,)
            return 0.5 * (x * x) @ self.w

The width ``dim`` and the domain ``binary`` may be declared (``super().__init__(dim,
binary=...)``, or class attributes of those names) or left to be fixed by first use, see
:class:`EnergyModel`.
"""

from __future__ import annotations

import abc

import torch
from torch import nn

from .._validation import binary_values, check_states, values_checked
from ..devices import module_device, module_dtype


class EnergyModel(nn.Module, abc.ABC):
    """Base class of every energy.

    Args:
        dim: number of coordinates ``d`` of a state. ``None`` (the default): taken from the
            first batch the model checks (``check_input``: the data given to ``fit``, a batch
            given to an objective, a sampler's ``x0``) and fixed from then on; a later batch
            of another width is refused with an error naming the model's dim.
        binary: ``True`` for states in {0, 1}^d (float tensors of 0. and 1.), ``False`` for
            R^d. ``None`` (the default): fixed by whichever comes first of
            (a) a sampler or objective that works on one domain only (``GibbsSampler``,
            ``GWGSampler``, ``BlockGibbsSampler``, ``BernoulliED``, ``PseudoLikelihood``, ...
            make it binary; ``LangevinSampler``, ``GaussianED``, the score-matching
            objectives make it continuous), or (b) the first batch the model checks: binary
            if every value is 0. or 1., continuous otherwise. Once fixed it does not change,
            and a mismatch error says how it was fixed (declared, inferred from the first
            batch, or set by a sampler/objective).

    Subclasses implement ``energy(x)``: ``(B, d) -> (B,)``. For latent-variable models it
    is the free energy of the visible units. The library calls it through ``model(x)``
    (``forward``), which refuses any other output shape.
    """

    #: declared width (class-level default for subclasses; ``None``: from the first batch)
    dim: int | None = None
    #: declared domain (class-level default for subclasses; ``None``: fixed by first use)
    binary: bool | None = None

    def __init__(self, dim: int | None = None, *, binary: bool | None = None):
        super().__init__()
        cls = type(self)
        dim = cls.dim if dim is None else dim
        binary = cls.binary if binary is None else binary
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0):
            raise ValueError(f"dim must be a positive int or None, got {dim!r}")
        self.dim = None if dim is None else int(dim)
        self.binary = None if binary is None else bool(binary)
        self._dim_source = "declared" if dim is not None else None
        self._binary_source = "declared" if binary is not None else None

    @abc.abstractmethod
    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """U(x) for a batch ``x`` of shape ``(B, d)``; returns shape ``(B,)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``energy(x)`` with its shape checked: ``(B, d) -> (B,)`` (one shape comparison)."""
        u = self.energy(x)
        if not isinstance(u, torch.Tensor):
            raise TypeError(
                f"{type(self).__name__}.energy must return a tensor of shape (B,), "
                f"got {type(u).__name__}"
            )
        if isinstance(x, torch.Tensor) and x.dim() == 2 and u.shape != x.shape[:1]:
            hint = " (end it with .squeeze(-1))" if u.shape == (x.shape[0], 1) else ""
            raise ValueError(
                f"{type(self).__name__}.energy must return shape (B,) = ({x.shape[0]},) for "
                f"x of shape {tuple(x.shape)}, got {tuple(u.shape)}{hint}"
            )
        return u

    # ----------------------------------------------------------------- helpers
    @property
    def device(self) -> torch.device:
        return module_device(self)

    @property
    def dtype(self) -> torch.dtype:
        return module_dtype(self)

    def check_input(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """Validate a batch of states for this model (width, dtype, binary values, NaN).

        A floating-point batch of another dtype than the model's parameters is converted to
        theirs, as ``fit`` does (a float64 NumPy batch for a float32 model works). An
        undeclared ``dim`` or domain is fixed here by the first batch (class docstring).
        """
        if self.dim is None or self.binary is None:
            return self._first_batch(x, name)
        x = check_states(x, self.dim, name=name, binary=self.binary, owner=self._origin)
        return self._match_dtype(x)

    def _first_batch(self, x: torch.Tensor, name: str) -> torch.Tensor:
        """``check_input`` while ``dim`` or the domain is undeclared: infer, check, then fix."""
        binary = self.binary
        readable = isinstance(x, torch.Tensor) and x.is_floating_point() and x.dim() == 2
        if binary is None and readable and values_checked(x):
            binary = binary_values(x)  # None (a NaN): checked as continuous, which refuses it
        x = check_states(x, self.dim, name=name, binary=bool(binary), owner=self._origin)
        if self.dim is None:
            self.dim, self._dim_source = int(x.shape[1]), "first batch"
        if self.binary is None and binary is not None:
            self.binary, self._binary_source = binary, "first batch"
        return self._match_dtype(x)

    def _match_dtype(self, x: torch.Tensor) -> torch.Tensor:
        for group in (self.parameters(), self.buffers()):
            for t in group:
                if t.is_floating_point():
                    return x if x.dtype == t.dtype else x.to(t.dtype)
        return x

    def _origin(self, what: str) -> str:
        """Where the model's ``dim`` (``what="dim"``) or domain (``"binary"``) comes from."""
        name = type(self).__name__
        if what == "dim":
            how = getattr(self, "_dim_source", "declared") or "declared"
            how = "taken from its first batch" if how == "first batch" else how
            return f"{name} has dim={self.dim} ({how})"
        if self.binary is None:
            return f"{name} has no declared domain yet"
        kind, other = ("binary", "R^d") if self.binary else ("continuous", "{0,1}^d")
        source = getattr(self, "_binary_source", "declared") or "declared"
        if source == "declared":
            return (
                f"{name} was declared {kind} (binary={self.binary}); for states in {other} "
                f"declare binary={not self.binary} in super().__init__()"
            )
        if source == "first batch":
            seen = "every value 0. or 1." if self.binary else "values other than 0. and 1."
            return (
                f"{name} was inferred {kind} from its first batch ({seen}); declare "
                f"binary={not self.binary} in super().__init__() for states in {other}"
            )
        return (
            f"{name} was made {kind} by {source} (its domain was not declared); declare "
            f"binary={self.binary} or binary={not self.binary} in super().__init__()"
        )

    def require_domain(self, binary: bool, user: str, hint: str = "") -> None:
        """Fix an undeclared domain to ``binary`` (``user``, a sampler or objective for one
        domain only, decides), or check the known one: ``TypeError`` naming how it was set."""
        if self.binary is None:
            self.binary, self._binary_source = bool(binary), user
            return
        if self.binary != bool(binary):
            kind = "binary" if binary else "continuous"
            raise TypeError(f"{user} needs a {kind} model: {self._origin('binary')}{hint}")

    def require_dim(self, user: str) -> int:
        """``dim``, or a ``ValueError`` saying that ``user`` needs it before any batch fixed it."""
        if self.dim is None:
            name = type(self).__name__
            raise ValueError(
                f"{user} needs the width of {name}'s states, which is not known yet: {name} "
                "takes its dim from the first batch it checks; declare it "
                "(super().__init__(dim)) or give states first (e.g. the sampler's x0)"
            )
        return self.dim

    # ------------------------------------------------ conditionals (binary models)
    def site_logits(self, x: torch.Tensor, sites: torch.Tensor) -> torch.Tensor:
        """Logits of the single-site conditionals at ``sites``.

        ``out[b, k] = log p(x_s = 1 | x_−s) − log p(x_s = 0 | x_−s) = U(x^{s←0}) − U(x^{s←1})``
        with ``s = sites[k]``; shape ``(B, len(sites))``. The generic version evaluates the
        energy of ``2·B·k`` modified states in one batched call.
        """
        B, d = x.shape
        k = sites.numel()
        xx = x.unsqueeze(1).expand(B, k, d).repeat(2, 1, 1)  # (2B, k, d)
        cols = sites.view(1, k, 1).expand(2 * B, k, 1)
        vals = torch.cat(
            [x.new_zeros(B, k, 1), x.new_ones(B, k, 1)], dim=0
        )  # first half x_s=0, second x_s=1
        xx = xx.scatter(2, cols, vals)
        u = self(xx.reshape(2 * B * k, d)).view(2, B, k)
        return u[0] - u[1]

    def conditional_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every single-site conditional, shape ``(B, d)`` (see ``site_logits``)."""
        return self.site_logits(x, torch.arange(x.shape[1], device=x.device))

    def interaction_graph(self):
        """The graph whose edges are the pairs of coordinates that interact, or ``None``.

        Block Gibbs needs it (sites of one colour must be conditionally independent). The
        generic model has no known structure and returns ``None``.
        """
        return None
