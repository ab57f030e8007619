"""Server test fixtures: settings under a temp dir, an engine on ``db_url`` (SQLite and
PostgreSQL), an in-memory audit trail, and a real plant server (uvicorn, HTTPS, mTLS)
on loopback with its own CA."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lineguard.config.server import ServerConfig
from lineguard.contracts.audit import AuditEvent
from lineguard.server.app import create_app
from lineguard.server.context import Sealer
from lineguard.server.nodes import service as node_service
from lineguard.server.pki import PlantCa, ca_paths
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for, session_factory
from lineguard.server.storage._migrate import load_all_models
from lineguard.server.tls import ServerThread
from tests.support.audit_calls import checked_audit_call

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
            token = node_service.issue_token(
                session,
                ca=self.ca,
                node_id=node_id,
                site_id=self.settings.site_id,
                line_id=line_id,
                camera_ids=list(cameras),
                ttl=timedelta(seconds=ttl_s),
                created_by="user:test-admin",
                audit=self.audit,
            )
        return str(token)

    def revoke(self, node_id: str) -> None:
        with self.session() as session:
            node_service.revoke(
                session, node_id=node_id, reason="test", actor="user:test-admin", audit=self.audit
            )


def make_plant_ca(data_dir: Path) -> PlantCa:
    ca = PlantCa.create(data_dir, CA_PASSPHRASE, site_id="plant-a")
    ca.issue_server_certificate(data_dir, names=["127.0.0.1", "localhost"])
    return ca


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


@pytest.fixture
def plant(server_settings: ServerConfig, engine: Engine, audit_trail: AuditTrail) -> Iterator[Plant]:
    """A running server on ``db_url`` (SQLite and PostgreSQL)."""
    with running_plant(server_settings, engine, audit_trail) as p:
        yield p
