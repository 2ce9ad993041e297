"""The uses of the package as documented functions, one module per use.

- ``recipes.ising``: learn Ising couplings from binary data (``learn_couplings``,
  ``select_support``, the lattice benchmark, ``run_ising``);
- ``recipes.lattice``: block-Gibbs samples of the 2-D Ising lattice at several temperatures
  (``sample_temperatures``, ``onsager_magnetisation``);
- ``recipes.continuous``: MLP energies on 2-D toy densities with every continuous objective
  (``train_toy``, ``run_toy_objectives``);
- ``recipes.ego``: Ego-small graph generation with a GNN energy (``run_ego_small``);
- ``recipes.benchmark``: the discrete-versus-continuous benchmark suite (``run_benchmark``);
- ``recipes.rbm`` / ``recipes.dbm``: RBM and DBM training on MNIST;
- ``recipes.denoise``: denoising (and inpainting) binary images.

Each ``discrete-ebm`` command parses its arguments, calls one of these and writes the
outputs. Importing this package imports none of the modules: ``discrete_ebm.recipes.ising``
is loaded on first use (attribute access or import), so the graph package (torch-geometric)
and the plotting code (matplotlib) load only with the recipes that need them.
"""

from __future__ import annotations

import importlib

_MODULES = ("benchmark", "continuous", "dbm", "denoise", "ego", "ising", "lattice", "rbm")


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULES])
