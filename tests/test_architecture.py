"""The layering of docs/architecture.md, checked by reading every module's imports (``ast``, nothing imported).

cli -> runs -> solver -> problems / estimators: ``problems/`` imports neither the solver nor the run layer nor the
command line, the solver imports no problem and no run module, nothing outside ``cli/`` imports ``cli/``, and no
two modules import each other through any chain (function-level imports included: a cycle deferred into a
function is still a cycle in the design).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "redge_solve"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The absolute names an ``ImportFrom`` refers to: the module and each ``from M import name`` as ``M.name``."""
    if node.level == 0:
        base = node.module or ""
    else:
        parts = importer.split(".")
        keep = len(parts) - node.level + (1 if is_package else 0)
        base = ".".join(parts[:keep] + ([node.module] if node.module else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def package_imports() -> dict[str, set[str]]:
    """Every ``redge_solve`` module -> the ``redge_solve`` modules it imports (anywhere in its body)."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                targets.update(resolve(name, path.name == "__init__.py", node))
        graph[name] = {t for t in targets if t in paths and t != name}
    return graph


GRAPH = package_imports()


def layer(module: str) -> str:
    """``cli``, ``runs``, ``problems``, ``estimators``, or the top-level module's own name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def offenders(importers: str | tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    importers = (importers,) if isinstance(importers, str) else importers
    return sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if layer(m) in importers
                  for t in targets if layer(t) in forbidden)


def test_the_walk_sees_the_package():
    assert "redge_solve.runs.grouped" in GRAPH["redge_solve.runs.instances"]  # relative imports resolved
    assert "redge_solve.solver" in GRAPH["redge_solve.runs.grouped"]
    assert "redge_solve.problems.sudoku" in GRAPH["redge_solve.runs.records"]


def test_problems_import_only_problems_and_the_layers_below():
    assert offenders("problems", ("solver", "runs", "cli", "config", "compare", "tuning", "paired")) == []


def test_the_estimators_know_no_problem_solver_or_run():
    assert offenders("estimators", ("problems", "solver", "runs", "cli")) == []


def test_the_solver_imports_no_problem_and_no_run():
    assert offenders("solver", ("problems", "runs", "cli")) == []


def test_the_run_layer_never_imports_the_command_line():
    assert offenders("runs", ("cli",)) == []


def test_nothing_but_the_command_line_imports_it():
    library = tuple({layer(m) for m in GRAPH} - {"cli", "__main__"})
    assert offenders(library, ("cli",)) == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative-free: the graph is small)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while (top := stack.pop()) != node:
                component.append(top)
            component.append(node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def modules_only(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Drop the edges into a package's ``__init__`` that only stand for reaching a submodule through it."""
    packages = {m for m in graph if any(o.startswith(m + ".") for o in graph)}
    return {m: {t for t in targets if t not in packages or not m.startswith(t + ".")} for m, targets in graph.items()}


def test_no_import_cycle():
    assert cycles(modules_only(GRAPH)) == []


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
])
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert cycles(graph) == expected
