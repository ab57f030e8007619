"""``lineguard registry``: the signed registry workflow from the server host, role by role."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from lineguard.cli.main import cli
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.storage import create_engine_for, session_factory
from lineguard.vision.testing import build_tiny_package
from tests.support.server_yaml import write_server_yaml

ENV = {
    "LINEGUARD_SIGNING_PASSPHRASE": "registry cli signing passphrase",
    "LINEGUARD_KEYRING_PASSPHRASE": "registry cli keyring passphrase",
}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=ENV)
    return result.exit_code, result.output


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    path = write_server_yaml(tmp_path, db_url)
    for username, role in (
        ("quinn", "quality_engineer"),
        ("sam", "production_supervisor"),
        ("max", "maintenance_technician"),
    ):
        code, out = run(
            "user", "add", username, "--name", username.title(), "--role", role, "--config", str(path)
        )
        assert code == 0, out
    code, out = run("keys", "signing", "create", "--config", str(path), "--label", "qa")
    assert code == 0, out
    return path


@pytest.fixture
def package(tmp_path: Path, config: Path) -> Path:
    path = build_tiny_package(tmp_path / "models" / "tile").path
    code, out = run("model", "sign", str(path), "--config", str(config))
    assert code == 0, out
    return path


def _audit_names(db_url: str) -> list[str]:
    engine = create_engine_for(db_url)
    try:
        with session_factory(engine)() as session:
            return list(session.scalars(select(AuditEntryRow.name).order_by(AuditEntryRow.seq)).all())
    finally:
        engine.dispose()


def test_register_approve_deploy_by_two_people(config: Path, package: Path, db_url: str) -> None:
    cfg = str(config)
    code, out = run("registry", "register", str(package), "--as", "quinn", "--config", cfg, "--json")
    assert code == 0, out
    version = json.loads(out)
    assert version["model_id"] == "tiny-test-model" and version["state"] == "registered"
    assert version["registered_by"].endswith(":quinn")
    vid = version["id"]

    # Four eyes: the registrar cannot approve; a supervisor can.
    code, out = run("registry", "approve", vid, "--as", "quinn", "--config", cfg)
    assert code == 2 and "permission denied" in out and "Traceback" not in out
    code, out = run("registry", "approve", vid, "--as", "sam", "--config", cfg)
    assert code == 0, out
    assert re.search(r"approved tiny-test-model v1 .*approved", out)

    # A supervisor approves but does not deploy; the quality engineer does.
    code, out = run("registry", "deploy", vid, "--line", "line-1", "--as", "sam", "--config", cfg)
    assert code == 2 and "model_deployment.request" in out
    code, out = run("registry", "deploy", vid, "--line", "line-1", "--as", "quinn", "--config", cfg)
    assert code == 0, out
    assert "release 1 (deploy)" in out

    code, out = run("registry", "list", "--config", cfg, "--json")
    assert code == 0, out
    listed = json.loads(out)
    assert [(v["id"], v["state"]) for v in listed["versions"]] == [(vid, "approved")]
    assert [(r["release"], r["lines"]) for r in listed["releases"]] == [(1, ["line-1"])]

    names = _audit_names(db_url)
    for name in ("model.registered", "model.approved", "model.deployed"):
        assert name in names
    assert names.count("access.denied") == 2


def test_a_role_without_model_configuration_write_cannot_register(config: Path, package: Path) -> None:
    code, out = run("registry", "register", str(package), "--as", "max", "--config", str(config))
    assert code == 2
    assert "permission denied: model_configuration.write for max" in out
    code, out = run("registry", "register", str(package), "--as", "nobody", "--config", str(config))
    assert code == 2 and "no user named 'nobody'" in out


def test_unknown_package_path_is_a_clear_error(config: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-package"
    code, out = run("registry", "register", str(missing), "--as", "quinn", "--config", str(config))
    assert code == 2
    assert f"error: {missing} is not a model package folder" in out
    assert "Traceback" not in out


def test_an_unsigned_package_is_refused(config: Path, package: Path) -> None:
    package.with_name("tile.sig").unlink()
    code, out = run("registry", "register", str(package), "--as", "quinn", "--config", str(config))
    assert code == 2
    assert "error: check 'unsigned' failed" in out and "Traceback" not in out


def test_a_tampered_package_is_refused_and_nothing_is_stored(config: Path, package: Path) -> None:
    metadata = package / "metadata.json"
    doc = json.loads(metadata.read_text(encoding="utf-8"))
    doc["threshold"]["value"] = 0.99
    metadata.write_text(json.dumps(doc), encoding="utf-8")
    code, out = run("registry", "register", str(package), "--as", "quinn", "--config", str(config))
    assert code == 2
    assert "error: check 'tampered' failed" in out and "metadata.json" in out
    code, out = run("registry", "list", "--config", str(config), "--json")
    assert json.loads(out)["versions"] == []


def test_a_rejection_needs_a_reason_and_four_eyes(config: Path, package: Path) -> None:
    cfg = str(config)
    code, out = run("registry", "register", str(package), "--as", "quinn", "--config", cfg, "--json")
    vid = json.loads(out)["id"]
    code, out = run("registry", "reject", vid, "--reason", " ", "--as", "sam", "--config", cfg)
    assert code == 2 and "say why" in out
    code, out = run(
        "registry", "reject", vid, "--reason", "blurry training set", "--as", "sam", "--config", cfg
    )
    assert code == 0, out
    assert "rejected" in out
    code, out = run("registry", "deploy", vid, "--line", "line-1", "--as", "quinn", "--config", cfg)
    assert code == 2 and "only approved versions deploy" in out
