"""Downloading the data sets into the data folder, with pinned SHA-256 checksums.

``fetch("mnist")`` and ``fetch("citeseer")`` (the command ``discrete-ebm data fetch``) write
into :func:`~discrete_ebm.data.paths.data_dir` (``root``, else ``$DISCRETE_EBM_DATA``,
else the cache folder ``~/.cache/discrete_ebm``):

- ``citeseer/ind.citeseer.graph``: the Planetoid file (Yang et al. 2016) from the
  kimiyoung/planetoid repository, as is (61,987 bytes; byte-identical to the copies in the
  GraphRNN, EDP-GNN and GDSS repositories).
- ``mnist/mnist_uint8.npz``: no public mirror serves this file, so the four canonical
  LeCun/Cortes/Burges IDX files are downloaded (PyTorch's S3 mirror, TensorFlow's Google
  Cloud mirror, then yann.lecun.com) and converted: images ``(N, 28, 28)`` become rows
  ``(N, 784)``, labels stay ``(N,)``, all uint8, saved by ``np.savez_compressed`` in the
  order ``x_train, y_train, x_test, y_test``. The checksums pin the four source files;
  their decoded IDX bytes are those of the reference ``mnist_uint8.npz`` (checked
  2026-12-05), and with NumPy 2.4 / zlib 1.2.13 the converted file is byte-identical to it
  (SHA-256 ``MNIST_NPZ_SHA256``; another zlib may compress differently, same arrays).

Every file is checked against its pinned SHA-256 before anything is written to the data
folder; the target is written atomically (temporary name, then ``os.replace``), so a
failed or interrupted download leaves no file behind. ``base_url`` or
``$DISCRETE_EBM_MIRROR`` replaces the mirrors by one folder URL serving the same file names.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import struct
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import atomic_write, save_npz
from .paths import data_dir

MIRROR_VAR = "DISCRETE_EBM_MIRROR"
TIMEOUT = 60.0  # seconds without data before a mirror is given up
MNIST_NPZ_SHA256 = "6ff3272174ad1dcb2ce270847ad63698633925ed0249e1e856d6fd92a3fbd58e"


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 differs from the pinned value (nothing was written)."""


class DownloadError(ConnectionError):
    """No mirror delivered a file; the message lists each URL tried and its error."""


@dataclass(frozen=True)
class Remote:
    """One file on the mirrors: its name, size in bytes and pinned SHA-256."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Dataset:
    """A fetchable data set: ``target`` (relative to the data folder), the mirror folder
    URLs tried in order, the files to download and ``build(files, target)``, which makes
    the target (atomically) from the verified downloads ``{name: path}``."""

    target: Path
    mirrors: tuple[str, ...]
    files: tuple[Remote, ...]
    build: Callable[[dict[str, Path], Path], Path]


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """A gzipped IDX file of unsigned bytes (magic ``0 0 8 ndim``, then ``ndim`` big-endian
    uint32 sizes, then the bytes) as a uint8 array of those sizes."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    name = Path(path).name
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{name}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    head = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", raw[4:head])
    if len(raw) - head != int(np.prod(dims)):
        raise ValueError(f"{name}: header gives shape {dims}, found {len(raw) - head} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=head).reshape(dims)


def _build_mnist(files: dict[str, Path], target: Path) -> Path:
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = read_idx(files[f"{prefix}-images-idx3-ubyte.gz"])
        y = read_idx(files[f"{prefix}-labels-idx1-ubyte.gz"])
        if y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"MNIST {split}: {len(x)} images but labels of shape {y.shape}")
        arrays[f"x_{split}"] = x.reshape(len(x), -1)
        arrays[f"y_{split}"] = y
    order = ("x_train", "y_train", "x_test", "y_test")  # the reference file's order
    return save_npz(target, compressed=True, **{k: arrays[k] for k in order})


def _build_copy(files: dict[str, Path], target: Path) -> Path:
    (source,) = files.values()
    return atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))


