"""Conformance: every DataKeyStore (edge SQLite file; server table on SQLite and PostgreSQL) alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lineguard.contracts.errors import CryptoError
from lineguard.crypto import DataKeyStore, Envelope, Keyring, SqliteDataKeyStore, WrappedKey, rewrap_all


@pytest.fixture
def edge_store(tmp_path: Path) -> Iterator[DataKeyStore]:
    store = SqliteDataKeyStore(tmp_path / "dk.db")
    yield store
    store.close()


@pytest.fixture
def server_store(db_url: str) -> Iterator[DataKeyStore]:
    """The server's table, on SQLite and on PostgreSQL (``db_url``)."""
    from lineguard.server.keystore import SqlDataKeyStore
    from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head

    engine = create_engine_for(db_url)
    upgrade_to_head(engine)
    yield SqlDataKeyStore(session_factory(engine))
    engine.dispose()


def test_edge_store_contract(edge_store: DataKeyStore, keyring: Keyring) -> None:
    _contract(edge_store, keyring)


def test_server_store_contract(server_store: DataKeyStore, keyring: Keyring) -> None:
    _contract(server_store, keyring)


def _contract(any_store: DataKeyStore, keyring: Keyring) -> None:
    assert isinstance(any_store, DataKeyStore)
    env = Envelope(keyring, any_store)
    with env.batch():
        blobs = {f"o{i}": env.seal(f"v{i}".encode(), object_id=f"o{i}", category="c") for i in range(30)}
    key = any_store.wrapped_under([keyring.active_id], 1)[0]
    assert any_store.get(key.key_id) == key
    with pytest.raises(CryptoError, match="already exists"):
        any_store.put(key)
    assert any_store.count_by_kek() == {keyring.active_id: 30}
    # rotation pages in key-id order, each page after the last key of the one before
    pages, after = [], ""
    while page := any_store.wrapped_under([keyring.active_id, "kek_other"], 8, after=after):
        pages.append(page)
        after = page[-1].key_id
    walked = [k.key_id for page in pages for k in page]
    assert [len(p) for p in pages] == [8, 8, 8, 6]
    assert walked == sorted(walked) and len(set(walked)) == 30
    assert any_store.wrapped_under(["kek_other"], 8) == []
    keyring.rotate()
    report = rewrap_all(keyring, any_store, batch_size=7)
    assert (report.rewrapped, report.remaining) == (30, {})
    assert any_store.rewrap(key.key_id, old_kek_id="kek_gone", new_kek_id="x", wrapped=b"x") is False
    assert env.shred(object_id="o3", category="c") == 1
    with pytest.raises(CryptoError, match="crypto-shredded"):
        env.open(blobs["o3"], object_id="o3", category="c")
    assert env.open(blobs["o4"], object_id="o4", category="c") == b"v4"
    assert any_store.wrapped_under([], 10) == []
    fresh = WrappedKey("dek_x", "c", "o99", keyring.active_id, b"w" * 60)
    any_store.put_many([fresh])
    assert any_store.get("dek_x").wrapped == b"w" * 60
