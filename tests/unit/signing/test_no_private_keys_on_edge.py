"""Private signing keys never reach an edge node — structurally, not by convention.

The edge code path imports only the verifying half of ``lineguard.signing``; nothing
it loads can read a private key or sign, and what the registry publishes to nodes
(TUF metadata, trust list, release documents) holds no private key material.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src" / "lineguard"
SIGNING_SIDE = {"lineguard.signing.sign", "lineguard.signing.keystore"}


def test_edge_sources_never_import_the_signing_side() -> None:
    for path in sorted((SRC / "edge").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module not in SIGNING_SIDE, f"{path} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not {a.name for a in node.names} & SIGNING_SIDE, path


def test_importing_the_node_updater_loads_no_signer() -> None:
    code = (
        "import json, sys, lineguard.edge.update\n"
        f"print(json.dumps(sorted(m for m in {sorted(SIGNING_SIDE)!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_nothing_a_node_can_fetch_holds_a_private_key(tmp_path: Path) -> None:
    from tests.unit.edge.update.world import make_world

    for world in make_world(tmp_path):
        world.publish()
        world.publish(lines=(), nodes=("node-1",))
        assert world.node().check().status == "installed"
        served = list((world.registry.repo.directory / "metadata").iterdir())
        served += [p for p in (world.registry.repo.directory / "targets").rglob("*") if p.is_file()]
        assert served
        for path in served:
            assert b"PRIVATE KEY" not in path.read_bytes(), path
        node_files = [p for p in (tmp_path / "edge-node-1").rglob("*") if p.is_file()]
        assert any(p.name == "root.json" for p in node_files)
        for path in node_files:
            assert b"PRIVATE KEY" not in path.read_bytes(), path
        keys = json.loads((world.registry.repo.directory / "metadata" / "root.json").read_text())["signed"][
            "keys"
        ]
        assert all(set(k["keyval"]) == {"public"} for k in keys.values())
