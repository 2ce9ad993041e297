"""Keep freed memory in the process: glibc ``malloc`` settings for CPU training loops.

A CPU training step allocates and frees the same large temporaries every time (energy
discrepancy's ``B·M × d`` negatives, their spins, pair products: megabytes each). glibc
serves blocks above ``M_MMAP_THRESHOLD`` with ``mmap`` and returns them with ``munmap`` on
free, and trims the heap top above ``M_TRIM_THRESHOLD``, so every step page-faults its
temporaries back in (the kernel zeroes each page). Raising both keeps the memory in the
heap for the next step: a Bernoulli-ED step on the D = 10 Ising benchmark goes from
11–20 ms (erratic) to 10–11 ms on the dense model and from 17–27 ms to 8–9 ms on the sparse
one, one thread (measured 2026-11-23 with the repository's benchmark ``ed_step_cost.py``,
with and without ``--default-malloc``).
It is what PyTorch's tuning guide gets from jemalloc or tcmalloc, without preloading one.
The cost: the process keeps its peak heap until exit.

The ``discrete-ebm`` command calls ``keep_freed_memory()`` before it runs; a library call
never changes the process's malloc settings on its own, so a program that trains with
``fit`` on the CPU may call it once itself. ``DISCRETE_EBM_MALLOC_TUNING=0`` leaves malloc
alone. Elsewhere (musl, macOS, Windows) it does nothing and returns ``False``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt parameters (glibc <malloc.h>)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: glibc's largest accepted mmap threshold on 64-bit systems (``HEAP_MAX_SIZE / 2``): blocks
#: below it come from the heap and are reused after ``free``.
MMAP_THRESHOLD = 32 * 1024 * 1024
#: keep up to 1 GiB of free memory at the top of the heap instead of returning it.
TRIM_THRESHOLD = 1024 * 1024 * 1024

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (see the module docstring); idempotent.

    Returns ``True`` if the settings are in effect, ``False`` if not on glibc or disabled by
    ``DISCRETE_EBM_MALLOC_TUNING=0``.
    """
    global _applied
    if os.environ.get("DISCRETE_EBM_MALLOC_TUNING", "1").strip() == "0":
        return False
    if _applied is not None:
        return _applied
    _applied = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success, 0 on error
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = ok and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    _applied = ok
    return ok
