"""GPU check: the device tests on one device, then four throughputs, as ONE JSON line.

1. ``pytest -m device -k <cpu|cuda>``: every test that takes the ``device`` fixture
   (tests/conftest.py), on the chosen device; the JSON holds the counts and pytest's exit code.
2. Throughputs (median of ``--repeats`` timed runs after one warm-up run):

   - ``langevin_chain_steps_per_s``: ULA ``LangevinSampler`` on a continuous ``MLPEnergy``
     (2 → 128 → 128 → 1, SiLU) with 100,000 chains: ``chains · steps / seconds``;
   - ``block_gibbs_spin_updates_per_ns``: ``BlockGibbsSampler`` (checkerboard kernel) on a
     periodic 4096 × 4096 lattice (coupling 0.44, β = 1), one chain:
     ``L² · sweeps / nanoseconds``;
   - ``rbm_fused_pcd_vectors_per_s``: ``fit`` of a 784 × 500 ``RBM`` with ``FusedPCD``
     (PCD-1, batch = chains = 1,000) and plain SGD on random binary rows: rows per second;
   - ``bernoulli_ed_fit_step_s``: seconds of one ``fit`` step of ``BernoulliED``
     (ε = 0.1, 32 negatives) on a binary ``MLPEnergy`` 784 → 256 → 256 → 1, batch 256,
     Adam (and ``bernoulli_ed_rows_per_s``).

``--device cpu`` is a dry run in seconds: it shrinks every size (``"small": true`` and the
sizes used are in the JSON); ``--full`` keeps the GPU sizes on any device.

    python benchmarks/gpu_check.py --device cuda          # the check on a GPU machine
    python benchmarks/gpu_check.py --device cpu --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from discrete_ebm.models.ising import IsingModel
from discrete_ebm.models.neural import MLPEnergy
from discrete_ebm.models.rbm import RBM
from discrete_ebm.objectives import BernoulliED, FusedPCD
from discrete_ebm.samplers import BlockGibbsSampler, LangevinSampler
from discrete_ebm.threads import add_threads_argument, set_threads
from discrete_ebm.training import fit

ROOT = Path(__file__).resolve().parents[1]
FULL = {"langevin_chains": 100_000, "langevin_steps": 20, "lattice": 4096, "sweeps": 10,
        "rbm_rows": 20_000, "rbm_batch": 1000, "ed_batch": 256, "ed_steps": 10}  # fmt: skip
SMALL = {"langevin_chains": 2000, "langevin_steps": 5, "lattice": 128, "sweeps": 4,
         "rbm_rows": 400, "rbm_batch": 100, "ed_batch": 32, "ed_steps": 2}  # fmt: skip


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeats: int) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` runs after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_device_tests(device: torch.device, select: str | None = None, paths=("tests",)) -> dict:
    """``pytest -m device -k "<device type> [and <select>]" <paths>`` in a subprocess
    (paths relative to the repository); counts and exit code."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "device"]
    cmd += ["-k", device.type + (f" and ({select})" if select else ""), *paths]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    tail = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error)", tail)}
    return {"returncode": out.returncode, "seconds": round(time.perf_counter() - start, 1),
            **{k: counts.get(k, 0) for k in ("passed", "failed", "skipped", "error")}}  # fmt: skip


def throughputs(device: torch.device, s: dict, repeats: int) -> dict:
    """The four figures of the module docstring at sizes ``s``."""
    g = torch.Generator(device=device).manual_seed(0)
    cpu_g = torch.Generator().manual_seed(0)  # fit seeds its own generator on the device
    out = {}
    mlp = MLPEnergy(2, (128, 128), device=device)
    lang = LangevinSampler(mlp, 0.01)
    n, k = s["langevin_chains"], s["langevin_steps"]
    sec = timed(lambda: lang.sample(n, k, generator=g), device, repeats)
    out["langevin_chain_steps_per_s"] = n * k / sec

    ising = IsingModel.lattice(s["lattice"], 0.44).to(device)
    gibbs = BlockGibbsSampler(ising)
    sec = timed(lambda: gibbs.sample(1, s["sweeps"], generator=g), device, repeats)
    out["block_gibbs_spin_updates_per_ns"] = s["lattice"] ** 2 * s["sweeps"] / sec / 1e9

    rows = (torch.rand(s["rbm_rows"], 784, generator=g, device=device) < 0.3).float()
    rbm = RBM(784, 500, device=device)
    B = s["rbm_batch"]
    pcd = FusedPCD(B)

    def pcd_epoch():
        opt = torch.optim.SGD(rbm.parameters(), lr=0.01)
        fit(rbm, pcd, rows, epochs=1, batch_size=B, optimizer=opt, generator=cpu_g,
            device=device, progress=False)  # fmt: skip

    out["rbm_fused_pcd_vectors_per_s"] = s["rbm_rows"] // B * B / timed(pcd_epoch, device, repeats)

    energy = MLPEnergy(784, (256, 256), binary=True, device=device)
    ed = BernoulliED(0.1, 32)
    n_ed = s["ed_batch"] * s["ed_steps"]

    def ed_steps():
        fit(energy, ed, rows[:n_ed], epochs=1, batch_size=s["ed_batch"], lr=1e-3,
            generator=cpu_g, device=device, progress=False)  # fmt: skip

    sec = timed(ed_steps, device, repeats) / s["ed_steps"]
    out["bernoulli_ed_fit_step_s"] = sec
    out["bernoulli_ed_rows_per_s"] = s["ed_batch"] / sec
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    p.add_argument("--full", action="store_true", help="GPU sizes even on CPU")
    p.add_argument("--small", action="store_true", help="dry-run sizes even on CUDA")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-tests", action="store_true", help="skip the device tests")
    p.add_argument("--tests-k", default=None, help="run only the device tests matching this -k")
    add_threads_argument(p)
    args = p.parse_args(argv)
    set_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error(f"--device {args.device}: CUDA is not available here (use --device cpu)")
    small = args.small or (device.type == "cpu" and not args.full)
    sizes = SMALL if small else FULL
    record = {"device": str(device), "small": small, "sizes": sizes, "torch": torch.__version__}
    if device.type == "cuda":
        record["gpu"] = torch.cuda.get_device_name(device)
    record["tests"] = None if args.no_tests else run_device_tests(device, args.tests_k)
    record.update(throughputs(device, sizes, args.repeats))
    print(json.dumps(record), flush=True)
    return 1 if record["tests"] and record["tests"]["returncode"] not in (0, 5) else 0


if __name__ == "__main__":
    sys.exit(main())
