"""Mean-field bound of evaluated DBM checkpoints on the 10,000 VALIDATION digits.

The recipe trains on MNIST's first 50,000 training images; images 50,000-59,999 (the
``valid`` split of ``load_mnist``, one seeded binarisation) are never used. For each
evaluated model (a ``dbm.pt`` state dict beside the ``dbm.json`` of its evaluation, which
holds its forward AIS ``log_z``) this prints one JSON line with the mean validation bound
``mean_v(−E(v, μ) + H(μ)) − log Ẑ`` (30 mean-field iterations), so that a checkpoint can be
chosen by validation (early stopping) rather than by its test figure:

    python benchmarks/results_dbm/validation_bound.py /work/dbm_eval benchmarks/results_dbm/run1
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from discrete_ebm.data.images import load_mnist
from discrete_ebm.models.dbm import DBM
from discrete_ebm.recipes.dbm import bound_terms


def main(folders: list[str]) -> None:
    torch.set_num_threads(2)
    for folder in folders:
        run = Path(folder)
        record = json.loads((run / "dbm.json").read_text())
        settings = record["settings"]
        data = load_mnist(settings.get("data"), binarize="dynamic", seed=settings["seed"])
        dbm = DBM([784, *settings["hidden"]])
        dbm.load_state_dict(torch.load(run / "dbm.pt", map_location="cpu"))
        terms = bound_terms(dbm, data.valid.tensor())
        print(
            json.dumps(
                {
                    "folder": str(run),
                    "epoch": record["epochs_done"],
                    "validation_bound": float(terms.mean()) - record["log_z"],
                    "validation_bound_sem": float(terms.std() / len(terms) ** 0.5),
                    "test_bound": record["test_bound"],
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
