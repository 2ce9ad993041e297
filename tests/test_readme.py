"""The README's first lines are the two commands, and CI runs the second one verbatim."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_starts_with_install_and_run_then_test_command():
    head = (ROOT / "README.md").read_text().split("```bash", 1)[0]
    assert head.strip().startswith("# discrete_ebm") and head.count("\n") <= 3
    run, test = readme_commands()
    assert "pip install" in run and "discrete-ebm " in run
    assert "pip install" in test and "pytest" in test


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci


def test_readme_python_example_runs_and_learns_the_couplings(capsys):
    text = (ROOT / "README.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    model, truth = namespace["model"], namespace["truth"]
    # 2,000 samples of a 4×4 lattice: ED's coupling error is far below the coupling (0.4)
    assert (model.J - truth.J).pow(2).mean().sqrt().item() < 0.1
    assert capsys.readouterr().out.count("tensor(") == 2


def test_readme_and_help_give_the_same_duration_for_the_quick_suite():
    import re

    from discrete_ebm.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["benchmark"]
    quick = next(a for a in sub._actions if "--quick" in a.option_strings).help
    duration = re.search(r"about \d+ minutes on \d+ cores", quick).group(0)
    assert duration in (ROOT / "README.md").read_text()
