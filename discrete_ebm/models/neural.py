"""Neural energies on R^d and {0,1}^d, analytic base terms, and a quadratic (Gaussian) energy.

- ``MLPEnergy(dim, hidden, activation, binary=False, base=None)``:
  ``U(x) = w_Lᵀ f(W_{L−1} ⋯ f(W_1 x + b_1) ⋯) + b_L (+ U_base(x))``. On R^d only smooth
  activations are allowed (score matching needs second derivatives); on {0,1}^d any.
  ``energy_and_grad(x)`` returns ``(U, ∇_x U)`` and ``grad_energy(x)`` just ``∇_x U`` by a
  hand-written backward pass (fused kernels, no autograd graph), which Langevin uses.
- ``ConvEnergy(image_shape, channels)``: a small strided CNN energy for binary images
  (flattened ``(B, C·H·W)`` states, the shape kept as an attribute).
- ``GaussianBase(mean, cov)``: ``U_b(x) = ½(x−μ)ᵀΣ⁻¹(x−μ) + ½ log det(2πΣ)`` (normalised).
- ``BernoulliBase(marginals)``: ``U_b(x) = −Σ_i [x_i log p_i + (1−x_i) log(1−p_i)]``.
- ``QuadraticEnergy(precision, mean)``: ``U(x) = ½(x−μ)ᵀP(x−μ)`` with ``P = ½(A + Aᵀ)``
  learnable and symmetric by construction (the exact tests of the continuous objectives).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import as_tensor
from .base import EnergyModel

#: activations with continuous second derivatives (allowed on R^d).
SMOOTH_ACTIVATIONS = ("silu", "swish", "softplus", "tanh", "gelu", "sigmoid")
#: activations only allowed for binary models (no second derivative at 0).
NONSMOOTH_ACTIVATIONS = ("relu", "leaky_relu", "elu")


def _check_activation(activation: str, binary: bool) -> str:
    if not isinstance(activation, str):
        raise TypeError(f"activation must be a string, got {type(activation).__name__}")
    name = activation.lower()
    if name in SMOOTH_ACTIVATIONS:
        return "silu" if name == "swish" else name
    if name in NONSMOOTH_ACTIVATIONS:
        if not binary:
            raise ValueError(
                f"activation {activation!r} has no second derivative at 0; a continuous model "
                f"(binary=False) needs a smooth one of {SMOOTH_ACTIVATIONS}"
            )
        return name
    raise ValueError(
        f"activation must be one of {SMOOTH_ACTIVATIONS + NONSMOOTH_ACTIVATIONS}, "
        f"got {activation!r}"
    )


def activate(name: str, z: torch.Tensor) -> torch.Tensor:
    """``f(z)`` for an activation name (see ``SMOOTH_ACTIVATIONS``, ``NONSMOOTH_ACTIVATIONS``)."""
    if name == "silu":
        return F.silu(z)
    if name == "softplus":
        return F.softplus(z)
    if name == "tanh":
        return torch.tanh(z)
    if name == "gelu":
        return F.gelu(z)
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "relu":
        return F.relu(z)
    if name == "leaky_relu":
        return F.leaky_relu(z, 0.01)
    if name == "elu":
        return F.elu(z)
    raise ValueError(f"unknown activation {name!r}")


def activation_backward(
    name: str, grad: torch.Tensor, z: torch.Tensor, a: torch.Tensor | None
) -> torch.Tensor:
    """``grad ⊙ f'(z)`` by the fused ATen backward kernel of the activation (one pass over
    memory). ``a = f(z)`` is needed for tanh, sigmoid and relu (``None`` allowed otherwise)."""
    aten = torch.ops.aten
    if name == "silu":
        return aten.silu_backward(grad, z)
    if name == "softplus":  # F.softplus defaults: beta = 1, threshold = 20
        return aten.softplus_backward(grad, z, 1.0, 20.0)
    if name == "gelu":
        return aten.gelu_backward(grad, z)
    if name == "tanh":
        return aten.tanh_backward(grad, a)
    if name == "sigmoid":
        return aten.sigmoid_backward(grad, a)
    if name == "relu":
        return aten.threshold_backward(grad, a, 0)
    if name == "leaky_relu":
        return aten.leaky_relu_backward(grad, z, 0.01, False)
    if name == "elu":
        return aten.elu_backward(grad, 1.0, 1, 1, False, z)
    raise ValueError(f"unknown activation {name!r}")


#: activations whose backward kernel needs the output ``f(z)``
_NEEDS_OUTPUT = ("tanh", "sigmoid", "relu")


# ----------------------------------------------------------------------- base terms
class GaussianBase(nn.Module):
    """Normalised Gaussian energy ``U_b(x) = ½(x−μ)ᵀΣ⁻¹(x−μ) + ½ log det(2πΣ)``.

    Args:
        mean: ``(d,)``; cov: ``(d, d)`` symmetric positive definite (or ``(d,)`` diagonal).
    Buffers (not trained): ``mean``, ``precision`` ``(d, d)``, ``log_norm`` (scalar).
    """

    binary = False

    def __init__(self, mean, cov):
        super().__init__()
        mean = as_tensor(mean, name="mean").reshape(-1)
        if not mean.is_floating_point():
            mean = mean.float()
        cov = as_tensor(cov, name="cov").to(mean.dtype)
        d = mean.numel()
        if cov.dim() == 1:
            cov = torch.diag(cov)
        if cov.shape != (d, d):
            raise ValueError(f"cov must have shape ({d}, {d}) or ({d},), got {tuple(cov.shape)}")
        if not (torch.isfinite(mean).all() and torch.isfinite(cov).all()):
            raise ValueError("mean and cov must be finite")
        if not torch.allclose(cov, cov.T, atol=1e-6, rtol=1e-5):
            raise ValueError("cov must be symmetric")
        chol, info = torch.linalg.cholesky_ex(cov.double())
        if info != 0:
            raise ValueError("cov must be positive definite")
        self.dim = d
        prec = torch.cholesky_inverse(chol)
        log_det = 2.0 * torch.log(torch.diagonal(chol)).sum()
        self.register_buffer("mean", mean)
        self.register_buffer("precision", prec.to(mean.dtype))
        self.register_buffer(
            "log_norm", (0.5 * (d * math.log(2 * math.pi) + log_det)).to(mean.dtype)
        )

    @classmethod
    def from_data(cls, x: torch.Tensor, *, jitter: float = 1e-4) -> GaussianBase:
        """Fit mean and covariance (plus ``jitter·I``) to data ``x`` of shape ``(n, d)``; the
        buffers keep ``x``'s floating dtype."""
        x = as_tensor(x, name="x")
        if x.dim() != 2 or x.shape[0] < 2:
            raise ValueError(f"x must have shape (n, d) with n >= 2, got {tuple(x.shape)}")
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        x = x.double()
        cov = torch.cov(x.T).reshape(x.shape[1], x.shape[1])
        cov = cov + jitter * torch.eye(x.shape[1], dtype=x.dtype)
        return cls(x.mean(0).to(dtype), cov.to(dtype))

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``U_b(x)``, shape ``(B,)``."""
        z = x - self.mean
        return 0.5 * ((z @ self.precision) * z).sum(-1) + self.log_norm

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """``∇U_b(x) = Σ⁻¹(x − μ)``, shape ``(B, d)``."""
        return (x - self.mean) @ self.precision


class BernoulliBase(nn.Module):
    """Independent-Bernoulli energy ``U_b(x) = −Σ_i [x_i log p_i + (1−x_i) log(1−p_i)]``.

    Args:
        marginals: ``(d,)`` probabilities ``p_i = P(x_i = 1)``, clipped to ``[eps, 1 − eps]``.
    """

    binary = True

    def __init__(self, marginals, *, eps: float = 1e-3):
        super().__init__()
        p = as_tensor(marginals, name="marginals").reshape(-1)
        if not p.is_floating_point():
            p = p.float()
        if not torch.isfinite(p).all() or (p < 0).any() or (p > 1).any():
            raise ValueError("marginals must be probabilities in [0, 1]")
        if not 0.0 < eps < 0.5:
            raise ValueError(f"eps must lie in (0, 0.5), got {eps}")
        p = p.clamp(eps, 1.0 - eps)
        self.dim = p.numel()
        self.register_buffer("logit", torch.log(p) - torch.log1p(-p))
        self.register_buffer("log1m", torch.log1p(-p).sum())

    @classmethod
    def from_data(cls, x: torch.Tensor, *, eps: float = 1e-3) -> BernoulliBase:
        """Marginals of binary data ``x`` of shape ``(n, d)``."""
        x = as_tensor(x, name="x")
        if x.dim() != 2:
            raise ValueError(f"x must have shape (n, d), got {tuple(x.shape)}")
        return cls(x.double().mean(0).float(), eps=eps)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``U_b(x) = −xᵀ logit(p) − Σ log(1 − p)``, shape ``(B,)``."""
        return -(x @ self.logit) - self.log1m

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """``∇U_b = −logit(p)`` broadcast to ``(B, d)``."""
        return (-self.logit).expand_as(x)


