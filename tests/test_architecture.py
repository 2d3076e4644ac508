"""The layout rules of ARCHITECTURE.md, checked on the source: data flows one way.

Imports are read from the syntax tree (every import, also those inside functions, which
is where a cycle would hide; not those under ``if TYPE_CHECKING:``, which never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import atmosphere

PACKAGE = Path(atmosphere.__file__).resolve().parent


def _module_of(path: Path) -> str:
    parts = ["atmosphere", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_of(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except the bodies of ``if TYPE_CHECKING:`` blocks."""
    found: list[ast.AST] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def imports_of(module: str) -> set[str]:
    """The project modules ``module`` imports (``from atmosphere import jsonfast`` is atmosphere.jsonfast)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {name for name in found if name in MODULES and name != module}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


GRAPH = {module: imports_of(module) for module in MODULES}
FACES = {module for module in MODULES if module.startswith("atmosphere.api.")}


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_chain():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_import_reader_sees_imports_inside_functions():
    assert "atmosphere.server" in GRAPH["atmosphere.cli"]  # imported inside main()
    assert "atmosphere.router.executor" in GRAPH["atmosphere.api.common"]


def test_no_module_of_atmosphere_imports_itself_back_through_others():
    assert find_cycle(GRAPH) is None, " → ".join(find_cycle(GRAPH) or [])


def test_no_face_speaks_to_an_adapter_or_names_the_backend_port():
    offenders = {
        face: sorted(name for name in GRAPH[face] if name.startswith("atmosphere.adapters") or name == "atmosphere.ports")
        for face in FACES
    }
    assert {face: names for face, names in offenders.items() if names} == {}


def test_only_the_websocket_and_integration_endpoints_read_the_registry():
    readers = {face for face in FACES if "atmosphere.registry" in GRAPH[face] or "state.registry" in MODULES[face].read_text()}
    assert readers <= {"atmosphere.api.websocket", "atmosphere.api.integrations"}, sorted(readers)
    assert readers, "the reader check found no reader at all: it is broken"


def test_the_domain_types_and_errors_import_nothing_of_the_project_but_each_other():
    assert GRAPH["atmosphere.domain"] == set()
    assert GRAPH["atmosphere.errors"] <= {"atmosphere.domain"}


def test_adapters_and_the_router_never_import_the_web_framework_or_a_face():
    for module in MODULES:
        if module.startswith(("atmosphere.adapters", "atmosphere.router", "atmosphere.http")) or module in (
            "atmosphere.registry",
            "atmosphere.domain",
            "atmosphere.ports",
        ):
            assert not any(name.startswith("atmosphere.api") for name in GRAPH[module]), module
            source = MODULES[module].read_text()
            assert "import fastapi" not in source and "from fastapi" not in source, module
