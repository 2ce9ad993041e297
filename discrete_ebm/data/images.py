"""Binarised MNIST: loading, the published 50,000 / 10,000 / 10,000 split, binarisation.

Reads ``mnist/mnist_uint8.npz`` (``x_train (60000, 784)``, ``y_train``, ``x_test (10000,
784)``, ``y_test``, uint8 grey levels) under the data directory
(:func:`discrete_ebm.data.paths.data_dir`: the ``root`` argument, else
``$DISCRETE_EBM_DATA``, else the cache folder, where ``discrete-ebm data fetch mnist`` or
``load_mnist(download=True)`` puts it: :mod:`discrete_ebm.data.download`). Train = the
first 50,000 training images, valid = the last 10,000, test = the 10,000 test images (the
split of the published RBM/DBM likelihoods).

Binarisation of a grey level ``g``:
- ``"dynamic"``: ``Bernoulli(g / 255)`` drawn afresh every time an image is read;
- ``"static"``: the same draws once, with the given seed (one fixed binary data set);
- ``"threshold"``: ``g > 127`` (deterministic).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .paths import data_dir, missing_data

MNIST_FILE = Path("mnist") / "mnist_uint8.npz"
BINARIZATIONS = ("dynamic", "static", "threshold")
N_TRAIN, N_VALID, N_TEST = 50_000, 10_000, 10_000


class BinaryImages(Dataset):
    """A split of binarised images; item ``i`` is a float tensor ``(784,)`` in {0, 1}.

    Args:
        grey: uint8 array ``(N, 784)``.
        labels: int array ``(N,)``.
        binarize: ``"dynamic"``, ``"static"`` or ``"threshold"`` (module docstring).
        seed: seeds the static draw, or the stream of dynamic draws.
        dtype: float dtype of the returned tensors.

    ``tensor()`` returns the whole split ``(N, 784)`` (a fresh draw each call when dynamic);
    ``loader(batch_size, ...)`` returns a ``DataLoader`` whose every epoch re-binarises (it
    fetches whole batches through ``__getitems__``). Dynamic draws use this object's own
    ``torch.Generator``; use ``num_workers=0`` (workers would copy its state).
    """

    image_shape = (28, 28)

    def __init__(
        self,
        grey: np.ndarray,
        labels: np.ndarray,
        binarize: str = "dynamic",
        seed: int = 0,
        *,
        dtype: torch.dtype = torch.float32,
    ):
        if binarize not in BINARIZATIONS:
            raise ValueError(f"binarize must be one of {BINARIZATIONS}, got {binarize!r}")
        grey = np.asarray(grey)
        if grey.dtype != np.uint8 or grey.ndim != 2:
            raise TypeError(f"grey must be a uint8 array (N, d), got {grey.dtype} {grey.shape}")
        if len(labels) != len(grey):
            raise ValueError(f"labels must have {len(grey)} entries, got {len(labels)}")
        self.binarize = binarize
        self.dtype = dtype
        self.grey = torch.from_numpy(np.ascontiguousarray(grey))
        self.labels = torch.from_numpy(np.asarray(labels).astype(np.int64))
        self.generator = torch.Generator().manual_seed(int(seed))
        self.seed = int(seed)
        self._fixed_cache: torch.Tensor | None = None

    @property
    def _fixed(self) -> torch.Tensor | None:
        """The fixed binary images (static / threshold), computed on first use; else None."""
        if self.binarize == "dynamic":
            return None
        if self._fixed_cache is None:
            if self.binarize == "threshold":
                self._fixed_cache = (self.grey > 127).to(self.dtype)
            else:
                grey = self.grey.numpy()
                rng = np.random.default_rng(self.seed)
                draw = np.empty(grey.shape, dtype=bool)
                for a in range(0, grey.shape[0], 10_000):  # u·255 < g  <=>  u < g/255
                    chunk = grey[a : a + 10_000]
                    draw[a : a + 10_000] = rng.random(chunk.shape, dtype=np.float32) * 255 < chunk
                self._fixed_cache = torch.from_numpy(draw).to(self.dtype)
        return self._fixed_cache

    def __len__(self) -> int:
        return self.grey.shape[0]

    @property
    def dim(self) -> int:
        return self.grey.shape[1]

    def _rows(self, idx) -> torch.Tensor:
        if self._fixed is not None:
            return self._fixed[idx]
        g = self.grey[idx]
        u = torch.rand(g.shape, generator=self.generator, dtype=torch.float32)
        return (u.mul_(255.0) < g).to(self.dtype)  # u·255 < g  <=>  u < g/255

    def __getitem__(self, i: int) -> torch.Tensor:
        return self._rows(i)

    def __getitems__(self, indices: list[int]) -> torch.Tensor:
        """A whole batch ``(len(indices), 784)`` at once (used by ``DataLoader``)."""
        return self._rows(torch.as_tensor(indices, dtype=torch.long))

    def tensor(self) -> torch.Tensor:
        """The split as one tensor ``(N, 784)``; a new draw on each call if dynamic."""
        return self._rows(slice(None))

    def loader(
        self,
        batch_size: int = 100,
        *,
        shuffle: bool = True,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
    ) -> DataLoader:
        """``DataLoader`` over the split yielding ``(batch_size, 784)`` tensors; shuffling
        uses ``generator``. Every pass re-binarises dynamic images."""
        return DataLoader(
            self,
            batch_size=batch_size,
            shuffle=shuffle,
            generator=generator,
            drop_last=drop_last,
            collate_fn=_identity,
        )


def _identity(batch):
    return batch


@dataclass
class MNISTSplits:
    """The three splits (``BinaryImages``) and where they were read from."""

    train: BinaryImages
    valid: BinaryImages
    test: BinaryImages
    path: Path


def mnist_path(root: str | os.PathLike | None = None) -> Path:
    """Where ``load_mnist`` looks: ``data_dir(root) / "mnist" / "mnist_uint8.npz"``."""
    return data_dir(root) / MNIST_FILE


def load_mnist(
    root: str | os.PathLike | None = None,
    binarize: str = "dynamic",
    seed: int = 0,
    *,
    dtype: torch.dtype = torch.float32,
    download: bool = False,
) -> MNISTSplits:
    """Binarised MNIST split 50,000 / 10,000 / 10,000 (train / valid / test).

    Args:
        root: data directory (default ``$DISCRETE_EBM_DATA``, else the cache folder); the
            file is ``<root>/mnist/mnist_uint8.npz``.
        binarize: ``"dynamic"`` (fresh Bernoulli(g/255) draws on every read),
            ``"static"`` (one draw with ``seed``) or ``"threshold"`` (``g > 127``).
        seed: seeds static draws and the dynamic stream (each split gets its own stream).
        dtype: floating dtype of the images.
        download: if the file is missing, download it first (``data.download.fetch``:
            canonical mirrors, pinned SHA-256 checksums, atomic write).

    Returns :class:`MNISTSplits`; each split yields images ``(784,)`` in {0, 1}, row-major
    28×28. A missing file raises :class:`~discrete_ebm.data.paths.DataNotFoundError` (a
    ``FileNotFoundError`` whose one-line message says where it looked and how to get it).
    """
    if binarize not in BINARIZATIONS:
        raise ValueError(f"binarize must be one of {BINARIZATIONS}, got {binarize!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    path = mnist_path(root)
    if not path.is_file() and download:
        from .download import fetch

        fetch("mnist", root)
    if not path.is_file():
        raise missing_data(
            "MNIST",
            MNIST_FILE,
            root,
            get="Get it with `discrete-ebm data fetch mnist` (Python: "
            "load_mnist(download=True)), or point --data / $DISCRETE_EBM_DATA at a folder "
            "holding mnist/mnist_uint8.npz.",
        )
    with np.load(path) as f:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
        if missing:
            raise ValueError(f"{path} lacks arrays {sorted(missing)}")
        x_train, y_train, x_test, y_test = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    if x_train.shape != (N_TRAIN + N_VALID, 784) or x_test.shape != (N_TEST, 784):
        raise ValueError(
            f"{path}: expected x_train (60000, 784) and x_test (10000, 784), got "
            f"{x_train.shape} and {x_test.shape}"
        )
    seeds = np.random.SeedSequence(int(seed)).generate_state(3)
    kw = {"binarize": binarize, "dtype": dtype}
    return MNISTSplits(
        train=BinaryImages(x_train[:N_TRAIN], y_train[:N_TRAIN], seed=int(seeds[0]), **kw),
        valid=BinaryImages(x_train[N_TRAIN:], y_train[N_TRAIN:], seed=int(seeds[1]), **kw),
        test=BinaryImages(x_test, y_test, seed=int(seeds[2]), **kw),
        path=path,
    )