def _check_base(base, dim: int, binary: bool):
    if base is None:
        return None
    if not isinstance(base, GaussianBase | BernoulliBase):
        raise TypeError(
            f"base must be a GaussianBase, a BernoulliBase or None, got {type(base).__name__}"
        )
    if base.dim != dim:
        raise ValueError(f"base has dim {base.dim}, the model has dim {dim}")
    if base.binary != binary:
        want = "BernoulliBase" if binary else "GaussianBase"
        raise TypeError(f"a {'binary' if binary else 'continuous'} model needs a {want} base")
    return base


def _check_hidden(hidden) -> tuple[int, ...]:
    if isinstance(hidden, int) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if not isinstance(hidden, Sequence) or not all(
        isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden
    ):
        raise ValueError(f"hidden must be a sequence of positive ints, got {hidden!r}")
    return tuple(int(h) for h in hidden)


# ------------------------------------------------------------------------- MLP energy
class MLPEnergy(EnergyModel):
    """MLP energy ``U(x) = MLP(x) (+ U_base(x))`` on R^d (``binary=False``) or {0,1}^d.

    Args:
        dim: input width ``d``.
        hidden: hidden widths, e.g. ``(128, 128)`` for ``d → 128 → 128 → 1``.
        activation: one of ``SMOOTH_ACTIVATIONS`` (any model) or ``NONSMOOTH_ACTIVATIONS``
            (binary models only).
        binary: states in {0,1}^d (``True``) or R^d (``False``, the default).
        base: optional ``GaussianBase`` (continuous) / ``BernoulliBase`` (binary) added to U.
        dtype, device: of the parameters.

    Input ``(B, d)``, output ``(B,)``.
    """

    def __init__(
        self,
        dim: int,
        hidden: Sequence[int] = (128, 128),
        activation: str = "silu",
        *,
        binary: bool = False,
        base: GaussianBase | BernoulliBase | None = None,
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
    ):
        super().__init__(dim, binary=binary)
        self.hidden = _check_hidden(hidden)
        self.activation = _check_activation(activation, binary)
        widths = (self.dim, *self.hidden)
        kw = {"dtype": dtype, "device": device}
        self.layers = nn.ModuleList(nn.Linear(a, b, **kw) for a, b in zip(widths[:-1], widths[1:]))
        self.out = nn.Linear(widths[-1], 1, **kw)
        self.base = _check_base(base, self.dim, binary)
        if self.base is not None:
            self.base.to(device=self.out.weight.device, dtype=self.out.weight.dtype)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``U(x)``, ``(B, d) -> (B,)``."""
        x = self.check_input(x)
        h = x
        for layer in self.layers:
            h = activate(self.activation, layer(h))
        u = self.out(h).squeeze(-1)
        if self.base is not None:
            u = u + self.base.energy(x)
        return u

    def _backprop(self, x: torch.Tensor, need_energy: bool):
        """Forward keeping pre-activations, then the hand-written backward pass to ``x``.

        With ``z_l = W_l h_{l−1} + b_l``, ``h_l = f(z_l)``: ``δ_L = w_out ⊙ f'(z_L)``,
        ``δ_l = (δ_{l+1} W_{l+1}) ⊙ f'(z_l)``, ``∇_x U = δ_1 W_1``. Without ``need_energy`` the
        last activation and the output layer are skipped (the gradient does not need them).
        """
        act = self.activation
        n = len(self.layers)
        zs, hs = [], []
        h = x
        for i, layer in enumerate(self.layers):
            z = torch.addmm(layer.bias, h, layer.weight.T)
            zs.append(z)
            if i < n - 1 or need_energy or act in _NEEDS_OUTPUT:
                h = activate(act, z)
                hs.append(h)
            else:
                hs.append(None)
        u = torch.addmm(self.out.bias, h, self.out.weight.T).squeeze(-1) if need_energy else None
        delta = self.out.weight.expand(x.shape[0], -1)  # ∂U/∂h_L, (B, h_L)
        for i in range(n - 1, -1, -1):
            delta = activation_backward(act, delta, zs[i], hs[i])
            delta = torch.mm(delta, self.layers[i].weight)
        if self.base is not None:
            delta = delta + self.base.grad(x)
            if need_energy:
                u = u + self.base.energy(x)
        return u, delta

    #: rows per block of the hand-written gradient (``None``: 1024 per intra-op thread), so
    #: each thread's (rows × width) intermediates, 1024 × 128 floats = 512 KB, stay in cache:
    #: ~20% faster than one pass over 10,000 chains on a CPU.
    grad_chunk_rows: int | None = None

    def _chunked(self, x: torch.Tensor, need_energy: bool):
        c = self.grad_chunk_rows or 1024 * torch.get_num_threads()
        if x.shape[0] <= c:
            return self._backprop(x, need_energy)
        g = torch.empty_like(x)
        u = x.new_empty(x.shape[0]) if need_energy else None
        for i in range(0, x.shape[0], c):
            ui, g[i : i + c] = self._backprop(x[i : i + c], need_energy)
            if need_energy:
                u[i : i + c] = ui
        return u, g

    def energy_and_grad(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(U(x), ∇_x U(x))``, shapes ``(B,)`` and ``(B, d)``, by a hand-written backward pass
        (fused activation-backward kernels, no autograd graph, blocks of ``grad_chunk_rows``
        rows; used by samplers)."""
        with torch.no_grad():
            return self._chunked(x, True)

    def grad_energy(self, x: torch.Tensor) -> torch.Tensor:
        """``∇_x U(x)``, shape ``(B, d)``, without computing ``U`` (cheapest; used by ULA)."""
        with torch.no_grad():
            return self._chunked(x, False)[1]


