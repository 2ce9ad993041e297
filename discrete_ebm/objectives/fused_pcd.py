"""The fused RBM PCD-k gradient: three large GEMMs per batch, no autograd, no temporaries.

The same gradient as ``RBMPersistentCD`` (persistent hidden chains ``h (C, m)``), for a
batch ``v (B, n)``:

1. ``v⁻ ~ p(v | h) = Bernoulli(σ(b + hWᵀ))`` (for ``k > 1``: ``k − 1`` more sweeps
   ``h ~ p(h | v⁻)``, ``v⁻ ~ p(v | h)`` first);
2. ``p⁺ = σ(c + vW)``, ``p⁻ = σ(c + v⁻W)``; the chains become ``h ~ Bernoulli(p⁻)``;
3. ``∂W = −(vᵀp⁺ / B − v⁻ᵀp⁻ / C)``, ``∂b = −(mean v − mean v⁻)``,
   ``∂c = −(mean p⁺ − mean p⁻)``, written into ``.grad``.

With plain SGD (``torch.optim.SGD(lr=η)``) and ``C = B`` a step is scikit-learn
``BernoulliRBM``'s update ``W += (η / B)(vᵀp⁺ − v⁻ᵀp⁻)``. Layout: the negative and positive
visible rows are stacked in one buffer ``V = [v⁻; v]`` of shape ``(C + B, n)``, so the two
hidden products are one GEMM ``H = σ(c + VW)`` and the two weight-gradient products one GEMM
``∂W = −(1/B) Vᵀ [−(B/C) p⁻; p⁺]``; with the visible product ``hWᵀ`` that is five
``B × n × m`` products' worth of work in three calls (buffers allocated once, sigmoids and
Bernoulli draws in place). Uniforms are drawn in the order ``(C, n)`` for each ``v⁻`` then
``(C, m)`` for each ``h``, from ``fit``'s generator (``uniforms="torch"``) or from NumPy's
PCG64 seeded from it (``uniforms="numpy"``, CPU only: it fills the buffers in place about
twice as fast as torch's Mersenne Twister, which matters at ~7% of a 784×500 step).

With plain SGD (no momentum or weight decay) ``update`` applies the step in place instead,
``θ += (η / B) Vᵀ[...]`` inside the last GEMMs (``fit`` prefers it when it is available): no
gradient buffers and no separate optimiser pass over ``W``, about 5% of a 784×500 step.

On its first call the objective re-lays ``rbm.W`` so that ``Wᵀ`` is contiguous (same values
and shape; the in-place GEMMs are ~7% faster that way on one MKL thread).

Centring (``centred=True``; Melchior, Fischer & Wiskott, JMLR 2016): the centred RBM
``E = −(v − μ)ᵀW(h − λ) − b̃ᵀ(v − μ) − c̃ᵀ(h − λ)`` is the plain RBM with
``b = b̃ − Wλ``, ``c = c̃ − Wᵀμ`` (plus a constant), so the model stays the plain ``RBM`` and
the offsets ``μ (n,)``, ``λ (m,)`` live in the objective's state (checkpointed). Before the
gradient, ``λ ← (1 − ν)λ + ν mean p⁺`` (``ν = offset_rate``); μ stays where it was set (the
data mean). The centred ascent gradient is ``∇W̃ = ⟨(v − μ)(h − λ)ᵀ⟩_d − ⟨…⟩_m``,
``∇b̃ = ⟨v⟩_d − ⟨v⟩_m``, ``∇c̃ = ⟨h⟩_d − ⟨h⟩_m``, and a step on the centred parameters is,
on the plain ones, ``ΔW = η∇W̃``, ``Δb = η(∇b̃ − ∇W̃ λ)``, ``Δc = η(∇c̃ − ∇W̃ᵀμ)``. In the
fused layout (signed rows ``s``, ``Σ s = 0``) with ``V ← V − μ`` and ``H ← H − λ`` in place:
``∇W̃ = (1/B) Vᵀ S H``, ``Δb ∝ Vᵀ(s − (SH)λ)``, ``Δc ∝ (SH)ᵀ(1 − Vμ)``: the same three
GEMMs, plus two subtractions and three GEMVs over the ``(C + B)``-row buffers.
"""

