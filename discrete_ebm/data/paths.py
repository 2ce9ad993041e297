"""Where data lives: an explicit argument, else ``$DISCRETE_EBM_DATA``, else a user cache dir.

A missing data file raises :class:`DataNotFoundError`, whose message is one line: what is
missing, the folder searched and where that folder came from (``--data`` / ``root=``,
``$DISCRETE_EBM_DATA``, the cache folder: which of them was set), and how to get the file.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "DISCRETE_EBM_DATA"


class DataNotFoundError(FileNotFoundError):
    """A data file is missing; ``str(err)`` is one line saying where it was looked for and
    how to get it (``discrete-ebm`` prints it and exits with code 2)."""


def cache_dir() -> Path:
    """The user cache folder: ``$XDG_CACHE_HOME/discrete_ebm`` (``~/.cache/discrete_ebm``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "discrete_ebm"


def data_dir(root: str | os.PathLike | None = None) -> Path:
    """The data directory: ``root`` if given, else ``$DISCRETE_EBM_DATA``, else
    :func:`cache_dir` (where ``discrete-ebm data fetch`` downloads to)."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return cache_dir()


def data_source(root: str | os.PathLike | None = None) -> str:
    """Which setting chose :func:`data_dir`: ``"--data"``, ``"$DISCRETE_EBM_DATA"`` or
    ``"the cache folder"``."""
    if root is not None:
        return "--data"
    return f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "the cache folder"


def missing_data(
    what: str, relative: str | os.PathLike, root: str | os.PathLike | None, *, get: str
) -> DataNotFoundError:
    """The error for a missing ``data_dir(root) / relative``: names the file, the folder
    searched, the three settings (which were set) and ``get`` (how to obtain the file)."""
    folder = data_dir(root)
    env = os.environ.get(ENV_VAR)
    given = f"given: {root}, used" if root is not None else "not given"
    env_text = f"set to {env}{'' if root is not None else ', used'}" if env else "not set"
    cache_text = " [used]" if root is None and not env else ""
    return DataNotFoundError(
        f"{what} not found: {folder / relative} does not exist (the data folder is "
        f"--data (root=) if given [{given}], else ${ENV_VAR} [{env_text}], else the cache "
        f"folder {cache_dir()}{cache_text}). {get}"
    )
