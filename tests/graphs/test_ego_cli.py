"""``discrete-ebm ego`` end to end with a tiny budget: files written, numbers consistent."""

from __future__ import annotations

import json

import networkx as nx
import pytest

from discrete_ebm.cli import main
from discrete_ebm.graphs.datasets import ego_small
from discrete_ebm.graphs.metrics import graph_mmds

TINY = [
    "--steps",
    "3",
    "--sample-steps",
    "4",
    "--negatives",
    "3",
    "--hidden",
    "8",
    "--layers",
    "1",
    "--batch-size",
    "16",
    "--quiet",
    "--threads",
    "1",
    "--device",
    "cpu",
    "--sweeps",
    "0.5",
    "--population",
    "2",
    "--refine-steps",
    "2",
    "--refine-updates",
    "4",
    "--n-generated",
    "45",
]


def _read_generated(path) -> list[nx.Graph]:
    out = []
    for rec in json.loads(path.read_text())["graphs"]:
        g = nx.Graph()
        g.add_nodes_from(range(rec["n"]))
        g.add_edges_from(map(tuple, rec["edges"]))
        out.append(g)
    return out


@pytest.mark.parametrize("objective", ["ed-bern", "cd"])
def test_ego_command_writes_consistent_results(tmp_path, objective, device):
    args = ["ego", "--objective", objective, "--out", str(tmp_path), *TINY, "--device", device]
    assert main(args) == 0
    summary = json.loads((tmp_path / "ego.json").read_text())
    gen = _read_generated(tmp_path / "generated.json")
    # every generated graph is written; both protocols are scored
    assert len(gen) == summary["n_generated"] == summary["edp_gnn"]["n_generated"] == 45
    assert summary["gdss"]["n_generated"] == summary["gdss"]["n_test"] == 40
    assert summary["init"] == "noise" and summary["init_label"] == "from noise"  # the default
    # isolated nodes removed; a chain left empty counts as ONE isolated node (as in GDSS)
    assert all(d > 0 for g in gen if g.number_of_nodes() > 1 for _, d in g.degree())
    assert all(g.number_of_nodes() >= 1 for g in gen)
    split = ego_small()
    again = graph_mmds(split.test, gen)
    for k in ("degree", "clustering", "orbit", "average"):
        assert summary["mmd_vs_test"][k] == pytest.approx(again[k], abs=1e-12)
        assert summary["edp_gnn"][k] == pytest.approx(again[k], abs=1e-12)
    first = graph_mmds(split.test, gen[:40])
    assert summary["gdss"]["average"] == pytest.approx(first["average"], abs=1e-12)
    assert set(summary["validity"]) == {"connected", "dominating", "novel", "unique"}
    floor = summary["references"]["real_floor_40"]["average"]
    assert floor["mean"] == pytest.approx(0.02376, abs=1e-5)  # 30 draws of 40 training graphs
    ref = summary["train_vs_test_reference"]
    assert ref["degree"] == pytest.approx(0.0142, abs=5e-5)
    assert ref["clustering"] == pytest.approx(0.0273, abs=5e-5)
    assert summary["train_seconds"] > 0 and summary["config"]["objective"] == objective
    assert summary["ensemble"] == summary["config"]["ensemble"] == 3  # the default mixture
    png = (tmp_path / "ego_graphs.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_data_initialised_chains_are_labelled(tmp_path):
    args = ["ego", "--init", "data", "--n-generated", "7", "--out", str(tmp_path), *TINY[:-2]]
    assert main(args) == 0
    summary = json.loads((tmp_path / "ego.json").read_text())
    assert summary["init"] == summary["config"]["init"] == "data"
    assert summary["init_label"].startswith("data-initialised chains")
    assert "not generation from noise" in summary["init_label"]
    assert len(_read_generated(tmp_path / "generated.json")) == 7
    assert summary["gdss"]["n_generated"] == 7  # fewer than the 40 test graphs: all of them


def test_figure_title_states_how_chains_started():
    from discrete_ebm.graphs.config import EgoConfig, init_label
    from discrete_ebm.recipes.ego import figure_title

    ev = {
        "edp_gnn": {"n_generated": 1024, "n_test": 40, "average": 0.01},
        "gdss": {"n_generated": 40, "average": 0.02},
        "validity": dict.fromkeys(("connected", "dominating", "novel", "unique"), 0.5),
    }
    for init in ("noise", "data"):
        assert init_label(init) in figure_title(EgoConfig(init=init), ev)
    assert "data-initialised" in figure_title(EgoConfig(init="data"), ev)
    assert "mixture of 3 energies" in figure_title(EgoConfig(), ev)
    assert "mixture" not in figure_title(EgoConfig(ensemble=1), ev)


def test_ego_command_rejects_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit, match="epsilon"):
        main(["ego", "--epsilon", "1.5", "--out", str(tmp_path), *TINY])
    with pytest.raises(SystemExit, match="steps"):
        main(["ego", "--out", str(tmp_path), *TINY, "--steps", "0"])
    # checked before training, not after it
    for flag, value in (
        ("--beta-end", "-1"),
        ("--beta-end", "nan"),
        ("--cd-updates", "0"),
        ("--lr", "0"),
        ("--lr", "nan"),
        ("--n-generated", "0"),
        ("--sweeps", "0"),
        ("--beta-start", "-1"),
        ("--anneal-fraction", "2"),
        ("--population", "0"),
        ("--refine-steps", "-1"),
        ("--refine-updates", "0"),
        ("--refine-lr", "0"),
        ("--grow-from", "-1"),
        ("--stage-sweeps", "0"),
        ("--ensemble", "0"),
    ):
        with pytest.raises(SystemExit, match=flag):
            main(["ego", "--out", str(tmp_path / "bad"), *TINY, flag, value])
    assert not (tmp_path / "bad").exists()
    # past the data's largest graph (17 nodes): a ValueError, printed, exit status 2,
    # before any training (nothing written)
    assert main(["ego", "--out", str(tmp_path / "bad"), *TINY, "--grow-from", "18"]) == 2
    assert "grow_from must lie in [0, 17]" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
