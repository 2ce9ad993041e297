"""Where data lives: an explicit argument, else ``$DISCRETE_EBM_DATA``, else a user cache dir."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir(root: str | os.PathLike | None = None) -> Path:
    """The data directory: ``root`` if given, else ``$DISCRETE_EBM_DATA``, else
    ``$XDG_CACHE_HOME/discrete_ebm`` (``~/.cache/discrete_ebm``). Nothing is downloaded."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("DISCRETE_EBM_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "discrete_ebm"
