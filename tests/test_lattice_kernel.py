"""The checkerboard lattice kernel (block-Gibbs fast path) against exact enumeration, closed
forms and a straightforward reference implementation driven by the same random stream."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest
import torch

from discrete_ebm.evaluation import exact
from discrete_ebm.models.ising import IsingModel
from discrete_ebm.samplers.base import geometric_beta_schedule
from discrete_ebm.samplers.block_gibbs import BlockGibbsSampler
from discrete_ebm.samplers.lattice import (
    NEIGHBOURS,
    ORDER,
    POS,
    LatticeKernel,
    decision_table,
    lattice_supported,
)

R = 1 << 16


def random_lattice(shape, periodic, seed, *, coupling_std=0.45, field_std=0.3) -> IsingModel:
    """Lattice with independent N(0, std²) couplings and fields (set after construction,
    as training would)."""
    g = torch.Generator().manual_seed(seed)
    m = IsingModel.lattice(shape, 1.0, 0.0, periodic=periodic)
    with torch.no_grad():
        m.weights.copy_(coupling_std * torch.randn(m.n_edges, generator=g))
        m.h.copy_(field_std * torch.randn(m.dim, generator=g))
    return m


def z_bonferroni(n_tests: int, alpha: float = 1e-4) -> float:
    """Two-sided normal quantile so that ``n_tests`` z-tests all pass with prob ≥ 1 − alpha."""
    return NormalDist().inv_cdf(1 - alpha / (2 * n_tests))


def assert_moments_match(x: torch.Tensor, model: IsingModel, beta: float = 1.0, free=None):
    """Empirical ``E[x_i]`` and ``E[x_i x_j]`` on bonds vs exact, each within ``z·sd/√B``
    (sd from the exact Bernoulli variance; chains are independent; z Bonferroni-corrected)."""
    B = x.shape[0]
    x = x.double()
    mean_exact = exact.marginals(model, beta=beta)
    pair_exact = exact.pairwise(model, beta=beta)
    i, j = model.edges[:, 0], model.edges[:, 1]
    emp = torch.cat([x.mean(0), (x[:, i] * x[:, j]).mean(0)])
    ref = torch.cat([mean_exact, pair_exact[i, j]])
    sd = (ref * (1 - ref)).clamp_min(1e-12).sqrt() / math.sqrt(B)
    z = z_bonferroni(ref.numel())
    err = (emp - ref).abs() / sd
    assert float(err.max()) < z, f"max z-score {float(err.max()):.2f} >= {z:.2f}"


def tv_tolerance(p: torch.Tensor, B: int, delta: float = 1e-6) -> float:
    """Bound on TV(empirical of B iid draws, p) holding with prob ≥ 1 − delta:
    E[TV] ≤ ½ Σ sqrt(p(1−p)/B) (Jensen) plus the McDiarmid deviation sqrt(ln(1/δ)/(2B))
    (one draw moves the TV by at most 1/B)."""
    mean_bound = 0.5 * float((p * (1 - p) / B).sqrt().sum())
    return mean_bound + math.sqrt(math.log(1 / delta) / (2 * B))


# ------------------------------------------------------------------- structure


@pytest.mark.parametrize(
    "shape,periodic", [((4, 4), True), ((4, 6), True), ((3, 5), False), ((1, 4), False)]
)
def test_layout_round_trip_and_fields_match_the_model(shape, periodic):
    m = random_lattice(shape, periodic, seed=3)
    k = LatticeKernel(m)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2, (7, m.dim), generator=g).float()
    assert torch.equal(k.from_layout(k.to_layout(x)), x)
    mask = torch.rand(7, m.dim, generator=g) < 0.5
    assert torch.equal(k.from_layout(k.to_layout(mask, dtype=torch.bool), torch.bool), mask)
    # φ assembled from the kernel's coupling layout equals the model's local fields
    J, h, _ = k.parameters_now(x.device)
    S = k.to_layout(x).double()
    phi = torch.zeros_like(S)
    for q in range(4):
        acc = h[q].double().expand_as(S[0]).clone()
        for d, (q2, di, dj) in enumerate(NEIGHBOURS[q]):
            nb = torch.roll(S[POS[q2]], shifts=(-di, -dj), dims=(1, 2))
            acc += J[q, d].double() * nb
        phi[POS[q]] = acc
    # read φ back through the same permutation as the states
    grid = torch.empty(7, k.H, 2, k.W, 2, dtype=torch.float64)
    for pos, q in enumerate(ORDER):
        grid[:, :, q // 2, :, q % 2] = phi[pos]
    fields = grid.view(7, 2 * k.H, 2 * k.W)[:, : shape[0], : shape[1]].reshape(7, -1)
    torch.testing.assert_close(fields, m.double().local_fields(x.double()), atol=1e-6, rtol=0)


def test_dispatch_to_the_kernel():
    assert BlockGibbsSampler(IsingModel.lattice(4)).lattice_kernel is not None
    assert BlockGibbsSampler(IsingModel.lattice((3, 5), periodic=False)).lattice_kernel is not None
    assert BlockGibbsSampler(IsingModel.lattice(5)).lattice_kernel is None  # odd torus
    assert BlockGibbsSampler(IsingModel.lattice((2, 4))).lattice_kernel is None  # merged bonds
    assert BlockGibbsSampler(IsingModel.lattice(4), fast_lattice=False).lattice_kernel is None
    blocks = [[i for i in range(16) if (i // 4 + i % 4) % 2 == c] for c in (0, 1)]
    assert BlockGibbsSampler(IsingModel.lattice(4), coloring=blocks).lattice_kernel is None
    assert not lattice_supported(None, True)
    with pytest.raises(ValueError, match="nearest-neighbour"):
        m = IsingModel.from_edges(16, [[0, 5]], [1.0])
        m.lattice_shape, m.periodic = (4, 4), True
        LatticeKernel(m)
    with pytest.raises(TypeError, match="IsingModel"):
        LatticeKernel(torch.nn.Linear(2, 2))


@pytest.mark.parametrize(
    "beta,coupling,field", [(1.0, 0.44, 0.0), (0.7, -0.8, 0.35), (0.0, 1.0, 1.0)]
)
def test_decision_table_is_exact(beta, coupling, field):
    """P(+1) = (#{r : table = +1} + P(tie wins)) / 2¹⁶ equals σ(2β(J n + h)) to float64."""
    table = decision_table(beta, coupling, field).view(5, R).long()
    for k in range(5):
        n = 2 * k - 4
        p = 1 / (1 + math.exp(-2 * beta * (coupling * n + field)))
        T = p * R
        wins = int((table[k] == 1).sum())
        ties = int((table[k] == 0).sum())
        assert ties <= 1 and wins == math.floor(T)
        assert abs((wins + ties * (T - math.floor(T))) / R - p) < 1e-12


# ---------------------------------------------------------- against enumeration


@pytest.mark.parametrize(
    "shape,periodic,uniform",
    [((4, 4), True, False), ((3, 4), False, False), ((4, 4), True, True)],
    ids=["4x4-periodic-random", "3x4-open-random", "4x4-periodic-uniform-table"],
)
def test_matches_exact_distribution(shape, periodic, uniform):
    if uniform:
        m = IsingModel.lattice(shape, 0.25, 0.15, periodic=periodic)  # mixes in ≪ 30 sweeps
    else:
        m = random_lattice(shape, periodic, seed=11)
    sampler = BlockGibbsSampler(m)
    assert sampler.lattice_kernel is not None
    assert sampler.lattice_kernel.parameters_now("cpu")[2] == uniform
    g = torch.Generator().manual_seed(5)
    B = 20000
    # 30 sweeps from uniform random starts: ≫ the mixing time of these 12–16-site models
    x = sampler.sample(B, 30, generator=g)
    assert_moments_match(x, m)
    if m.dim <= 12:
        p = exact.probabilities(m)
        emp = torch.bincount(exact.state_index(x), minlength=p.numel()).double() / B
        tv = 0.5 * float((emp - p).abs().sum())
        assert tv < tv_tolerance(p, B)


def test_clamped_sampling_matches_exact_conditional():
    m = random_lattice((3, 4), False, seed=21)
    d = m.dim
    clamped = torch.tensor([0, 5, 6, 11])
    values = torch.tensor([1.0, 0.0, 1.0, 1.0])
    mask = torch.zeros(d, dtype=torch.bool)
    mask[clamped] = True
    B = 20000
    g = torch.Generator().manual_seed(7)
    x0 = torch.randint(0, 2, (B, d), generator=g).float()
    x0[:, clamped] = values
    x = BlockGibbsSampler(m).sample(n_steps=30, x0=x0, clamp=mask, generator=g)
    assert torch.equal(x[:, clamped], x0[:, clamped])
    states = exact.all_states(d)
    p = exact.probabilities(m)
    keep = (states[:, clamped] == values.double()).all(1)
    pc = p * keep
    pc = pc / pc.sum()
    free = ~mask
    mean_exact = pc @ states[:, free]
    sd = (mean_exact * (1 - mean_exact)).sqrt() / math.sqrt(B)
    z = z_bonferroni(int(free.sum()))
    err = (x[:, free].double().mean(0) - mean_exact).abs() / sd
    assert float(err.max()) < z
    emp = torch.bincount(exact.state_index(x), minlength=p.numel()).double() / B
    tv = 0.5 * float((emp - pc).abs().sum())
    assert tv < tv_tolerance(pc[keep], B)


@pytest.mark.parametrize("uniform", [False, True], ids=["random", "uniform-table"])
def test_beta_schedules_target_the_final_temperature(uniform):
    """A schedule that holds β_final for the last 25 sweeps samples p_β_final; a callable
    schedule and a tensor schedule give the same chain (same generator seed)."""
    m = IsingModel.lattice(4, 0.5, 0.1) if uniform else random_lattice((4, 4), True, seed=4)
    sampler = BlockGibbsSampler(m)
    betas = [0.1 + 0.1 * t for t in range(5)] + [0.6] * 25
    B = 20000
    x = sampler.sample(B, 30, beta=betas, generator=torch.Generator().manual_seed(1))
    assert_moments_match(x, m, beta=0.6)
    y = sampler.sample(B, 30, beta=lambda t: betas[t], generator=torch.Generator().manual_seed(1))
    z = sampler.sample(B, 30, beta=torch.tensor(betas), generator=torch.Generator().manual_seed(1))
    assert torch.equal(x, y) and torch.equal(x, z)


def test_annealing_finds_the_ground_state_like_the_generic_path():
    """β from 0.1 to 200: the best chain reaches the exact ground state, and the fraction of
    chains ending in it (some freeze in local minima) agrees with the generic colour-block
    path within 5 binomial sd of the difference, sqrt(2·¼/n)."""
    m = random_lattice((3, 4), False, seed=8)
    _, umin = exact.ground_states(m)
    betas = torch.linspace(0.1, 8.0, 100).tolist() + geometric_beta_schedule(8.0, 200.0, 50)
    n = 2000
    frac = []
    for fast in (True, False):
        sampler = BlockGibbsSampler(m, fast_lattice=fast)
        assert (sampler.lattice_kernel is not None) == fast
        x = sampler.sample(n, 150, beta=betas, generator=torch.Generator().manual_seed(2))
        u = m.energy(x).detach().double()
        assert abs(float(u.min()) - umin) < 1e-5
        frac.append(float((u <= umin + 1e-5).double().mean()))
    assert frac[0] > 0.3
    assert abs(frac[0] - frac[1]) < 5 * math.sqrt(2 * 0.25 / n)


def test_diagnostics_contract():
    m = random_lattice((4, 6), True, seed=2)
    sampler = BlockGibbsSampler(m)
    g = torch.Generator().manual_seed(0)
    x, diag = sampler.sample(13, 12, thin=4, generator=g, return_diagnostics=True)
    assert x.shape == (13, 24) and x.dtype == torch.float32
    torch.testing.assert_close(diag["energy"], m.energy(x))
    assert diag["energy_trace"].shape == (3, 13)
    torch.testing.assert_close(diag["energy_trace"][-1], diag["energy"])
    assert 0.0 < diag["flip_rate"] < 1.0 and diag["seconds"] > 0 and diag["n_steps"] == 12
    # flip rate of the first sweep from a known state is the fraction of changed spins
    x0 = torch.zeros(50, 24)
    x1, d1 = sampler.sample(n_steps=1, x0=x0, generator=g, return_diagnostics=True)
    assert d1["flip_rate"] == pytest.approx(float((x1 != x0).float().mean()))
    with pytest.raises(ValueError, match="clamp needs x0"):
        sampler.sample(3, 2, clamp=torch.ones(24, dtype=torch.bool))
    with pytest.raises(ValueError, match="x0 must be binary"):
        sampler.sample(n_steps=1, x0=torch.full((2, 24), 0.5))
    with pytest.raises(ValueError, match="width 24"):
        sampler.sample(n_steps=1, x0=torch.zeros(2, 23))


# ----------------------------------------------- against a reference implementation


def reference_sweeps(
    m: IsingModel, x: torch.Tensor, betas, g: torch.Generator
) -> tuple[torch.Tensor, int]:
    """Heat-bath checkerboard sweeps written directly on the (B, d) states, consuming the
    generator exactly as the kernel does: per colour, one ``random_`` fill of
    ``2·B·H·W`` int16 values (sublattice slot, chain, cell), then one float64 uniform per
    tie in (slot, chain, cell) order. ``P(+1) = σ(2βφ)`` via ``r < ⌊2¹⁶σ⌋`` and the tie rule.
    Returns the states and the number of ties."""
    L1, L2 = m.lattice_shape
    H, W = (L1 + 1) // 2, (L2 + 1) // 2
    B = x.shape[0]
    x = x.clone()
    rows, cols = torch.arange(L1 * L2) // L2, torch.arange(L1 * L2) % L2
    q_of = 2 * (rows % 2) + cols % 2
    n_ties = 0
    for beta in betas:
        for colour in (0, 1):
            n = 2 * B * H * W
            words = torch.empty((n + 3) // 4, dtype=torch.int64)
            words.random_(-(2**63), to=None, generator=g)
            r = words.view(torch.int16)[:n].view(2, B, H, W).long() + (1 << 15)
            phi = m.double().local_fields(x.double())
            new = x.clone()
            pending = []  # ties of this colour, slot by slot, each in (chain, cell) order
            for slot in range(2):
                q = ORDER[2 * colour + slot]
                sites = torch.nonzero(q_of == q).squeeze(1)  # row-major = (i, j) order
                if sites.numel() == 0:
                    continue
                rs = r[slot][:, rows[sites] // 2, cols[sites] // 2]  # (B, n_sites)
                T = torch.sigmoid(2 * beta * phi[:, sites]) * R
                K = torch.floor(T)
                new[:, sites] = (rs < K).to(x.dtype)
                b_idx, s_idx = (rs == K).nonzero(as_tuple=True)
                frac = (T[b_idx, s_idx] - K[b_idx, s_idx]).clamp(0, 1)
                pending.append((b_idx, sites[s_idx], frac))
            b_all = torch.cat([p[0] for p in pending])
            if b_all.numel():
                n_ties += b_all.numel()
                u = torch.rand(b_all.numel(), generator=g, dtype=torch.float64)
                new[b_all, torch.cat([p[1] for p in pending])] = (
                    u < torch.cat([p[2] for p in pending])
                ).to(x.dtype)
            x = new
    return x, n_ties


@pytest.mark.parametrize(
    "shape,periodic,uniform",
    [((4, 4), True, True), ((4, 6), True, False), ((3, 5), False, False)],
    ids=["4x4-uniform-table", "4x6-periodic-random", "3x5-open-padded"],
)
def test_kernel_equals_reference_implementation(shape, periodic, uniform):
    """Same generator seed → identical states. Coupling 0.375 and field 0.125 are exact in
    float32, so the table path and the float64 reference compute identical thresholds; with
    random couplings a float32/float64 difference could only flip a decision where ``r``
    equals ``⌊T⌋`` and ``T`` is within 10⁻³ of an integer (probability ~10⁻⁸ per update)."""
    if uniform:
        m = IsingModel.lattice(shape, 0.375, 0.125, periodic=periodic)
    else:
        m = random_lattice(shape, periodic, seed=13)
    B = 6000  # ≥ 6000·15·4 ≈ 3.6·10⁵ updates: ~5 ties at rate 2⁻¹⁶ get exercised
    x0 = torch.randint(0, 2, (B, m.dim), generator=torch.Generator().manual_seed(0)).float()
    betas = [0.5, 1.0, 1.0, 2.0]
    k = LatticeKernel(m)
    out, _ = k.run(x0, betas, generator=torch.Generator().manual_seed(9))
    ref, n_ties = reference_sweeps(m, x0, betas, torch.Generator().manual_seed(9))
    assert n_ties > 0  # the 2⁻¹⁶ tie rule was exercised
    assert torch.equal(out, ref)


def test_kernel_follows_parameter_updates():
    """Couplings and fields changed after the sampler was built (in place, or through
    ``.data``) are used at the next call: with J = 0 the sites are independent with
    P(x=1) = σ(2h); checked per site within 5 sd / √B, sd = sqrt(p(1−p))."""
    m = IsingModel.lattice(4, 0.3)
    sampler = BlockGibbsSampler(m)
    g = torch.Generator().manual_seed(0)
    sampler.sample(100, 5, generator=g)
    B = 4000
    h = torch.linspace(-1.0, 1.0, 16)
    for edit in ("no_grad", "data"):
        if edit == "no_grad":
            with torch.no_grad():
                m.weights.zero_()
                m.h.copy_(h)
        else:
            m.weights.data.zero_()
            m.h.data.copy_(-h)
        p = torch.sigmoid(2 * (h if edit == "no_grad" else -h)).double()
        x = sampler.sample(B, 2, generator=g).double()
        sd = (p * (1 - p) / B).sqrt()
        assert float(((x.mean(0) - p).abs() / sd).max()) < 5


@pytest.mark.parametrize("uniform", [True, False], ids=["table", "fields"])
def test_ties_become_plus_one_with_the_fractional_part(monkeypatch, uniform):
    # A tie (r = ⌊T⌋, T = 2¹⁶ σ(2βφ)) has probability 2⁻¹⁶ per update, too rare for the
    # distribution tests to see. Force one at every black site: from all spins +1, set the
    # first draw (the black colour) to r = ⌊T⌋ there; each black site must then be +1 with
    # probability T − ⌊T⌋ (computed here in float64), independently.
    from discrete_ebm.samplers import lattice as lattice_module

    model = IsingModel.lattice(4, 0.17, 0.0)
    beta, B = 0.9, 20_000
    h = torch.linspace(-0.3, 0.4, 16) if not uniform else torch.full((16,), 0.05)
    with torch.no_grad():
        model.h.copy_(h)
    phi = 4 * 0.17 + h.double()  # every neighbour is +1
    T = torch.sigmoid(2 * beta * phi) * R
    frac = T - T.floor()
    kernel = LatticeKernel(model)
    black = [s for s in range(16) if (s // 4 + s % 4) % 2 == 0]
    forced = torch.zeros(2, 1, 2, 2, dtype=torch.int16)
    for s in black:
        r, c = divmod(s, 4)
        q = 2 * (r % 2) + c % 2
        forced[POS[q], 0, r // 2, c // 2] = int(T[s].floor()) - (1 << 15)
    real_draw = lattice_module._Workspace.draw
    calls = []

    def draw(ws, generator):
        real_draw(ws, generator)  # keeps the stream of the tie uniforms independent
        if not calls:
            ws.r.copy_(forced.expand_as(ws.r))
        calls.append(1)

    monkeypatch.setattr(lattice_module._Workspace, "draw", draw)
    x, _ = kernel.run(torch.ones(B, 16), [beta], generator=torch.Generator().manual_seed(0))
    assert len(calls) == 2  # black, then white
    p_hat = x[:, black].double().mean(0)
    expected = frac[black]
    assert ((expected > 0.05) & (expected < 0.95)).all()  # not a degenerate check
    z = z_bonferroni(len(black))
    assert ((p_hat - expected).abs() <= z * (expected * (1 - expected) / B).sqrt()).all()
