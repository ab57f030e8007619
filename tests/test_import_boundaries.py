"""The dependency rule of the architecture, enforced.

contracts ← config ← {vision, crypto} ← signing ← {edge, server} ← cli. Edge and server never
import each other; the edge node never imports the web-server stack; the CLI imports
edge and server only inside functions (lazily).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
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
    "cli": {"contracts", "config", "crypto", "vision", "signing", "edge", "server", "cli"},
}
#: Modules at the package root that every package may import; they import only the standard library.
ROOT_MODULES = {"no_telemetry"}
WEB_STACK = {"fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "jinja2", "cedarpy", "psycopg"}
LAZY_ONLY_FROM_CLI = {"edge", "server", "vision"}


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
