"""The registry's background refresh: never creates a repository, republishes a changed trust list."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from lineguard.config.server import ServerConfig
from lineguard.server.app import create_app
from lineguard.server.once import Once
from lineguard.server.protection import NoEncryption
from lineguard.server.registry import Registry
from lineguard.server.registry.scheduled import refresh_once
from lineguard.server.registry.tuf_repo import TufPolicy
from lineguard.server.storage import create_engine_for
from lineguard.signing import SIGNERS_TARGET, SignerTrust


def test_refresh_publishes_trust_changes_and_never_creates_keys(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LINEGUARD_KEYRING_PASSPHRASE", "a passphrase in the environment")
    settings = ServerConfig(kind="server", site_id="plant-a", data_dir=tmp_path / "server")
    engine = create_engine_for(f"sqlite:///{tmp_path / 'db.sqlite'}")
    app = create_app(settings, engine=engine, sealer=NoEncryption(), audit=lambda *_a, **_k: None)
    context = app.state.lineguard
    assert refresh_once(context) == []
    assert not Registry.exists(settings.data_dir)  # no keys made behind anyone's back

    registry = Registry.open(
        tmp_path / "home", SecretStr("tuf keys"), policy=TufPolicy(root_keys=1, root_threshold=1)
    )
    context.registry = Once.of(registry)
    registry.signers.create(SecretStr("signing passphrase!"), label="qa")
    assert refresh_once(context) == ["trust list"]
    published = SignerTrust.from_bytes(registry.repo.target_bytes(SIGNERS_TARGET))
    assert published == registry.signers.trust()
    assert refresh_once(context) == []
    registry.signers.revoke(published.keys[0].key_id, reason="rotated out")
    assert refresh_once(context) == ["trust list"]
    assert SignerTrust.from_bytes(registry.repo.target_bytes(SIGNERS_TARGET)).keys[0].state == "revoked"
    engine.dispose()
