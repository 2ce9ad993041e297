"""Checkerboard heat-bath kernel for Ising models on 2-D lattices (the block-Gibbs fast path).

Layout. Site ``(r, c)`` of an ``L1 × L2`` lattice (index ``r·L2 + c``) with ``r = 2i + a``,
``c = 2j + b`` lives in sublattice ``q = 2a + b`` at cell ``(i, j)``: the state is one int8
tensor ``S (4, B, H, W)`` of spins ``±1`` with ``H = ⌈L1/2⌉``, ``W = ⌈L2/2⌉``, sublattices
stored in the order ``ORDER = (0, 3, 1, 2)``. Colour ``(r + c) mod 2`` is ``{q = 0, 3}``
(black, ``S[0:2]``) or ``{1, 2}`` (white, ``S[2:4]``); every neighbour of a site lies in a
sublattice of the other colour, shifted by at most one cell, so a colour update reads aligned
arrays and writes its own contiguous half in place: no masking, each colour computed on its
own half of the lattice. Open lattices with odd sides are padded to even sides with dummy
sites of zero coupling, held at ``+1``.

Update. With ``φ = Σ_k J_k s_k + h`` (the model's current per-edge couplings, laid out as
``J (4, 4, H, W)`` by sublattice and direction) the heat-bath rule is
``P(s = +1) = p = σ(2βφ)``. It is drawn from one random 16-bit integer ``r ∈ [0, 2¹⁶)`` per
site: with ``T = 2¹⁶ p`` the site becomes ``+1`` if ``r < ⌊T⌋``, ``−1`` if ``r > ⌊T⌋``, and
on a tie (``r = ⌊T⌋``, probability ``2⁻¹⁶``) ``+1`` with probability ``T − ⌊T⌋`` (a float64
uniform, ``T`` computed in float64). So ``P(+1) = ⌊T⌋/2¹⁶ + (T − ⌊T⌋)/2¹⁶ = p`` exactly (up
to float64 rounding): no quantisation error, at 16 random bits per update instead of 32.

- Uniform periodic lattices (one coupling ``J``, one field ``h``): ``φ`` depends only on the
  neighbour sum ``n ∈ {−4, −2, 0, 2, 4}``, so the decision is a lookup
  ``table[n, r] = sign(⌊T_n⌋ − r)`` (``0`` marks a tie) in a 5 × 2¹⁶ int8 table built once
  per β: integer adds of int8 spins, one gather, no transcendental function per site.
- General couplings and fields: ``D = 2¹⁶ σ(2βφ) − r`` in float32; ``+1`` if ``D ≥ 1``,
  ``−1`` if ``D ≤ 0``, tie otherwise; the tie is redrawn from ``φ`` recomputed in float64
  (probability clamped to [0, 1], so the float32/float64 difference changes ``P(+1)`` by
  float rounding only).

Every random bit comes from the caller's ``torch.Generator`` (``random_`` over the full
64-bit range, viewed as int16), so a run is repeatable. Buffers are allocated once and kept
by the kernel between calls of the same batch size (fresh pages are expensive: nothing is
allocated per sweep on the hot path). The kernel is eager PyTorch (vectorised over chains
and sites, any device); it does not use ``torch.compile``."""

from __future__ import annotations

import torch

from ..models.ising import IsingModel

# direction k: 0 left (0, −1), 1 right (0, +1), 2 up (−1, 0), 3 down (+1, 0)
_OPPOSITE = (1, 0, 3, 2)
BLACK, WHITE = 0, 1
# storage order of the sublattices: black (q = 0, 3) first, then white (q = 1, 2), so a
# colour is the contiguous slice S[2c : 2c + 2]; POS[q] is the position of sublattice q
ORDER = (0, 3, 1, 2)
POS = {q: pos for pos, q in enumerate(ORDER)}
_BITS = 16  # random bits per site update
_R = 1 << _BITS  # the random integer r of a site is uniform on [0, _R)
_OFF = 1 << 15  # stored as int16 r16 = r − 2¹⁵