# ------------------------------------------------------------------------ conv energy
class ConvEnergy(EnergyModel):
    """Small CNN energy for binary images, states flattened to ``(B, C·H·W)``.

    ``U(x) = w_outᵀ flatten(f(conv_k(⋯ f(conv_1(x)) ⋯))) + b_out (+ U_base(x))``, every
    convolution 3×3 with stride 2 and padding 1.

    Args:
        image_shape: ``(H, W)`` or ``(C, H, W)``.
        channels: output channels of each convolution, e.g. ``(16, 32)``.
        activation: any of ``SMOOTH_ACTIVATIONS + NONSMOOTH_ACTIVATIONS``.
        base: optional ``BernoulliBase`` (e.g. the data's pixel marginals).
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        channels: Sequence[int] = (16, 32),
        activation: str = "silu",
        *,
        base: BernoulliBase | None = None,
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
    ):
        shape = tuple(image_shape) if isinstance(image_shape, Sequence) else ()
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
            raise ValueError(
                f"image_shape must be (H, W) or (C, H, W) of positive ints, got {image_shape!r}"
            )
        super().__init__(shape[0] * shape[1] * shape[2], binary=True)
        self.image_shape = shape
        self.channels = _check_hidden(channels)
        self.activation = _check_activation(activation, True)
        kw = {"dtype": dtype, "device": device}
        ins = (shape[0], *self.channels)
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, 3, stride=2, padding=1, **kw) for a, b in zip(ins[:-1], ins[1:])
        )
        h, w = shape[1], shape[2]
        for _ in self.channels:
            h, w = (h + 1) // 2, (w + 1) // 2
        self.out = nn.Linear(self.channels[-1] * h * w, 1, **kw)
        self.base = _check_base(base, self.dim, True)
        if self.base is not None:
            self.base.to(device=self.out.weight.device, dtype=self.out.weight.dtype)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``U(x)``, ``(B, C·H·W) -> (B,)``."""
        x = self.check_input(x)
        h = x.reshape(x.shape[0], *self.image_shape)
        for conv in self.convs:
            h = activate(self.activation, conv(h))
        u = self.out(h.flatten(1)).squeeze(-1)
        if self.base is not None:
            u = u + self.base.energy(x)
        return u


