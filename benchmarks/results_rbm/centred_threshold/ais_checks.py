"""Trust checks of the AIS log Z of the centred RBM-500 on thresholded MNIST.

Forward AIS with 30,000 betas (data-marginal base) and with a uniform base, and reverse AIS
from chains started at uniform noise (5,000 block-Gibbs sweeps), for the ``rbm.pt`` that
``discrete-ebm rbm --recipe centred`` wrote into RUN_FOLDER; writes ``ais_checks.json``
there. Usage::

    DISCRETE_EBM_DATA=../shared/data OMP_NUM_THREADS=1 python \\
        benchmarks/results_rbm/centred_threshold/ais_checks.py RUN_FOLDER
"""

import json
import sys
import time

import torch

from discrete_ebm.data.images import load_mnist
from discrete_ebm.evaluation import ais
from discrete_ebm.evaluation.reverse_ais import reverse_log_partition
from discrete_ebm.models.rbm import RBM


def main(folder: str) -> None:
    torch.set_num_threads(1)
    sd = torch.load(f"{folder}/rbm.pt")
    rbm = RBM.from_parameters(sd["W"], sd["b"], sd["c"]).requires_grad_(False)
    data = load_mnist(None, binarize="threshold", seed=0)
    train, test = data.train.tensor(), data.test.tensor()
    marg = ais.data_marginals(train)
    neg_f = float(-rbm.energy(test).double().mean())
    out = {"neg_free_energy_test": neg_f}
    g = torch.Generator().manual_seed(11)
    runs = {
        "forward_30000_betas_100_chains": lambda: ais.log_partition(
            rbm, 100, 30000, base_marginals=marg, generator=g
        ),
        "forward_10000_betas_uniform_base": lambda: ais.log_partition(rbm, 100, 10000, generator=g),
        "reverse_10000_betas_from_noise_5000_sweeps": lambda: reverse_log_partition(
            rbm, rbm.sample(100, 5000, generator=g), 10000, base_marginals=marg, generator=g
        ),
    }
    for name, run in runs.items():
        t = time.perf_counter()
        lz, se = run()
        out[name] = {"log_z": lz, "stderr": se, "test_ll": neg_f - lz}
        out[name]["seconds"] = time.perf_counter() - t
        print(name, out[name], flush=True)
    with open(f"{folder}/ais_checks.json", "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
