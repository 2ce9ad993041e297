"""Atomic writes: whole files or none; the temporary file never stays behind."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from discrete_ebm.io import atomic_write, save_npz, save_torch, write_json


def test_json_npz_and_torch_files_round_trip_and_leave_no_temporary(tmp_path):
    write_json(tmp_path / "a" / "r.json", {"x": (1, 2.5), "nan": math.nan, 3: np.float32(0.5)})
    assert json.loads((tmp_path / "a" / "r.json").read_text()) == {
        "x": [1, 2.5],
        "nan": None,
        "3": 0.5,
    }
    for name in ("c.npz", "c.dat"):  # a name without .npz stays as given
        save_npz(tmp_path / name, compressed=True, J=np.eye(3))
        with np.load(tmp_path / name) as f:
            assert np.array_equal(f["J"], np.eye(3))
    save_torch({"w": torch.ones(2)}, tmp_path / "m.pt")
    assert torch.equal(torch.load(tmp_path / "m.pt", weights_only=True)["w"], torch.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "c.dat", "c.npz", "m.pt"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "keep.json"
    write_json(target, {"v": 1})

    def broken(tmp):
        tmp.write_text("{half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]
    with pytest.raises(ValueError, match="must name a file"):
        atomic_write("", lambda tmp: None)
