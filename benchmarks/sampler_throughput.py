"""Block-Gibbs throughput on a periodic L × L Ising lattice (coupling 0.44, zero field).

Prints one JSON line: spin updates per nanosecond (``chains · L² · sweeps / seconds``,
median of ``--repeats`` timed runs, implementations interleaved so machine drift hits all
alike) for

- ``ours``: ``BlockGibbsSampler(IsingModel.lattice(L, 0.44)).sample(...)`` (checkerboard
  kernel, timed through the public API, layout conversion included);
- ``naive_torch``: float32 spins, both colours computed with ``torch.roll`` and masked;
- ``naive_numpy``: the same with NumPy (``np.roll``, ``Generator.random``);
- ``thrml``: ``thrml.models.ising.IsingSamplingProgram`` with the two checkerboard blocks,
  ``jax.vmap`` over chains and ``jax.jit``; its JIT compile time is excluded (one warm-up
  call with the same shapes before timing) and reported as ``thrml_compile_seconds``;

and the ratios ``ours / thrml`` and ``ours / naive_torch`` from the same run; ``cpu_time``
repeats the figures per ns of process CPU time (robust to a shared machine). Also reports
the raw throughput of ``torch.rand`` (float32) and of ``random_`` (bytes), the two ways to
draw the randomness. thrml is optional (``pip install thrml``); without it its entries are
``null``.

    python benchmarks/sampler_throughput.py [--sizes 64 256] [--repeats 5] [--threads 1]

``--threads 0`` leaves torch and XLA at their default thread counts (all cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

# OpenMP threads that busy-wait stall badly when another process holds a core (measured on
# the shared 2-core machine: 30x slower sweeps with 2 spinning threads); set before torch loads
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from discrete_ebm.io import atomic_write  # noqa: E402
from discrete_ebm.models.ising import IsingModel  # noqa: E402
from discrete_ebm.samplers.block_gibbs import BlockGibbsSampler  # noqa: E402
from discrete_ebm.threads import add_threads_argument, set_threads  # noqa: E402

COUPLING = 0.44


def checkerboard_masks(L: int) -> list[np.ndarray]:
    """The two colour masks ``(r + c) mod 2 == k`` of an ``L × L`` lattice."""
    r, c = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
    return [(r + c) % 2 == k for k in (0, 1)]


def naive_torch_sweeps(s: torch.Tensor, n: int, beta: float, g: torch.Generator) -> torch.Tensor:
    """Roll-based checkerboard on spins ``s (B, L, L)``: per colour, fields and proposals for
    every site, then a mask keeps the colour's sites."""
    masks = [torch.from_numpy(m) for m in checkerboard_masks(s.shape[-1])]
    for _ in range(n):
        for m in masks:
            nb = s.roll(1, 1) + s.roll(-1, 1) + s.roll(1, 2) + s.roll(-1, 2)
            p = torch.sigmoid(2.0 * beta * COUPLING * nb)
            new = torch.where(torch.rand(s.shape, generator=g) < p, 1.0, -1.0)
            s = torch.where(m, new, s)
    return s


def naive_numpy_sweeps(s: np.ndarray, n: int, beta: float, rng: np.random.Generator) -> np.ndarray:
    """The same roll-based checkerboard in NumPy (float32)."""
    masks = checkerboard_masks(s.shape[-1])
    for _ in range(n):
        for m in masks:
            nb = np.roll(s, 1, 1) + np.roll(s, -1, 1) + np.roll(s, 1, 2) + np.roll(s, -1, 2)
            p = 1.0 / (1.0 + np.exp(-2.0 * beta * COUPLING * nb))
            new = np.where(rng.random(s.shape, dtype=np.float32) < p, 1.0, -1.0)
            s = np.where(m, new, s).astype(np.float32)
    return s


