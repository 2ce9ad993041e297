"""What the PNGs show, read from the matplotlib figures before they are saved: the lattice
samples beside |m| against T with Onsager's curve and T_c; the continuous densities with
axes, colour bars and titles clear of other panels; the benchmark curves with a panel per
view when the views report different metrics (MNIST)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg

from discrete_ebm.benchmark.report import plot_curves
from discrete_ebm.cli import main
from discrete_ebm.plotting import _figure, continuous, sampling
from discrete_ebm.plotting.continuous import plot_toy_results
from discrete_ebm.recipes.lattice import onsager_magnetisation

T_C = 2.0 / math.log(1.0 + math.sqrt(2.0))


@pytest.fixture
def captured(monkeypatch):
    """Figures passed to ``save`` by the plotting modules and the benchmark report (kept
    open and not written, so that they can be inspected; closed at the end)."""
    figures = []

    def keep(fig, path, *args, **kwargs):
        figures.append(fig)
        return Path(path)

    for module in (_figure, sampling, continuous):
        monkeypatch.setattr(module, "save", keep)
    yield figures
    for fig in figures:
        _figure.pyplot().close(fig)


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def test_sample_png_marks_onsager_and_critical_temperature(tmp_path, captured):
    args = ["sample", "--size", "8", "--temperatures", "1.5", "3.0", "--sweeps", "20"]
    assert main(args + ["--chains", "4", "--out", str(tmp_path), "--quiet"]) == 0
    (fig,) = captured
    records = json.loads((tmp_path / "sample.json").read_text())["temperatures"]
    # 2 rows × 4 chains of lattice pictures, and one panel of |m| against T
    panels = [ax for ax in fig.axes if ax.lines]
    assert len(fig.axes) == 2 * 4 + 1 and len(panels) == 1
    ax = panels[0]
    vertical = [ln for ln in ax.lines if np.ptp(ln.get_xdata()) == 0]
    assert [float(ln.get_xdata()[0]) for ln in vertical] == pytest.approx([T_C], abs=1e-12)
    texts = legend_texts(ax)
    assert any("Onsager" in t for t in texts) and any("2.269" in t for t in texts)
    (curve,) = [ln for ln in ax.lines if "Onsager" in ln.get_label()]
    T, m = curve.get_xdata(), curve.get_ydata()
    assert T.min() < 1.5 and T.max() > 3.0 and T.min() < T_C < T.max()
    assert m == pytest.approx([onsager_magnetisation(t) for t in T], abs=1e-12)
    # the sampled points: |m| per temperature as in sample.json
    (points,) = [ln for ln in ax.lines if ln.get_marker() == "o"]
    assert list(points.get_xdata()) == [1.5, 3.0]
    assert list(points.get_ydata()) == [r["abs_magnetisation"] for r in records]
    assert "T" in ax.get_xlabel() and "|m|" in ax.get_ylabel()


def toy_inputs(n_models: int):
    g = torch.Generator().manual_seed(0)
    grid = torch.randn(20, 20, generator=g, dtype=torch.float64)
    data = torch.randn(300, 2, generator=g)
    panels = {
        f"objective_{k}": (torch.randn(20, 20, generator=g, dtype=torch.float64), data)
        for k in range(n_models)
    }
    return grid, data, panels


def overlapping(fig) -> list[tuple[str, str]]:
    """``(title, other panel's title)`` for every title drawn over another panel."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    out = []
    for ax in fig.axes:
        box = ax.title.get_window_extent(renderer)
        for other in fig.axes:
            if other is not ax and ax.get_title() and box.overlaps(other.get_window_extent()):
                out.append((ax.get_title(), other.get_title()))
    return out


@pytest.mark.parametrize("with_truth,n_models", [(True, 5), (False, 2)])
def test_continuous_png_has_axes_colour_bars_and_clear_titles(
    tmp_path, captured, with_truth, n_models
):
    """Five models are what ``discrete-ebm continuous`` draws by default (there the sample
    titles used to run over the density panels)."""
    truth, data, panels = toy_inputs(n_models)
    plot_toy_results(
        truth if with_truth else None, data, panels, 4.0, tmp_path / "c.png", title="toy"
    )
    (fig,) = captured
    cols = 1 + n_models
    main_axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(main_axes) == 2 * cols and len(bars) == cols
    top, bottom = main_axes[:cols], main_axes[cols:]
    for ax in top:  # every density (or the data histogram) has its colour scale
        mappable = ax.images[0] if ax.images else ax.collections[0]
        assert mappable.colorbar is not None and mappable.colorbar.ax in bars
        assert mappable.colorbar.ax.get_ylabel() in ("p(x)", "count")
    for ax in main_axes:  # ticks and tick labels on [−4, 4], axes named
        assert list(ax.get_xticks()) == [-4.0, -2.0, 0.0, 2.0, 4.0]
        assert list(ax.get_yticks()) == [-4.0, -2.0, 0.0, 2.0, 4.0]
        assert ax.get_xlabel() == "$x_1$"
    assert top[0].get_ylabel() == bottom[0].get_ylabel() == "$x_2$"
    assert overlapping(fig) == []


def curve(metric: str, values: list[float]) -> list[dict]:
    return [
        {"step": 10 * (i + 1), "seconds": 0.5 * (i + 1), metric: v} for i, v in enumerate(values)
    ]


def cell(task, view, objective, metric, values):
    return {
        "task": task,
        "view": view,
        "objective": objective,
        "seed": 0,
        "status": "ok",
        "steps": 10 * len(values),
        "metrics": {metric: values[-1]},
        "curve": curve(metric, values),
        "train_seconds": 0.5 * len(values),
        "seconds_per_step": 0.05,
        "peak_memory_mb": 1.0,
    }


def benchmark_data() -> dict:
    cells = [
        cell("mnist", "discrete", "rbm-pcd", "test_ll", [-190.0, -185.0]),
        cell("mnist", "discrete", "rbm-ed-bern", "test_ll", [-203.0, -201.0]),
        cell("mnist", "continuous", "dsm", "denoise_gain", [1.07, 1.10]),
        cell("mnist", "continuous", "ssm", "denoise_gain", [1.04, 0.92]),
        cell("toy", "discrete", "pl", "nll", [3.8, 3.1]),
        cell("toy", "continuous", "sm", "nll", [4.0, 3.2]),
    ]
    return {
        "suite": "test",
        "cells": {str(i): c for i, c in enumerate(cells)},
        "tasks": {
            "mnist": {"metrics": {"test_ll": "max", "denoise_gain": "max"}},
            "toy": {"metrics": {"nll": "min", "mmd": "min"}},
        },
    }


def test_benchmark_png_shows_each_views_metric(tmp_path, captured):
    paths = plot_curves(benchmark_data(), tmp_path)
    assert [p.name for p in paths] == ["mnist.png", "toy.png"]
    mnist, toy = captured
    panels = {ax.get_ylabel().split()[0]: ax for ax in mnist.axes}
    assert sorted(panels) == ["denoise_gain", "test_ll"]
    lines = {m: {ln.get_label(): ln for ln in ax.lines} for m, ax in panels.items()}
    assert sorted(lines["denoise_gain"]) == ["continuous/dsm", "continuous/ssm"]
    assert sorted(lines["test_ll"]) == ["discrete/rbm-ed-bern", "discrete/rbm-pcd"]
    assert list(lines["denoise_gain"]["continuous/ssm"].get_ydata()) == [1.04, 0.92]
    assert sorted(legend_texts(panels["denoise_gain"])) == ["continuous/dsm", "continuous/ssm"]
    # views sharing a metric stay together in one panel
    (ax,) = toy.axes
    assert sorted(ln.get_label() for ln in ax.lines) == ["continuous/sm", "discrete/pl"]
