"""The registry's TUF repository: thresholds, expiry, encrypted keys, safe names, rotation."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Root

from lineguard.contracts.errors import ConfigError, CryptoError, NotFoundError
from lineguard.server.registry.tuf_repo import TufPolicy, TufRepository, metadata_name_ok

PASS = SecretStr("tuf role key passphrase")


@pytest.fixture
def repo(tmp_path: Path) -> TufRepository:
    repository = TufRepository(tmp_path / "tuf", PASS, TufPolicy(root_keys=2, root_threshold=2))
    repository.ensure_initialized()
    return repository


def test_root_needs_both_root_keys(repo: TufRepository) -> None:
    root_md = repo.root()
    root = root_md.signed
    assert root.roles["root"].threshold == 2 and len(root.roles["root"].keyids) == 2
    assert {r: root.roles[r].threshold for r in ("targets", "snapshot", "timestamp")} == dict.fromkeys(
        ("targets", "snapshot", "timestamp"), 1
    )
    root.verify_delegate("root", root_md.signed_bytes, root_md.signatures)
    one = dict(list(root_md.signatures.items())[:1])
    with pytest.raises(UnsignedMetadataError):
        root.verify_delegate("root", root_md.signed_bytes, one)


def test_expiry_per_role(repo: TufRepository) -> None:
    now = datetime.now(UTC)
    assert repo.timestamp().signed.expires - now < timedelta(days=1, minutes=1)
    assert repo.targets().signed.expires - now > timedelta(days=29)
    assert repo.root().signed.expires - now > timedelta(days=364)


def test_role_keys_are_encrypted_and_private(repo: TufRepository, tmp_path: Path) -> None:
    keys = list(repo.keys_dir.glob("*.pem"))
    assert len(keys) == 5  # two root keys + one per online role
    for key in keys:
        assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    stolen = TufRepository(repo.directory, SecretStr("a guessed passphrase"))
    with pytest.raises(CryptoError, match="cannot decrypt TUF key"):
        stolen.put_targets({"a.json": b"{}"})


def test_refresh_re_signs_what_is_close_to_expiry(repo: TufRepository) -> None:
    before = repo.timestamp().signed.version
    assert repo.refresh() == []  # everything fresh: nothing to do
    later = datetime.now(UTC) + timedelta(hours=13)
    assert repo.refresh(now=later) == ["snapshot", "timestamp"]
    assert repo.timestamp().signed.version == before + 1
    much_later = datetime.now(UTC) + timedelta(days=20)
    assert repo.refresh(now=much_later) == ["targets", "snapshot", "timestamp"]


def test_names_a_client_can_ask_for(repo: TufRepository) -> None:
    for good in ("1.root.json", "timestamp.json", "3.snapshot.json", "12.targets.json"):
        assert metadata_name_ok(good)
    for bad in ("../keys/root.pem", "root.pem", "0.root.json", "x.json", "1.root.json/..", ""):
        assert not metadata_name_ok(bad)
    for bad in ("../keys/x.pem", "a/../../keys", "/etc/passwd", "keys/root.pem"):
        with pytest.raises(NotFoundError):
            repo.target_file(bad)
    with pytest.raises(NotFoundError):
        repo.metadata_file("keys.json")


def test_root_rotation_chains_signatures(repo: TufRepository) -> None:
    v1 = repo.root()
    assert repo.rotate_root() == 2
    v2 = Metadata[Root].from_bytes(repo.root_bytes(2))
    v1.signed.verify_delegate("root", v2.signed_bytes, v2.signatures)  # old threshold signed it
    v2.signed.verify_delegate("root", v2.signed_bytes, v2.signatures)  # and the new one
    assert repo.root_bytes() == repo.root_bytes(2)
    assert repo.rotate_online_key("timestamp") == 3
    assert repo.timestamp().signatures.keys() == set(repo.root().signed.roles["timestamp"].keyids)


def test_policy_bounds() -> None:
    with pytest.raises(ConfigError, match="root threshold"):
        TufPolicy(root_keys=1, root_threshold=2)


def test_the_server_config_sets_thresholds_expiry_and_the_key_passphrase(tmp_path: Path, monkeypatch) -> None:
    from lineguard.config.secrets import SecretRef
    from lineguard.config.server import RegistryConfig, ServerConfig
    from lineguard.server.registry.publisher import Registry

    monkeypatch.setenv("LG_TEST_TUF_PASS", "its own tuf passphrase")
    registry_cfg = RegistryConfig(
        tuf_passphrase=SecretRef(env="LG_TEST_TUF_PASS"), root_keys=3, root_threshold=2, timestamp_days=0.5
    )
    settings = ServerConfig(
        kind="server", site_id="plant-a", data_dir=tmp_path / "server", registry=registry_cfg
    )
    repo = Registry.from_settings(settings).repo
    root = repo.root().signed
    assert (len(root.roles["root"].keyids), root.roles["root"].threshold) == (3, 2)
    assert repo.timestamp().signed.expires - datetime.now(UTC) < timedelta(hours=12, minutes=1)
    assert (
        TufRepository(repo.directory, SecretStr("its own tuf passphrase")).put_targets({"a.json": b"{}"}) == 2
    )
    with pytest.raises(CryptoError):
        TufRepository(repo.directory, SecretStr("some other passphrase")).put_targets({"a.json": b"{}"})
    with pytest.raises(ValueError, match="exceeds root_keys"):
        RegistryConfig(root_keys=1, root_threshold=2)