DATASETS: dict[str, Dataset] = {
    "mnist": Dataset(
        target=Path("mnist") / "mnist_uint8.npz",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "https://yann.lecun.com/exdb/mnist/",
        ),
        files=(
            Remote(
                "train-images-idx3-ubyte.gz",
                9_912_422,
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            ),
            Remote(
                "train-labels-idx1-ubyte.gz",
                28_881,
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            ),
            Remote(
                "t10k-images-idx3-ubyte.gz",
                1_648_877,
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            ),
            Remote(
                "t10k-labels-idx1-ubyte.gz",
                4_542,
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            ),
        ),
        build=_build_mnist,
    ),
    "citeseer": Dataset(
        target=Path("citeseer") / "ind.citeseer.graph",
        mirrors=(
            "https://raw.githubusercontent.com/kimiyoung/planetoid/master/data/",
            "https://github.com/kimiyoung/planetoid/raw/master/data/",
        ),
        files=(
            Remote(
                "ind.citeseer.graph",
                61_987,
                "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7",
            ),
        ),
        build=_build_copy,
    ),
}


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _stream(url: str, dest: Path, remote: Remote, progress: bool) -> str:
    """Write the body at ``url`` to ``dest`` (a tqdm bar on stderr); its hex SHA-256.
    A body shorter than its ``Content-Length`` raises ``http.client.IncompleteRead``."""
    from tqdm.auto import tqdm

    h = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=TIMEOUT) as r, open(dest, "wb") as f:
        announced = r.headers.get("Content-Length")
        total = int(announced) if announced else remote.size
        with tqdm(
            total=total,
            desc=remote.name,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            disable=not progress,
            file=sys.stderr,
            leave=False,
        ) as bar:
            n = 0
            for chunk in iter(lambda: r.read(1 << 20), b""):
                f.write(chunk)
                h.update(chunk)
                bar.update(len(chunk))
                n += len(chunk)
        if announced and n != int(announced):
            raise http.client.IncompleteRead(b"", int(announced) - n)
    return h.hexdigest()


def _download(urls: list[str], dest: Path, remote: Remote, sha256: str, progress: bool) -> str:
    """Download from the first URL that delivers the whole file; check its SHA-256 (a
    mismatch raises at once: a mirror serving other bytes is not retried); return the URL."""
    errors = []
    for url in urls:
        try:
            got = _stream(url, dest, remote, progress)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            if isinstance(err, urllib.error.URLError) and not hasattr(err, "code"):
                err = err.reason  # e.g. "[Errno 111] Connection refused"
            elif isinstance(err, http.client.IncompleteRead):
                err = f"cut off, {err.expected} bytes missing"
            errors.append(f"{url} ({err})")
            continue
        if got != sha256:
            dest.unlink(missing_ok=True)
            raise ChecksumError(
                f"{remote.name} from {url}: SHA-256 {got} differs from the pinned {sha256}; "
                "nothing was written"
            )
        return url
    raise DownloadError(f"could not download {remote.name}: " + "; ".join(errors))


def _present(ds: Dataset, target: Path, pinned: dict[str, str]) -> bool:
    """The target exists (and, when it is a downloaded file as is, has its pinned hash)."""
    if not target.is_file():
        return False
    return ds.build is not _build_copy or sha256_file(target) == pinned[ds.files[0].name]


def fetch(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    base_url: str | None = None,
    checksums: dict[str, str] | None = None,
    force: bool = False,
    progress: bool | None = None,
    log: Callable[[str], object] | None = None,
) -> Path:
    """Download data set ``name`` (``"mnist"`` or ``"citeseer"``) into ``data_dir(root)``.

    Args:
        base_url: one folder URL serving the files by name, instead of the public mirrors
            (default ``$DISCRETE_EBM_MIRROR`` if set).
        checksums: ``{file name: SHA-256}`` replacing pinned values (for a private mirror).
        force: download even if the target exists (it is replaced only after checking);
            a file kept as downloaded (Citeseer) whose hash differs is downloaded again.
        progress: a tqdm bar per file on stderr (default: when stderr is a terminal).
        log: receives one line per file downloaded (its URL).

    Returns the target path. Raises :class:`ChecksumError` (naming both hashes; nothing
    written) or :class:`DownloadError` (every URL tried, with its error).
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {sorted(DATASETS)}, got {name!r}")
    ds = DATASETS[name]
    pinned = {f.name: f.sha256 for f in ds.files}
    unknown = set(checksums or {}) - set(pinned)
    if unknown:
        raise ValueError(f"checksums: unknown file names {sorted(unknown)} for {name!r}")
    pinned.update({k: v.lower() for k, v in (checksums or {}).items()})
    target = data_dir(root) / ds.target
    if not force and _present(ds, target, pinned):
        if log is not None:
            log(f"{target} is already there (force=True, --force: download it again)")
        return target
    base = base_url or os.environ.get(MIRROR_VAR) or None
    mirrors = (base,) if base else ds.mirrors
    if progress is None:
        progress = sys.stderr.isatty()
    with tempfile.TemporaryDirectory(prefix="discrete_ebm-") as tmp:
        files = {}
        for remote in ds.files:
            urls = [m.rstrip("/") + "/" + remote.name for m in mirrors]
            files[remote.name] = Path(tmp) / remote.name
            url = _download(urls, files[remote.name], remote, pinned[remote.name], progress)
            if log is not None:
                log(f"{url}: SHA-256 {pinned[remote.name]} as pinned")
        return ds.build(files, target)
