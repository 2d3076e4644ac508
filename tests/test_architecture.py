"""The layout rules of ARCHITECTURE.md, checked on the source: data flows one way.

The layer table below is ARCHITECTURE.md's, as data (a test below holds the two equal): every module of ``atmosphere/`` is in
exactly one layer, and may import only from its own layer and the layers it lists. Imports
are read from the syntax tree (every import, also those inside functions, which is where a
cycle would hide; not those under ``if TYPE_CHECKING:``, which never run).
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


def _imported_names(module: str) -> set[str]:
    """Every module name ``module`` imports, of the project or not (relative imports resolved)."""
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
    return found


def imports_of(module: str) -> set[str]:
    """The project modules ``module`` imports (``from atmosphere import jsonfast`` is atmosphere.jsonfast)."""
    return {name for name in _imported_names(module) if name in MODULES and name != module}


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


# --- the layer table -------------------------------------------------------------------------
# layer → (its modules: a name, or a package prefix ending in "."), and the layers it may import.
LAYERS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "domain": (("atmosphere.domain", "atmosphere.errors"), frozenset()),
    "tools": (  # small helpers of no layer, importing nothing of the project (ARCHITECTURE.md says why each stands alone)
        (
            "atmosphere",
            "atmosphere.jsonfast",
            "atmosphere.timing",
            "atmosphere.tasks",
            "atmosphere.locality",
            "atmosphere.host_policy",
        ),
        frozenset(),
    ),
    "ports": (("atmosphere.ports",), frozenset({"domain"})),
    "http": (("atmosphere.http.",), frozenset({"domain", "tools"})),
    "observe": (("atmosphere.observe.",), frozenset({"domain", "tools"})),
    "state": (("atmosphere.state.",), frozenset({"domain", "tools", "ports"})),
    "settings": (("atmosphere.config",), frozenset({"domain", "tools", "state"})),
    "store": (("atmosphere.store.",), frozenset({"domain", "tools", "settings", "observe", "state"})),
    "adapters": (("atmosphere.adapters.",), frozenset({"domain", "tools", "ports", "http"})),
    "router": (("atmosphere.router.",), frozenset({"domain", "tools", "ports", "observe", "state"})),
    # the running process's own concerns that faces also meet: the exposure check, the SIGTERM drain
    "lifecycle": (("atmosphere.lifecycle.",), frozenset({"domain", "tools", "settings", "router"})),
    "faces": (
        ("atmosphere.api.",),
        frozenset({"domain", "tools", "observe", "state", "settings", "store", "router", "lifecycle"}),
    ),
    "standins": (("atmosphere.standins.",), frozenset({"tools"})),
    "process": (  # wires and runs everything: may import every layer
        (
            "atmosphere.app",
            "atmosphere.server",
            "atmosphere.cli",
            "atmosphere.demo",
            "atmosphere.__main__",
            "atmosphere.connections",
        ),
        frozenset(
            {
                "domain",
                "tools",
                "ports",
                "http",
                "observe",
                "state",
                "settings",
                "store",
                "adapters",
                "router",
                "lifecycle",
                "faces",
                "standins",
            }
        ),
    ),
}


def layer_of(module: str, layers: dict[str, tuple[tuple[str, ...], frozenset[str]]] = LAYERS) -> str | None:
    for layer, (members, _allowed) in layers.items():
        if any(module == m.rstrip(".") or (m.endswith(".") and module.startswith(m)) for m in members):
            return layer
    return None


def layer_violations(graph: dict[str, set[str]], layers: dict[str, tuple[tuple[str, ...], frozenset[str]]] = LAYERS) -> list[str]:
    """Each import that crosses into a layer its importer may not import, as "a (layer) → b (layer)"."""
    found = []
    for module, imported in sorted(graph.items()):
        here = layer_of(module, layers)
        if here is None:
            continue  # reported by the test that every module has a layer
        allowed = layers[here][1] | {here}
        for target in sorted(imported):
            there = layer_of(target, layers)
            if there is not None and there not in allowed:
                found.append(f"{module} ({here}) → {target} ({there})")
    return found


GRAPH = {module: imports_of(module) for module in MODULES}
FACES = {module for module in MODULES if module.startswith("atmosphere.api.")}


def test_the_layer_checker_refuses_state_or_observe_importing_the_router_and_a_face_importing_an_adapter():
    graph = {
        "atmosphere.state.hosts": {"atmosphere.router.balancer", "atmosphere.domain"},
        "atmosphere.observe.recorder": {"atmosphere.router.origin"},
        "atmosphere.api.openai.routes": {"atmosphere.adapters.ollama", "atmosphere.router.executor"},
        "atmosphere.router.executor": {"atmosphere.state.registry", "atmosphere.observe.recorder"},
    }
    assert layer_violations(graph) == [
        "atmosphere.api.openai.routes (faces) → atmosphere.adapters.ollama (adapters)",
        "atmosphere.observe.recorder (observe) → atmosphere.router.origin (router)",
        "atmosphere.state.hosts (state) → atmosphere.router.balancer (router)",
    ]
    assert layer_of("atmosphere.statefile") is None  # a prefix is a package, not a name's start


def test_every_module_is_in_one_layer_of_the_table():
    unplaced = sorted(m for m in MODULES if layer_of(m) is None)
    assert unplaced == [], f"add these to LAYERS (and ARCHITECTURE.md's table): {unplaced}"
    twice = [m for m in MODULES if sum(layer_of(m, {k: v}) is not None for k, v in LAYERS.items()) > 1]
    assert twice == []


def test_every_import_follows_the_layer_table():
    assert layer_violations(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_chain():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_import_reader_sees_imports_inside_functions():
    assert "atmosphere.server" in GRAPH["atmosphere.cli"]  # imported inside main()
    assert "atmosphere.router.executor" in GRAPH["atmosphere.api.common"]


def test_no_module_of_atmosphere_imports_itself_back_through_others():
    assert find_cycle(GRAPH) is None, " → ".join(find_cycle(GRAPH) or [])


def test_no_face_names_the_backend_port():
    assert sorted(face for face in FACES if "atmosphere.ports" in GRAPH[face]) == []


def test_only_the_integration_endpoints_read_the_registry():
    readers = {
        face for face in FACES if "atmosphere.state.registry" in GRAPH[face] or "state.registry" in MODULES[face].read_text()
    }
    assert readers == {"atmosphere.api.admin.integrations"}, sorted(readers)


def test_only_config_reads_the_environment():
    readers = set()
    for module, path in MODULES.items():
        for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "environb", "getenv", "putenv"):
                readers.add(module)
            elif isinstance(node, ast.ImportFrom) and node.module == "os":
                if {a.name for a in node.names} & {"environ", "environb", "getenv"}:
                    readers.add(module)
        if any(name.split(".")[0] in ("pydantic_settings", "dotenv") for name in _imported_names(module)):
            readers.add(module)
    assert readers == {"atmosphere.config"}, sorted(readers)


def test_atmosphere_never_imports_the_harness_the_tests_or_the_bench():
    offenders = {
        module: sorted(n for n in _imported_names(module) if n.split(".")[0] in ("harness", "tests", "bench"))
        for module in MODULES
    }
    assert {m: names for m, names in offenders.items() if names} == {}


def test_the_domain_types_and_errors_import_nothing_of_the_project_but_each_other():
    assert GRAPH["atmosphere.domain"] == set()
    assert GRAPH["atmosphere.errors"] <= {"atmosphere.domain"}


def test_only_faces_and_the_process_import_the_web_framework():
    for module in MODULES:
        if layer_of(module) in ("faces", "process", "standins"):
            continue
        web = sorted(n for n in _imported_names(module) if n.split(".")[0] in ("fastapi", "starlette", "uvicorn"))
        assert web == [], module


ARCHITECTURE_MD = PACKAGE.parent / "ARCHITECTURE.md"


def documented_layers(text: str) -> dict[str, frozenset[str]]:
    """ARCHITECTURE.md's layer table: layer → the layers its "may import" column names."""
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith(("| layer ", "| ---"))]
    table: dict[str, frozenset[str]] = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split(" | ")]
        layer, allowed = cells[0], cells[-1].split(" — ", 1)[0]
        if allowed == "nothing of the project":
            table[layer] = frozenset()
        elif allowed == "everything":
            table[layer] = frozenset(LAYERS) - {layer}
        else:
            table[layer] = frozenset(name.strip() for name in allowed.split(","))
    return table


def test_architecture_md_shows_the_layer_table_this_file_enforces():
    documented = documented_layers(ARCHITECTURE_MD.read_text())
    assert documented == {layer: allowed for layer, (_members, allowed) in LAYERS.items()}


def test_the_layer_table_reader_sees_a_layer_that_differs():
    text = "## Layers\n\n| layer | modules | may import |\n| --- | --- | --- |\n| router | `router/` | domain, adapters |\n"
    assert documented_layers(text) == {"router": frozenset({"domain", "adapters"})}


def test_every_module_at_the_package_root_is_named_in_architecture_md():
    text = ARCHITECTURE_MD.read_text()
    unnamed = sorted(path.name for path in PACKAGE.glob("*.py") if path.name != "__init__.py" and f"`{path.name}`" not in text)
    assert unnamed == [], f"name these in ARCHITECTURE.md (its root modules) or move them into a package: {unnamed}"