from __future__ import annotations

import numpy as np
import torch

from .._validation import check_positive_int, check_rows
from ..models.base import EnergyModel
from ..models.rbm import RBM
from .rbm_pcd import RBMPersistentCD, check_rbm

_NUMPY_UNIFORM = {torch.float32: np.float32, torch.float64: np.float64}


def _offsets(value, name: str) -> torch.Tensor | None:
    """``value`` as a finite 1-D float64 tensor (a copy), or ``None``."""
    if value is None:
        return None
    t = torch.as_tensor(value).detach()
    if t.dim() != 1 or not t.is_floating_point() or not torch.isfinite(t).all():
        raise ValueError(f"{name} must be a finite 1-D float tensor, got {tuple(t.shape)}")
    return t.to(torch.float64).clone()


def plain_sgd_rate(optimizer, params) -> float | None:
    """The learning rate if ``optimizer`` is plain SGD (no momentum, weight decay, nesterov
    or maximize) over exactly ``params`` at one rate, else ``None``."""
    if type(optimizer) is not torch.optim.SGD:
        return None
    groups = optimizer.param_groups
    lr = groups[0]["lr"]
    for g in groups:
        if g["momentum"] or g["weight_decay"] or g["nesterov"] or g["maximize"] or g["lr"] != lr:
            return None
    owned = [p for g in groups for p in g["params"]]
    if len(owned) != len(params) or {id(p) for p in owned} != {id(p) for p in params}:
        return None
    return float(lr)


