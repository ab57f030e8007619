"""``insert_rows`` (one statement per batch) on SQLite and PostgreSQL: exactly the new
keys come back, counters add up, and what the ORM reads back equals what it would
have written itself (UTC times, JSON, bytes, NULLs)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import JSON, BigInteger, Column, Engine, LargeBinary, MetaData, String, Table, select
from sqlalchemy.orm import Session

from lineguard.server.storage import UtcDateTime, insert_rows, session_factory

METADATA = MetaData()
THINGS = Table(
    "bulk_things",
    METADATA,
    Column("key", String(64), primary_key=True),
    Column("seen_at", UtcDateTime, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("blob", LargeBinary, nullable=True),
    Column("hits", BigInteger, nullable=False),
)
T0 = datetime(2026, 3, 2, 6, 0, 1, 250_000, tzinfo=UTC)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    METADATA.create_all(engine)
    with session_factory(engine)() as s:
        yield s


def _row(key: str, **over: Any) -> dict[str, Any]:
    return {"key": key, "seen_at": T0, "payload": {"a": [1, "x"]}, "blob": b"\x00\xffk", "hits": 1} | over


def test_do_nothing_returns_exactly_the_new_rows(session: Session) -> None:
    first = insert_rows(session, THINGS, [_row("a"), _row("b")], on_conflict=["key"], returning="key")
    again = insert_rows(session, THINGS, [_row("b"), _row("c")], on_conflict=["key"], returning="key")
    session.commit()
    assert sorted(first) == ["a", "b"]
    assert again == ["c"]
    assert session.scalars(select(THINGS.c.key).order_by(THINGS.c.key)).all() == ["a", "b", "c"]


def test_values_read_back_as_the_column_types_give_them(session: Session) -> None:
    later = T0.astimezone(UTC) + timedelta(hours=1)
    insert_rows(session, THINGS, [_row("a"), _row("n", blob=None, seen_at=later)])
    session.commit()
    rows = {r.key: r for r in session.execute(select(THINGS))}
    assert rows["a"].seen_at == T0
    assert rows["a"].seen_at.tzinfo is not None
    assert rows["a"].payload == {"a": [1, "x"]}
    assert bytes(rows["a"].blob) == b"\x00\xffk"
    assert rows["n"].blob is None
    assert rows["n"].seen_at == later
    # Range comparisons see the same order as rows the ORM wrote.
    assert session.scalars(select(THINGS.c.key).where(THINGS.c.seen_at > T0)).all() == ["n"]


def test_counters_add_and_replaced_columns_take_the_new_value(session: Session) -> None:
    insert_rows(session, THINGS, [_row("a", hits=2)])
    later = T0 + timedelta(minutes=5)
    insert_rows(
        session,
        THINGS,
        [_row("a", hits=3, seen_at=later)],
        on_conflict=["key"],
        add_on_conflict=["hits"],
        replace_on_conflict=["seen_at"],
    )
    session.commit()
    row = session.execute(select(THINGS)).one()
    assert (row.hits, row.seen_at) == (5, later)


def test_a_naive_time_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        insert_rows(session, THINGS, [_row("a", seen_at=datetime(2026, 3, 2, 6))])
