"""The package's layering, read from its own imports: no import cycle, Dagster and launched programs only in
the Dagster shell (`defs/`, `definitions.py`, `cli.py`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cti_pipeline"
SHELL = ("cti_pipeline.defs", "cti_pipeline.definitions", "cti_pipeline.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported(name: str, path: Path) -> set[str]:
    """Every module `name` imports, at module level or inside a function (`TYPE_CHECKING` blocks aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def internal(target: str) -> str | None:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


GRAPH = {
    name: {dep for target in imported(name, path) if (dep := internal(target)) and dep != name}
    for name, path in MODULES.items()
}


def in_shell(name: str) -> bool:
    return any(name == shell or name.startswith(shell + ".") for shell in SHELL)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in graph[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            if component:
                found.append(sorted([node, *component]))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_the_package():
    assert {"cti_pipeline.domain.indicators", "cti_pipeline.landing.file_reader", "cti_pipeline.defs.declaraciones"} <= set(MODULES)
    assert "cti_pipeline.landing.file_reader" in GRAPH["cti_pipeline.landing.folder_reader"]


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle():
    assert cycles(GRAPH) == []


@pytest.mark.parametrize("outside", ["dagster", "subprocess"])
def test_dagster_and_launched_programs_only_in_the_shell(outside: str):
    offenders = [
        name for name, path in MODULES.items()
        if not in_shell(name) and any(t == outside or t.startswith(outside + ".") for t in imported(name, path))
    ]
    assert offenders == []


SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT INTO|DELETE FROM|CREATE (OR REPLACE )?(TABLE|VIEW|SCHEMA)|UPDATE \w+(\.\w+)? SET|DROP TABLE)\b",
                 re.IGNORECASE | re.DOTALL)


def test_no_sql_in_the_dagster_shell():
    """Warehouse SQL lives in the domain and `warehouse.py`; the Dagster shell and the CLI call functions."""
    offenders = [
        f"{name}:{node.lineno}"
        for name, path in MODULES.items() if in_shell(name)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)
    ]
    assert offenders == []