def make_thrml(L: int, chains: int, sweeps: int, seed: int):
    """A jitted ``run()`` doing ``sweeps`` thrml block-Gibbs sweeps of ``chains`` chains, or
    ``None`` if thrml is not installed. Returns ``(run, compile_seconds)``."""
    try:
        import jax
        import jax.numpy as jnp
        from thrml.block_sampling import Block, SamplingSchedule, sample_states
        from thrml.models.ising import IsingEBM, IsingSamplingProgram
        from thrml.pgm import SpinNode
    except ImportError:
        return None, None
    nodes = [SpinNode() for _ in range(L * L)]
    idx = np.arange(L * L).reshape(L, L)
    pairs = [(idx, np.roll(idx, -1, 1)), (idx, np.roll(idx, -1, 0))]
    edges = [(nodes[a], nodes[b]) for u, v in pairs for a, b in zip(u.ravel(), v.ravel())]
    ebm = IsingEBM(nodes, edges, jnp.zeros(L * L), jnp.full(len(edges), COUPLING), jnp.array(1.0))
    parity = ((idx // L) + (idx % L)).ravel() % 2
    blocks = [Block([nodes[i] for i in np.flatnonzero(parity == k)]) for k in (0, 1)]
    program = IsingSamplingProgram(ebm, blocks, [])
    schedule = SamplingSchedule(n_warmup=sweeps, n_samples=1, steps_per_sample=1)

    @jax.jit
    def sweep_all(keys, init):
        return jax.vmap(lambda k, s: sample_states(k, program, schedule, s, [], blocks))(keys, init)

    key = jax.random.key(seed)
    keys = jax.random.split(key, chains)
    init = [
        jax.random.bernoulli(jax.random.fold_in(key, i), 0.5, (chains, len(b.nodes)))
        for i, b in enumerate(blocks)
    ]

    def run():
        jax.block_until_ready(sweep_all(keys, init))

    start = time.perf_counter()
    run()  # JIT compile (excluded from the timed runs)
    return run, time.perf_counter() - start


def rng_throughput(n: int = 1 << 22) -> dict:
    """Numbers per ns of ``torch.rand`` (float32, into a buffer) and bytes per ns of
    ``random_`` over the full int64 range, median of 5."""
    g = torch.Generator().manual_seed(0)
    f = torch.empty(n)
    w = torch.empty(n // 8, dtype=torch.int64)
    out = {}
    for name, fn in {
        "torch_rand_float32_per_ns": lambda: f.uniform_(generator=g),
        "torch_random_bytes_per_ns": lambda: w.random_(-(2**63), to=None, generator=g),
    }.items():
        fn()
        ts = []
        for _ in range(5):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        out[name] = round(n / statistics.median(ts) / 1e9, 4)
    return out


def measure(L: int, chains: int, sweeps: int, repeats: int, seed: int, progress) -> dict:
    """Throughputs at one lattice size (spin updates per ns, medians)."""
    n_upd = chains * L * L * sweeps
    g = torch.Generator().manual_seed(seed)
    sampler = BlockGibbsSampler(IsingModel.lattice(L, COUPLING))
    x0 = torch.randint(0, 2, (chains, L * L), generator=g).float()
    s0 = 2.0 * x0.view(chains, L, L) - 1.0
    s0_np = s0.numpy().copy()
    rng = np.random.default_rng(seed)
    thrml_run, thrml_compile = make_thrml(L, chains, sweeps, seed)
    runs = {
        "ours": lambda: sampler.sample(x0=x0, n_steps=sweeps, generator=g),
        "naive_torch": lambda: naive_torch_sweeps(s0, sweeps, 1.0, g),
        "naive_numpy": lambda: naive_numpy_sweeps(s0_np, sweeps, 1.0, rng),
    }
    if thrml_run is not None:
        runs["thrml"] = thrml_run
    for fn in runs.values():  # warm-up (first-touch of buffers, caches)
        fn()
    times: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            t, c = time.perf_counter(), time.process_time()
            fn()
            times[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
            progress.update(1)
    res = {k: round(n_upd / statistics.median(v) / 1e9, 4) for k, v in times.items()}
    res.setdefault("thrml", None)
    # per ns of process CPU time: insensitive to how much of a core a shared machine gave us
    res["cpu_time"] = {k: round(n_upd / statistics.median(v) / 1e9, 4) for k, v in cpu.items()}
    res["cpu_time"]["ours_over_thrml"] = (
        round(res["cpu_time"]["ours"] / res["cpu_time"]["thrml"], 2) if "thrml" in cpu else None
    )
    res["cpu_time"]["ours_over_naive_torch"] = round(
        res["cpu_time"]["ours"] / res["cpu_time"]["naive_torch"], 2
    )
    res["ours_over_thrml"] = round(res["ours"] / res["thrml"], 2) if res["thrml"] else None
    res["ours_over_naive_torch"] = round(res["ours"] / res["naive_torch"], 2)
    res["ours_over_naive_numpy"] = round(res["ours"] / res["naive_numpy"], 2)
    res["chains"] = chains
    res["sweeps_per_run"] = sweeps
    res["thrml_compile_seconds"] = None if thrml_compile is None else round(thrml_compile, 1)
    return res


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    p.add_argument(
        "--spins-per-sweep",
        type=int,
        default=1 << 20,
        help="chains = this / L² (so every size moves the same number of spins)",
    )
    p.add_argument("--sweeps", type=int, default=5, help="sweeps per timed run")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per implementation")
    # intra-op threads for torch and XLA; 1: a per-core comparison that a shared machine
    # does not distort; 0: the libraries' defaults (all cores)
    add_threads_argument(p, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="also write the JSON to this file")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.threads > 0:
        set_threads(args.threads)
        if args.threads == 1:  # before jax is imported
            flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()
    from tqdm.auto import tqdm

    start = time.perf_counter()
    n_impl = 4
    progress = tqdm(
        total=len(args.sizes) * args.repeats * n_impl,
        desc="timed runs",
        disable=args.quiet or not sys.stderr.isatty(),
    )
    result: dict = {"coupling": COUPLING, "beta": 1.0, "periodic": True}
    for L in args.sizes:
        chains = max(1, args.spins_per_sweep // (L * L))
        result[f"L{L}"] = measure(L, chains, args.sweeps, args.repeats, args.seed, progress)
    progress.close()
    result.update(rng_throughput())
    result.update(
        {
            "unit": "spin updates per ns (median)",
            "repeats": args.repeats,
            "threads": args.threads if args.threads > 0 else "default",
            "torch_threads": torch.get_num_threads(),
            "thrml_compile_excluded": True,
            "torch": torch.__version__,
            "wall_seconds": round(time.perf_counter() - start, 1),
        }
    )
    line = json.dumps(result)
    print(line)
    if args.out:
        atomic_write(args.out, lambda tmp: tmp.write_text(line + "\n"))
    return result


if __name__ == "__main__":
    main()
