"""The dependency rule of the architecture, enforced.

contracts ← config ← {vision, crypto} ← signing ← {edge, server} ← cli. Edge and server never
import each other; the edge node never imports the web-server stack; the CLI imports
edge and server only inside functions (lazily).

Inside the server, every package under ``server/`` is a domain, found on disk (a new
domain is covered the day its folder appears). A domain's front module
(``__init__.py``) declares its public API in ``__all__``; everything outside the domain
(other domains, the server's own modules, the CLI) imports only those names, never a
submodule. Domains may use the server kernel (:data:`KERNEL`) but not the composition
roots that assemble them (``app``, ``admin``, ``protection``), and the graph of imports
between domains has no cycle, counting imports inside functions too.
"""

from __future__ import annotations

import ast
import functools
import importlib
import json
import subprocess
import sys
from collections.abc import Collection, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "lineguard"

#: package → lineguard packages it may import.
ALLOWED: dict[str, set[str]] = {
    "contracts": {"contracts"},
    "config": {"contracts", "config"},
    "crypto": {"contracts", "config", "crypto"},
    "vision": {"contracts", "vision"},
    "signing": {"contracts", "config", "crypto", "vision", "signing"},
    "edge": {"contracts", "config", "crypto", "vision", "signing", "edge"},
    "server": {"contracts", "config", "crypto", "vision", "signing", "server", "web"},
    "web": {"web"},
    # The enterprise roll-up: a separate service built from the server's blocks (storage, TLS, PKI).
    "enterprise": {"contracts", "config", "crypto", "server", "enterprise"},
    "cli": {"contracts", "config", "crypto", "vision", "signing", "edge", "server", "enterprise", "cli"},
}
#: Modules at the package root that every package may import; they import only the standard library.
ROOT_MODULES = {"no_telemetry"}
WEB_STACK = {"fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "jinja2", "cedarpy", "psycopg"}
LAZY_ONLY_FROM_CLI = {"edge", "server", "vision", "enterprise"}
SERVER = SRC / "server"
#: Server modules every domain may import: what a request handler reaches, shared helpers.
KERNEL = {"context", "errors", "once", "background", "limits", "headers", "windows"}


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _imports(tree: ast.AST) -> list[tuple[str, bool]]:
    """(imported module, at module top level?) for every import in a file."""
    found: list[tuple[str, bool]] = []
    top_level = {id(n) for n in getattr(tree, "body", [])}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top_level) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top_level))
    return found


def _package_of(path: Path) -> str | None:
    rel = path.relative_to(SRC).parts
    return rel[0] if len(rel) > 1 else None


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_module_respects_dependency_rule(path: Path) -> None:
    package = _package_of(path)
    if package is None:
        return  # lineguard/__init__.py: version only
    assert package in ALLOWED, f"new package lineguard.{package}: add it to ALLOWED with its rule"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for module, top_level in _imports(tree):
        parts = module.split(".")
        if parts[0] == "lineguard" and len(parts) > 1:
            target = parts[1]
            assert target in ALLOWED[package] | ROOT_MODULES, f"lineguard.{package} must not import {module}"
            if package == "cli" and target in LAZY_ONLY_FROM_CLI:
                assert not top_level, f"cli must import {module} lazily, inside the command"
        if package in {"edge", "vision", "contracts", "config", "crypto", "signing"}:
            assert parts[0] not in WEB_STACK, f"lineguard.{package} must not import the web stack ({module})"


@pytest.mark.parametrize("name", sorted(ROOT_MODULES))
def test_root_modules_import_only_the_standard_library(name: str) -> None:
    for module, _ in _imports(ast.parse((SRC / f"{name}.py").read_text(encoding="utf-8"))):
        top = module.split(".")[0]
        assert top in sys.stdlib_module_names or top == "__future__", f"lineguard.{name} imports {module}"


