"""Revision keystore_0001 slims ``data_keys`` (no ``kek_id`` index) and keeps every wrapped
key: sealed objects open, rotate and shred across the upgrade and the downgrade (SQLite and
PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from pydantic import SecretStr
from sqlalchemy import Engine, inspect

from lineguard.contracts.errors import CryptoError
from lineguard.crypto import Envelope, KdfParams, Keyring, rewrap_all
from lineguard.server.keystore import SqlDataKeyStore
from lineguard.server.storage import alembic_config, session_factory
from tests.support.sealed_v1 import seal_v1


def _indexes(engine: Engine) -> set[str]:
    return {str(i["name"]) for i in inspect(engine).get_indexes("data_keys")}


def _opens(envelope: Envelope, sealed: dict[str, bytes]) -> dict[str, bytes]:
    return {o: envelope.open(blob, object_id=o, category="c") for o, blob in sealed.items()}


def test_upgrade_and_downgrade_keep_every_key(empty_engine: Engine, tmp_path: Path) -> None:
    cfg = alembic_config(empty_engine)
    command.upgrade(cfg, "ingest_0009")
    keyring = Keyring.create(tmp_path / "k.json", SecretStr("migration"), kdf=KdfParams.insecure_for_tests())
    store = SqlDataKeyStore(session_factory(empty_engine))
    envelope = Envelope(keyring, store)
    sealed = {f"o{i}": envelope.seal(f"v{i}".encode(), object_id=f"o{i}", category="c") for i in range(6)}
    sealed["old"] = seal_v1(keyring, store, b"v-old", object_id="old", category="c")
    plain = _opens(envelope, sealed)
    assert "ix_data_keys_kek_id" in _indexes(empty_engine)

    command.upgrade(cfg, "keystore_0001")
    assert _indexes(empty_engine) == {"ix_data_keys_category_object_id"}
    assert _opens(envelope, sealed) == plain
    # rotation pages by key id without the index; shredding still finds an object's keys
    keyring.rotate()
    assert rewrap_all(keyring, store, batch_size=4).rewrapped == 7
    assert store.count_by_kek() == {keyring.active_id: 7}
    assert envelope.shred(object_id="o0", category="c") == 1
    with pytest.raises(CryptoError, match="crypto-shredded"):
        envelope.open(sealed.pop("o0"), object_id="o0", category="c")
    del plain["o0"]
    assert _opens(envelope, sealed) == plain

    command.downgrade(cfg, "ingest_0009")
    assert _indexes(empty_engine) == {"ix_data_keys_category_object_id", "ix_data_keys_kek_id"}
    assert _opens(envelope, sealed) == plain
    assert store.count_by_kek() == {keyring.active_id: 6}

    command.upgrade(cfg, "head")
    assert _opens(envelope, sealed) == plain
