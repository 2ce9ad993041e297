"""The ``discrete-ebm`` command: help lists subcommands; ``sample`` writes its JSON and PNG."""

from __future__ import annotations

import json
import math

import pytest

from discrete_ebm.cli import build_parser, main
from discrete_ebm.recipes.lattice import onsager_magnetisation


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "sample" in out
    choices = build_parser()._subparsers._group_actions[0].choices
    for name in choices:
        assert name in out


def test_sample_command_writes_json_and_png_with_physical_values(tmp_path):
    code = main(
        [
            "sample",
            "--size",
            "16",
            "--temperatures",
            "1.5",
            "5.0",
            "--sweeps",
            "200",
            "--chains",
            "64",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert code == 0
    data = json.loads((tmp_path / "sample.json").read_text())
    cold, hot = data["temperatures"]
    # deep in the ordered phase |m| is near Onsager's value (0.986); far above T_c it is ~0
    assert abs(cold["abs_magnetisation"] - onsager_magnetisation(1.5)) < 0.03
    assert hot["abs_magnetisation"] < 0.15
    # high-temperature series for the energy per site: e ≈ −2 tanh(1/T) (next term is O(tanh⁵));
    # one 16×16 chain has sd(e) ≈ sqrt(512 bonds)/256 ≈ 0.09, so 64 chains give SE ≈ 0.011
    assert abs(hot["energy_per_site"] + 2 * math.tanh(1 / 5.0)) < 5 * 0.011 + 0.01
    assert (tmp_path / "samples.png").stat().st_size > 1000


def test_onsager_magnetisation():
    assert onsager_magnetisation(3.0) == 0.0
    assert onsager_magnetisation(1.0) == pytest.approx(0.99927, abs=1e-4)


@pytest.mark.parametrize(
    "flag,value", [("--chains", "0"), ("--sweeps", "0"), ("--temperatures", "nan")]
)
def test_sample_command_rejects_bad_arguments(tmp_path, flag, value):
    with pytest.raises(SystemExit, match=flag):
        main(["sample", flag, value, "--out", str(tmp_path / "bad"), "--quiet"])
    assert not (tmp_path / "bad").exists()
