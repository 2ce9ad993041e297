"""Command-line errors: one line ``discrete-ebm <command>: error: ...`` on stderr, exit code 2,
no traceback, nothing on stdout and nothing written into ``--out``; results on stdout,
progress and logs on stderr."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from discrete_ebm.cli import main


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    """``main(argv)`` -> ``(exit code, stdout, stderr)``, whether it returns or raises."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    std = capsys.readouterr()
    return code, std.out, std.err


def _assert_one_line_error(command: str, code, out: str, err: str, folder) -> str:
    assert code == 2, (code, err)
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"discrete-ebm {command}: error: "), err
    assert "Traceback" not in err
    assert not folder.exists() or not any(folder.iterdir())
    return err


def test_grey_level_images_to_denoise_say_how_to_binarise(tmp_path, capsys):
    grey = np.random.default_rng(0).integers(0, 256, (3, 6, 6)).astype(np.uint8)
    np.save(tmp_path / "grey.npy", grey)
    out = tmp_path / "out"
    args = ["denoise", "--images", str(tmp_path / "grey.npy"), "--priors", "lattice"]
    args += ["--methods", "icm", "--quiet", "--out", str(out)]
    err = _assert_one_line_error("denoise", *_run(args, capsys), out)
    assert "binary" in err and "0..255" in err and "--threshold" in err
    # the offered fix: --threshold 128 binarises the grey levels, pixels >= 128 become 1
    code, stdout, _ = _run([*args, "--threshold", "128"], capsys)
    assert code == 0 and "wrote" in stdout
    with np.load(out / "denoised.npz") as f:
        assert np.array_equal(f["clean"], (grey >= 128).astype(np.uint8))


def test_sample_refuses_a_lattice_larger_than_memory_with_the_estimate(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["sample", "--size", "1000000", "--quiet", "--out", str(out)]
    err = _assert_one_line_error("sample", *_run(args, capsys), out)
    # 10¹² sites × (300 + 8 chains × 48) bytes = 684 TB
    assert "684 TB" in err and "available" in err


def test_ising_refuses_a_nan_sigma(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["ising", "--sigma", "nan", "--samples", "10", "--sweeps", "2", "--steps", "2"]
    err = _assert_one_line_error("ising", *_run([*args, "--out", str(out)], capsys), out)
    assert "--sigma" in err and "nan" in err


def test_ising_refuses_a_data_file_without_rows(tmp_path, capsys):
    np.save(tmp_path / "empty.npy", np.zeros((0, 16)))
    out = tmp_path / "out"
    args = ["ising", "--data", str(tmp_path / "empty.npy"), "--quiet", "--out", str(out)]
    err = _assert_one_line_error("ising", *_run(args, capsys), out)
    assert "no data: 0 rows of 16 values" in err


def test_ising_refuses_a_text_file_named_npy(tmp_path, capsys):
    (tmp_path / "rows.npy").write_text("0 1 0 1\n1 0 1 0\n")
    out = tmp_path / "out"
    args = ["ising", "--data", str(tmp_path / "rows.npy"), "--quiet", "--out", str(out)]
    err = _assert_one_line_error("ising", *_run(args, capsys), out)
    assert "is not a NumPy .npy file" in err and "pickle" not in err


def test_debug_shows_the_traceback(tmp_path, capsys):
    np.save(tmp_path / "empty.npy", np.zeros((0, 4)))
    args = ["--debug", "ising", "--data", str(tmp_path / "empty.npy"), "--quiet"]
    with pytest.raises((ValueError, SystemExit), match="no data"):
        main([*args, "--out", str(tmp_path / "out")])


def test_results_go_to_stdout_and_logs_to_stderr(tmp_path, capsys):
    args = ["sample", "--size", "4", "--sweeps", "2", "--chains", "2", "--temperatures", "2"]
    code, out, err = _run([*args, "--out", str(tmp_path)], capsys)
    assert code == 0
    assert "T=2.000" in out and f"wrote {tmp_path / 'samples.png'}" in out
    assert "wrote" not in err and "T=" not in err


def test_benchmark_shows_progress_within_cells(tmp_path, monkeypatch):
    import tqdm.auto

    from discrete_ebm.benchmark import run_suite
    from discrete_ebm.benchmark.tasks.ising import IsingTask

    bars = []

    class Recorded(tqdm.auto.tqdm):
        def close(self):
            if not self.disable:  # a shown bar, closed for the first time
                bars.append((self.desc, self.total, self.n))
            super().close()

    monkeypatch.setattr(tqdm.auto, "tqdm", Recorded)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    run_suite([IsingTask()], tmp_path, suite="tiny", only=["ed-bern"], progress=True)
    # the cell's own bar over its 8 training steps, beneath the bar of cells
    assert bars == [("steps", 8, 8), ("benchmark", 1, 1)]
