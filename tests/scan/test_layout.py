"""planner.scan is laid out as the house rules ask: no private imports, no circle, short modules."""

from __future__ import annotations

import ast
from pathlib import Path

import planner.scan

SCAN = Path(planner.scan.__file__).parent
MODULES = sorted(p for p in SCAN.glob("*.py") if p.name != "__init__.py")


def _imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every ``from planner.scan.<module> import <name>``, lazy ones too."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("planner.scan"):
            module = node.module.removeprefix("planner.scan").lstrip(".")
            for alias in node.names:
                out.append((module or alias.name, alias.name))
    return out


def test_no_module_imports_another_modules_private_names():
    private = [(p.name, m, n) for p in MODULES for m, n in _imports(p) if n.startswith("_")]
    assert private == []


def test_the_scan_modules_import_each_other_without_a_circle():
    graph = {p.stem: {m for m, _ in _imports(p)} for p in MODULES}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    assert [m for m in graph if reaches(m, m, set())] == []


def test_every_scan_module_is_at_most_500_lines():
    lengths = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in MODULES}
    assert max(lengths.values()) <= 500, lengths
