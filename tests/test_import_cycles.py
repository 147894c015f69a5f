"""No import circle inside ``bot``: modules form layers (core, storage, chat layer), and a module
never needs, at import time, one that needs it back.

A circle works by accident of import order and breaks when someone imports the other end first;
it also says two modules are one in disguise. The graph is read from the source with ``ast``:
module-level imports only (an import inside a function runs later, on purpose, to stay lazy), not
those under ``if TYPE_CHECKING:`` (never run). Importing ``a.b.c`` also runs ``a`` and ``a.b``,
so those count as edges too, except a module's own packages (already importing).
"""

from __future__ import annotations

import ast
from pathlib import Path

import bot

ROOT = Path(bot.__file__).parent


def _module_name(path: Path, root: Path, package: str) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(body: list[ast.stmt], lazy: bool = False):
    """Import statements run when the module loads: its body, and inside top-level if/try/with;
    with ``lazy``, also those inside functions and under ``TYPE_CHECKING`` (every import)."""
    if lazy:
        for stmt in body:
            yield from (n for n in ast.walk(stmt) if isinstance(n, ast.Import | ast.ImportFrom))
        return
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _top_level_imports(node.body)
            yield from _top_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _top_level_imports(block)
        elif isinstance(node, ast.With):
            yield from _top_level_imports(node.body)


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def import_graph(root: Path, package: str, lazy: bool = False) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports at load time (with their packages);
    with ``lazy``, every import it holds, wherever it is."""
    files = {_module_name(p, root, package): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        own = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 2)}
        edges: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _top_level_imports(tree.body, lazy):
            for target in _targets(node, module, path.name == "__init__.py"):
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    name = ".".join(parts[:i])
                    if name in files and name not in own:
                        edges.add(name)
        graph[module] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_bot_has_no_import_cycle():
    graph = import_graph(ROOT, "bot")
    assert len(graph) > 50, "the walk found the package's modules"
    cycles = find_cycles(graph)
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c + c[:1]) for c in cycles)


def test_storage_layer_is_in_no_circle_even_through_lazy_imports():
    """The tables' base, the table list, the schema steps and the engine depend one way on the
    features' table modules: a table module never reaches back to them, not even inside a
    function (the circle ``storage <-> downloads.jobs / reminders.store / schema`` of issue #15
    was all function-level imports)."""
    storage_layer = {"bot.db_base", "bot.tables", "bot.schema", "bot.storage"}
    cycles = find_cycles(import_graph(ROOT, "bot", lazy=True))
    assert not [c for c in cycles if storage_layer & set(c)], cycles


def test_a_circle_is_found(tmp_path):
    """The check itself: a two-module circle through ``from pkg import x`` and a package's
    ``__init__`` is reported; an import inside a function or under TYPE_CHECKING is not."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg import base  # noqa\n")
    (pkg / "base.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg import lazy\n"
        "def later():\n    from pkg import lazy\n"
    )
    (pkg / "lazy.py").write_text("from pkg.base import later\n")
    assert find_cycles(import_graph(pkg, "pkg")) == []

    (pkg / "base.py").write_text("from pkg.sub.leaf import x\n")
    (pkg / "sub" / "leaf.py").write_text("x = 1\n")
    cycles = find_cycles(import_graph(pkg, "pkg"))
    assert cycles and set(cycles[0]) == {"pkg.base", "pkg.sub"}, cycles


def test_relative_imports_are_resolved(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("from .a import thing\n")
    graph = import_graph(pkg, "pkg")
    assert "pkg.b" in graph["pkg.a"] and "pkg.a" in graph["pkg.b"]
    assert find_cycles(graph)
