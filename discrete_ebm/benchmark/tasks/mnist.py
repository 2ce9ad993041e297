"""Binarised MNIST: discrete energies (RBM and an MLP on {0,1}^784) trained by persistent CD
vs Bernoulli ED, scored by AIS test log-likelihood; and a continuous MLP energy on dequantised
MNIST trained by Gaussian ED and sliced / denoising score matching, scored by how well its
score denoises held-out digits (Tweedie: x̂ = y − σ² ∇U(y), y = x + σξ).

Data: statically binarised training images (a subset in the quick suite), the first test
images for scoring. Discrete metric ``test_ll`` (nats, higher is better) is the mean of
−U(x) − log Ẑ over test digits with AIS log Ẑ; continuous metric ``denoise_gain`` is the
noisy-input MSE divided by the denoised MSE (σ = 0.3 on pixels in [0, 1]; 1 means the
score does nothing, higher is better). Each view has its own metric, so each objective
is compared within its view.
"""

from __future__ import annotations

import torch

from ... import objectives
from ...data.images import load_mnist
from ...evaluation import ais
from ...models.neural import MLPEnergy
from ...models.rbm import RBM
from ...samplers.langevin import grad_energy
from ..suite import Cell, CellResult
from ._train import train_with_evaluations

SIZES = {
    # training rows, test rows, steps, hidden units, AIS chains and temperatures
    "tiny": {"n_train": 500, "n_test": 100, "steps": 4, "hidden": 16, "ais": (4, 10)},
    "quick": {"n_train": 10_000, "n_test": 1000, "steps": 300, "hidden": 100, "ais": (32, 500)},
    "full": {
        "n_train": 50_000,
        "n_test": 10_000,
        "steps": 5000,
        "hidden": 500,
        "ais": (100, 3000),
        "ais_mlp": (32, 300),
    },
}
DISCRETE = ("rbm-pcd", "rbm-ed-bern")
# an MLP on {0,1}^784 has no block structure: its PCD uses Gibbs-with-gradients and its AIS
# single-site Gibbs (784 energy calls per temperature), so it runs in the full suite only
DISCRETE_FULL = ("mlp-pcd", "mlp-ed-bern")
NOISE_SIGMA = 0.3
#: continuous objective -> (registry name, settings)
CONTINUOUS = {
    "gaussian-ed": ("gaussian-ed", {"t": NOISE_SIGMA**2 / 4, "n_negatives": 4}),
    "ssm": ("sliced-score-matching", {}),
    "dsm": ("denoising-score-matching", {"sigma": NOISE_SIGMA}),
}
# both views: Adam at 1e-3, batches of 100, evaluated halfway and at the end
TRAINING = {"n_evals": 2, "lr": 1e-3, "batch_size": 100}


class MnistTask:
    name = "mnist"
    metrics = {"test_ll": "max", "denoise_gain": "max", "log_z_stderr": "min"}
    description = __doc__.split("\n\n")[0].replace("\n", " ")

    def cells(self, suite: str) -> list[Cell]:
        size = SIZES[suite]
        seeds = [0, 1, 2] if suite == "full" else [0]
        cells = []
        for s in seeds:
            discrete = DISCRETE + (DISCRETE_FULL if suite == "full" else ())
            cells += [Cell(self.name, "discrete", o, s, dict(size)) for o in discrete]
            cells += [Cell(self.name, "continuous", o, s, dict(size)) for o in CONTINUOUS]
        return cells

    def run(self, cell: Cell, *, progress: bool = False) -> CellResult:
        st = cell.settings
        splits = load_mnist(binarize="static", seed=0)
        train = splits.train.tensor()[: st["n_train"]]
        test = splits.test.tensor()[: st["n_test"]]
        torch.manual_seed(cell.seed)
        gen = torch.Generator().manual_seed(cell.seed)
        if cell.view == "discrete":
            return self._discrete(cell.objective, train, test, st, gen, progress)
        return self._continuous(cell.objective, train, test, st, gen, progress)

    def _discrete(self, name, train, test, st, gen, progress) -> CellResult:
        kind, objective_name = name.split("-", 1)
        if kind == "rbm":
            model = RBM(784, st["hidden"], generator=gen).init_from_data(train)
        else:
            model = MLPEnergy(784, (st["hidden"],), "silu", binary=True)
        if objective_name == "pcd":  # block Gibbs on the RBM, Gibbs-with-gradients on the MLP
            sampler = "block-gibbs" if kind == "rbm" else "gwg"
            objective = objectives.make("pcd", model=model, sampler=sampler, k=1)
        else:
            # ε = 0.001 (≈ 1.6 flips per negative): at ε = 0.01 every negative of a digit is far
            # worse than the digit and the loss saturates at log w (RBM-500 on MNIST, 2026-11-22:
            # the negatives carry 6e-7 of the softmax mass against the log w term)
            objective = objectives.make("ed-bern", epsilon=0.001, n_negatives=8)
        marginals = ais.data_marginals(train)
        # the MLP's AIS path is single-site Gibbs: 784 energy calls per temperature
        n_chains, n_betas = st["ais"] if kind == "rbm" else st.get("ais_mlp", st["ais"])

        def evaluate() -> dict:
            log_z, stderr = ais.log_partition(
                model, n_chains=n_chains, n_betas=n_betas, base_marginals=marginals, generator=gen
            )
            return {"test_ll": ais.log_likelihood(model, test, log_z), "log_z_stderr": stderr}

        return train_with_evaluations(
            model,
            objective,
            train,
            steps=st["steps"],
            evaluate=evaluate,
            generator=gen,
            progress=progress,
            **TRAINING,
        )

    def _continuous(self, name, train, test, st, gen, progress) -> CellResult:
        # dequantise: binary pixels plus uniform noise of one grey level's width, in [0, 1]
        u = torch.rand(train.shape, generator=gen) / 256
        x = train * (255 / 256) + u
        model = MLPEnergy(784, (st["hidden"], st["hidden"]), "silu")
        registered, settings = CONTINUOUS[name]
        objective = objectives.make(registered, model=model, **settings)
        clean = test * (255 / 256) + 0.5 / 256
        noisy = clean + NOISE_SIGMA * torch.randn(
            clean.shape, generator=torch.Generator().manual_seed(7)
        )

        def evaluate() -> dict:
            denoised = noisy - NOISE_SIGMA**2 * grad_energy(model, noisy)
            gain = ((noisy - clean) ** 2).mean() / ((denoised - clean) ** 2).mean()
            return {"denoise_gain": float(gain)}

        return train_with_evaluations(
            model,
            objective,
            x,
            steps=st["steps"],
            evaluate=evaluate,
            generator=gen,
            progress=progress,
            **TRAINING,
        )
