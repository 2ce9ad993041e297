"""The shape of the package, read from its source with ``ast``: no import cycle, no function
over 100 lines (docstring excluded), no command module over 150 lines.

The modules are those the package installs: ``discrete_ebm/**`` and ``graphs/**`` (installed
as ``discrete_ebm.graphs.*``). Every ``import`` counts, at module level or inside a function
(a function-level import hides a cycle from the interpreter, not from the design); only
imports under ``if TYPE_CHECKING:`` are skipped (they never run). Edges:

- ``import a.b.c`` -> ``a.b.c``;
- ``from a.b import x`` (or relative) -> ``a.b`` (its ``__init__`` if a package) and, if
  ``a.b.x`` is a module, -> ``a.b.x``; so ``from . import x`` in ``pkg/y.py`` imports
  ``pkg/__init__.py``, which is a cycle when that ``__init__`` imports ``y``.

The parent packages the interpreter also runs (``a``, ``a.b`` for ``import a.b.c``) are not
edges: every package imports its own submodules, so they would make every module a cycle.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "discrete_ebm"
MAX_FUNCTION_LINES = 100
MAX_COMMAND_LINES = 150


def package_modules(root: Path | None = None) -> dict[str, Path]:
    """Installed module name -> source file, for every module of the package."""
    root = ROOT if root is None else root
    found = {}
    for base, prefix in ((root / PACKAGE, (PACKAGE,)), (root / "graphs", (PACKAGE, "graphs"))):
        for path in sorted(base.rglob("*.py")):
            parts = path.relative_to(base).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(prefix + parts)] = path
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` blocks."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for child in node.body:
                    skipped.update(id(n) for n in ast.walk(child))
    return skipped


def _known(name: str, modules) -> str | None:
    """``name`` or its longest prefix that is a module of the package (``None`` if none)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _from_base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module of ``from <base> import ...``."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def module_imports(module: str, is_package: bool, source: str, modules) -> list[tuple[str, int]]:
    """``(imported module, line)`` for every package-internal import in ``source``."""
    tree = ast.parse(source)
    skipped = _type_checking_nodes(tree)
    out = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [_known(alias.name, modules) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(node, module, is_package)
            targets = [_known(base, modules)]
            targets += [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
        else:
            continue
        out += [(t, node.lineno) for t in targets if t is not None and t != module]
    return out


def import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, dict[str, int]]:
    """module -> {imported module: line of the first such import}; ``sources`` maps each
    module name to ``(source text, is a package)``."""
    graph = {}
    for module, (source, is_package) in sources.items():
        edges: dict[str, int] = {}
        for target, line in module_imports(module, is_package, source, sources):
            edges.setdefault(target, line)
        graph[module] = edges
    return graph


def _strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), those with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def _shortest_cycle(graph, component: list[str]) -> list[str]:
    """A shortest cycle through the first module of ``component`` (breadth-first)."""
    start, members = component[0], set(component)
    parent = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node]):
            if child == start:
                path = [node]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if child in members and child not in parent:
                parent[child] = node
                queue.append(child)
    raise AssertionError(f"no cycle through {start}")


def import_cycles(graph) -> list[str]:
    """One line per cycle: ``a (line 3) -> b (line 12) -> a``, the line of each import."""
    lines = []
    for component in _strongly_connected(graph):
        cycle = _shortest_cycle(graph, component)
        steps = [f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])]
        lines.append(" -> ".join([*steps, cycle[-1]]) + f"   [{len(component)} modules tangled]")
    return lines


def _sources() -> dict[str, tuple[str, bool]]:
    return {
        name: (path.read_text(encoding="utf-8"), path.name == "__init__.py")
        for name, path in package_modules().items()
    }


def long_functions(limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """``module.qualified.name (file, N lines)`` for every function or method longer than
    ``limit`` lines, its docstring excluded (``def`` line to last line, decorators excluded)."""
    offenders = []
    for module, path in package_modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        todo = [(tree, "")]
        while todo:
            parent, prefix = todo.pop()
            for node in ast.iter_child_nodes(parent):
                name = getattr(node, "name", None)
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    n = node.end_lineno - node.lineno + 1
                    first = node.body[0]
                    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                        if isinstance(first.value.value, str):
                            n -= first.end_lineno - first.lineno + 1
                    if n > limit:
                        rel = path.relative_to(ROOT).as_posix()
                        offenders.append(f"{module}.{prefix}{name} ({rel}, {n} lines)")
                todo.append((node, f"{prefix}{name}." if name else prefix))
    return sorted(offenders)


def long_command_modules(limit: int = MAX_COMMAND_LINES) -> list[str]:
    """``path (N lines)`` for every module of ``discrete_ebm/commands`` over ``limit`` lines."""
    out = []
    for path in sorted((ROOT / PACKAGE / "commands").glob("*.py")):
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            out.append(f"{path.relative_to(ROOT).as_posix()} ({n} lines)")
    return out


def test_the_import_graph_sees_what_it_should():
    """The analysis itself: relative, absolute, function-level and package-pulling imports."""
    sources = {
        "p": ("from . import a\n", True),
        "p.a": ("def f():\n    from .b import g\n", False),
        "p.b": ("import p.c\n", False),
        "p.c": ("from . import d\n", False),
        "p.d": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from p import a\n",
            False,
        ),
        "p.sub": ("from .x import y\n", True),
        "p.sub.x": ("from .. import d\nfrom ..c import z\n", False),
    }
    graph = import_graph(sources)
    assert graph["p"] == {"p.a": 1}
    assert graph["p.a"] == {"p.b": 2}  # function level, resolved
    assert graph["p.b"] == {"p.c": 1}
    assert graph["p.c"] == {"p": 1, "p.d": 1}  # `from . import d` pulls p/__init__ too
    assert graph["p.d"] == {}  # under TYPE_CHECKING
    assert graph["p.sub.x"] == {"p": 1, "p.d": 1, "p.c": 2}
    (cycle,) = import_cycles(graph)
    assert cycle.startswith("p (line 1) -> p.a (line 2) -> p.b (line 1) -> p.c (line 1) -> p ")


def test_the_package_graph_has_the_expected_edges():
    graph = import_graph(_sources())
    assert "discrete_ebm.states" in graph["discrete_ebm.evaluation.exact"]
    assert "discrete_ebm.objectives" in graph["discrete_ebm.graphs.objectives"]
    assert "discrete_ebm.graphs.convert" in graph["discrete_ebm.graphs.energy"]


def test_nothing_imports_a_top_level_graphs():
    """The graph package is ``discrete_ebm.graphs``: the repository's own code (package,
    tests, examples, benchmarks) never imports the folder name ``graphs``."""
    offenders = []
    for folder in (PACKAGE, "graphs", "tests", "examples", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or ""]
                else:
                    continue
                if any(n == "graphs" or n.startswith("graphs.") for n in names):
                    offenders.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno}")
    assert not offenders, "imports of 'graphs' (use discrete_ebm.graphs):\n" + "\n".join(offenders)


def test_no_import_cycle():
    cycles = import_cycles(import_graph(_sources()))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_function_over_100_lines():
    offenders = long_functions()
    assert not offenders, "functions over 100 lines (docstring excluded):\n" + "\n".join(offenders)


def test_command_modules_under_150_lines():
    offenders = long_command_modules()
    assert not offenders, "command modules over 150 lines:\n" + "\n".join(offenders)
