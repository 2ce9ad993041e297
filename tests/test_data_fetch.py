"""Getting the data: ``fetch`` / ``discrete-ebm data fetch`` against a local HTTP server on
127.0.0.1 serving small fixture files (no test reaches the internet), and the one-line
message of a missing data file."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import pickle
import struct
import threading
from collections import defaultdict
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from discrete_ebm.cli import main
from discrete_ebm.data import download
from discrete_ebm.data.download import ChecksumError, DownloadError, fetch, read_idx
from discrete_ebm.data.images import load_mnist
from discrete_ebm.data.paths import DataNotFoundError, cache_dir, data_dir
from discrete_ebm.graphs.datasets import ego_small, load_citeseer


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Truncating(_Quiet):
    """Announces 1,000 bytes, sends 10 and closes: a download cut off mid-file."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.close_connection = True


@pytest.fixture
def serve():
    """``serve(folder, handler=...)`` -> base URL of a server on 127.0.0.1 (closed after)."""
    servers = []

    def start(folder: Path, handler=_Quiet) -> str:
        httpd = ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
        )
        threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def _no_data_settings(monkeypatch, tmp_path):
    """No $DISCRETE_EBM_DATA / $DISCRETE_EBM_MIRROR; the cache folder inside tmp_path."""
    monkeypatch.delenv("DISCRETE_EBM_DATA", raising=False)
    monkeypatch.delenv("DISCRETE_EBM_MIRROR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _idx_gz(arr: np.ndarray) -> bytes:
    head = struct.pack(">BBBB", 0, 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return gzip.compress(head + arr.astype(np.uint8).tobytes(), compresslevel=1, mtime=0)


def _mnist_mirror(folder: Path, n_train: int, n_test: int) -> tuple[dict[str, str], dict]:
    """IDX fixtures in ``folder``: image ``i`` has every pixel ``i % 256``, label ``i % 10``.
    Returns ``({file name: sha256}, {array name: expected array})``."""
    folder.mkdir(parents=True, exist_ok=True)
    sums, want = {}, {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        i = np.arange(n)
        x = np.broadcast_to((i % 256).astype(np.uint8)[:, None, None], (n, 28, 28))
        y = (i % 10).astype(np.uint8)
        for kind, arr in (("images-idx3", x), ("labels-idx1", y)):
            name = f"{prefix}-{kind}-ubyte.gz"
            data = _idx_gz(arr)
            (folder / name).write_bytes(data)
            sums[name] = hashlib.sha256(data).hexdigest()
        want[f"x_{split}"] = np.ascontiguousarray(x).reshape(n, 784)
        want[f"y_{split}"] = y
    return sums, want


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_fetch_mnist_converts_the_idx_files_exactly(tmp_path, serve):
    sums, want = _mnist_mirror(tmp_path / "mirror", 7, 3)
    url = serve(tmp_path / "mirror")
    path = fetch("mnist", tmp_path / "data", base_url=url, checksums=sums, progress=False)
    assert path == tmp_path / "data" / "mnist" / "mnist_uint8.npz"
    with np.load(path) as f:
        assert f.files == ["x_train", "y_train", "x_test", "y_test"]
        for k, v in want.items():
            assert f[k].dtype == np.uint8 and np.array_equal(f[k], v), k
    assert _files(tmp_path / "data") == [path]  # no temporary file left behind
    # present: no second download (the mirror is gone)
    assert fetch("mnist", tmp_path / "data", base_url="http://127.0.0.1:9/") == path


def test_progress_bar_on_stderr_only_when_asked(tmp_path, serve, capsys):
    sums, _ = _mnist_mirror(tmp_path / "mirror", 7, 3)
    url = serve(tmp_path / "mirror")
    fetch("mnist", tmp_path / "a", base_url=url, checksums=sums, progress=False)
    assert capsys.readouterr().err == ""
    lines = []
    fetch("mnist", tmp_path / "b", base_url=url, checksums=sums, progress=True, log=lines.append)
    std = capsys.readouterr()
    assert std.out == "" and "t10k-labels-idx1-ubyte.gz" in std.err and "B/s" in std.err
    assert lines == [f"{url}{name}: SHA-256 {sha} as pinned" for name, sha in sums.items()]


def test_wrong_checksum_leaves_no_file_and_names_both_hashes(tmp_path, serve):
    sums, _ = _mnist_mirror(tmp_path / "mirror", 7, 3)
    url = serve(tmp_path / "mirror")
    with pytest.raises(ChecksumError) as e:  # the pinned (real MNIST) checksums
        fetch("mnist", tmp_path / "data", base_url=url, progress=False)
    msg = str(e.value)
    assert sums["train-images-idx3-ubyte.gz"] in msg
    assert download.DATASETS["mnist"].files[0].sha256 in msg
    assert _files(tmp_path / "data") == []
    with pytest.raises(ValueError, match="checksums: unknown"):
        fetch("mnist", tmp_path / "data", base_url=url, checksums={"x.gz": "0" * 64})


def test_cut_off_or_missing_download_leaves_no_file(tmp_path, serve):
    cut = serve(tmp_path, handler=_Truncating)
    with pytest.raises(DownloadError, match="ind.citeseer.graph"):
        fetch("citeseer", tmp_path / "data", base_url=cut, progress=False)
    (tmp_path / "empty").mkdir()
    empty = serve(tmp_path / "empty")
    with pytest.raises(DownloadError, match="404"):
        fetch("citeseer", tmp_path / "data", base_url=empty, progress=False)
    assert _files(tmp_path / "data") == []


def test_read_idx_refuses_a_bad_header(tmp_path):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abc"))
    with pytest.raises(ValueError, match=r"shape \(5,\), found 3 bytes"):
        read_idx(bad)
    bad.write_bytes(gzip.compress(b"PK\x03\x04"))
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad)


def test_load_mnist_download_true_fetches_into_the_cache_folder(tmp_path, serve, monkeypatch):
    sums, want = _mnist_mirror(tmp_path / "mirror", 60_000, 10_000)
    ds = download.DATASETS["mnist"]
    files = tuple(dataclasses.replace(f, sha256=sums[f.name]) for f in ds.files)
    monkeypatch.setitem(download.DATASETS, "mnist", dataclasses.replace(ds, files=files))
    monkeypatch.setenv("DISCRETE_EBM_MIRROR", serve(tmp_path / "mirror"))
    with pytest.raises(DataNotFoundError):
        load_mnist(binarize="threshold")
    splits = load_mnist(binarize="threshold", download=True)
    assert splits.path == cache_dir() / "mnist" / "mnist_uint8.npz"
    assert splits.path.is_relative_to(tmp_path / "cache")
    assert len(splits.train) == 50_000 and len(splits.valid) == 10_000
    assert np.array_equal(splits.valid.grey.numpy(), want["x_train"][50_000:])
    assert np.array_equal(splits.test.labels.numpy(), want["y_test"])
    # threshold g > 127: image 200 (grey 200) is all ones, image 100 all zeros
    assert splits.train[200].sum().item() == 784 and splits.train[100].sum().item() == 0


def _planetoid(tmp_path: Path) -> tuple[Path, str]:
    adj = defaultdict(list, {0: [1, 2], 1: [0], 2: [0, 2], 3: [4], 4: [3]})
    folder = tmp_path / "mirror"
    folder.mkdir(exist_ok=True)
    data = pickle.dumps(adj, protocol=2)
    (folder / "ind.citeseer.graph").write_bytes(data)
    return folder, hashlib.sha256(data).hexdigest()


def test_data_fetch_command_citeseer(tmp_path, serve, monkeypatch, capsys):
    folder, sha = _planetoid(tmp_path)
    ds = download.DATASETS["citeseer"]
    files = (dataclasses.replace(ds.files[0], sha256=sha),)
    monkeypatch.setitem(download.DATASETS, "citeseer", dataclasses.replace(ds, files=files))
    url = serve(folder)
    out = tmp_path / "data"
    assert main(["data", "fetch", "citeseer", "--data", str(out), "--mirror", url]) == 0
    target = out / "citeseer" / "ind.citeseer.graph"
    std = capsys.readouterr()
    assert std.out == f"{target}\n"  # the result on stdout, messages on stderr
    assert target.read_bytes() == (folder / "ind.citeseer.graph").read_bytes()
    g = load_citeseer(out, sha256=sha)  # largest component {0, 1, 2}, self-loop removed
    assert sorted(g.edges()) == [(0, 1), (0, 2)]
    # a damaged copy is downloaded again; an intact one is kept
    target.write_bytes(b"damaged")
    assert main(["data", "fetch", "citeseer", "--data", str(out), "--mirror", url]) == 0
    assert load_citeseer(out, sha256=sha).number_of_edges() == 2
    assert (
        main(["data", "fetch", "citeseer", "--data", str(out), "--mirror", "http://127.0.0.1:9/"])
        == 0
    )
    assert "already there" in capsys.readouterr().err


def test_data_fetch_command_failure_is_one_line_exit_2(tmp_path, serve, capsys):
    folder, _ = _planetoid(tmp_path)  # not the published file: pinned checksum differs
    code = main(
        ["data", "fetch", "citeseer", "--data", str(tmp_path / "d"), "--quiet"]
        + [
            "--mirror",
            serve(folder),
        ]
    )
    std = capsys.readouterr()
    assert code == 2 and std.out == ""
    assert std.err.count("\n") == 1 and download.DATASETS["citeseer"].files[0].sha256 in std.err
    assert _files(tmp_path / "d") == []


def test_missing_mnist_is_one_line_naming_every_place_and_the_fetch(tmp_path, monkeypatch):
    with pytest.raises(DataNotFoundError) as e:
        load_mnist()
    msg = str(e.value)
    assert isinstance(e.value, FileNotFoundError) and "\n" not in msg
    assert str(cache_dir()) in msg and "[used]" in msg
    assert "--data (root=) if given [not given]" in msg
    assert "$DISCRETE_EBM_DATA [not set]" in msg
    assert "discrete-ebm data fetch mnist" in msg
    monkeypatch.setenv("DISCRETE_EBM_DATA", str(tmp_path / "env"))
    with pytest.raises(DataNotFoundError) as e:
        load_mnist(tmp_path / "arg")
    msg = str(e.value)
    assert (
        f"{tmp_path / 'arg' / 'mnist' / 'mnist_uint8.npz'} does not exist" in msg
        and f"[given: {tmp_path / 'arg'}, used]" in msg
    )
    assert f"[set to {tmp_path / 'env'}]" in msg and "[used]" not in msg
    with pytest.raises(DataNotFoundError, match=r"set to .*env, used\]"):
        load_mnist()
    assert data_dir() == tmp_path / "env"


def test_missing_citeseer_and_ego_small_raise_data_not_found(tmp_path):
    with pytest.raises(DataNotFoundError, match="discrete-ebm data fetch citeseer"):
        load_citeseer(tmp_path)
    with pytest.raises(DataNotFoundError, match="shipped with the package"):
        ego_small(tmp_path)


def test_a_command_without_data_prints_one_line_and_exits_2(tmp_path, capsys):
    code = main(["rbm", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    std = capsys.readouterr()
    assert code == 2 and std.out == ""
    lines = std.err.strip().splitlines()
    assert len(lines) == 1 and "MNIST not found" in lines[0]
    assert "discrete-ebm data fetch mnist" in lines[0]
    assert not (tmp_path / "o").exists()
