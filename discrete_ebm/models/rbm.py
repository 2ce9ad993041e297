"""Bernoulli–Bernoulli restricted Boltzmann machine.

``E(v, h) = −vᵀWh − bᵀv − cᵀh`` with ``v ∈ {0,1}^n`` (visible), ``h ∈ {0,1}^m`` (hidden),
``W`` of shape ``(n, m)``. The model is an :class:`EnergyModel` on the visible units:
``energy(v)`` is the free energy ``F(v) = −bᵀv − Σ_j softplus(c_j + (vW)_j)``, so
``p(v) ∝ exp(−F(v))``. The conditionals factorise:
``p(h_j = 1 | v) = σ(c_j + (vW)_j)`` and ``p(v_i = 1 | h) = σ(b_i + (hWᵀ)_i)``.

Besides the contract this file holds the RBM's tensor kernels: block Gibbs (v → h → v),
exact ``log Z`` by summing the smaller layer analytically, the AIS path of Salakhutdinov &
Murray (2008), and the analytic contrastive gradient used by the fast PCD path
(:meth:`RBM.pcd_step`: one update's gradient, no training loop). The training objectives
built on them (``objectives.RBMPersistentCD`` and the fused three-GEMM
``objectives.FusedPCD``) run through ``fit``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_positive_int, check_states
from ..states import all_states
from .base import EnergyModel

#: largest layer enumerated by ``exact_log_partition`` (2**22 states, chunked).
MAX_ENUMERATED = 22


def _bernoulli(p: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """``Bernoulli(p)`` draws as a float tensor of ``p``'s dtype, through ``generator``."""
    u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return u.lt_(p)  # in place: u becomes 1. where u < p, else 0. (one pass, no temporaries)


