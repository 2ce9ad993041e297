"""Markdown table and PNG plots of a benchmark's ``results.json``."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..io import atomic_write


def _mean_std(values: list[float]) -> str:
    if not values:
        return "—"
    m = float(np.mean(values))
    if len(values) == 1:
        return f"{m:.4g}"
    return f"{m:.4g} ± {float(np.std(values, ddof=1)):.2g}"


def summarise(data: dict) -> dict:
    """Per task, per (view, objective): lists of metric values, times, and failures."""
    out: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for rec in data["cells"].values():
        row = out[rec["task"]][(rec["view"], rec["objective"])]
        if rec["status"] != "ok":
            row["failed"].append(rec.get("error", "failed"))
            continue
        for k, v in rec["metrics"].items():
            row[k].append(v)
        row["train_seconds"].append(rec["train_seconds"])
        row["seconds_per_step"].append(rec["seconds_per_step"])
        row["peak_memory_mb"].append(rec["peak_memory_mb"])
    return out


def _primary(rows: dict, metrics: dict) -> tuple[str, dict] | None:
    """The first metric of ``metrics`` that some rows report, and those rows."""
    for primary in metrics:
        ok = {k: r for k, r in rows.items() if r.get(primary)}
        if ok:
            return primary, ok
    return None


def _rank(rows: dict, metrics: dict) -> dict | None:
    """Best row on the first metric of ``metrics`` that the rows report, the runner-up, and
    the fastest row."""
    found = _primary(rows, metrics)
    if found is None:
        return None
    primary, ok = found
    direction = metrics[primary]
    sign = 1 if direction == "min" else -1
    ranked = sorted(ok, key=lambda k: sign * float(np.mean(ok[k][primary])))
    fastest = min(ok, key=lambda k: float(np.mean(ok[k]["train_seconds"])))
    best, second = ranked[0], ranked[1] if len(ranked) > 1 else None
    return {
        "metric": primary,
        "direction": direction,
        "best": "/".join(best),
        "best_value": float(np.mean(ok[best][primary])),
        "runner_up": "/".join(second) if second else None,
        "runner_up_value": float(np.mean(ok[second][primary])) if second else None,
        "fastest": "/".join(fastest),
        "fastest_seconds": float(np.mean(ok[fastest]["train_seconds"])),
        "best_seconds": float(np.mean(ok[best]["train_seconds"])),
    }


def _groups(data: dict, summary: dict) -> list[tuple[str, str, dict]]:
    """``(label, task, rows)`` that are ranked together: a whole task, or each of its views
    on its own when the views do not all report the task's primary metric."""
    groups = []
    for task, rows in summary.items():
        metrics = data["tasks"][task]["metrics"]
        views = sorted({view for view, _ in rows})
        found = _primary(rows, metrics)
        shared = found is not None and all(
            any(r.get(found[0]) for (v, _), r in rows.items() if v == view) for view in views
        )
        if shared:
            groups.append((task, task, dict(rows)))
            continue
        for view in views:
            groups.append(
                (f"{task} ({view})", task, {k: r for k, r in rows.items() if k[0] == view})
            )
    return groups


def _reaches(value, target: float, direction: str) -> bool:
    """Whether ``value`` is at least as good as ``target`` (a relative 1e-12 slack absorbs
    the rounding of a mean of equal values)."""
    if value is None or not math.isfinite(value):
        return False
    slack = 1e-12 * max(1.0, abs(target))
    return value <= target + slack if direction == "min" else value >= target - slack


def _seconds_to_target(rec: dict, metric: str, target: float, direction: str) -> float | None:
    """Training seconds at the first evaluation point of one cell that reaches ``target``
    (its final metrics at ``train_seconds`` close the curve if the curve stops earlier)."""
    points = list(rec.get("curve") or [])
    if not points or points[-1].get("step") != rec.get("steps"):
        points.append({"step": rec.get("steps"), "seconds": rec["train_seconds"], **rec["metrics"]})
    for point in points:
        if _reaches(point.get(metric), target, direction):
            return float(point["seconds"])
    return None


