"""Positions of the integrations' followers in the tables they follow (``integration_cursors``).

The MQTT publisher and the recommender read ingest's tables by increasing row id and
remember how far they got here, in the same transaction as what they did with the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from lineguard.server.integrations.models import IntegrationCursorRow

__all__ = ["advance", "positions"]


def positions(session: Session, names: Sequence[str]) -> dict[str, int]:
    """Each cursor's position (0 for one never advanced)."""
    rows = dict(
        session.execute(
            select(IntegrationCursorRow.name, IntegrationCursorRow.position).where(
                IntegrationCursorRow.name.in_(list(names))
            )
        ).all()
    )
    return {n: int(rows.get(n, 0)) for n in names}


def advance(session: Session, name: str, position: int, *, now: datetime) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(IntegrationCursorRow).values(name=name, position=position, updated_at=now)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["name"], set_={"position": position, "updated_at": now}
        )
    )
