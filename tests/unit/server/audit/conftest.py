"""Audit fixtures: a migrated database on each engine, a signer, and a helper that fills a log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.audit import IngestBatchAccepted, LoginSucceeded
from lineguard.server.audit import AuditSigner, create_checkpoint, record, write_export
from lineguard.server.storage import session_factory, upgrade_to_head

SITE = "plant-a"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    upgrade_to_head(engine)
    return session_factory(engine)


@pytest.fixture
def signer() -> AuditSigner:
    return AuditSigner.generate()


def fill(
    sessions: sessionmaker[Session],
    signer: AuditSigner,
    n: int,
    *,
    checkpoint_every: int = 10,
    start: datetime = T0,
) -> None:
    """Append ``n`` entries (alternating event types), one checkpoint every ``checkpoint_every``."""
    with sessions.begin() as session:
        first = session.scalar(_count_stmt()) or 0
    for i in range(first, first + n):
        with sessions.begin() as session:
            event = (
                LoginSucceeded(username=f"user{i}", method="password+totp", source_ip="10.0.0.7")
                if i % 2
                else IngestBatchAccepted(node_id="node-1", batch_id=f"b{i}", events=100, duplicates=i % 3)
            )
            record(
                session,
                event,
                actor=f"user:user{i}" if i % 2 else "node:node-1",
                now=start + timedelta(minutes=i),
            )
            if (i + 1) % checkpoint_every == 0:
                create_checkpoint(session, signer, site_id=SITE, now=start + timedelta(minutes=i, seconds=30))


def _count_stmt():  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from lineguard.server.audit.models import AuditEntryRow

    return select(func.count()).select_from(AuditEntryRow)


def export_to(sessions: sessionmaker[Session], signer: AuditSigner, path: Path) -> Path:
    with sessions() as session, path.open("w", encoding="utf-8") as out:
        write_export(session, out, site_id=SITE, key_id=signer.key_id)
    return path


@pytest.fixture
def filled(sessions: sessionmaker[Session], signer: AuditSigner) -> Iterator[sessionmaker[Session]]:
    fill(sessions, signer, 30)
    yield sessions
