"""Scaling over ``torch.distributed``: 1 vs 2 processes of one thread each, in the same run.

The script launches itself under ``torchrun`` (``--nproc-per-node 1``, then ``2``; gloo on
127.0.0.1; ``--rounds R`` alternates the two launches R times, so that the drift of a shared
machine falls on both alike) and each time measures, as the median over ``--repeats`` timed runs of
the slowest rank's wall time (one warm-up run first, a barrier before each run):

- ``gibbs``: sharded block Gibbs, ``BlockGibbsSampler(IsingModel.lattice(L, 0.44))
  .sample(C, S, distributed=True)`` (checkerboard kernel, gather of all states included):
  spin updates per ns ``C · L² · S / seconds``; by default 16 chains of a 512² lattice
  (4.2 M spins: a sweep costs ~0.5 ms of fixed op dispatch whatever the size, ~4 % of a
  512² × 8-chain sweep but ~25 % of a 256² × 8-chain one; ``--lattice 256`` measures that);
- ``ais``: sharded AIS, ``ais.log_partition(rbm, C, K, distributed=True)`` on a random
  784 × 500 RBM (gather and estimate included): chain-temperatures per second ``C · K / s``;
- ``fit``: data-parallel ``fit`` of a binary ``MLPEnergy`` 784 → 256 → 256 → 1 with
  ``BernoulliED(0.1, 32)`` on statically binarised MNIST, global batch 256, Adam: rows per
  second ``B / step seconds``, the step time being ``(t(2 + S steps) − t(2 steps)) / S`` (set-up
  of ``fit`` and DDP excluded). ``allreduce_bytes_per_step``: DDP all-reduces every
  parameter's float32 gradient once per step, plus 16 bytes of loss values;
  ``allreduce_seconds``: the median time of one gloo all-reduce of that many bytes (2 ranks).

Prints ONE JSON line: the figures per world size of the last round, each a pair ``[wall,
CPU time]`` (the second with the slowest rank's process CPU seconds in place of wall
seconds: robust to a busy machine), the ratios 2-process / 1-process of each round
(``speedup_per_round``) and their medians ``speedup`` (wall; targets: ``gibbs`` and ``ais``
>= 1.8, ``fit`` >= 1.6) and ``speedup_by_cpu_time``, and ``flops_per_step`` of the
fit step (``6 · parameters · B · (1 + negatives)``) for the on-paper projection in
benchmarks/RESULTS_distributed.md.

    python benchmarks/distributed.py --threads 1 --repeats 5 --rounds 5   # the measurement (~4 min)
    python benchmarks/distributed.py --threads 1 --small --repeats 1   # a smoke run (~30 s)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# OpenMP threads that busy-wait stall badly on a shared machine; set before torch loads
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from discrete_ebm import distributed as D  # noqa: E402
from discrete_ebm.data.images import load_mnist  # noqa: E402
from discrete_ebm.evaluation import ais  # noqa: E402
from discrete_ebm.io import atomic_write  # noqa: E402
from discrete_ebm.models import RBM, IsingModel, MLPEnergy  # noqa: E402
from discrete_ebm.objectives import BernoulliED  # noqa: E402
from discrete_ebm.samplers import BlockGibbsSampler  # noqa: E402
from discrete_ebm.training import fit  # noqa: E402

FULL = {"L": 512, "gibbs_chains": 16, "sweeps": 100, "rbm": [784, 500], "ais_chains": 128,
        "ais_betas": 200, "hidden": [256, 256], "batch": 256, "negatives": 32,
        "fit_steps": 8}  # fmt: skip
SMALL = {"L": 64, "gibbs_chains": 4, "sweeps": 10, "rbm": [784, 50], "ais_chains": 8,
         "ais_betas": 20, "hidden": [32], "batch": 32, "negatives": 4, "fit_steps": 2}  # fmt: skip


def slowest(fn, repeats: int) -> torch.Tensor:
    """Medians over ``repeats`` runs of the slowest rank's (wall, process CPU) seconds of
    ``fn()``, a float64 tensor ``(2,)``."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        D.barrier()
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        t = torch.tensor([[time.perf_counter() - start, time.process_time() - cpu]])
        times.append(D.all_gather_rows(t.double()).max(0).values)
    return torch.stack(times).quantile(0.5, dim=0)


