"""Checkpoints of ``fit``: written atomically, verified before they are read, one run each.

File layout: the ``torch.save`` zip archive of the state, whose archive comment is
``discrete_ebm checkpoint sha256=`` followed by the SHA-256 (64 hex digits) of every byte
before those digits. ``torch.load`` reads the file as usual; ``load_checkpoint`` first
checks the digest, so a flipped, missing or added byte anywhere is reported, naming the
file, before anything is unpickled (``CheckpointCorrupted``), and the file is left as it is.

While ``fit`` runs on a path, ``checkpoint_lock`` holds an exclusive, non-blocking
``flock`` on ``<path>.lock`` (removed when ``fit`` ends; POSIX only, and a file system
without locks gets a warning): a second process, or a second ``fit`` of this one, training
on the same path stops at once with ``CheckpointInUse``. On taking the lock,
temporary files that a killed write left beside the path (``<stem>.tmp<pid><suffix>``,
``discrete_ebm.io.atomic_write``'s names, whose process is gone) are removed. In a
distributed run only rank 0 takes the lock and writes; every rank reads the same file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch

from ..io import atomic_write

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None

_TAG = b"discrete_ebm checkpoint sha256="
_DIGITS = 64
_END_OF_ZIP = b"PK\x05\x06"  # the zip's end-of-central-directory record: its last 22 bytes


class CheckpointCorrupted(ValueError):
    """The file is not an intact checkpoint written by ``save_checkpoint``."""


class CheckpointInUse(RuntimeError):
    """Another process (or another ``fit`` of this one) is training on the checkpoint."""


def checkpoint_path(checkpoint: str | os.PathLike | None) -> Path | None:
    """``None`` or the checkpoint's ``Path``, its folder created; ``ValueError`` for an empty
    name, a folder, or a path under a regular file, ``PermissionError`` for a folder that
    cannot be created."""
    if checkpoint is None:
        return None
    if not isinstance(checkpoint, str | os.PathLike) or not str(checkpoint).strip():
        raise ValueError(f"checkpoint must be a file path or None, got {checkpoint!r}")
    path = Path(checkpoint)
    if path.is_dir():
        raise ValueError(f"checkpoint {str(path)!r} is a folder; give a file path inside it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(p for p in reversed(path.parents) if p.exists() and not p.is_dir())
        raise ValueError(
            f"checkpoint {str(path)!r} cannot be written: {str(blocker)!r} is a file, not a folder"
        ) from None
    except PermissionError as e:
        raise PermissionError(
            f"checkpoint {str(path)!r} cannot be written: no permission to create {e.filename}"
        ) from None
    except OSError as e:
        raise ValueError(
            f"checkpoint {str(path)!r} cannot be written: creating {e.filename}: {e.strerror}"
        ) from None
    return path


def save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` (tensors, numbers, strings and containers of them) to ``path``
    atomically, with its SHA-256 in the archive comment (module docstring)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    blob = buffer.getbuffer()
    if bytes(blob[-22:-18]) != _END_OF_ZIP or bytes(blob[-2:]) != b"\0\0":
        raise RuntimeError("torch.save wrote an archive without a plain end record")
    body = b"".join((blob[:-2], struct.pack("<H", len(_TAG) + _DIGITS), _TAG))
    digest = hashlib.sha256(body).hexdigest().encode()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(body)
            f.write(digest)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, write)


def read_verified(path: Path) -> bytes:
    """The bytes of the checkpoint ``path`` after checking its SHA-256."""
    data = path.read_bytes()
    body, digest = data[:-_DIGITS], data[-_DIGITS:]
    if not body.endswith(_TAG):
        raise CheckpointCorrupted(
            f"checkpoint {path} is damaged (truncated?) or was not written by this version "
            f"of discrete_ebm's fit: it does not end with its SHA-256 record ({len(data)} "
            "bytes); it was left as it is — pass resume=False to start afresh (overwriting it)"
            " or another checkpoint path"
        )
    if hashlib.sha256(body).hexdigest().encode() != digest:
        raise CheckpointCorrupted(
            f"checkpoint {path} is damaged: its content does not match its SHA-256 "
            f"({len(data)} bytes); it was left as it is — pass resume=False to start afresh "
            "(overwriting it) or another checkpoint path"
        )
    return data


def load_checkpoint(path: Path, device: torch.device) -> dict:
    """Read a checkpoint written by ``save_checkpoint``, tensors mapped to ``device``;
    ``CheckpointCorrupted`` (naming the file) if any byte differs from what was written."""
    data = read_verified(path)
    try:
        return torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except Exception as e:
        raise CheckpointCorrupted(f"checkpoint {path} could not be read: {e}") from e


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove ``<stem>.tmp<pid><suffix>`` files beside ``path`` whose process is gone;
    returns them."""
    pattern = re.compile(rf"{re.escape(path.stem)}\.tmp(\d+){re.escape(path.suffix)}")
    removed = []
    for candidate in path.parent.glob(f"{_glob_escape(path.stem)}.tmp*{_glob_escape(path.suffix)}"):
        m = pattern.fullmatch(candidate.name)
        if m and candidate.is_file() and not _running(int(m.group(1))):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def _glob_escape(text: str) -> str:
    """``text`` with ``glob``'s special characters escaped."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def _open_lock(lock: Path, path: Path) -> int:
    try:
        return os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError:
        raise PermissionError(
            f"checkpoint {str(path)!r} cannot be written: no permission to create files in "
            f"{str(path.parent)!r}"
        ) from None
    except OSError as e:
        raise ValueError(
            f"checkpoint {str(path)!r} cannot be written: creating its lock {str(lock)!r}: "
            f"{e.strerror}"
        ) from None


def _acquire(lock: Path, path: Path) -> int | None:
    """A descriptor of ``lock`` holding its exclusive ``flock`` (``None``: no locks here)."""
    if fcntl is None:
        return None
    while True:
        fd = _open_lock(lock, path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CheckpointInUse(
                f"checkpoint {str(path)!r} is in use: another training run holds its lock "
                f"{str(lock)!r}; wait for it to finish or give another checkpoint path"
            ) from None
        except OSError as e:  # a file system without locks (some network mounts)
            os.close(fd)
            warnings.warn(
                f"checkpoint {str(path)!r} is not locked ({e.strerror}): two runs on it would "
                "overwrite each other",
                stacklevel=4,
            )
            return None
        try:  # the holder before us may have removed the lock file: lock the current one
            if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


@contextlib.contextmanager
def checkpoint_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (module docstring) and clear stale temporaries;
    the lock file is removed on exit."""
    lock = path.with_name(path.name + ".lock")
    fd = _acquire(lock, path)
    try:
        remove_stale_temporaries(path)
        yield
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                lock.unlink()
            os.close(fd)