class FusedPCD(RBMPersistentCD):
    """PCD-k of an ``RBM`` as three fused GEMMs per batch (module docstring).

    Args:
        n_chains: persistent chains ``C``; also the largest batch accepted.
        k: Gibbs sweeps per step.
        init: ``"zeros"`` (scikit-learn's start, the default) or ``"data"``.
        chains: initial hidden chains ``(C, m)``.
        uniforms: ``"torch"`` (``fit``'s generator) or ``"numpy"`` (PCG64 seeded from it).
        centred: use the centred gradient (module docstring).
        visible_offsets: ``μ (n,)`` (centred only; default: the first batch's mean).
        hidden_offsets: initial ``λ (m,)`` (centred only; default 0.5 everywhere).
        offset_rate: ``ν`` in ``λ ← (1 − ν)λ + ν mean p⁺`` (0 keeps ``λ`` fixed).

    State: the chains, the offsets and the NumPy generator's state.
    """

    def __init__(
        self,
        n_chains: int,
        k: int = 1,
        *,
        init: str = "zeros",
        chains: torch.Tensor | None = None,
        uniforms: str = "torch",
        centred: bool = False,
        visible_offsets: torch.Tensor | None = None,
        hidden_offsets: torch.Tensor | None = None,
        offset_rate: float = 0.01,
    ):
        super().__init__(check_positive_int(n_chains, "n_chains"), k, init=init, chains=chains)
        if uniforms not in ("torch", "numpy"):
            raise ValueError(f"uniforms must be 'torch' or 'numpy', got {uniforms!r}")
        if not isinstance(centred, bool):
            raise TypeError(f"centred must be a bool, got {type(centred).__name__}")
        if not (isinstance(offset_rate, int | float) and 0 <= offset_rate <= 1):
            raise ValueError(f"offset_rate must be a number in [0, 1], got {offset_rate!r}")
        if not centred and (visible_offsets is not None or hidden_offsets is not None):
            raise ValueError("visible_offsets and hidden_offsets need centred=True")
        self.uniforms = uniforms
        self.centred = centred
        self.offset_rate = float(offset_rate)
        self.visible_offsets = _offsets(visible_offsets, "visible_offsets")
        self.hidden_offsets = _offsets(hidden_offsets, "hidden_offsets")
        self._rng: np.random.Generator | None = None
        self._buffers: dict | None = None

    # ---------------------------------------------------------------- set-up
    def _prepare(self, rbm: RBM, x: torch.Tensor, generator) -> dict:
        """Chains, the re-laid ``W``, gradient buffers and work buffers (once per model)."""
        self.start_chains(rbm, x, generator)
        key = (id(rbm), rbm.W.dtype, rbm.W.device)
        if self._buffers is not None and self._buffers["key"] == key:
            return self._buffers
        if self.uniforms == "numpy" and (
            rbm.device.type != "cpu" or rbm.dtype not in _NUMPY_UNIFORM
        ):
            raise ValueError(
                "uniforms='numpy' needs a float32/float64 RBM on the CPU, got "
                f"{rbm.dtype} on {rbm.device}; use uniforms='torch'"
            )
        if rbm.W.is_contiguous():
            with torch.no_grad():
                rbm.W.data = rbm.W.data.T.contiguous().T
        C, n, m = self.n_chains, rbm.n_visible, rbm.n_hidden
        kw = {"dtype": rbm.dtype, "device": rbm.device}
        buf = {
            "key": key,
            "V": torch.empty(2 * C, n, **kw),  # rows [0, C): v⁻; rows [C, C + B): the batch
            "H": torch.empty(2 * C, m, **kw),
            "Uv": torch.empty(C, n, **kw),
            "Uh": torch.empty(C, m, **kw),
            "ones": torch.ones(2 * C, **kw),
            "sign": torch.ones(2 * C, **kw),
            "vec_b": torch.empty(2 * C, **kw),
            "vec_c": torch.empty(2 * C, **kw),
        }
        if self.uniforms == "numpy":
            buf["numpy"] = {id(buf[u]): buf[u].numpy() for u in ("Uv", "Uh")}
        self._buffers = buf
        return buf

    def _start_offsets(self, rbm: RBM, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``μ`` and ``λ`` in the model's dtype and device (created on the first call)."""
        if self.visible_offsets is None:
            self.visible_offsets = x.detach().double().mean(0)
        if self.hidden_offsets is None:
            self.hidden_offsets = torch.full((rbm.n_hidden,), 0.5, dtype=torch.float64)
        for name, size in (("visible_offsets", rbm.n_visible), ("hidden_offsets", rbm.n_hidden)):
            t = getattr(self, name)
            if t.shape != (size,):
                raise ValueError(f"{name} must have shape ({size},), got {tuple(t.shape)}")
            if t.dtype != rbm.W.dtype or t.device != rbm.W.device:
                setattr(self, name, t.to(dtype=rbm.W.dtype, device=rbm.W.device))
        return self.visible_offsets, self.hidden_offsets

    def _centre(self, rbm, x, V, H, sign, ones, buf) -> tuple[torch.Tensor, torch.Tensor]:
        """Update ``λ`` from the batch's ``p⁺``, centre ``V`` and ``H`` in place and sign the
        negative rows of ``H``; return the bias vectors ``(s − (SH)λ, 1 − Vμ)``."""
        mu, lam = self._start_offsets(rbm, x)
        C, B = self.n_chains, x.shape[0]
        if self.offset_rate > 0:
            mean = torch.mv(H[C:].T, ones[C:]).div_(B)
            lam.mul_(1.0 - self.offset_rate).add_(mean, alpha=self.offset_rate)
        V.sub_(mu)
        H.sub_(lam)
        H[:C].mul_(-B / C)
        vec_b = torch.addmv(sign, H, lam, alpha=-1.0, out=buf["vec_b"][: C + B])
        vec_c = torch.addmv(ones, V, mu, alpha=-1.0, out=buf["vec_c"][: C + B])
        return vec_b, vec_c

    def _uniform(self, out: torch.Tensor, generator) -> torch.Tensor:
        """Fill ``out`` with U[0, 1) draws (NumPy writes in place into the shared memory)."""
        if self.uniforms == "numpy":
            if self._rng is None:
                seed = int(torch.randint(0, 2**62, (1,), generator=generator))
                self._rng = np.random.default_rng(seed)
            view = self._buffers["numpy"][id(out)]
            self._rng.random(out=view, dtype=_NUMPY_UNIFORM[out.dtype])
            return out
        return torch.rand(out.shape, generator=generator, out=out)

    # ---------------------------------------------------------------- the step
    @torch.no_grad()
    def _step(self, rbm: RBM, x: torch.Tensor, generator, lr: float | None) -> None:
        """Advance the chains; with ``lr=None`` write ``.grad``, else add ``−lr ·`` the
        gradient to the parameters in place (plain SGD fused into the last GEMMs)."""
        buf = self._prepare(rbm, x, generator)
        C, B = self.n_chains, x.shape[0]
        if not 1 <= B <= C:
            raise ValueError(f"the batch must have between 1 and n_chains={C} rows, got {B}")
        W, b, c = rbm.W, rbm.b, rbm.c
        V, H = buf["V"][: C + B], buf["H"][: C + B]
        v_neg, h_neg = V[:C], H[:C]
        V[C:].copy_(x)
        for sweep in range(self.k):
            # v⁻ ~ Bernoulli(σ(b + hWᵀ)): u < p written as 1./0. over p, in place
            torch.addmm(b, self.chains, W.T, out=v_neg).sigmoid_()
            torch.lt(self._uniform(buf["Uv"], generator), v_neg, out=v_neg)
            if sweep < self.k - 1:
                torch.addmm(c, v_neg, W, out=h_neg).sigmoid_()
                torch.lt(self._uniform(buf["Uh"], generator), h_neg, out=self.chains)
        # [p⁻; p⁺] in one GEMM, then the new chains h ~ Bernoulli(p⁻)
        torch.addmm(c, V, W, out=H).sigmoid_()
        torch.lt(self._uniform(buf["Uh"], generator), h_neg, out=self.chains)
        # signed rows: −(B/C) for the negative phase, +1 for the batch; gradient −(1/B)·Vᵀ[...]
        neg = -B / C
        sign = buf["sign"][: C + B]
        sign[:C].fill_(neg)
        ones = buf["ones"][: C + B]
        if self.centred:  # centre V and H, sign H; the bias vectors carry −∇W̃ λ and −∇W̃ᵀμ
            vec_b, vec_c = self._centre(rbm, x, V, H, sign, ones, buf)
        else:
            h_neg.mul_(neg)
            vec_b, vec_c = sign, ones
        if lr is not None:  # θ −= lr · ∂θ, i.e. θ += (lr / B) · Vᵀ[...]
            b.addmv_(V.T, vec_b, alpha=lr / B)
            c.addmv_(H.T, vec_c, alpha=lr / B)
            W.addmm_(V.T, H, alpha=lr / B)
            return
        for p in (W, b, c):
            if p.grad is None or p.grad.shape != p.shape or p.grad.stride() != p.stride():
                p.grad = torch.empty_like(p)
        b.grad.addmv_(V.T, vec_b, beta=0, alpha=-1.0 / B)
        c.grad.addmv_(H.T, vec_c, beta=0, alpha=-1.0 / B)
        W.grad.addmm_(V.T, H, beta=0, alpha=-1.0 / B)

    def write_gradients(
        self, model: EnergyModel, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> None:
        """Write the PCD-k gradient of the batch ``x (B, n)``, ``1 <= B <= n_chains``."""
        check_rows(x)
        self._step(check_rbm(model), x, generator, None)
        return None

    def update(
        self,
        model: EnergyModel,
        x: torch.Tensor,
        generator: torch.Generator | None,
        optimizer: torch.optim.Optimizer,
    ):
        """Apply plain SGD's step for the batch ``x`` in place, fused into the GEMMs (no
        gradient buffers), at the rate in ``optimizer.param_groups`` (so schedulers apply).
        Returns ``NotImplemented`` unless ``optimizer`` is ``torch.optim.SGD`` without
        momentum, weight decay or nesterov, with one rate for ``W``, ``b`` and ``c``: ``fit``
        then writes the gradient and steps the optimiser instead."""
        rbm = check_rbm(model)
        check_rows(x)
        lr = plain_sgd_rate(optimizer, (rbm.W, rbm.b, rbm.c))
        if lr is None:
            return NotImplemented
        self._step(rbm, x, generator, lr)
        return None

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["numpy_rng"] = None if self._rng is None else self._rng.bit_generator.state
        for name in ("visible_offsets", "hidden_offsets"):
            t = getattr(self, name)
            state[name] = None if t is None else t.clone()
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        saved = state.get("numpy_rng")
        if saved is not None:
            self._rng = np.random.default_rng()
            self._rng.bit_generator.state = saved
        for name in ("visible_offsets", "hidden_offsets"):
            if name in state:
                t = state[name]
                setattr(self, name, None if t is None else t.clone())
        self._buffers = None
