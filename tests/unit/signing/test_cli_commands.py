"""``lineguard keys signing …`` and ``lineguard model sign|verify`` as a user runs them.

``model sign`` / ``verify`` are driven through a root :class:`LazyGroup` built like
``lineguard``'s own (errors become ``error: …`` and exit 2 only at the root), so these
tests hold whether or not the ``model`` group has them registered yet.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from lineguard.cli.main import LazyGroup, cli
from lineguard.vision.testing import build_tiny_package

PASSPHRASE = "cli signing passphrase 1"
root = LazyGroup(
    name="lineguard",
    lazy_commands={
        "sign": ("lineguard.cli.model_sign_cmd", "sign"),
        "verify": ("lineguard.cli.model_sign_cmd", "verify"),
        "keys": ("lineguard.cli.keys_cmd", "keys"),
    },
)


def run(*args: str) -> Result:
    return CliRunner().invoke(root, list(args), env={"LINEGUARD_SIGNING_PASSPHRASE": PASSPHRASE})


@pytest.fixture
def store(tmp_path: Path) -> Path:
    created = run("keys", "signing", "create", "--store", str(tmp_path / "keys"), "--label", "qa-2026")
    assert created.exit_code == 0, created.output
    assert "created signing key" in created.output
    return tmp_path / "keys"


@pytest.fixture
def package(tmp_path: Path, store: Path) -> Path:
    path = build_tiny_package(tmp_path / "models" / "tile").path
    signed = run("sign", str(path), "--store", str(store))
    assert signed.exit_code == 0, signed.output
    assert path.with_name("tile.sig").exists()
    return path


def test_sign_then_verify(package: Path, store: Path) -> None:
    result = run("verify", str(package), "--store", str(store))
    assert result.exit_code == 0, result.output
    assert "verified" in result.output and "qa-2026" in result.output
    assert run("verify", str(package), "--trust", str(store / "signers.json")).exit_code == 0


def test_verify_a_flipped_byte_exits_2_naming_the_check(package: Path, store: Path) -> None:
    model = package / "model.onnx"
    data = bytearray(model.read_bytes())
    data[100] ^= 0x01
    model.write_bytes(bytes(data))
    result = run("verify", str(package), "--store", str(store))
    assert result.exit_code == 2
    assert "error: check 'tampered' failed" in result.output
    assert "model.onnx" in result.output
    assert "Traceback" not in result.output


def test_verify_unsigned_exits_2(package: Path, store: Path) -> None:
    package.with_name("tile.sig").unlink()
    result = run("verify", str(package), "--store", str(store))
    assert result.exit_code == 2
    assert "error: check 'unsigned' failed" in result.output


def test_verify_with_the_wrong_key_exits_2(package: Path, tmp_path: Path) -> None:
    assert run("keys", "signing", "create", "--store", str(tmp_path / "other")).exit_code == 0
    other = tmp_path / "other.pub.pem"
    import json

    other.write_text(
        json.loads((tmp_path / "other" / "signers.json").read_text())["keys"][0]["public_key_pem"]
    )
    result = run("verify", str(package), "--key", str(other))
    assert result.exit_code == 2
    assert "error: check 'unknown_key' failed" in result.output


def test_rotate_keeps_old_signatures_revoke_refuses_them(package: Path, store: Path) -> None:
    listed = run("keys", "signing", "list", "--store", str(store), "--json")
    key_id = json.loads(listed.output)[0]["key_id"]
    rotated = run("keys", "signing", "rotate", "--store", str(store), "--label", "qa-2027")
    assert rotated.exit_code == 0 and f"retired {key_id}" in rotated.output
    assert run("verify", str(package), "--store", str(store)).exit_code == 0
    revoked = run(
        "keys", "signing", "revoke", "--store", str(store), key_id[:12], "--reason", "laptop stolen"
    )
    assert revoked.exit_code == 0, revoked.output
    result = run("verify", str(package), "--store", str(store))
    assert result.exit_code == 2
    assert "error: check 'revoked_key' failed" in result.output and "stolen" in result.output
    listing = run("keys", "signing", "list", "--store", str(store))
    assert "revoked" in listing.output and "active" in listing.output
    assert "PRIVATE" not in listing.output


def test_user_mistakes_are_one_line_errors(tmp_path: Path, package: Path) -> None:
    no_source = run("verify", str(package))
    assert no_source.exit_code == 2 and "say whom to trust" in no_source.output
    twice = run("keys", "signing", "create", "--store", str(tmp_path / "keys"))
    assert twice.exit_code == 2 and "rotate it instead" in twice.output
    no_pass = CliRunner().invoke(root, ["keys", "signing", "create", "--store", str(tmp_path / "k2")], env={})
    assert no_pass.exit_code == 2 and "LINEGUARD_SIGNING_PASSPHRASE" in no_pass.output


def test_the_keys_group_of_lineguard_lists_signing() -> None:
    result = CliRunner().invoke(cli, ["keys", "signing", "--help"])
    assert result.exit_code == 0
    for name in ("create", "rotate", "revoke", "list"):
        assert name in result.output


def test_on_the_server_a_revocation_is_published_and_audited(tmp_path: Path) -> None:
    """With --config the server's own store changes, TUF publishes it, the audit log records it."""
    import yaml
    from pydantic import SecretStr
    from sqlalchemy import select

    from lineguard.server.audit.models import AuditEntryRow
    from lineguard.server.registry.tuf_repo import TufRepository
    from lineguard.server.storage import create_engine_for, session_factory
    from lineguard.signing import SIGNERS_TARGET, SignerTrust

    data_dir = tmp_path / "server"
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump({"kind": "server", "site_id": "plant-a", "data_dir": str(data_dir)}))
    env = {"LINEGUARD_SIGNING_PASSPHRASE": PASSPHRASE, "LINEGUARD_KEYRING_PASSPHRASE": "server keyring pass"}
    created = CliRunner().invoke(root, ["keys", "signing", "create", "--config", str(config)], env=env)
    assert created.exit_code == 0, created.output
    assert "published the new trust list" in created.output
    key_id = json.loads((data_dir / "signing" / "signers.json").read_text())["keys"][0]["key_id"]
    revoked = CliRunner().invoke(
        root, ["keys", "signing", "revoke", "--config", str(config), key_id, "--reason", "stolen"], env=env
    )
    assert revoked.exit_code == 0, revoked.output
    repo = TufRepository(data_dir / "registry" / "tuf", SecretStr("server keyring pass"))
    published = SignerTrust.from_bytes(repo.target_bytes(SIGNERS_TARGET))
    assert published.keys[0].state == "revoked" and published.keys[0].reason == "stolen"
    engine = create_engine_for(f"sqlite:///{data_dir / 'lineguard.db'}")
    with session_factory(engine)() as session:
        rows = session.scalars(select(AuditEntryRow).where(AuditEntryRow.name == "config.changed")).all()
    engine.dispose()
    assert [json.loads(r.payload)["setting"] for r in rows] == [f"signing.keys.{key_id[:16]}"] * 2
    assert '"revoked"' in json.loads(rows[-1].payload)["after"]
    assert all(r.actor.startswith("cli:keys.") for r in rows)