# -------------------------------------------------------------------- quadratic energy
class QuadraticEnergy(EnergyModel):
    """Gaussian energy ``U(x) = ½(x−μ)ᵀP(x−μ)`` on R^d, ``P = ½(A + Aᵀ)`` (learnable).

    Args:
        precision: initial ``(d, d)`` precision (symmetrised), or an int ``d`` for ``I_d``.
        mean: initial ``(d,)`` mean (zeros if ``None``).
        learn_mean: make ``μ`` a parameter (else a fixed buffer).

    ``p(x) = N(μ, P⁻¹)`` when ``P`` is positive definite; ``log_partition()`` is then
    ``½ d log 2π − ½ log det P``.
    """

    def __init__(
        self, precision, mean=None, *, learn_mean: bool = True, dtype: torch.dtype | None = None
    ):
        if isinstance(precision, int) and not isinstance(precision, bool):
            if precision <= 0:
                raise ValueError(
                    f"precision as an int is the dimension and must be > 0, got {precision}"
                )
            precision = torch.eye(precision, dtype=dtype or torch.get_default_dtype())
        P = as_tensor(precision, name="precision")
        dtype = dtype or (P.dtype if P.is_floating_point() else torch.get_default_dtype())
        P = P.to(dtype)
        if P.dim() != 2 or P.shape[0] != P.shape[1]:
            raise ValueError(
                f"precision must be a square (d, d) matrix, got shape {tuple(P.shape)}"
            )
        if not torch.isfinite(P).all():
            raise ValueError("precision contains NaN or infinite values")
        d = P.shape[0]
        super().__init__(d, binary=False)
        mu = (
            torch.zeros(d, dtype=dtype)
            if mean is None
            else as_tensor(mean, name="mean").to(dtype).reshape(-1)
        )
        if mu.shape != (d,):
            raise ValueError(f"mean must have shape ({d},), got {tuple(mu.shape)}")
        self.A = nn.Parameter(0.5 * (P + P.T).clone())
        if learn_mean:
            self.mean = nn.Parameter(mu.clone())
        else:
            self.register_buffer("mean", mu.clone())

    @property
    def precision(self) -> torch.Tensor:
        """The symmetric precision ``P = ½(A + Aᵀ)``, shape ``(d, d)``."""
        return 0.5 * (self.A + self.A.T)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``U(x) = ½(x−μ)ᵀP(x−μ)``, ``(B, d) -> (B,)``."""
        z = x - self.mean
        return 0.5 * ((z @ self.precision) * z).sum(-1)

    def grad_energy(self, x: torch.Tensor) -> torch.Tensor:
        """``∇U(x) = P(x − μ)``, shape ``(B, d)``, no autograd graph."""
        with torch.no_grad():
            return (x - self.mean) @ self.precision

    def energy_and_grad(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(U(x), P(x − μ))``, no autograd graph."""
        with torch.no_grad():
            z = x - self.mean
            g = z @ self.precision
            return 0.5 * (g * z).sum(-1), g

    def log_partition(self) -> torch.Tensor:
        """``log ∫ exp(−U) = ½ d log 2π − ½ log det P`` (``P`` must be positive definite)."""
        P = self.precision.detach().double()
        sign, logdet = torch.linalg.slogdet(P)
        if sign <= 0 or not torch.linalg.eigvalsh(P).min() > 0:
            raise ValueError("log_partition needs a positive definite precision")
        return 0.5 * self.dim * math.log(2 * math.pi) - 0.5 * logdet