def test_contracts_import_no_io_libraries() -> None:
    for path in (SRC / "contracts").rglob("*.py"):
        for module, _ in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            assert module.split(".")[0] not in {
                "httpx",
                "sqlalchemy",
                "cv2",
                "onnxruntime",
                "socket",
                "requests",
            }, f"{path.name} imports {module}"


def test_importing_the_edge_node_loads_no_web_server_stack() -> None:
    """Run in a fresh interpreter so other tests' imports do not pollute sys.modules."""
    edge_modules = [
        "lineguard." + ".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        for p in sorted((SRC / "edge").rglob("*.py"))
    ]
    code = (
        "import importlib, json, sys\n"
        f"for m in {edge_modules!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted(m for m in {sorted(WEB_STACK)!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


# -- edge inspection stages ----------------------------------------------------------------

#: Stage packages under ``edge/``: pure checks on a frame (or a thermal frame), wired into the
#: pipeline by others (``drift`` is a monitor, not a stage, and keeps the same rules).
#: They use contracts, config and vision and their own package, never another
#: edge package (a stage cannot reach the outbox or the evidence store), and load their heavy
#: readers only inside functions, so a camera without the stage never imports them.
EDGE_STAGES = {"drift", "gauging", "labels", "ppe", "thermal"}
STAGE_LAZY_ONLY = {"zxingcpp", "rapidocr_onnxruntime", "onnxruntime"}


def _stage_modules() -> list[Path]:
    return sorted(p for stage in EDGE_STAGES for p in (SRC / "edge" / stage).rglob("*.py"))


def test_every_stage_folder_exists() -> None:
    assert all((SRC / "edge" / stage / "__init__.py").is_file() for stage in EDGE_STAGES)


@pytest.mark.parametrize("path", _stage_modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_stage_modules_import_only_their_own_package_and_load_readers_lazily(path: Path) -> None:
    stage = path.relative_to(SRC / "edge").parts[0]
    for module, top_level in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        parts = module.split(".")
        if parts[:2] == ["lineguard", "edge"]:
            assert parts[2:3] == [stage], f"edge/{stage} must not import {module} (another edge package)"
        if parts[0] in STAGE_LAZY_ONLY:
            assert not top_level, f"edge/{stage} imports {module} at module level: load it on first use"


# -- server domains ------------------------------------------------------------------------


def _domains() -> list[str]:
    return sorted(p.name for p in SERVER.iterdir() if (p / "__init__.py").is_file())


@functools.cache
def _front_all(domain: str) -> frozenset[str] | None:
    """The names in ``server/<domain>/__init__.py``'s ``__all__`` (None: it has none)."""
    tree = ast.parse((SERVER / domain / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return frozenset(ast.literal_eval(node.value))
    return None


def _domain_of(path: Path) -> str | None:
    rel = path.relative_to(SRC).parts
    return rel[1] if rel[0] == "server" and len(rel) > 2 else None


def server_references(tree: ast.AST) -> list[tuple[str, str | None, int]]:
    """``(domain, name or None, line)`` for every reference to a server domain in a module.

    ``name`` is what is taken from the domain's front; None means the import reaches past
    the front into a submodule (``lineguard.server.<domain>.<module>``).
    """
    found: list[tuple[str, str | None, int]] = []
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[:2] == ["lineguard", "server"] and len(parts) > 2:
                    found.append((parts[2], None if len(parts) > 3 else "", node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts == ["lineguard", "server"]:  # from lineguard.server import <domain> [as x]
                for alias in node.names:
                    aliases[alias.asname or alias.name] = alias.name
                    found.append((alias.name, "", node.lineno))
            elif parts[:2] == ["lineguard", "server"] and len(parts) > 2:
                if len(parts) > 3:
                    found.append((parts[2], None, node.lineno))
                else:
                    found += [(parts[2], a.name, node.lineno) for a in node.names]
    for node in ast.walk(tree):  # <domain alias>.<name>
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            found.append((aliases[node.value.id], node.attr, node.lineno))
    return found


def front_violations(path: Path, tree: ast.AST, fronts: Mapping[str, Collection[str] | None]) -> list[str]:
    """Every reference from ``path`` that bypasses another domain's front or its ``__all__``."""
    me = _domain_of(path)
    problems = []
    for domain, name, line in server_references(tree):
        if domain not in fronts or domain == me:
            continue
        where = f"{path.relative_to(SRC)}:{line}"
        exported = fronts[domain] or ()
        if name is None:
            problems.append(f"{where} reaches into lineguard.server.{domain}'s submodules: import its front")
        elif name and name not in exported:
            problems.append(f"{where} uses lineguard.server.{domain}.{name}, which its front does not export")
    return problems


def domain_edges() -> dict[str, set[str]]:
    """Domain → the other domains it imports (top level or inside functions)."""
    fronts = set(_domains())
    edges: dict[str, set[str]] = {d: set() for d in fronts}
    for path in SERVER.rglob("*.py"):
        me = _domain_of(path)
        if me is None:
            continue
        for domain, _, _ in server_references(ast.parse(path.read_text(encoding="utf-8"))):
            if domain in fronts and domain != me:
                edges[me].add(domain)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle in the graph as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


@pytest.mark.parametrize("domain", _domains())
def test_domain_has_a_front_module_with_an_explicit_api(domain: str) -> None:
    exported = _front_all(domain)
    assert exported is not None, f"server/{domain}/__init__.py must declare __all__ (its public API)"
    module = importlib.import_module(f"lineguard.server.{domain}")
    missing = sorted(n for n in exported if not hasattr(module, n))
    assert not missing, f"lineguard.server.{domain} exports names it does not define: {missing}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_other_domains_are_reached_only_through_their_front(path: Path) -> None:
    fronts = {d: _front_all(d) for d in _domains()}
    problems = front_violations(path, ast.parse(path.read_text(encoding="utf-8")), fronts)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", sorted(SERVER.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_domains_import_only_the_server_kernel(path: Path) -> None:
    me = _domain_of(path)
    if me is None:
        return  # the kernel and the composition roots themselves
    domains = set(_domains())
    for module, _ in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        parts = module.split(".")
        if parts[:2] == ["lineguard", "server"] and len(parts) > 2 and parts[2] not in domains:
            assert parts[2] in KERNEL, (
                f"lineguard.server.{me} imports {module}: domains use the kernel ({sorted(KERNEL)}), "
                "never the modules that assemble them"
            )


def test_no_cycles_between_domains() -> None:
    cycle = find_cycle(domain_edges())
    assert cycle is None, "server domains import each other in a cycle: " + " → ".join(cycle or [])


def test_spc_statistics_are_pure_and_ingest_reaches_measurements_through_its_front() -> None:
    """``server/measurements/spc.py`` is arithmetic only (testable without a database), and
    ingest hands measurements over through the domain's front, never its tables."""
    spc = ast.parse((SERVER / "measurements" / "spc.py").read_text(encoding="utf-8"))
    allowed = {"__future__", "math", "collections", "dataclasses"}
    assert {module.split(".")[0] for module, _ in _imports(spc)} <= allowed
    ingest = ast.parse((SERVER / "ingest" / "service.py").read_text(encoding="utf-8"))
    taken = {(domain, name) for domain, name, _ in server_references(ingest) if domain == "measurements"}
    assert taken == {("measurements", "record_measurements")}


def test_the_rules_catch_what_they_are_for() -> None:
    """The checks above fail on the patterns they forbid (so an empty result means something)."""
    code = (
        "from lineguard.server.auth.runtime import AuthRuntime\n"
        "from lineguard.server.auth import not_exported\n"
        "from lineguard.server import auth as a\n"
        "def f():\n"
        "    import lineguard.server.auth.login\n"
        "    return a.hidden\n"
    )
    problems = front_violations(
        SERVER / "query" / "x.py", ast.parse(code), {"auth": {"Access"}, "query": set()}
    )
    assert len(problems) == 4, problems
    assert front_violations(SERVER / "auth" / "x.py", ast.parse(code), {"auth": {"Access"}}) == []
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
