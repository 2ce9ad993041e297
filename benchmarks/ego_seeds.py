"""Mean ± std over seeds of ``discrete-ebm ego`` runs: both protocols and validity.

Reads the ``ego.json`` of each run directory and prints one JSON line (and writes it to
``--out``): for the EDP-GNN protocol (all generated graphs against the test graphs) and the
GDSS protocol (the first 40), each MMD² as ``{"mean", "std", "per_seed"}`` (sample std),
the same for the validity rates, and whether the runs meet the goals (average MMD² ≤
``--target``, connected and dominating ≥ ``--validity``, on the mean over the seeds).

    python benchmarks/ego_seeds.py benchmarks/results_ego/noise_ed_grown_s{0,1,2} \\
        --out benchmarks/results_ego/noise_ed_grown_summary.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from discrete_ebm.graphs.protocols import mean_std
from discrete_ebm.io import write_json

METRICS = ("degree", "clustering", "orbit", "spectral", "average")
RATES = ("connected", "dominating", "novel", "unique")


def summarize(runs: list[dict], target: float, validity: float) -> dict:
    """The summary of the module docstring from the runs' ``ego.json`` dicts."""
    if not runs:
        raise ValueError("runs must hold at least one ego.json")
    out: dict = {"n_seeds": len(runs), "seeds": [r["config"]["seed"] for r in runs]}
    for key, names in (("edp_gnn", METRICS), ("gdss", METRICS), ("validity", RATES)):
        rows = [{k: r[key][k] for k in names} for r in runs]
        stats = mean_std(rows)
        out[key] = {k: {**stats[k], "per_seed": [row[k] for row in rows]} for k in names}
    out["init_labels"] = sorted({r["init_label"] for r in runs})
    out["wall_seconds_train_sample"] = [r["train_seconds"] + r["sample_seconds"] for r in runs]
    v = out["validity"]
    out["goals"] = {
        "average_mmd_at_most": target,
        "validity_at_least": validity,
        "met": out["edp_gnn"]["average"]["mean"] <= target
        and v["connected"]["mean"] >= validity
        and v["dominating"]["mean"] >= validity,
    }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run directories, each with an ego.json")
    p.add_argument("--target", type=float, default=0.017, help="average MMD² goal (EDP-GNN)")
    p.add_argument("--validity", type=float, default=0.95, help="connected/dominating goal")
    p.add_argument("--out", default=None, help="also write the JSON here")
    args = p.parse_args()
    runs = []
    for d in args.runs:
        path = Path(d) / "ego.json"
        if not path.is_file():
            raise SystemExit(f"runs: no ego.json in {d}")
        runs.append(json.loads(path.read_text()))
    summary = summarize(runs, args.target, args.validity)
    if args.out:
        write_json(args.out, summary)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
