"""A migrated database (SQLite and PostgreSQL) with items under review, for the workflow tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lineguard.server.auth import Action
from lineguard.server.review import ALERT, PROPOSAL_DECISIONS, Proposal, SubjectKind, propose_many
from lineguard.server.storage import session_factory, upgrade_to_head
from tests.unit.server.conftest import AuditTrail

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)

#: A proposal kind as a work-order recommendation would be (issue 15 builds the real one).
DRAFT = SubjectKind(
    name="draft",
    title="Draft",
    read=Action.MAINTENANCE_DATA_READ,
    triage=Action.MAINTENANCE_DATA_WRITE,
    decide=Action.MAINTENANCE_DATA_WRITE,
    decisions=PROPOSAL_DECISIONS,
    editable=frozenset({"priority", "summary"}),
)


def defect_alert(subject_id: str, *, line: str = "line-1", at: datetime = T0, **content: object) -> Proposal:
    return Proposal(
        subject_id=subject_id,
        site_id="plant-a",
        line_id=line,
        raised_at=at,
        content={"kind": "defect", "judged": True, "verdict": "fail", "defect_class": "scratch"} | content,
    )


@pytest.fixture
def sessions(engine: Engine) -> Iterator[object]:
    upgrade_to_head(engine)
    yield session_factory(engine)


def propose(
    session: Session, trail: AuditTrail, *proposals: Proposal, kind: SubjectKind = ALERT
) -> list[str]:
    ids = propose_many(session, kind=kind, proposals=list(proposals), actor="node:n1", audit=trail, now=T0)
    session.commit()
    return ids


def later(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)