def time_to_quality(data: dict) -> dict:
    """Training seconds each (view, objective) needs to reach a quality every row reaches.

    Rule, per task (or per view where :func:`winners` ranks the views apart):

    - metric: the primary metric :func:`_rank` uses (the first of the task's metrics that
      the rows report), with its direction ("min" or "max");
    - target: the worst of the rows' mean final values on it (the largest mean for "min",
      the smallest for "max"), so every row reaches it at its end at least on average;
    - per seed: the ``seconds`` of the first curve point whose value is at least as good as
      the target, the final metrics at ``train_seconds`` appended as the last point when
      the curve does not end at the final step; a seed that never reaches it, or whose
      cell failed, counts as not reached;
    - per row: ``seconds`` = median over the seeds that reach it of those seconds, None when
      fewer than half of the row's seeds reach it; ``reached`` and ``seeds`` the counts;
    - ``quickest``: the row with the smallest ``seconds`` (ties: more seeds reached, then
      name), None when no row has one.

    Returns ``{label: {"task", "metric", "direction", "target", "rows": {"view/objective":
    {"seconds", "reached", "seeds", "per_seed"}}, "quickest", "quickest_seconds"}}`` with
    the labels of :func:`winners`.
    """
    records = defaultdict(list)
    for rec in data["cells"].values():
        records[(rec["task"], rec["view"], rec["objective"])].append(rec)
    result = {}
    for label, task, rows in _groups(data, summarise(data)):
        metrics = data["tasks"][task]["metrics"]
        found = _primary(rows, metrics)
        if found is None:
            continue
        metric, ok = found
        direction = metrics[metric]
        means = [float(np.mean(r[metric])) for r in ok.values()]
        means = [m for m in means if math.isfinite(m)]
        if not means:
            continue
        target = max(means) if direction == "min" else min(means)
        out_rows = {}
        for key in sorted(ok):
            recs = sorted(records[(task, *key)], key=lambda r: r.get("seed", 0))
            per_seed = [
                _seconds_to_target(r, metric, target, direction) if r["status"] == "ok" else None
                for r in recs
            ]
            hit = [s for s in per_seed if s is not None]
            enough = hit and 2 * len(hit) >= len(per_seed)
            out_rows["/".join(key)] = {
                "seconds": float(np.median(hit)) if enough else None,
                "reached": len(hit),
                "seeds": len(per_seed),
                "per_seed": per_seed,
            }
        timed = [(r["seconds"], -r["reached"], name) for name, r in out_rows.items()]
        timed = [t for t in timed if t[0] is not None]
        quickest = min(timed) if timed else None
        result[label] = {
            "task": task,
            "metric": metric,
            "direction": direction,
            "target": target,
            "rows": out_rows,
            "quickest": quickest[2] if quickest else None,
            "quickest_seconds": quickest[0] if quickest else None,
        }
    return result


def winners(data: dict) -> dict:
    """Per task (and per view where the views have different metrics): the best
    (view, objective) on the primary metric, the runner-up, the fastest (smallest mean
    training seconds) and the quickest to target (see :func:`time_to_quality`)."""
    result = {}
    ttq = time_to_quality(data)
    for label, task, rows in _groups(data, summarise(data)):
        ranked = _rank(rows, data["tasks"][task]["metrics"])
        if not ranked:
            continue
        quality = ttq.get(label, {})
        ranked["target"] = quality.get("target")
        ranked["quickest_to_target"] = quality.get("quickest")
        ranked["quickest_to_target_seconds"] = quality.get("quickest_seconds")
        result[label] = ranked
    return result


def _target_text(info: dict) -> str:
    """``"nll ≤ 3.316"``: the target of a :func:`time_to_quality` or :func:`winners` entry."""
    sign = "≤" if info["direction"] == "min" else "≥"
    return f"{info['metric']} {sign} {info['target']:.4g}"


def _to_target_cell(found: tuple[dict, dict] | None) -> str:
    """``"12.3 (3/3)"``: median seconds to the target and seeds that reached it."""
    if found is None:
        return "—"
    row = found[1]
    seconds = "—" if row["seconds"] is None else f"{row['seconds']:.4g}"
    return f"{seconds} ({row['reached']}/{row['seeds']})"


