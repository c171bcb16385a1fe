"""The layers hold: storecore never imports Qt or the app, no module imports its way back to itself,
and only backends/ tests for concrete backend types (the rest asks backends for capabilities)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("storecore", "app")
CONCRETE_BACKENDS = {"LocalBackend", "S3Backend", "InMemoryBackend", "MemoryBackend"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Import statements outside ``if TYPE_CHECKING:`` blocks (type-only imports make no runtime cycle)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imported_names(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = module.split(".")
        if MODULES[module].name != "__init__.py":
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [prefix] + [f"{prefix}.{a.name}" for a in node.names]


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        deps: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text())):
            deps.update(n for n in imported_names(module, node) if n in MODULES or n.split(".")[0] not in PACKAGES)
        deps.discard(module)
        graph[module] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
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
                found.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_storecore_never_imports_qt_or_the_app():
    graph = import_graph()
    bad = {m: sorted(d for d in deps if d.split(".")[0] in ("app", "PySide6", "pyqtgraph", "shiboken6"))
           for m, deps in graph.items() if m.startswith("storecore")}  # fmt: skip
    assert not {m: d for m, d in bad.items() if d}


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def storecore_nodes_outside_backends() -> Iterator[tuple[str, ast.AST]]:
    """(module, node) for every syntax node of storecore outside ``storecore.backends``."""
    for module, path in MODULES.items():
        if module.startswith("storecore") and not module.startswith("storecore.backends"):
            for node in ast.walk(ast.parse(path.read_text())):
                yield module, node


def test_no_concrete_backend_type_tests_outside_backends():
    offenders = []
    for module, node in storecore_nodes_outside_backends():
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "isinstance" and len(node.args) == 2:
            names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
            names |= {n.attr for n in ast.walk(node.args[1]) if isinstance(n, ast.Attribute)}
            if names & CONCRETE_BACKENDS:
                offenders.append(f"{module}:{node.lineno}")
    assert offenders == []


def test_no_private_backend_options_read_outside_backends():
    offenders = []
    for module, node in storecore_nodes_outside_backends():
        if isinstance(node, ast.Attribute) and node.attr == "_options":
            base = ast.unparse(node.value)
            if "backend" in base.lower():
                offenders.append(f"{module}:{node.lineno}")
    assert offenders == []

