"""Markdown table and PNG plots of a benchmark's ``results.json``."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np


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


def _rank(rows: dict, metrics: dict) -> dict | None:
    """Best row on the first metric of ``metrics`` that the rows report, the runner-up, and
    the fastest row."""
    for primary in metrics:
        ok = {k: r for k, r in rows.items() if r.get(primary)}
        if ok:
            break
    else:
        return None
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


def winners(data: dict) -> dict:
    """Per task (and per view where the views have different metrics): the best
    (view, objective) on the primary metric, the runner-up, and the fastest."""
    result = {}
    for task, rows in summarise(data).items():
        metrics = data["tasks"][task]["metrics"]
        views = sorted({view for view, _ in rows})
        overall = _rank(rows, metrics)
        shared = overall and all(
            any(r.get(overall["metric"]) for (v, _), r in rows.items() if v == view)
            for view in views
        )
        if shared:
            result[task] = overall
            continue
        for view in views:
            ranked = _rank({k: r for k, r in rows.items() if k[0] == view}, metrics)
            if ranked:
                result[f"{task} ({view})"] = ranked
    return result


def markdown_table(data: dict) -> str:
    """One table per task: objectives as rows; metrics mean ± std over seeds, times, memory."""
    lines = []
    summary = summarise(data)
    for task, rows in summary.items():
        info = data["tasks"].get(task, {})
        metrics = list(info.get("metrics", {}))
        lines.append(f"### {task}\n")
        if info.get("description"):
            lines.append(info["description"] + "\n")
        arrows = {"min": "↓", "max": "↑"}
        head = ["view", "objective"] + [f"{m} {arrows[info['metrics'][m]]}" for m in metrics]
        head += ["train s", "s/step", "peak MB", "seeds"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for (view, obj), r in sorted(rows.items()):
            n_ok = len(r.get("train_seconds", []))
            cells = [view, obj] + [_mean_std(r.get(m, [])) for m in metrics]
            cells += [
                _mean_std(r.get("train_seconds", [])),
                _mean_std(r.get("seconds_per_step", [])),
                _mean_std(r.get("peak_memory_mb", [])),
                f"{n_ok}" + (f" ({len(r['failed'])} failed)" if r.get("failed") else ""),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        for (view, obj), r in sorted(rows.items()):
            for err in r.get("failed", []):
                lines.append(f"\n- failed: {view}/{obj}: `{err[:200]}`")
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
            lines.append(
                f"- **{task}**: best {info['metric']} {info['best']} = {info['best_value']:.4g}"
                f"{best_vs}; fastest {info['fastest']} ({info['fastest_seconds']:.3g} s, "
                f"the best took {speed:.2g}× that)"
            )
        lines.append("")
    return "\n".join(lines)


def plot_curves(data: dict, out_dir: str | Path) -> list[Path]:
    """One PNG per task: primary metric against training wall time, one colour per objective."""
    from ..plotting._figure import pyplot, save

    plt = pyplot()
    paths = []
    by_task = defaultdict(list)
    for rec in data["cells"].values():
        if rec["status"] == "ok" and rec.get("curve"):
            by_task[rec["task"]].append(rec)
    for task, recs in by_task.items():
        metrics = data["tasks"][task]["metrics"]
        primary = next(iter(metrics))
        fig, ax = plt.subplots(figsize=(6, 4))
        labels = sorted({f"{r['view']}/{r['objective']}" for r in recs})
        colors = {lab: plt.cm.tab10(i % 10) for i, lab in enumerate(labels)}
        seen = set()
        for r in recs:
            lab = f"{r['view']}/{r['objective']}"
            pts = [(c["seconds"], c[primary]) for c in r["curve"] if primary in c]
            pts = [(s, v) for s, v in pts if v is not None and math.isfinite(v)]
            if not pts:
                continue
            xs, ys = zip(*pts)
            style = "-" if r["view"] == "continuous" else "--"
            ax.plot(
                xs,
                ys,
                style,
                marker="o",
                ms=3,
                color=colors[lab],
                label=None if lab in seen else lab,
            )
            seen.add(lab)
        ax.set_xlabel("training wall time (s)")
        ax.set_ylabel(
            primary + (" (lower is better)" if metrics[primary] == "min" else " (higher is better)")
        )
        if primary.startswith(("mmd", "rmse")) or "mmd" in primary:
            ax.set_yscale("log")
        ax.set_title(task)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        paths.append(save(fig, Path(out_dir) / f"{task}.png"))
    return paths


def write_report(data: dict, out_dir: str | Path) -> tuple[Path, list[Path]]:
    """Write ``results.md`` and the per-task PNGs; returns their paths."""
    out = Path(out_dir)
    md = out / "results.md"
    header = f"# Benchmark results ({data.get('suite', '?')} suite)\n\n"
    m = data.get("machine", {})
    header += f"torch {m.get('torch')}, {m.get('threads')} threads, {m.get('platform')}\n\n"
    md.write_text(header + markdown_table(data))
    return md, plot_curves(data, out)
