"""The shape of the package: imports point one way, privates stay private, modules stay small.

The import graph is read with :mod:`ast` from every module under ``planner/``: imports at
any depth count (lazy imports inside functions too), except those under
``if TYPE_CHECKING:``, which never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "planner"
MAX_LINES = 500
HEAVY = ("vtk", "vtkmodules", "pyvista", "pydicom", "manifold3d")


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    imports: dict[str, int] = field(default_factory=dict)  # module -> first line
    private: list[str] = field(default_factory=list)  # "line: what"


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` outside ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


@cache
def modules() -> dict[str, Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name, is_package = _module_name(path)
        found[name] = Module(name, path, is_package)
    for mod in found.values():
        _read_imports(mod, found)
    return found


def _resolve(mod: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = mod.name.split(".")
    if not mod.is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _read_imports(mod: Module, known: dict[str, Module]) -> None:
    tree = ast.parse(mod.path.read_text(encoding="utf-8"), filename=str(mod.path))
    aliases: dict[str, str] = {}  # local name -> planner module it stands for

    def add(target: str, line: int) -> None:
        if target in known and target != mod.name:
            mod.imports.setdefault(target, line)

    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] != "planner":
                    continue
                add(a.name, node.lineno)
                if a.asname:
                    aliases[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(mod, node)
            if source.split(".")[0] != "planner":
                continue
            for a in node.names:
                sub = f"{source}.{a.name}"
                if sub in known:  # a submodule
                    add(sub, node.lineno)
                    aliases[a.asname or a.name] = sub
                    continue
                add(source, node.lineno)
                if _private(a.name) and source != mod.name:
                    mod.private.append(f"line {node.lineno}: {a.name} from {source}")
    for node in _runtime_nodes(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and _private(node.attr)
        ):
            mod.private.append(f"line {node.lineno}: {node.value.id}.{node.attr}")


def import_cycles() -> list[list[str]]:
    """Strongly connected groups of modules that import each other (Tarjan)."""
    graph = {name: sorted(m.imports) for name, m in modules().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            visit(v)
    return sorted(out)


def _describe(group: list[str]) -> str:
    mods = modules()
    edges = [
        f"{a} -> {b} (line {mods[a].imports[b]})"
        for a in group
        for b in sorted(mods[a].imports)
        if b in group
    ]
    return "; ".join(edges)


def test_the_graph_is_read():
    mods = modules()
    assert "planner.geometry" in mods and mods["planner.geometry"].is_package
    # a lazy import inside a function is an edge; a TYPE_CHECKING one is not
    assert "planner.pipeline.outputs" in mods["planner.pipeline.build"].imports
    # pipeline.demo names Plan only for type checking, and imports build lazily to run it
    assert "planner.pipeline.build" in mods["planner.pipeline.demo"].imports


def test_no_import_cycles():
    cycles = import_cycles()
    assert not cycles, "import cycles:\n" + "\n".join(_describe(c) for c in cycles)


def test_no_private_imports():
    found = [f"{m.name} {p}" for m in modules().values() for p in m.private]
    assert not found, "private names used across modules:\n" + "\n".join(found)


def test_modules_are_small():
    long = {
        m.name: n
        for m in modules().values()
        if (n := len(m.path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_import_planner_is_light():
    code = (
        "import sys, planner, planner.geometry, planner.progress, planner.errors\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    "source, expect_edge, expect_private",
    [
        ("def f():\n    from planner.b import g\n", True, False),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from planner.b import g\n",
            False,
            False,
        ),
        ("from planner.b import _g\n", True, True),
        ("import planner.b as b\nx = b._g\n", True, True),
        ("from . import b\n", True, False),
    ],
)
def test_the_reader_on_small_sources(tmp_path, source, expect_edge, expect_private):
    (tmp_path / "a.py").write_text(source)
    mod = Module("planner.a", tmp_path / "a.py", False)
    known = {"planner.a": mod, "planner.b": Module("planner.b", tmp_path / "b.py", False)}
    _read_imports(mod, known)
    assert ("planner.b" in mod.imports) == expect_edge
    assert bool(mod.private) == expect_private


def test_split_packages_keep_their_public_names():
    import planner.motion.collision as collision

    names = {"Clearance", "CollisionReport", "Contact", "InitialContact", "clearance"}
    assert names | {"collision_sweep"} <= set(collision.__all__)
    assert all(hasattr(collision, n) for n in collision.__all__)
