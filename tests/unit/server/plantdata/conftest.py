"""Plant-data fixtures: a migrated database on each engine, envelope encryption on the
server's data-key table, and the site's index key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lineguard.crypto import Envelope, KdfParams, Keyring
from lineguard.server.keystore import SqlDataKeyStore
from lineguard.server.plantdata import IndexKey, index_key
from lineguard.server.storage import session_factory, upgrade_to_head

SITE = "plant-a"


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    upgrade_to_head(engine)
    return session_factory(engine)


@pytest.fixture
def envelope(sessions: sessionmaker[Session], tmp_path: Path) -> Envelope:
    keyring = Keyring.create(
        tmp_path / "keyring.json", SecretStr("plant data tests"), kdf=KdfParams.insecure_for_tests()
    )
    return Envelope(keyring, SqlDataKeyStore(sessions))


@pytest.fixture
def key(sessions: sessionmaker[Session], envelope: Envelope) -> IndexKey:
    return index_key(sessions, site_id=SITE, sealer=envelope)