def _neighbour(q: int, k: int) -> tuple[int, int, int]:
    """Sublattice ``q'`` and cell shift ``(di, dj)`` of the direction-``k`` neighbour of ``q``.

    Site ``(2i+a, 2j+b)``: its left neighbour is ``(a, 0)`` at ``(i, j)`` if ``b = 1`` and
    ``(a, 1)`` at ``(i, j−1)`` if ``b = 0``; likewise for the other directions.
    """
    a, b = divmod(q, 2)
    if k == 0:
        return (2 * a, 0, 0) if b else (2 * a + 1, 0, -1)
    if k == 1:
        return (2 * a + 1, 0, 0) if not b else (2 * a, 0, 1)
    if k == 2:
        return (b, 0, 0) if a else (2 + b, -1, 0)
    return (2 + b, 0, 0) if not a else (b, 1, 0)


NEIGHBOURS = [[_neighbour(q, k) for k in range(4)] for q in range(4)]


def lattice_supported(shape: tuple[int, int] | None, periodic: bool) -> bool:
    """Whether the kernel handles this lattice: open of any size, or periodic with both
    sides even and ``≥ 4`` (a periodic side ``≤ 2`` merges wrapped bonds; an odd periodic
    side has no checkerboard colouring)."""
    if shape is None:
        return False
    L1, L2 = shape
    if periodic:
        return L1 % 2 == 0 and L2 % 2 == 0 and L1 >= 4 and L2 >= 4
    return L1 >= 1 and L2 >= 1


def _site_slots(L2: int, H: int, W: int, sites: torch.Tensor) -> torch.Tensor:
    """Flat index ``q·H·W + i·W + j`` of each lattice site in the sublattice layout."""
    r = sites // L2
    return _cell_slots(r, sites - r * L2, H, W)


