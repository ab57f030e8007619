"""A real Tryton ERP for the connector's tests, and the server side that syncs from it.

``tryton_built`` creates, activates and seeds the plant database once per test session
(the slow part, see tests/support/tryton.py). One ``trytond`` process per session
(``tryton_server``, HTTPS from a session test CA whose certificate names ``erp.plant.test``
and 127.0.0.1) serves every test: ``tryton`` gives each test its own copy of the plant
under its own database name, so tests may change their ERP without touching each
other's; a test marked ``erp_reads_only`` (it never writes to the ERP, its ERP user
cannot) shares one database with the others so marked, whose pool Tryton has loaded
already. ``tryton_alone`` is a copy served by a process of its own, for the tests that
stop their ERP. ``erp`` is the plant
server's side: settings naming that ERP (``erp.plant.test`` resolves to 127.0.0.1, the
only fake), its egress gate, a migrated database (SQLite and PostgreSQL) with envelope
encryption, and :meth:`Erp.sync`.
"""

from __future__ import annotations

import shutil
import tempfile
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
from tests.support.tryton import (
    BUILD_BUDGET_S,
    READER_LOGIN,
    READER_PASSWORD,
    BuiltPlant,
    PlantBuilder,
    Tryton,
    TrytonServer,
    build_plant,
)
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
        tryton: Tryton,
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
                    "database": tryton.database, "username": READER_LOGIN, "password": {"env": PASSWORD_ENV},
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
    tmp_path: Path, migrated: sessionmaker[Session], envelope: Any, tryton: Tryton, erp_ca: TestCa,
    monkeypatch: pytest.MonkeyPatch,
) -> Erp:  # fmt: skip
    monkeypatch.setenv(PASSWORD_ENV, READER_PASSWORD)
    return Erp(tmp_path, migrated, envelope, tryton, erp_ca)


_BUILDER = pytest.StashKey[PlantBuilder]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start building the plant as soon as the session knows a test needs it.

    The build runs in a background thread beside the tests collected before the ERP's
    (most of a full run), so CI waits only for what is left of it when the first ERP
    test starts. That first test alone gets the build's budget added to its timeout:
    the wait for the build is counted to it, and no other test's limit changes.
    """
    needing = [item for item in session.items if "tryton_built" in getattr(item, "fixturenames", ())]
    if not needing or session.config.option.collectonly:
        return
    builder = PlantBuilder(Path(tempfile.mkdtemp(prefix="lineguard-tryton-")), budget_s=BUILD_BUDGET_S)
    session.config.stash[_BUILDER] = builder
    # A pytest-xdist worker collects every test but runs only its share: the ERP's folder is one
    # unit of work (tests/support/grouping.py), so only the worker that gets it builds, when its
    # first test asks.
    if not hasattr(session.config, "workerinput"):
        builder.start()
    per_test_s = _per_test_timeout_s(session.config)
    if per_test_s > 0:
        needing[0].add_marker(pytest.mark.timeout(per_test_s + BUILD_BUDGET_S))


def _per_test_timeout_s(config: pytest.Config) -> float:
    """pytest-timeout's limit for this run (``--timeout``, else pyproject's); 0 without the plugin."""
    if not config.pluginmanager.hasplugin("timeout"):
        return 0.0
    return float(config.getoption("timeout", None) or config.getini("timeout") or 0)


def pytest_sessionfinish(session: pytest.Session) -> None:
    builder = session.config.stash.get(_BUILDER, None)
    if builder is not None:
        builder.close()
        shutil.rmtree(builder.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def tryton_built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> BuiltPlant:
    builder = request.config.stash.get(_BUILDER, None)
    if builder is None:  # not collected through this session (cannot happen under pytest's own run)
        return build_plant(tmp_path_factory.mktemp("tryton-build"))
    return builder.result()


@pytest.fixture(scope="session")
def erp_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCa:
    return TestCa(tmp_path_factory.mktemp("erp-pki"), "erp")


def _serve(plant: BuiltPlant, ca: TestCa, directory: Path, copies: int = 0) -> TrytonServer:
    leaf = ca.issue([ERP_HOST, "127.0.0.1"], stem="trytond")
    server = TrytonServer(plant, directory, tls=leaf, ca_file=ca.cert_path, copies=copies)
    server.start()
    return server


@pytest.fixture(scope="session")
def tryton_server(
    request: pytest.FixtureRequest, tryton_built: BuiltPlant, erp_ca: TestCa,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TrytonServer]:  # fmt: skip
    """One ``trytond`` for the session, with a copy of the plant for each test that may change it."""
    copies = sum(_changes_its_erp(item) for item in request.session.items)
    server = _serve(tryton_built, erp_ca, tmp_path_factory.mktemp("tryton"), copies=copies)
    yield server
    server.stop()


def _changes_its_erp(item: pytest.Item) -> bool:
    return "tryton" in getattr(item, "fixturenames", ()) and item.get_closest_marker("erp_reads_only") is None


@pytest.fixture
def tryton(request: pytest.FixtureRequest, tryton_server: TrytonServer) -> Tryton:
    """The plant on the session's server: this test's own copy, or the shared one under ``erp_reads_only``."""
    if _changes_its_erp(request.node):
        return tryton_server.copy()
    return tryton_server.first


@pytest.fixture
def tryton_alone(tryton_built: BuiltPlant, erp_ca: TestCa, tmp_path: Path) -> Iterator[Tryton]:
    """A copy of the plant served by a ``trytond`` of its own: the test may stop it (``.server.stop()``)."""
    server = _serve(tryton_built, erp_ca, tmp_path / "tryton")
    yield server.first
    server.stop()


@pytest.fixture
def envelope(migrated: sessionmaker[Session], tmp_path: Path) -> Envelope:
    """Envelope encryption on the server's data-key table: plant records are stored sealed."""
    keyring = Keyring.create(
        tmp_path / "keyring.json", SecretStr("erp tests"), kdf=KdfParams.insecure_for_tests()
    )
    return Envelope(keyring, SqlDataKeyStore(migrated))
