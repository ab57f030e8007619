"""Fixtures for the crypto tests: a test-strength keyring and every DataKeyStore implementation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from lineguard.crypto import DataKeyStore, KdfParams, Keyring, SqliteDataKeyStore

PASSPHRASE = SecretStr("correct horse battery staple")


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.create(tmp_path / "keys" / "keyring.json", PASSPHRASE, kdf=KdfParams.insecure_for_tests())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DataKeyStore]:
    sqlite_store = SqliteDataKeyStore(tmp_path / "keys" / "datakeys.db")
    yield sqlite_store
    sqlite_store.close()


def make_test_keyring(config: Path) -> None:
    """What `lineguard keys init --config CONFIG` does, with test-strength KDF parameters (fast)."""
    from lineguard.config import load_server_config
    from lineguard.crypto import keyring_path

    settings = load_server_config(config)
    passphrase = settings.keyring.passphrase.resolve()
    Keyring.create(keyring_path(settings.data_dir), passphrase, kdf=KdfParams.insecure_for_tests())