def _cell_slots(r: torch.Tensor, c: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """``_site_slots`` from the row ``r`` and column ``c`` (non-negative integer tensors):
    sublattice ``q = 2(r mod 2) + c mod 2``, cell ``(⌊r/2⌋, ⌊c/2⌋)``."""
    q = ((r & 1) << 1) | (c & 1)
    return q * (H * W) + (r >> 1) * W + (c >> 1)


def decision_table(beta: float, coupling: float, field: float, device=None) -> torch.Tensor:
    """Lookup table ``(5 · R,)`` int8 for uniform lattices (``R = 2¹⁶``).

    Entry ``k·R + r`` is ``sign(⌊R p_k⌋ − r)`` with
    ``p_k = σ(2β(J·n_k + h))``, ``n_k = 2k − 4`` the neighbour sum: ``+1``/``−1`` decide the
    spin, ``0`` is a tie (see the module docstring). Computed in float64.
    """
    n = torch.arange(-4, 5, 2, dtype=torch.float64, device=device)
    T = torch.sigmoid(2.0 * beta * (coupling * n + field)) * _R
    K = torch.floor(T).to(torch.int64)
    r = torch.arange(_R, device=device, dtype=torch.int64)
    return torch.sign(K[:, None] - r[None, :]).to(torch.int8).reshape(-1)


class LatticeKernel:
    """Checkerboard heat-bath sweeps of an ``IsingModel`` that has a ``lattice_shape``.

    Built once per sampler: it maps the model's edge list onto the sublattice layout (and
    raises ``ValueError`` if an edge is not a nearest-neighbour bond); every ``run`` reads the
    model's current ``weights`` and ``h``.

    Args:
        model: ``IsingModel`` with ``lattice_shape`` and ``periodic`` (e.g. from
            ``IsingModel.lattice``) such that ``lattice_supported`` holds.
    """

    def __init__(self, model: IsingModel):
        if not isinstance(model, IsingModel):
            raise TypeError(f"model must be an IsingModel, got {type(model).__name__}")
        shape, periodic = model.lattice_shape, bool(model.periodic)
        if not lattice_supported(shape, periodic):
            raise ValueError(
                f"lattice {shape} (periodic={periodic}) is not supported by the kernel"
            )
        self.model = model
        self.L1, self.L2 = L1, L2 = shape
        self.H, self.W = H, W = (L1 + 1) // 2, (L2 + 1) // 2
        self.periodic = periodic
        # index arithmetic in int32 where it fits (half the memory traffic of int64: this
        # loop over the edges is the whole construction cost of a large lattice)
        itype = torch.int32 if 16 * H * W < 2**31 else torch.int64
        e = model.edges.detach().cpu().to(itype)
        u, v = e[:, 0], e[:, 1]
        ru, rv = u // L2, v // L2
        cu, cv = u - ru * L2, v - rv * L2
        dr, dc = rv - ru, cv - cu
        if periodic:
            dr = torch.where(dr.abs() == L1 - 1, -dr.sign(), dr)
            dc = torch.where(dc.abs() == L2 - 1, -dc.sign(), dc)
        horiz = (dr == 0) & (dc.abs() == 1)
        vert = (dc == 0) & (dr.abs() == 1)
        if not bool((horiz | vert).all()):
            raise ValueError("model edges are not all nearest-neighbour bonds of its lattice_shape")
        k_uv = torch.where(horiz, torch.where(dc > 0, 1, 0), torch.where(dr > 0, 3, 2)).to(itype)
        k_vu = torch.tensor(_OPPOSITE, dtype=itype)[k_uv]
        su, sv = _cell_slots(ru, cu, H, W), _cell_slots(rv, cv, H, W)
        hw = H * W
        # flat slots into J (4, 4, H, W); both endpoints of a bond see its coupling
        self._j_slots = torch.cat(
            [(su // hw * 4 + k_uv) * hw + su % hw, (sv // hw * 4 + k_vu) * hw + sv % hw]
        ).long()
        self._j_edge = torch.cat([torch.arange(e.shape[0])] * 2)
        self._h_slots = _site_slots(L2, H, W, torch.arange(L1 * L2, dtype=itype)).long()
        self._dev_cache: dict = {}
        self._tables: dict = {}
        self._params: tuple | None = None  # (device, weights, h, J, h layout, uniform)
        self._ws: _Workspace | None = None  # buffers of the last run, reused if shapes match

    # ------------------------------------------------------------- parameters
    def _slots_on(self, device):
        key = str(device)
        if key not in self._dev_cache:
            self._dev_cache[key] = tuple(
                t.to(device) for t in (self._j_slots, self._j_edge, self._h_slots)
            )
        return self._dev_cache[key]

    def parameters_now(self, device) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Current couplings ``J (4, 4, H, W)`` and fields ``h (4, H, W)`` (float32) in the
        layout (zero on padding and missing bonds), and whether the lattice is periodic with
        a single coupling and a single field value (the lookup-table case)."""
        m = self.model
        w = m.weights.detach().to(device=device, dtype=torch.float32)
        h = m.h.detach().to(device=device, dtype=torch.float32)
        uniform = (
            self.periodic
            and w.numel() == 2 * self.L1 * self.L2
            and bool((w == w[0]).all())
            and bool((h == h[0]).all())
        )
        j_slots, j_edge, h_slots = self._slots_on(device)
        H, W = self.H, self.W
        J = torch.zeros(16 * H * W, device=device, dtype=torch.float32)
        J.index_put_((j_slots,), w[j_edge], accumulate=True)
        hq = torch.zeros(4 * H * W, device=device, dtype=torch.float32)
        hq[h_slots] = h
        return J.view(4, 4, H, W), hq.view(4, H, W), uniform

    def _current_parameters(self, device):
        """``parameters_now``, recomputed only when ``weights`` or ``h`` changed (compared
        with a copy: cheaper than the layout scatter, and safe against ``.data`` edits)."""
        m = self.model
        w, h = m.weights.detach(), m.h.detach()
        p = self._params
        if (
            p is None
            or p[0] != str(device)
            or not (p[1].shape == w.shape and torch.equal(p[1], w.to(p[1].device)))
            or not (p[2].shape == h.shape and torch.equal(p[2], h.to(p[2].device)))
        ):
            self._params = p = (str(device), w.clone(), h.clone(), *self.parameters_now(device))
        return p[3:]

    def _table(self, beta: float, coupling: float, field: float, device) -> tuple:
        """``(decision_table, frac)`` for one β (cached): ``frac[k] = T_k − ⌊T_k⌋`` is the
        probability that a tie at neighbour sum ``n = 2k − 4`` becomes ``+1``."""
        key = (beta, coupling, field, str(device))
        if key not in self._tables:
            if len(self._tables) > 4:
                self._tables.clear()
            n = torch.arange(-4, 5, 2, dtype=torch.float64, device=device)
            T = torch.sigmoid(2.0 * beta * (coupling * n + field)) * _R
            self._tables[key] = (decision_table(beta, coupling, field, device), T - T.floor())
        return self._tables[key]

    # --------------------------------------------------------------- layouts
    def to_layout(self, x: torch.Tensor, dtype=torch.int8) -> torch.Tensor:
        """``x (B, L1·L2)`` in {0,1} → spins ``2x − 1`` as ``(4, B, H, W)`` in storage order
        ``ORDER`` (padding sites ``+1``); ``dtype=torch.bool`` lays out a mask (padding
        ``False``)."""
        B = x.shape[0]
        L1, L2, H, W = self.L1, self.L2, self.H, self.W
        S = torch.empty(4, B, H, W, dtype=dtype, device=x.device)
        x = x.to(dtype)  # one contiguous conversion; the strided copies below move bytes
        if (2 * H, 2 * W) == (L1, L2):
            grid = x.reshape(B, H, 2, W, 2)
        else:
            pad = torch.zeros(B, 2 * H, 2 * W, dtype=dtype, device=x.device)
            pad[:, :L1, :L2] = x.reshape(B, L1, L2)
            if dtype != torch.bool:
                pad[:, L1:] = 1
                pad[:, :, L2:] = 1
            grid = pad.view(B, H, 2, W, 2)
        for pos, q in enumerate(ORDER):
            S[pos].copy_(grid[:, :, q // 2, :, q % 2])
        if dtype != torch.bool:
            S.mul_(2).sub_(1)
        return S

    def from_layout(self, S: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
        """Inverse of ``to_layout``: spins ``(4, B, H, W)`` → states ``(B, L1·L2)`` in {0,1}."""
        _, B, H, W = S.shape
        L1, L2 = self.L1, self.L2
        bits = torch.add(S, 1).bitwise_right_shift_(1)  # (s + 1) / 2
        grid = torch.empty(B, H, 2, W, 2, dtype=bits.dtype, device=S.device)
        for pos, q in enumerate(ORDER):
            grid[:, :, q // 2, :, q % 2].copy_(bits[pos])
        grid = grid.view(B, 2 * H, 2 * W)
        if (2 * H, 2 * W) != (L1, L2):
            grid = grid[:, :L1, :L2]
        return grid.reshape(B, L1 * L2).to(dtype)

    # ------------------------------------------------------------------ run
    def run(
        self,
        x: torch.Tensor,
        betas: list[float],
        *,
        clamp: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        thin: int = 1,
        trace_fn=None,
        count_flips: bool = False,
        progress=None,
    ) -> tuple[torch.Tensor, dict]:
        """Run ``len(betas)`` sweeps (black colour, then white) from states ``x (B, d)``.

        ``clamp (B, d)`` (bool) holds coordinates at their values in ``x``; ``trace_fn`` is
        called on the states ``(B, d)`` every ``thin`` sweeps; ``progress.update(1)`` after
        each sweep. Returns the final states (``x``'s dtype) and ``{"flip_rate": float or
        None, "energy_trace": list}``; flips are counted only with ``count_flips``.
        """
        device, B = x.device, x.shape[0]
        S = self.to_layout(x)
        mask = None if clamp is None else self.to_layout(clamp, dtype=torch.bool)
        J, h, uniform = self._current_parameters(device)
        coupling, field = (float(J[0, 1, 0, 0]), float(h[0, 0, 0])) if uniform else (0.0, 0.0)
        ws = self._ws
        if ws is None or (ws.B, ws.device) != (B, device):
            ws = self._ws = _Workspace(B, self.H, self.W, device)
        two_beta = torch.zeros((), device=device)
        real = self.to_layout(torch.ones(1, self.L1 * self.L2, device=device), dtype=torch.bool)
        padded = (2 * self.H, 2 * self.W) != (self.L1, self.L2)
        pad = ~real
        flips = torch.zeros((), dtype=torch.int64, device=device)
        trace = []
        for t, beta in enumerate(betas):
            table, fracs = (
                self._table(float(beta), coupling, field, device) if uniform else (None, None)
            )
            two_beta.fill_(2.0 * beta)
            for colour in (BLACK, WHITE):
                part = slice(2 * colour, 2 * colour + 2)  # this colour's two sublattices
                Sc = S[part]
                if count_flips:
                    ws.old.copy_(Sc)
                ws.draw(generator)
                target = Sc if mask is None else ws.new
                if uniform:
                    ws.neighbour_sums(S, colour)
                    _table_update(target, table, ws)
                else:
                    for slot in range(2):
                        q = ORDER[2 * colour + slot]
                        nbrs = ws.neighbours(S, q)
                        _field_update(target[slot], nbrs, J[q], h[q], ws.r[slot], two_beta, ws)
                if mask is not None:
                    torch.where(mask[part], Sc, ws.new, out=Sc)
                if padded:  # padding sites: fixed at +1 (no ties, no random draws)
                    Sc.masked_fill_(pad[part], 1)
                self._resolve_ties(S, colour, J, h, float(beta), generator, ws, fracs)
                if count_flips:
                    torch.ne(Sc, ws.old, out=ws.flipmask)
                    ws.flipmask.logical_and_(real[part])
                    flips += ws.flipmask.sum()
            if trace_fn is not None and (t + 1) % thin == 0:
                trace.append(trace_fn(self.from_layout(S, x.dtype)))
            if progress is not None:
                progress.update(1)
        out = self.from_layout(S, x.dtype)
        n = max(len(betas), 1) * B * self.L1 * self.L2
        flip_rate = float(flips) / n if count_flips else None
        return out, {"flip_rate": flip_rate, "energy_trace": trace}

    def _resolve_ties(self, S, colour, J, h, beta, generator, ws, fracs=None) -> None:
        """Exact draw at the sites the integer comparison left undecided (spin value 0).

        Ties are located row by row (a row minimum of ``|s|``), then all ties of the colour
        are resolved at once with flat gathers: ``P(+1 | tie) = clamp(T − r, 0, 1)`` with
        ``T = R σ(2βφ)`` in float64; one float64 uniform per tie in (slot, chain, cell) order.
        On the uniform (table) path ``T − ⌊T⌋`` depends only on the neighbour sum, still in
        ``ws.acc``: ``fracs`` holds its five values.
        """
        H, W, B = self.H, self.W, ws.B
        Sc = S[2 * colour : 2 * colour + 2]
        torch.abs(Sc, out=ws.mag)
        torch.amin(ws.mag.view(-1, W), 1, out=ws.rowmin)
        rows = (ws.rowmin == 0).nonzero().squeeze(1)  # rows (slot, b, i) holding a tie: few
        if rows.numel() == 0:
            return
        rr, j = (ws.mag.view(-1, W).index_select(0, rows) == 0).nonzero(as_tuple=True)
        row = rows[rr]  # (slot·B + b)·H + i
        flat = row * W + j
        if fracs is not None:
            frac = fracs[(ws.acc.view(-1)[flat].long() + 4) // 2]
            u = torch.rand(frac.shape, generator=generator, device=S.device, dtype=torch.float64)
            Sc.view(-1)[flat] = torch.where(u < frac, 1, -1).to(torch.int8)
            return
        slot, b, i = row // (B * H), row // H % B, row % H
        q, pos2, di, dj = self._tie_table(colour, S.device)
        q, pos2, di, dj = q[slot], pos2[slot], di[slot], dj[slot]  # (n,), (n, 4) ...
        ii = (i[:, None] + di) % H
        jj = (j[:, None] + dj) % W
        s_nb = S.view(-1)[((pos2 * B + b[:, None]) * H + ii) * W + jj].double()
        k4 = torch.arange(4, device=S.device)
        J_nb = J.reshape(-1)[((q[:, None] * 4 + k4) * H + i[:, None]) * W + j[:, None]].double()
        phi = (J_nb * s_nb).sum(1) + h.reshape(-1)[(q * H + i) * W + j].double()
        T = torch.sigmoid(2.0 * beta * phi) * _R
        frac = (T - (ws.r.reshape(-1)[flat].double() + _OFF)).clamp_(0.0, 1.0)
        u = torch.rand(frac.shape, generator=generator, device=S.device, dtype=torch.float64)
        Sc.view(-1)[flat] = torch.where(u < frac, 1, -1).to(torch.int8)

    def _tie_table(self, colour: int, device):
        """Per slot of ``colour``: sublattice ``q (2,)`` and, per direction, the neighbour's
        storage position and cell shift ``(2, 4)`` each."""
        key = (colour, str(device))
        if key not in self._dev_cache:
            qs = [ORDER[2 * colour + slot] for slot in range(2)]
            nb = torch.tensor([[[POS[q2], di, dj] for q2, di, dj in NEIGHBOURS[q]] for q in qs])
            self._dev_cache[key] = (
                torch.tensor(qs, device=device),
                nb[..., 0].to(device),
                nb[..., 1].to(device),
                nb[..., 2].to(device),
            )
        return self._dev_cache[key]


class _Workspace:
    """Buffers reused across sweeps (allocating per step is slow: fresh pages fault)."""

    def __init__(self, B: int, H: int, W: int, device):
        self.B, self.device = B, device
        n = 2 * B * H * W
        self.words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device)
        self.r = self.words.view(torch.int16)[:n].view(2, B, H, W)
        self.rowmin = torch.empty(2 * B * H, dtype=torch.int8, device=device)
        self.shift = [torch.empty(B, H, W, dtype=torch.int8, device=device) for _ in range(4)]
        self.acc = torch.empty(2, B, H, W, dtype=torch.int8, device=device)
        self.mag = torch.empty(2, B, H, W, dtype=torch.int8, device=device)
        self.lo = torch.empty(B, H, W, dtype=torch.int8, device=device)
        self.new = torch.empty(2, B, H, W, dtype=torch.int8, device=device)
        self.idx = torch.empty(2, B, H, W, dtype=torch.int32, device=device)
        self.f = torch.empty(B, H, W, device=device)
        self.g = torch.empty(B, H, W, device=device)
        self.old = torch.empty(2, B, H, W, dtype=torch.int8, device=device)
        self.flipmask = torch.empty(2, B, H, W, dtype=torch.bool, device=device)

    def draw(self, generator) -> None:
        """Refill ``r`` with independent uniform 16-bit integers (full 64-bit words)."""
        self.words.random_(-(2**63), to=None, generator=generator)

    def neighbours(self, S: torch.Tensor, q: int) -> list[torch.Tensor]:
        """The four neighbour arrays of sublattice ``q`` aligned with it; shifted ones are
        copied into preallocated buffers."""
        out = []
        for k, (q2, di, dj) in enumerate(NEIGHBOURS[q]):
            if di == 0 and dj == 0:
                out.append(S[POS[q2]])
            else:
                _shift_into(self.shift[k], S[POS[q2]], di, dj)
                out.append(self.shift[k])
        return out

    def neighbour_sums(self, S: torch.Tensor, colour: int) -> None:
        """``acc[slot] = Σ_k s_k`` over the four neighbours of each sublattice of ``colour``.

        Both sublattices of a colour have the two other-colour sublattices as unshifted
        neighbours, so their sum is computed once; the shifted ones are added by slices.
        """
        other = S[2 - 2 * colour : 4 - 2 * colour]
        torch.add(other[0], other[1], out=self.acc[0])
        self.acc[1].copy_(self.acc[0])
        for slot in range(2):
            q = ORDER[2 * colour + slot]
            for q2, di, dj in NEIGHBOURS[q]:
                if di or dj:
                    _add_shifted(self.acc[slot], S[POS[q2]], di, dj)


def _shift_into(buf: torch.Tensor, src: torch.Tensor, di: int, dj: int) -> None:
    """``buf[:, i, j] = src[:, (i + di) mod H, (j + dj) mod W]`` for one unit shift."""
    if dj == 1:
        buf[:, :, :-1].copy_(src[:, :, 1:])
        buf[:, :, -1].copy_(src[:, :, 0])
    elif dj == -1:
        buf[:, :, 1:].copy_(src[:, :, :-1])
        buf[:, :, 0].copy_(src[:, :, -1])
    elif di == 1:
        buf[:, :-1].copy_(src[:, 1:])
        buf[:, -1].copy_(src[:, 0])
    else:
        buf[:, 1:].copy_(src[:, :-1])
        buf[:, 0].copy_(src[:, -1])


def _add_shifted(acc: torch.Tensor, src: torch.Tensor, di: int, dj: int) -> None:
    """``acc[:, i, j] += src[:, (i + di) mod H, (j + dj) mod W]`` for one unit shift."""
    if dj == 1:
        acc[:, :, :-1].add_(src[:, :, 1:])
        acc[:, :, -1].add_(src[:, :, 0])
    elif dj == -1:
        acc[:, :, 1:].add_(src[:, :, :-1])
        acc[:, :, 0].add_(src[:, :, -1])
    elif di == 1:
        acc[:, :-1].add_(src[:, 1:])
        acc[:, -1].add_(src[:, 0])
    else:
        acc[:, 1:].add_(src[:, :-1])
        acc[:, 0].add_(src[:, -1])


def _table_update(out, table, ws) -> None:
    """Uniform lattice: ``out = table[(n + 4)/2 · R + r]`` with ``n = ws.acc`` the neighbour
    sums and ``r = r16 + 2¹⁵``, i.e. index ``n·R/2 + r16 + 2R + 2¹⁵``; shapes ``(2, B, H, W)``."""
    ws.idx.copy_(ws.r)
    ws.idx.add_(ws.acc, alpha=_R // 2).add_(2 * _R + _OFF)
    torch.index_select(table, 0, ws.idx.view(-1), out=out.view(-1))


def _field_update(out, nbrs, J, h, r, two_beta, ws) -> None:
    """General couplings: ``φ = Σ_k J_k n_k + h``, ``D = R σ(2βφ) − r``;
    ``out = +1`` if ``D ≥ 1``, ``−1`` if ``D ≤ 0``, ``0`` (tie) otherwise.
    ``J (4, H, W)``, ``h (H, W)``, everything else ``(B, H, W)``."""
    f, g = ws.f, ws.g
    f.copy_(nbrs[0]).mul_(J[0])
    for k in range(1, 4):
        g.copy_(nbrs[k]).mul_(J[k])
        f.add_(g)
    f.add_(h).mul_(two_beta).sigmoid_().mul_(float(_R))
    g.copy_(r)
    f.sub_(g).sub_(float(_OFF))
    torch.ge(f, 1.0, out=out)  # bool results cast into the int8 buffers
    torch.le(f, 0.0, out=ws.lo)
    out.sub_(ws.lo)
