"""Server test fixtures: settings under a temp dir, an app on the ``db_url`` engine with
an in-memory audit trail, and a helper to build apps with or without encryption."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lineguard.config.server import ServerConfig
from lineguard.server.storage import create_engine_for


class AuditTrail:
    """Collects audit events in order (what the audit domain's recorder would receive)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, session: Session, name: str, **fields: Any) -> None:
        self.events.append((name, fields))

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
def audit_trail() -> AuditTrail:
    return AuditTrail()