def markdown_table(data: dict) -> str:
    """One table per task: objectives as rows; metrics mean ± std over seeds, times, memory."""
    lines = []
    summary = summarise(data)
    ttq = time_to_quality(data)
    to_target = {(q["task"], name): (q, r) for q in ttq.values() for name, r in q["rows"].items()}
    for task, rows in summary.items():
        info = data["tasks"].get(task, {})
        metrics = list(info.get("metrics", {}))
        lines.append(f"### {task}\n")
        if info.get("description"):
            lines.append(info["description"] + "\n")
        arrows = {"min": "↓", "max": "↑"}
        head = ["view", "objective"] + [f"{m} {arrows[info['metrics'][m]]}" for m in metrics]
        head += ["train s", "s to target", "s/step", "peak MB", "seeds"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for (view, obj), r in sorted(rows.items()):
            n_ok = len(r.get("train_seconds", []))
            cells = [view, obj] + [_mean_std(r.get(m, [])) for m in metrics]
            cells += [
                _mean_std(r.get("train_seconds", [])),
                _to_target_cell(to_target.get((task, f"{view}/{obj}"))),
                _mean_std(r.get("seconds_per_step", [])),
                _mean_std(r.get("peak_memory_mb", [])),
                f"{n_ok}" + (f" ({len(r['failed'])} failed)" if r.get("failed") else ""),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        for (view, obj), r in sorted(rows.items()):
            for err in r.get("failed", []):
                lines.append(f"\n- failed: {view}/{obj}: `{err[:200]}`")
        for label, q in ttq.items():
            if q["task"] == task:
                where = label[len(task) :].strip(" ()")
                lines.append(
                    f"\n*s to target*{f' ({where})' if where else ''}: median training seconds"
                    f" until a seed first reaches {_target_text(q)} (the worst row's mean), over"
                    " the seeds that reach it (shown only when at least half do); seeds reached."
                )
        lines.append("")
    w = winners(data)
    if w:
        lines.append("### Winners\n")
        for task, info in w.items():
            best_vs = ""
            if info["runner_up"]:
                diff = info["best_value"] - info["runner_up_value"]
                best_vs = f" ({info['runner_up']}: {info['runner_up_value']:.4g}, Δ = {diff:+.3g})"
            speed = info["best_seconds"] / max(info["fastest_seconds"], 1e-12)
            if info["quickest_to_target"]:
                quickest = (
                    f"quickest to target {info['quickest_to_target']} "
                    f"({info['quickest_to_target_seconds']:.3g} s to {_target_text(info)})"
                )
            else:
                quickest = "no row reaches the target in at least half its seeds"
            lines.append(
                f"- **{task}**: best {info['metric']} {info['best']} = {info['best_value']:.4g}"
                f"{best_vs}; fastest {info['fastest']} ({info['fastest_seconds']:.3g} s, "
                f"the best took {speed:.2g}× that); {quickest}"
            )
        lines.append("")
    return "\n".join(lines)


def _curve_panels(data: dict, task: str) -> list[tuple[str, str, list[dict]]]:
    """``(label, metric, cells)`` per panel of a task's figure: the groups of
    :func:`winners` (the whole task, or each view where the views report different primary
    metrics), each with its primary metric and its successful cells that have a curve."""
    metrics = data["tasks"][task]["metrics"]
    cells = [
        r
        for r in data["cells"].values()
        if r["task"] == task and r["status"] == "ok" and r.get("curve")
    ]
    panels = []
    for label, group_task, rows in _groups(data, summarise(data)):
        found = _primary(rows, metrics) if group_task == task else None
        if found is not None:
            keys = set(rows)
            panels.append(
                (label, found[0], [r for r in cells if (r["view"], r["objective"]) in keys])
            )
    return panels or [(task, next(iter(metrics)), cells)]


def _curve_panel(ax, cells: list[dict], metric: str, direction: str, colors: dict) -> None:
    """``metric`` of each cell's curve against its training seconds, one colour per
    view/objective (solid: continuous view, dashed: discrete)."""
    seen = set()
    for r in cells:
        lab = f"{r['view']}/{r['objective']}"
        pts = [(c["seconds"], c[metric]) for c in r["curve"] if metric in c]
        pts = [(s, v) for s, v in pts if v is not None and math.isfinite(v)]
        if not pts:
            continue
        xs, ys = zip(*pts)
        style = "-" if r["view"] == "continuous" else "--"
        ax.plot(
            xs, ys, style, marker="o", ms=3, color=colors[lab], label=None if lab in seen else lab
        )
        seen.add(lab)
    ax.set_xlabel("training wall time (s)")
    ax.set_ylabel(metric + (" (lower is better)" if direction == "min" else " (higher is better)"))
    if metric.startswith(("mmd", "rmse")) or "mmd" in metric:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if seen:
        ax.legend(fontsize=7)


def curve_figure(data: dict, task: str):
    """A task's figure: one panel per :func:`_curve_panels` group (one for a task whose views
    share a metric; one per view otherwise, e.g. MNIST's ``test_ll`` and ``denoise_gain``),
    the group's primary metric against training wall time. Returns the ``Figure``."""
    from ..plotting._figure import pyplot

    plt = pyplot()
    metrics = data["tasks"][task]["metrics"]
    panels = _curve_panels(data, task)
    labels = sorted({f"{r['view']}/{r['objective']}" for _, _, cells in panels for r in cells})
    colors = {lab: plt.cm.tab10(i % 10) for i, lab in enumerate(labels)}
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, (label, metric, cells) in zip(axes[0], panels):
        _curve_panel(ax, cells, metric, metrics[metric], colors)
        ax.set_title(label)
    fig.tight_layout()
    return fig


def plot_curves(data: dict, out_dir: str | Path) -> list[Path]:
    """One PNG per task with curves (:func:`curve_figure`): each view's primary metric against
    training wall time, one colour per objective."""
    from ..plotting._figure import save

    tasks = dict.fromkeys(
        r["task"] for r in data["cells"].values() if r["status"] == "ok" and r.get("curve")
    )
    return [save(curve_figure(data, task), Path(out_dir) / f"{task}.png") for task in tasks]


def write_report(data: dict, out_dir: str | Path) -> tuple[Path, list[Path]]:
    """Write ``results.md`` and the per-task PNGs; returns their paths."""
    out = Path(out_dir)
    md = out / "results.md"
    header = f"# Benchmark results ({data.get('suite', '?')} suite)\n\n"
    m = data.get("machine", {})
    header += f"torch {m.get('torch')}, {m.get('threads')} threads, {m.get('platform')}\n\n"
    text = header + markdown_table(data)
    atomic_write(md, lambda tmp: tmp.write_text(text))
    return md, plot_curves(data, out)
