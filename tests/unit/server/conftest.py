"""Server test fixtures: settings under a temp dir, an engine on ``db_url`` (SQLite and
PostgreSQL), an in-memory audit trail, and a real plant server (uvicorn, HTTPS, mTLS)
on loopback with its own CA."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lineguard.config.server import ServerConfig
from lineguard.contracts.audit import AuditEvent
from lineguard.server.admin import ensure_server_certificate, load_ca
from lineguard.server.app import create_app
from lineguard.server.context import AuditHook, Sealer
from lineguard.server.nodes import service as node_service
from lineguard.server.pki import PlantCa, ca_paths
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for, session_factory
from lineguard.server.storage._migrate import load_all_models
from lineguard.server.tls import ServerThread
from tests.support.audit_calls import checked_audit_call
from tests.support.server_yaml import PLANT_SERVER_NAMES, plant_server_config

CA_PASSPHRASE = SecretStr("correct horse battery staple")


class AuditTrail:
    """Collects audit events in order (what the audit domain's recorder would receive)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.actors: list[str] = []  # beside ``events``, one per event

    def __call__(self, session: Session, event: AuditEvent, /, *, actor: str) -> None:
        self.events.append(checked_audit_call(event, actor))
        self.actors.append(actor)

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


@pytest.fixture
def server_settings(tmp_path: Path) -> ServerConfig:
    return ServerConfig(kind="server", site_id="plant-a", data_dir=tmp_path / "server")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine_for(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def empty_engine(empty_db_url: str) -> Iterator[Engine]:
    """An engine on a database no migration has run on, every model's table registered
    (what a migration test steps up and down from)."""
    load_all_models()
    engine = create_engine_for(empty_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def audit_trail() -> AuditTrail:
    return AuditTrail()


@dataclass
class Plant:
    settings: ServerConfig
    ca: PlantCa
    engine: Engine
    server: ServerThread
    audit: AuditTrail

    @property
    def url(self) -> str:
        return self.server.url

    def session(self) -> Session:
        return session_factory(self.engine)()

    def token(
        self,
        node_id: str,
        *,
        line_id: str = "line-1",
        cameras: tuple[str, ...] = ("cam-1",),
        ttl_s: float = 600,
    ) -> str:
        with self.session() as session:
            return issue_node_token(
                session,
                self.ca,
                node_id,
                site_id=self.settings.site_id,
                line_id=line_id,
                camera_ids=cameras,
                ttl=timedelta(seconds=ttl_s),
                created_by="user:test-admin",
                audit=self.audit,
            )

    def revoke(self, node_id: str) -> None:
        with self.session() as session:
            node_service.revoke(
                session, node_id=node_id, reason="test", actor="user:test-admin", audit=self.audit
            )


def make_plant_ca(data_dir: Path) -> PlantCa:
    ca = PlantCa.create(data_dir, CA_PASSPHRASE, site_id="plant-a")
    ca.issue_server_certificate(data_dir, names=list(PLANT_SERVER_NAMES))
    return ca


def plant_with_ca(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> ServerConfig:
    """Settings for site ``plant-a`` in ``data_dir``, its plant CA and server certificate made.

    The CA passphrase goes into the environment, where ``load_ca(settings)`` and the
    ``lineguard ca`` functions (rotate, retire) read it, as on a real host.
    """
    monkeypatch.setenv("LINEGUARD_CA_PASSPHRASE", CA_PASSPHRASE.get_secret_value())
    settings = ServerConfig.model_validate(plant_server_config(data_dir))
    make_plant_ca(settings.data_dir)
    return settings


def issue_node_token(
    session: Session,
    ca: PlantCa,
    node_id: str,
    *,
    audit: AuditHook | None = None,
    ttl: timedelta = timedelta(minutes=10),
    now: datetime | None = None,
    site_id: str = "plant-a",
    line_id: str = "line-1",
    camera_ids: Sequence[str] = ("cam-1",),
    created_by: str = "cli:test",
) -> str:
    """An enrollment token for ``node_id`` (line-1, cam-1 unless told), as ``lineguard node token`` makes it.

    ``audit`` defaults to a throwaway trail: most callers test what the token does, not its event.
    """
    token = node_service.issue_token(
        session,
        ca=ca,
        node_id=node_id,
        site_id=site_id,
        line_id=line_id,
        camera_ids=list(camera_ids),
        ttl=ttl,
        created_by=created_by,
        audit=audit or AuditTrail(),
        now=now,
    )
    return str(token)


@contextlib.contextmanager
def running_plant(
    settings: ServerConfig, engine: Engine, audit: AuditTrail, sealer: Sealer | None = None
) -> Iterator[Plant]:
    """A running server (real uvicorn, real TLS) with its own CA."""
    ca = make_plant_ca(settings.data_dir)
    app = create_app(settings, engine=engine, sealer=sealer or NoEncryption(), audit=audit, ca=ca)
    paths = ca_paths(settings.data_dir)
    with ServerThread(
        app, cert_file=paths.server_cert, key_file=paths.server_key, ca_file=paths.cert
    ) as server:
        yield Plant(settings, ca, engine, server, audit)


@contextlib.contextmanager
def serving_plant(settings: ServerConfig, engine: Engine) -> Iterator[ServerThread]:
    """One start of the server on an existing plant CA, as ``lineguard server`` does it.

    The CA is loaded with the passphrase from the environment (``plant_with_ca``), the
    server certificate renewed if due, and client certificates of every CA in trust.pem
    are accepted, so the server follows a ``ca rotate``/``ca retire`` without a restart.
    """
    ca = load_ca(settings)
    paths, _ = ensure_server_certificate(settings, ca)
    app = create_app(settings, engine=engine, sealer=NoEncryption(), audit=AuditTrail(), ca=ca)
    with ServerThread(
        app, cert_file=paths.server_cert, key_file=paths.server_key, ca_file=paths.trust
    ) as server:
        yield server


@pytest.fixture
def plant(server_settings: ServerConfig, engine: Engine, audit_trail: AuditTrail) -> Iterator[Plant]:
    """A running server on ``db_url`` (SQLite and PostgreSQL)."""
    with running_plant(server_settings, engine, audit_trail) as p:
        yield p
