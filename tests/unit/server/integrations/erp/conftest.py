"""A real Tryton ERP for the connector's tests, and the server side that syncs from it.

``tryton_built`` creates, activates and seeds the plant database once per test session
(the slow part, see tests/support/tryton.py); ``tryton`` gives each test its own copy
of it served by its own ``trytond`` process over HTTPS (a test CA, the certificate
names ``erp.plant.test`` and 127.0.0.1), stopped at teardown. ``erp`` is the plant
server's side: settings naming that ERP (``erp.plant.test`` resolves to 127.0.0.1, the
only fake), its egress gate, a migrated database (SQLite and PostgreSQL) with envelope
encryption, and :meth:`Erp.sync`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.crypto import Envelope, KdfParams, Keyring
from lineguard.server.audit import AuditRecorder
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.egress import build_gate
from lineguard.server.integrations.erp import SyncReport, sync_erp
from lineguard.server.keystore import SqlDataKeyStore
from lineguard.server.plantdata import PlantRecordRow, RecordBody, open_records
from tests.support.test_pki import TestCa
from tests.support.tryton import READER_LOGIN, READER_PASSWORD, BuiltPlant, TrytonServer, build_plant
from tests.unit.server.integrations.conftest import fake_resolver

ERP_HOST = "erp.plant.test"
SITE = "plant-a"
PASSWORD_ENV = "LG_TEST_ERP_PASSWORD"


class Erp:
    """The server side of one test: settings naming the Tryton server, the gate, the store."""

    def __init__(
        self,
        tmp_path: Path,
        sessions: sessionmaker[Session],
        envelope: Any,
        tryton: TrytonServer,
        ca: TestCa,
        **erp: Any,
    ) -> None:
        allow = erp.pop("allow", [{"scheme": "https", "host": ERP_HOST, "port": tryton.port,
                                   "ca_file": str(ca.cert_path)}])  # fmt: skip
        self.settings = ServerConfig.model_validate(
            {
                "kind": "server", "site_id": SITE, "data_dir": str(tmp_path / "server"),
                "egress": {"allow": allow, "read_timeout_s": 30, "connect_timeout_s": 5},
                "erp": {
                    "kind": "tryton", "name": "tryton", "url": f"https://{ERP_HOST}:{tryton.port}",
                    "database": "plant", "username": READER_LOGIN, "password": {"env": PASSWORD_ENV},
                    "warehouses": {"WH": "line-1", "WH2": "line-2"}, "page_size": 2, **erp,
                },
            }
        )  # fmt: skip
        self.sessions = sessions
        self.envelope = envelope
        self.audit = AuditRecorder()
        self.gate = build_gate(self.settings, sessions=sessions, audit=self.audit, resolver=fake_resolver)

    def sync(self) -> SyncReport:
        assert self.settings.erp is not None
        return sync_erp(
            self.sessions, config=self.settings.erp, site_id=SITE, gate=self.gate, sealer=self.envelope,
            audit=self.audit, actor="cli:test",
        )  # fmt: skip

    def rows(self) -> list[PlantRecordRow]:
        with self.sessions() as session:
            return list(session.scalars(select(PlantRecordRow).order_by(PlantRecordRow.source_key)))

    def records(self) -> dict[str, RecordBody]:
        with self.sessions() as session:
            rows = list(session.scalars(select(PlantRecordRow)))
            return {r.source_key: r for r in open_records(session, rows, sealer=self.envelope)}

    def audit_names(self) -> list[str]:
        with self.sessions() as session:
            return list(session.scalars(select(AuditEntryRow.name).order_by(AuditEntryRow.seq)))


@pytest.fixture
def erp(
    tmp_path: Path, migrated: sessionmaker[Session], envelope: Any, tryton: TrytonServer, erp_ca: TestCa,
    monkeypatch: pytest.MonkeyPatch,
) -> Erp:  # fmt: skip
    monkeypatch.setenv(PASSWORD_ENV, READER_PASSWORD)
    return Erp(tmp_path, migrated, envelope, tryton, erp_ca)


@pytest.fixture(scope="session")
def tryton_built(tmp_path_factory: pytest.TempPathFactory) -> BuiltPlant:
    return build_plant(tmp_path_factory.mktemp("tryton-build"))


@pytest.fixture
def erp_ca(tmp_path: Path) -> TestCa:
    return TestCa(tmp_path / "erp-pki", "erp")


@pytest.fixture
def tryton(tryton_built: BuiltPlant, erp_ca: TestCa, tmp_path: Path) -> Iterator[TrytonServer]:
    leaf = erp_ca.issue([ERP_HOST, "127.0.0.1"], stem="trytond")
    server = TrytonServer(tryton_built, tmp_path / "tryton", tls=leaf, ca_file=erp_ca.cert_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def envelope(migrated: sessionmaker[Session], tmp_path: Path) -> Envelope:
    """Envelope encryption on the server's data-key table: plant records are stored sealed."""
    keyring = Keyring.create(
        tmp_path / "keyring.json", SecretStr("erp tests"), kdf=KdfParams.insecure_for_tests()
    )
    return Envelope(keyring, SqlDataKeyStore(migrated))
