"""CPU time per step of the fused PCD-1 step, plain vs centred (784×500, batch 100).

Both objectives apply plain SGD inside their GEMMs (``FusedPCD.update``) over the same 5,000
random binary rows, 50 steps per round, rounds interleaved (order alternated), process CPU
clock, one thread. Usage: ``OMP_NUM_THREADS=1 python .../overhead.py``.
"""

import statistics
import time

import torch

from discrete_ebm.models.rbm import RBM
from discrete_ebm.objectives import FusedPCD


def main(rounds: int = 7) -> None:
    torch.set_num_threads(1)
    x = (torch.rand(5000, 784, generator=torch.Generator().manual_seed(0)) < 0.13).float()
    runs, times = {}, {False: [], True: []}
    for centred in (False, True):
        rbm = RBM(784, 500, generator=torch.Generator().manual_seed(1)).init_from_data(x)
        extra = {"centred": True, "visible_offsets": x.mean(0)} if centred else {}
        obj = FusedPCD(100, uniforms="numpy", **extra)
        runs[centred] = (rbm, obj, torch.optim.SGD(rbm.parameters(), lr=0.01))
    g = torch.Generator().manual_seed(2)
    for r in range(rounds):
        for centred in (False, True) if r % 2 else (True, False):
            rbm, obj, opt = runs[centred]
            t = time.process_time()
            for b in range(0, 5000, 100):
                obj.update(rbm, x[b : b + 100], g, opt)
            times[centred].append(time.process_time() - t)
    ratios = [a / b for a, b in zip(times[True], times[False])]
    print("plain s / 50 steps", [round(v, 3) for v in times[False]])
    print("centred s / 50 steps", [round(v, 3) for v in times[True]])
    print(f"centred / plain: median {statistics.median(ratios):.3f}, "
          f"range {min(ratios):.3f}-{max(ratios):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
