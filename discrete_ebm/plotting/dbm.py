"""The DBM's test bound over training (from the evaluations recorded by ``fit``)."""

from __future__ import annotations

from pathlib import Path

from ._figure import pyplot, save


def plot_bound_curve(
    track: list[dict], path: str | Path, *, steps_per_epoch: int, title: str | None = None
) -> Path:
    """Plot ``test_bound`` (nats) against epochs for the records ``track`` (each with
    ``step`` and ``test_bound``; error bars from ``log_z_stderr`` when present); records
    marked ``invalid`` (e.g. tracked with an AIS since found biased) are left out."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    rows = [r for r in track if "test_bound" in r and "invalid" not in r]
    x = [r["step"] / steps_per_epoch for r in rows]
    y = [r["test_bound"] for r in rows]
    err = [r.get("log_z_stderr", 0.0) for r in rows]
    ax.errorbar(x, y, yerr=err, marker="o", ms=3, lw=1, capsize=2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test variational bound (nats)")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9)
    return save(fig, path)