def measure(s: dict, repeats: int, data_root: str | None) -> dict:
    """The figures of one world size (module docstring); run on every rank."""
    D.ensure_process_group("cpu")
    g = torch.Generator().manual_seed(0)
    out = {"world_size": D.world_size()}
    sampler = BlockGibbsSampler(IsingModel.lattice(s["L"], 0.44))
    C, S, L = s["gibbs_chains"], s["sweeps"], s["L"]
    sec = slowest(lambda: sampler.sample(C, S, generator=g, distributed=True), repeats)
    out["gibbs_spin_updates_per_ns"] = (C * L * L * S / sec / 1e9).tolist()
    out["gibbs_gather_bytes"] = C * L * L  # binary states gathered as uint8

    rbm = RBM(*s["rbm"], weight_std=0.05, generator=torch.Generator().manual_seed(1))
    C, K = s["ais_chains"], s["ais_betas"]
    sec = slowest(lambda: ais.log_partition(rbm, C, K, generator=g, distributed=True), repeats)
    out["ais_chain_betas_per_s"] = (C * K / sec).tolist()

    data = load_mnist(data_root, binarize="static").train.tensor()[:10_000]
    torch.manual_seed(0)
    model = MLPEnergy(784, s["hidden"], binary=True)
    ed, B = BernoulliED(0.1, s["negatives"]), s["batch"]

    def run(steps):
        gen = torch.Generator().manual_seed(0)
        return lambda: fit(model, ed, data, steps=steps, batch_size=B, lr=1e-3, generator=gen,
                           progress=False, device="cpu")  # fmt: skip

    step = (slowest(run(2 + s["fit_steps"]), repeats) - slowest(run(2), repeats)) / s["fit_steps"]
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    out["fit_step_seconds"] = step.tolist()
    out["fit_rows_per_s"] = (B / step).tolist()
    out["allreduce_bytes_per_step"] = 4 * n_params + 16
    out["flops_per_step"] = 6 * n_params * B * (1 + s["negatives"])
    if D.is_distributed():
        buf = torch.zeros(n_params + 4)
        out["allreduce_seconds"] = float(slowest(lambda: D.all_reduce_sum(buf), 20)[0])
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(nproc: int, args, out: Path) -> dict:
    """This script under ``torchrun --nproc-per-node nproc`` as a worker; rank 0's figures."""
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}",
           "--master-addr=127.0.0.1", f"--master-port={free_port()}", __file__, "--worker",
           "--result", str(out), "--repeats", str(args.repeats)]  # fmt: skip
    cmd += ["--small"] * args.small + (["--data", args.data] if args.data else [])
    cmd += ["--lattice", str(args.lattice)] if args.lattice else []
    cmd += ["--gibbs-chains", str(args.gibbs_chains)] if args.gibbs_chains else []
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "OMP_WAIT_POLICY": "PASSIVE"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"torchrun --nproc-per-node {nproc} failed:\n{done.stderr[-4000:]}")
    return json.loads(out.read_text())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1, help="threads per process (default 1)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per launch (median)")
    p.add_argument("--rounds", type=int, default=1,
                   help="1-process and 2-process launches alternated this many times; "
                   "the speedups are the medians of the per-round ratios")  # fmt: skip
    p.add_argument("--small", action="store_true", help="tiny sizes (a smoke run)")
    p.add_argument("--data", default=None, help="data folder (default $DISCRETE_EBM_DATA)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    p.add_argument("--lattice", type=int, default=None, help="block Gibbs lattice side L")
    p.add_argument("--gibbs-chains", type=int, default=None, help="block Gibbs chains (global)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    sizes = dict(SMALL if args.small else FULL)
    if args.lattice:
        sizes["L"] = args.lattice
    if args.gibbs_chains:
        sizes["gibbs_chains"] = args.gibbs_chains
    if args.worker:
        torch.set_num_threads(args.threads)
        figures = measure(sizes, args.repeats, args.data)
        if D.rank() == 0:
            Path(args.result).write_text(json.dumps(figures))
        return 0
    start = time.perf_counter()
    keys = ("gibbs_spin_updates_per_ns", "ais_chain_betas_per_s", "fit_rows_per_s")
    rounds = []  # (1-process figures, 2-process figures), launched back to back
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            rounds.append([launch(n, args, Path(tmp) / f"world{n}_{r}.json") for n in (1, 2)])

    def median_ratio(k: str, i: int) -> float:
        return statistics.median(two[k][i] / one[k][i] for one, two in rounds)

    ratios = {k: median_ratio(k, 0) for k in keys}
    cpu_ratios = {k: median_ratio(k, 1) for k in keys}
    one, two = rounds[-1]
    record = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "sizes": sizes,
              "threads_per_process": args.threads, "repeats": args.repeats,
              "rounds": args.rounds, "load_average": os.getloadavg(), "one_process": one,
              "two_processes": two, "speedup": ratios, "speedup_by_cpu_time": cpu_ratios,
              "speedup_per_round": [{k: b[k][0] / a[k][0] for k in keys} for a, b in rounds],
              "targets": dict(zip(keys, (1.8, 1.8, 1.6), strict=True)),
              "wall_seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
    line = json.dumps(record)
    print(line, flush=True)
    if args.out:
        atomic_write(args.out, lambda tmp: Path(tmp).write_text(line + "\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
