"""``load_citeseer`` runs nothing from the file: pinned SHA-256, then an unpickler that admits
only ``collections.defaultdict`` and ``list`` (the two globals of the Planetoid file)."""

from __future__ import annotations

import hashlib
import os
import pickle
import pickletools
from collections import defaultdict
from pathlib import Path

import pytest

from discrete_ebm.data.paths import data_dir
from discrete_ebm.graphs.datasets import CITESEER_SHA256, load_citeseer


def _write(root: Path, data: bytes) -> Path:
    path = root / "citeseer" / "ind.citeseer.graph"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


class _TouchMarker:
    """Unpickling this calls ``os.system("touch <marker>")``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Eval:
    def __reduce__(self):
        return (eval, ("open('/nonexistent-should-not-run')",))


def test_crafted_pickle_runs_nothing_and_names_the_refused_global(tmp_path):
    marker = tmp_path / "marker"
    path = _write(tmp_path, pickle.dumps(_TouchMarker(marker), protocol=2))
    # with the checksum check (default): refused before unpickling, both hashes named
    with pytest.raises(ValueError) as e:
        load_citeseer(tmp_path)
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    assert str(path) in str(e.value) and got in str(e.value) and CITESEER_SHA256 in str(e.value)
    # without it: the restricted unpickler refuses os.system (posix.system) before calling it
    with pytest.raises(ValueError, match=r"refused global (posix|nt|os)\.system") as e:
        load_citeseer(tmp_path, sha256=None)
    assert str(path) in str(e.value)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4])
def test_other_globals_are_refused(tmp_path, protocol):
    _write(tmp_path, pickle.dumps(_Eval(), protocol=protocol))
    with pytest.raises(ValueError, match=r"refused global (__builtin__|builtins)\.eval"):
        load_citeseer(tmp_path, sha256=None)


def test_planetoid_format_loads_with_its_hash_or_none(tmp_path):
    adj = defaultdict(list, {0: [1, 2, 0], 1: [0], 2: [0], 3: [4], 4: [3], 5: [5]})
    data = pickle.dumps(adj, protocol=2)
    _write(tmp_path, data)
    sha = hashlib.sha256(data).hexdigest()
    for g in (load_citeseer(tmp_path, sha256=sha.upper()), load_citeseer(tmp_path, sha256=None)):
        assert sorted(g.nodes()) == [0, 1, 2] and sorted(g.edges()) == [(0, 1), (0, 2)]
    with pytest.raises(ValueError, match="SHA-256 .* differs"):
        load_citeseer(tmp_path)  # the pinned hash is the published file's


def test_truncated_or_wrong_content_is_a_value_error(tmp_path):
    data = pickle.dumps(defaultdict(list, {0: [1], 1: [0]}), protocol=2)
    path = _write(tmp_path, data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a Planetoid graph pickle") as e:
        load_citeseer(tmp_path, sha256=None)
    assert str(path) in str(e.value)
    _write(tmp_path, pickle.dumps({"a": "b"}, protocol=2))
    with pytest.raises(ValueError, match="adjacency lists"):
        load_citeseer(tmp_path, sha256=None)


_REAL = data_dir() / "citeseer" / "ind.citeseer.graph"


@pytest.mark.skipif(not _REAL.is_file(), reason="Citeseer not in $DISCRETE_EBM_DATA")
def test_real_file_needs_only_the_two_admitted_globals(tmp_path):
    raw = _REAL.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == CITESEER_SHA256
    globs = {arg for op, arg, _ in pickletools.genops(raw) if op.name == "GLOBAL"}
    assert globs == {"collections defaultdict", "__builtin__ list"}
    g = load_citeseer()
    assert (g.number_of_nodes(), g.number_of_edges()) == (2120, 3679)
    flipped = bytearray(raw)
    flipped[30007] ^= 1  # one bit of a node id: without the checksum, 3680 edges load silently
    _write(tmp_path, bytes(flipped))
    with pytest.raises(ValueError, match="differs from the expected " + CITESEER_SHA256):
        load_citeseer(tmp_path)
