"""The package's shape, checked: one folder per stage, no import cycle, modules a newcomer can
hold in their head, and a layers contract that fails when a lower layer imports a higher one.

The contract itself is in pyproject.toml ([tool.importlinter]) and `make lint` runs it; these
tests prove that it can fail, and check what import-linter does not: cycles inside a layer,
imports made inside functions included (grimp's graph counts those too), and module sizes.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from conftest import ROOT

PACKAGE = ROOT / "monitor"
MAX_LINES = 500
# Directly in monitor/: the package's own files; everything else sits in a stage's folder.
TOP_LEVEL = {"__init__.py", "__main__.py"}


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_counting_imports_inside_functions() -> None:
    graph = grimp.build_graph("monitor", cache_dir=None)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(name)
    graph.add_import(importer="a.b", imported="a.c", line_number=1, line_contents="import a.c")
    graph.add_import(importer="a.c", imported="a.b", line_number=1, line_contents="import a.b")
    graph.add_import(importer="a.d", imported="a.b", line_number=1, line_contents="import a.b")
    assert _cycles(graph) == [["a.b", "a.c"]]


def test_no_import_inside_a_function() -> None:
    """Imports sit at the top of the module; a module needed late for start-up time is bound
    there too, through `monitor.core.lazy.lazy_import`, never imported inside a function."""
    inside = []
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                inside += [
                    f"{path.relative_to(ROOT)}:{n.lineno}"
                    for n in ast.walk(node)
                    if isinstance(n, ast.Import | ast.ImportFrom)
                ]
    assert inside == []


def test_no_module_is_over_500_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts and "sites" not in path.parts
    }
    assert {path: n for path, n in sizes.items() if n > MAX_LINES} == {}


def test_modules_sit_in_their_stages_folders() -> None:
    assert {p.name for p in PACKAGE.glob("*.py")} == TOP_LEVEL


@pytest.mark.slow
def test_the_layers_contract_fails_when_storage_imports_the_command_line(tmp_path: Path) -> None:
    """A copy of the package with one bad import: `make lint`'s check must refuse it."""
    shutil.copytree(PACKAGE, tmp_path / "monitor", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lint = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    kept = subprocess.run(lint, cwd=tmp_path, capture_output=True, text=True, env=_env(tmp_path))
    assert kept.returncode == 0, kept.stdout + kept.stderr

    tables = tmp_path / "monitor" / "store" / "tables.py"
    tables.write_text(tables.read_text(encoding="utf-8") + "\nimport monitor.cli.app\n")
    broken = subprocess.run(lint, cwd=tmp_path, capture_output=True, text=True, env=_env(tmp_path))
    assert broken.returncode != 0
    assert "monitor.store is not allowed to import monitor.cli" in broken.stdout
    assert "monitor.store.tables -> monitor.cli.app" in broken.stdout


def _env(folder: Path) -> dict[str, str]:
    """This environment with the copy first on the path, so the copy is what gets analysed."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(folder)}
