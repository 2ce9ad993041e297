"""The installed package: its names, its light import, its entry points and its file list.

Each check runs a fresh interpreter (the one running the tests) in a temporary folder outside
the repository, with the repository removed from ``PYTHONPATH``, so it sees the package as
installed (editable or not), never the source tree on ``sys.path``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# One fresh interpreter answers the questions in order (each interpreter start loads torch,
# seconds each): what ``import discrete_ebm`` loads, then what building the CLI parser adds,
# then the graph package and its shipped data, the name ``graphs``, and what
# ``python -m discrete_ebm --help`` prints and returns (run as ``-m`` runs it).
PROBE = """
import contextlib, io, json, runpy, sys, traceback
heavy = lambda: ["torch_geometric" in sys.modules, "matplotlib" in sys.modules]
facts = {}
import discrete_ebm
facts["import"] = heavy()
try:
    import discrete_ebm.cli
    discrete_ebm.cli.build_parser()
    facts["parser"] = heavy()
except Exception:
    facts["parser"] = traceback.format_exc()
import discrete_ebm.graphs
from discrete_ebm.graphs.datasets import ego_small
split = ego_small()
facts["graphs"] = [discrete_ebm.graphs.__name__, len(split.train), len(split.test)]
try:
    import graphs
    facts["top_level_graphs"] = getattr(graphs, "__file__", None) or repr(graphs)
except ModuleNotFoundError:
    facts["top_level_graphs"] = None
sys.argv, out = ["discrete_ebm", "--help"], io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        runpy.run_module("discrete_ebm", run_name="__main__", alter_sys=True)
    code = None
except SystemExit as stop:
    code = stop.code
except Exception:
    code = traceback.format_exc()
facts["help"] = [code, out.getvalue()]
print(json.dumps(facts))
"""


def _run(code_or_args: str | list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``python -c code`` (or ``python *args``) in ``cwd``, the repository off the path."""
    env = dict(os.environ)
    kept = [
        p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != ROOT
    ]
    env["PYTHONPATH"] = os.pathsep.join(kept)
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def facts(tmp_path_factory) -> dict:
    """The answers of ``PROBE``, run from a temporary folder outside the repository."""
    return json.loads(_ok(_run(PROBE, tmp_path_factory.mktemp("outside"))))


def test_import_loads_neither_torch_geometric_nor_matplotlib(facts):
    assert facts["import"] == [False, False], "[torch_geometric, matplotlib] imported"


def test_cli_parser_loads_neither_torch_geometric_nor_matplotlib(facts):
    assert facts["parser"] == [False, False], f"[torch_geometric, matplotlib]: {facts['parser']}"


def test_graphs_installs_inside_the_package(facts):
    assert facts["graphs"] == ["discrete_ebm.graphs", 160, 40]  # the shipped JSON: package data


def test_no_top_level_graphs(facts):
    assert facts["top_level_graphs"] is None, (
        f"a top-level module 'graphs' is importable ({facts['top_level_graphs']}); the graph "
        "package must install only as discrete_ebm.graphs"
    )


def test_python_m_discrete_ebm_help(facts):
    code, out = facts["help"]
    assert code in (0, None) and out.startswith("usage: discrete-ebm"), facts["help"]


def _package_folders() -> set[str]:
    """Every folder of the source tree holding Python modules, by its installed name."""
    names = {".".join(p.parent.relative_to(ROOT).parts) for p in ROOT.glob("discrete_ebm/**/*.py")}
    names |= {
        ".".join(("discrete_ebm", *p.parent.relative_to(ROOT).parts))
        for p in ROOT.glob("graphs/**/*.py")
    }
    return names


def test_pyproject_lists_every_package():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"discrete_ebm.graphs": "graphs"}
    assert set(config["packages"]) == _package_folders()
    assert config["package-data"]["discrete_ebm.graphs"] == ["data/*.json"]
    assert not any(p == "graphs" or p.startswith("graphs.") for p in config["packages"])


def test_wheel_holds_discrete_ebm_only(tmp_path):
    """A regular (non-editable) build: every file under ``discrete_ebm/``, the graph package
    and its data among them; nothing named ``graphs`` at the top level."""
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"the build needs setuptools >= 77 installed, found {setuptools.__version__}")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        (src / name).write_bytes((ROOT / name).read_bytes())
    for folder in ("discrete_ebm", "graphs"):
        for f in (ROOT / folder).rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts:
                target = src / f.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(f.read_bytes())
    wheels = tmp_path / "wheels"
    cmd = ["-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q", "-w"]
    _ok(_run([*cmd, str(wheels)], tmp_path))
    (wheel,) = wheels.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"discrete_ebm"}, top
    assert "discrete_ebm/graphs/__init__.py" in names
    assert "discrete_ebm/graphs/data/ego_small.json" in names
    assert "discrete_ebm/denoise/pretrained/rbm_mnist.npz" in names
    modules = {n for n in names if n.endswith(".py")}
    expected = {f.relative_to(ROOT).as_posix() for f in (ROOT / "discrete_ebm").rglob("*.py")}
    expected |= {
        "discrete_ebm/" + f.relative_to(ROOT).as_posix() for f in (ROOT / "graphs").rglob("*.py")
    }
    assert modules == expected
