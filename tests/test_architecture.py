"""The rooms import one way (docs/architecture.md): the import graph of the product's
modules, read with ``ast`` (every import, at the top or inside a function, except those
under ``if TYPE_CHECKING:``), has no cycle, ``cameras`` imports nothing of ``alerts``,
``billing`` or the vendor backends, and ``monitoring.lib`` imports no domain app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("monitoring", "cameras", "alerts", "billing")
CAMERAS_MAY_NOT_IMPORT = ("alerts", "billing", "monitoring.backends")
DOMAIN_APPS = ("cameras", "alerts", "billing")


def product_modules(root: Path, packages=PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, migrations left out."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST):
    """Every import node, skipping ``if TYPE_CHECKING:`` bodies."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                yield from _imports_of(child)
            continue
        yield from _imports_of(node)


def _imports_of(node: ast.AST):
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _imports(node)


def _known(name: str, modules) -> str | None:
    """The innermost product module ``name`` is, or lies in."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the product modules it imports."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = name.split(".") if is_package else name.split(".")[:-1]
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join([*parts, base] if base else parts)
                # ``from package import module`` imports the module.
                names = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for imported in names:
                target = _known(imported, modules)
                if target is not None and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def arrows(graph, source: str, targets) -> list[str]:
    """``a -> b`` for every import from ``source`` (or inside it) into ``targets``."""

    def inside(name: str, room: str) -> bool:
        return name == room or name.startswith(room + ".")

    return sorted(
        f"{module} -> {imported}"
        for module, imported_set in graph.items()
        if inside(module, source)
        for imported in imported_set
        if any(inside(imported, target) for target in targets)
    )


@pytest.fixture(scope="module")
def graph():
    return import_graph(product_modules(ROOT))


def test_the_graph_reads_the_product_modules(graph):
    # Guards the checks below against an empty or blind graph.
    assert len(graph) > 100
    assert "billing.costs" in graph["monitoring.pipeline.params"]
    assert "alerts.events" in graph["alerts.consumers"]


def test_no_module_imports_itself_back_through_others(graph):
    assert cycles(graph) == []


def test_cameras_imports_nothing_of_alerts_billing_or_the_vendor_backends(graph):
    assert arrows(graph, "cameras", CAMERAS_MAY_NOT_IMPORT) == []


def test_the_neutral_helpers_import_no_domain_app(graph):
    assert arrows(graph, "monitoring.lib", DOMAIN_APPS) == []


# ---------------------------------------------------------------- the checker itself


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    write(
        tmp_path,
        {
            "cameras/__init__.py": "",
            "cameras/a.py": "from cameras import b\n",
            "cameras/b.py": "def f():\n    from . import c\n",
            "cameras/c.py": "import cameras.a\n",
            "cameras/d.py": "from cameras.a import x\n",
        },
    )
    found = cycles(import_graph(product_modules(tmp_path, ("cameras",))))
    assert found == [["cameras.a", "cameras.b", "cameras.c"]]


def test_a_forbidden_arrow_is_found_and_type_checking_imports_are_not(tmp_path):
    write(
        tmp_path,
        {
            "cameras/__init__.py": "",
            "cameras/views.py": "from billing.costs import project\n",
            "cameras/typed.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from alerts.models import Rule\n"
            ),
            "alerts/__init__.py": "",
            "alerts/models.py": "",
            "billing/__init__.py": "",
            "billing/costs.py": "",
        },
    )
    graph = import_graph(product_modules(tmp_path, ("cameras", "alerts", "billing")))
    assert arrows(graph, "cameras", CAMERAS_MAY_NOT_IMPORT) == ["cameras.views -> billing.costs"]