def _as(value, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(value, dtype=like.dtype, device=like.device).reshape(-1)


def centred_free_energy(v, W, b_centred, c_centred, visible_offsets, hidden_offsets):
    """Free energy of the centred RBM (``RBM.from_centred``), ``(B, n) -> (B,)``:
    ``F̃(v) = −b̃ᵀ(v − μ) + (v − μ)ᵀWλ + c̃ᵀλ − Σ_j softplus(c̃_j + ((v − μ)W)_j)``; it equals
    the plain RBM's ``F(v)`` plus ``centred_constant``. Differentiable in every argument."""
    x = v - visible_offsets
    return (
        -(x @ b_centred)
        + (x @ W) @ hidden_offsets
        + c_centred @ hidden_offsets
        - F.softplus(c_centred + x @ W).sum(-1)
    )


def centred_constant(W, b_centred, c_centred, visible_offsets, hidden_offsets) -> torch.Tensor:
    """``Ẽ(v, h) − E(v, h) = b̃ᵀμ + c̃ᵀλ − μᵀWλ`` for the plain RBM of ``RBM.from_centred``."""
    mu, lam = visible_offsets, hidden_offsets
    return b_centred @ mu + c_centred @ lam - mu @ W @ lam


class RBM(EnergyModel):
    """Bernoulli–Bernoulli RBM with ``n_visible`` visible and ``n_hidden`` hidden units.

    Args:
        n_visible: number of visible units ``n`` (the model's ``dim``).
        n_hidden: number of hidden units ``m``.
        weight_std: ``W`` is initialised ``N(0, weight_std²)``; biases start at 0.
        generator: seeds the initial weights.
        dtype, device: of the parameters.

    Parameters: ``W (n, m)``, visible bias ``b (n,)``, hidden bias ``c (m,)``.
    """

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        *,
        weight_std: float = 0.01,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device | None = None,
    ):
        n_visible = check_positive_int(n_visible, "n_visible")
        n_hidden = check_positive_int(n_hidden, "n_hidden")
        super().__init__(n_visible, binary=True)
        if not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating dtype, got {dtype}")
        if not weight_std >= 0:
            raise ValueError(f"weight_std must be >= 0, got {weight_std}")
        w = torch.randn(n_visible, n_hidden, generator=generator, dtype=torch.float64)
        self.W = nn.Parameter((weight_std * w).to(dtype=dtype, device=device))
        self.b = nn.Parameter(torch.zeros(n_visible, dtype=dtype, device=device))
        self.c = nn.Parameter(torch.zeros(n_hidden, dtype=dtype, device=device))
        self.n_visible = n_visible
        self.n_hidden = n_hidden

    @classmethod
    def from_parameters(cls, W, b=None, c=None) -> RBM:
        """RBM with given ``W (n, m)``, ``b (n,)`` and ``c (m,)`` (zeros if ``None``)."""
        W = torch.as_tensor(W)
        if W.dim() != 2 or not W.is_floating_point():
            raise ValueError(
                f"W must be a floating (n_visible, n_hidden) matrix, got {tuple(W.shape)}"
            )
        n, m = W.shape
        model = cls(n, m, weight_std=0.0, dtype=W.dtype, device=W.device)
        with torch.no_grad():
            model.W.copy_(W)
            for name, value, size in (("b", b, n), ("c", c, m)):
                if value is None:
                    continue
                value = torch.as_tensor(value, dtype=W.dtype, device=W.device).reshape(-1)
                if value.shape != (size,):
                    raise ValueError(f"{name} must have shape ({size},), got {tuple(value.shape)}")
                getattr(model, name).copy_(value)
        for name, p in (("W", model.W), ("b", model.b), ("c", model.c)):
            if not torch.isfinite(p).all():
                raise ValueError(f"{name} contains NaN or infinite values")
        return model

    @classmethod
    def from_centred(cls, W, b_centred, c_centred, visible_offsets, hidden_offsets) -> RBM:
        """The plain RBM of the centred one ``Ẽ = −(v − μ)ᵀW(h − λ) − b̃ᵀ(v − μ) − c̃ᵀ(h − λ)``
        (Melchior et al. 2016): ``b = b̃ − Wλ``, ``c = c̃ − Wᵀμ``; ``Ẽ = E + const``
        (``centred_constant``), so the two define the same distribution."""
        W = torch.as_tensor(W)
        mu, lam = _as(visible_offsets, W), _as(hidden_offsets, W)
        return cls.from_parameters(W, _as(b_centred, W) - W @ lam, _as(c_centred, W) - W.T @ mu)

    def centred_parameters(self, visible_offsets, hidden_offsets):
        """``(W, b̃, c̃)`` of the centred RBM with offsets ``μ (n,)``, ``λ (m,)`` that equals
        this one: ``b̃ = b + Wλ``, ``c̃ = c + Wᵀμ`` (detached copies)."""
        W = self.W.detach()
        mu, lam = _as(visible_offsets, W), _as(hidden_offsets, W)
        return W.clone(), self.b.detach() + W @ lam, self.c.detach() + W.T @ mu

    # ------------------------------------------------------------ conditionals
    def hidden_logits(self, v: torch.Tensor) -> torch.Tensor:
        """``c + vW``, shape ``(B, m)``."""
        return torch.addmm(self.c, v, self.W)

    def visible_logits(self, h: torch.Tensor) -> torch.Tensor:
        """``b + hWᵀ``, shape ``(B, n)``."""
        return torch.addmm(self.b, h, self.W.T)

    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        """``p(h_j = 1 | v) = σ(c_j + (vW)_j)``, shape ``(B, m)``."""
        v = self.check_input(v, "v")
        return torch.sigmoid(self.hidden_logits(v))

    def visible_probs(self, h: torch.Tensor) -> torch.Tensor:
        """``p(v_i = 1 | h) = σ(b_i + (hWᵀ)_i)``, shape ``(B, n)``."""
        h = check_states(h, self.n_hidden, name="h")
        return torch.sigmoid(self.visible_logits(h))

    def sample_hidden(
        self, v: torch.Tensor, *, beta: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw ``h ~ p_β(h | v) = Π_j Bernoulli(σ(β(c_j + (vW)_j)))``, shape ``(B, m)``."""
        v = self.check_input(v, "v")
        return _bernoulli(torch.sigmoid(beta * self.hidden_logits(v)), generator)

    def sample_visible(
        self, h: torch.Tensor, *, beta: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw ``v ~ p_β(v | h) = Π_i Bernoulli(σ(β(b_i + (hWᵀ)_i)))``, shape ``(B, n)``."""
        h = check_states(h, self.n_hidden, name="h")
        return _bernoulli(torch.sigmoid(beta * self.visible_logits(h)), generator)

    # ----------------------------------------------------------------- energies
    def joint_energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """``E(v, h) = −vᵀWh − bᵀv − cᵀh``; ``v (B, n)``, ``h (B, m)`` -> ``(B,)``."""
        v = self.check_input(v, "v")
        h = check_states(h, self.n_hidden, name="h")
        if h.shape[0] != v.shape[0]:
            raise ValueError(
                f"v and h must have the same batch size, got {v.shape[0]} and {h.shape[0]}"
            )
        return -((v @ self.W) * h).sum(1) - v @ self.b - h @ self.c

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """Free energy ``F(v) = −bᵀv − Σ_j softplus(c_j + (vW)_j)``; ``(B, n)`` -> ``(B,)``."""
        v = self.check_input(x, "x")
        return self._free_energy(v)

    def _free_energy(self, v: torch.Tensor) -> torch.Tensor:
        return -(v @ self.b) - F.softplus(self.hidden_logits(v)).sum(1)

    def tempered_energy(self, x: torch.Tensor, beta: torch.Tensor | float) -> torch.Tensor:
        """``−log Σ_h exp(−β E(v, h)) = −β bᵀv − Σ_j softplus(β (c_j + (vW)_j))``: the law
        of ``block_gibbs_sweep`` at ``β`` (``= F(v)`` at ``β = 1``). ``beta`` a float -> ``(B,)``;
        a tensor ``(B, r)`` (one β per row and column) -> ``(B, r)``."""
        v = self.check_input(x, "x")
        a = self.hidden_logits(v)
        if not isinstance(beta, torch.Tensor):
            return -beta * (v @ self.b) - F.softplus(beta * a).sum(1)
        beta = beta.to(a.dtype)
        hidden = F.softplus(beta.unsqueeze(2) * a.unsqueeze(1)).sum(2)  # (B, r)
        return -beta * (v @ self.b).unsqueeze(1) - hidden

    def site_logits(self, x: torch.Tensor, sites: torch.Tensor) -> torch.Tensor:
        """``F(v^{i←0}) − F(v^{i←1})`` at ``sites``; shape ``(B, k)``.

        With ``a = c + vW``:
        ``b_i + Σ_j [softplus(a_j + (1 − v_i) W_ij) − softplus(a_j − v_i W_ij)]``
        (the two terms are the hidden pre-activations with ``v_i`` set to 1 and to 0).
        Memory ``B·k·m``.
        """
        a = self.hidden_logits(x).unsqueeze(1)  # (B, 1, m)
        Ws = self.W[sites]  # (k, m)
        vs = x[:, sites].unsqueeze(2)  # (B, k, 1)
        on = F.softplus(a + (1 - vs) * Ws)
        off = F.softplus(a - vs * Ws)
        return self.b[sites] + (on - off).sum(2)

    def conditional_logits(self, x: torch.Tensor) -> torch.Tensor:
        """``F(v^{i←0}) − F(v^{i←1})`` for every visible unit, shape ``(B, n)``."""
        return self.site_logits(x, torch.arange(self.dim, device=x.device))

    # --------------------------------------------------------------- sampling
    def block_gibbs_sweep(
        self,
        x: torch.Tensor,
        *,
        beta: float = 1.0,
        clamp: torch.Tensor | None = None,
        x0: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict]:
        """One block-Gibbs sweep ``h ~ p_β(h | v)``, ``v ~ p_β(v | h)`` on visible states ``x``.

        The chain on ``(v, h)`` targets ``p_β(v, h) ∝ exp(−β E(v, h))``; at ``β = 1`` its
        visible marginal is ``exp(−F(v)) / Z`` (at other ``β`` it is the visible marginal of
        the tempered joint, not ``exp(−β F(v))``). Clamped visible units keep their values
        in ``x0``. Returns ``(v, {"flip_rate": ...})``; used by ``BlockGibbsSampler``.
        """
        h = _bernoulli(torch.sigmoid(beta * self.hidden_logits(x)), generator)
        v = _bernoulli(torch.sigmoid(beta * self.visible_logits(h)), generator)
        if clamp is not None:
            v = torch.where(clamp, x0, v)
        flips = (v != x).sum()
        return v, {"flip_rate": flips / x.numel()}

    def sample(
        self,
        n_chains: int,
        n_steps: int,
        *,
        x0: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``n_steps`` block-Gibbs sweeps from ``x0`` (uniform if ``None``); ``(n_chains, n)``."""
        n_chains = check_positive_int(n_chains, "n_chains")
        n_steps = check_positive_int(n_steps, "n_steps", allow_zero=True)
        with torch.no_grad():
            if x0 is None:
                p = torch.full(
                    (n_chains, self.n_visible), 0.5, dtype=self.dtype, device=self.device
                )
                v = _bernoulli(p, generator)
            else:
                v = self.check_input(x0, "x0").clone()
            for _ in range(n_steps):
                v, _ = self.block_gibbs_sweep(v, generator=generator)
        return v

    # ------------------------------------------------------- partition function
    def exact_log_partition(self, beta: float = 1.0, *, chunk_size: int = 2**14) -> torch.Tensor:
        """Exact ``log Z(β) = log Σ_v exp(−β F(v))`` as a float64 scalar.

        At ``β = 1`` the smaller layer is enumerated and the other summed analytically:
        ``log Z = logsumexp_h [cᵀh + Σ_i softplus(b_i + (hWᵀ)_i)]`` (or the same over ``v``
        with the free energy). ``β ≠ 1`` enumerates ``v`` (``n ≤ 22``). Raises
        ``ValueError`` when the needed layer has more than 22 units: use AIS
        (``discrete_ebm.evaluation.ais.log_partition``).
        """
        beta = float(beta)
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        W = self.W.detach().double()
        b, c = self.b.detach().double(), self.c.detach().double()
        n, m = W.shape
        if beta == 1.0 and m < n:
            k, bias, other_bias, mat = m, c, b, W.T  # enumerate h, sum v analytically
        else:
            k, bias, other_bias, mat = n, b, c, W  # enumerate v, sum h
            if beta != 1.0 and n > MAX_ENUMERATED:
                raise ValueError(
                    f"exact log Z at beta != 1 enumerates the {n} visible units (max "
                    f"{MAX_ENUMERATED}); use discrete_ebm.evaluation.ais.log_partition"
                )
        if k > MAX_ENUMERATED:
            raise ValueError(
                f"exact log Z needs a layer of at most {MAX_ENUMERATED} units (this RBM has "
                f"{n} visible, {m} hidden); use discrete_ebm.evaluation.ais.log_partition"
            )
        parts = []
        for a in range(0, 2**k, chunk_size):
            s = all_states(k, a, min(a + chunk_size, 2**k), dtype=W.dtype, device=W.device)
            if beta == 1.0:
                parts.append(s @ bias + F.softplus(torch.addmm(other_bias, s, mat)).sum(1))
            else:
                parts.append(
                    -beta * (-(s @ bias) - F.softplus(torch.addmm(other_bias, s, mat)).sum(1))
                )
        return torch.logsumexp(torch.cat(parts), 0)

    # ----------------------------------------------------------------- helpers
    def init_from_data(self, data: torch.Tensor, *, eps: float = 1e-3) -> RBM:
        """Set the visible bias to the logit of the data marginals, ``b_i = log(p_i / (1 − p_i))``
        with ``p`` clipped to ``[eps, 1 − eps]`` (Hinton's practical guide). Returns ``self``."""
        data = self.check_input(data, "data")
        if data.shape[0] == 0:
            raise ValueError("data must contain at least one row")
        p = data.double().mean(0).clamp(eps, 1 - eps)
        with torch.no_grad():
            self.b.copy_(torch.log(p) - torch.log1p(-p))
        return self

    def filters(self) -> torch.Tensor:
        """The receptive fields ``Wᵀ``, shape ``(m, n)`` (one row per hidden unit)."""
        return self.W.detach().T

    # ---------------------------------------------------------------- AIS path
    def ais_path(self, base_logits: torch.Tensor) -> RBMAnnealingPath:
        """The Salakhutdinov–Murray AIS path from a Bernoulli base (see ``RBMAnnealingPath``)."""
        return RBMAnnealingPath(self, base_logits)

    # ------------------------------------------------------------- fast PCD path
    @torch.no_grad()
    def contrastive_gradient(
        self,
        v_pos: torch.Tensor,
        v_neg: torch.Tensor,
        *,
        ph_pos: torch.Tensor | None = None,
        ph_neg: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Gradient of ``mean_a F(v_pos_a) − mean_b F(v_neg_b)`` w.r.t. ``(W, b, c)``.

        ``∂/∂W = −v_posᵀ p_pos / B + v_negᵀ p_neg / B'``, ``∂/∂b = −mean v_pos + mean v_neg``,
        ``∂/∂c = −mean p_pos + mean p_neg`` with ``p = σ(c + vW)`` (pass them if already
        computed). This is the (negated) log-likelihood gradient estimate of CD/PCD.
        """
        if ph_pos is None:
            ph_pos = torch.sigmoid(self.hidden_logits(v_pos))
        if ph_neg is None:
            ph_neg = torch.sigmoid(self.hidden_logits(v_neg))
        Bp, Bn = v_pos.shape[0], v_neg.shape[0]
        gW = torch.mm(v_neg.T, ph_neg).mul_(1.0 / Bn)
        gW.addmm_(v_pos.T, ph_pos, alpha=-1.0 / Bp)
        gb = v_neg.mean(0) - v_pos.mean(0)
        gc = ph_neg.mean(0) - ph_pos.mean(0)
        return gW, gb, gc

    @torch.no_grad()
    def pcd_step(
        self,
        v: torch.Tensor,
        h_chain: torch.Tensor,
        *,
        k: int = 1,
        generator: torch.Generator | None = None,
        check: bool = True,
    ) -> torch.Tensor:
        """Write the PCD-k gradient of a batch ``v (B, n)`` into ``.grad``; return the new chains.

        The persistent chains are hidden states ``h_chain (C, m)`` (as in scikit-learn's
        ``BernoulliRBM``). With the current parameters the chains take ``k`` sweeps
        ``v⁻ ~ p(v | h)``, ``h ~ p(h | v⁻)``; the gradient set is exactly that of the
        surrogate ``mean F(v) − mean F(v⁻)`` (``contrastive_gradient``), i.e.
        ``−∇ log-likelihood`` estimated with the chains. Per step and ``k = 1``: five
        ``B × n × m`` products. Gradients are *accumulated* into ``.grad`` like
        ``backward()``; the caller zeroes them and steps an optimiser.
        """
        if check:
            v = self.check_input(v, "v")
            h_chain = check_states(h_chain, self.n_hidden, name="h_chain")
            k = check_positive_int(k, "k")
        h = h_chain
        for _ in range(k):
            v_neg = torch.addmm(self.b, h, self.W.T).sigmoid_()
            v_neg = _bernoulli(v_neg, generator)
            ph_neg = torch.addmm(self.c, v_neg, self.W).sigmoid_()
            h = _bernoulli(ph_neg, generator)
        ph_pos = torch.addmm(self.c, v, self.W).sigmoid_()
        Bp, Bn = v.shape[0], v_neg.shape[0]
        for p in (self.W, self.b, self.c):
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        # accumulate in place (no temporaries): ∂W = v⁻ᵀp⁻/B' − vᵀp⁺/B, etc.
        self.W.grad.addmm_(v_neg.T, ph_neg, alpha=1.0 / Bn).addmm_(v.T, ph_pos, alpha=-1.0 / Bp)
        # column means as GEMVs with a ones vector (faster than strided sum(0) reductions)
        on, op = v.new_ones(Bn), v.new_ones(Bp)
        self.b.grad.addmv_(v_neg.T, on, alpha=1.0 / Bn).addmv_(v.T, op, alpha=-1.0 / Bp)
        self.c.grad.addmv_(ph_neg.T, on, alpha=1.0 / Bn).addmv_(ph_pos.T, op, alpha=-1.0 / Bp)
        return h

    def init_chains(
        self, n_chains: int, data: torch.Tensor | None = None, *, generator=None
    ) -> torch.Tensor:
        """Initial persistent hidden chains ``(n_chains, m)``: drawn from ``p(h | v)`` of
        random data rows if ``data`` is given, else uniform."""
        n_chains = check_positive_int(n_chains, "n_chains")
        with torch.no_grad():
            if data is None:
                p = torch.full((n_chains, self.n_hidden), 0.5, dtype=self.dtype, device=self.device)
                return _bernoulli(p, generator)
            data = self.check_input(data, "data")
            idx = torch.randint(
                0, data.shape[0], (n_chains,), generator=generator, device=data.device
            )
            return self.sample_hidden(data[idx].to(self.dtype), generator=generator)

    def extra_repr(self) -> str:
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}"


class RBMAnnealingPath:
    """AIS path of Salakhutdinov & Murray (2008) for an RBM, on the visible units.

    The intermediate joint is ``p_β(v, h) ∝ exp((1 − β) b_Aᵀv − β E(v, h))`` with the base
    logits ``b_A`` (a Bernoulli base ``σ(b_A)`` on ``v``, uniform ``h``); summing ``h``:
    ``log f_β(v) = (1 − β) b_Aᵀv + β bᵀv + Σ_j softplus(β (c_j + (vW)_j))``.
    ``f_1 = exp(−F)``; ``Z_0 = 2^m Π_i (1 + exp(b_A,i))``. The transition is one
    block-Gibbs sweep of ``p_β(v, h)``: ``h ~ σ(β(c + vW))``, ``v ~ σ((1 − β) b_A + β(b + hWᵀ))``.
    """

    def __init__(self, model: RBM, base_logits: torch.Tensor):
        self.model = model
        self.base_logits = base_logits.to(device=model.device, dtype=model.dtype)

    def log_z_base(self) -> float:
        return float(
            self.model.n_hidden * math.log(2.0) + F.softplus(self.base_logits.double()).sum()
        )

    def sample_base(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        p = torch.sigmoid(self.base_logits).expand(n, -1)
        return _bernoulli(p, generator)

    def log_f(self, v: torch.Tensor, beta: float) -> torch.Tensor:
        m = self.model
        lin = v @ ((1 - beta) * self.base_logits + beta * m.b)
        return lin + F.softplus(beta * m.hidden_logits(v)).sum(1)

    def transition(self, v: torch.Tensor, beta: float, generator: torch.Generator | None):
        m = self.model
        h = _bernoulli(torch.sigmoid(beta * m.hidden_logits(v)), generator)
        logits = (1 - beta) * self.base_logits + beta * m.visible_logits(h)
        return _bernoulli(torch.sigmoid(logits), generator)
