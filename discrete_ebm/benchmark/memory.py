"""Peak memory of a block of work: resident-set size sampled by a background thread (CPU)
or ``torch.cuda.max_memory_allocated`` (CUDA)."""

from __future__ import annotations

import os
import resource
import threading

import torch


def _rss_bytes() -> int:
    """Current resident set size (Linux ``/proc``; elsewhere the lifetime peak)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakMemory:
    """Context manager: ``peak_mb`` (max RSS during the block) and ``delta_mb`` (peak minus the
    RSS at entry); on CUDA also ``cuda_peak_mb``."""

    def __init__(self, interval: float = 0.02, device: torch.device | None = None):
        self.interval = interval
        self.device = device
        self.peak_mb = self.delta_mb = self.cuda_peak_mb = 0.0

    def __enter__(self) -> PeakMemory:
        self._start = self._peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, _rss_bytes())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, _rss_bytes())
        self.peak_mb = self._peak / 2**20
        self.delta_mb = (self._peak - self._start) / 2**20
        if self.device is not None and self.device.type == "cuda":
            self.cuda_peak_mb = torch.cuda.max_memory_allocated(self.device) / 2**20
