"""``insert_rows`` (one statement per batch) and ``insert_many`` (several tables, one
statement on PostgreSQL) on SQLite and PostgreSQL: exactly the new keys come back,
counters add up, and what the ORM reads back equals what it would have written itself
(UTC times, JSON, bytes, NULLs)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import JSON, BigInteger, Column, Engine, LargeBinary, MetaData, String, Table, event, select
from sqlalchemy.orm import Session

from lineguard.server.storage import (
    TableRows,
    UtcDateTime,
    create_engine_for,
    insert_many,
    insert_rows,
    session_factory,
)
from lineguard.server.storage._bulk import _sqlite_time

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
TALLIES = Table(
    "bulk_tallies",
    METADATA,
    Column("name", String(64), primary_key=True),
    Column("n", BigInteger, nullable=False),
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


def test_insert_many_writes_every_table_as_insert_rows_would(session: Session) -> None:
    insert_rows(session, TALLIES, [{"name": "x", "n": 1}])
    later = T0 + timedelta(minutes=1)
    insert_many(
        session,
        [
            TableRows(THINGS, [_row("a"), _row("b", blob=None, seen_at=later)]),
            TableRows(TALLIES, []),  # nothing to write: skipped
            TableRows(
                TALLIES,
                [{"name": "x", "n": 2}, {"name": "y", "n": 5}],
                on_conflict=["name"],
                add_on_conflict=["n"],
            ),
        ],
    )
    insert_many(session, [TableRows(THINGS, [_row("a", hits=7)], on_conflict=["key"])])  # one table
    session.commit()
    rows = {r.key: r for r in session.execute(select(THINGS))}
    assert (rows["a"].hits, bytes(rows["a"].blob), rows["a"].payload) == (1, b"\x00\xffk", {"a": [1, "x"]})
    assert (rows["b"].blob, rows["b"].seen_at) == (None, later)
    assert dict(session.execute(select(TALLIES.c.name, TALLIES.c.n)).all()) == {"x": 3, "y": 5}


def test_insert_many_is_one_statement_on_postgresql(session: Session, engine: Engine) -> None:
    sent: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    writes = [TableRows(THINGS, [_row("a")]), TableRows(TALLIES, [{"name": "x", "n": 1}])]
    session.connection()  # begin first: BEGIN is not one of the statements counted
    event.listen(engine, "before_cursor_execute", count)
    try:
        insert_many(session, writes)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(sent) == (1 if engine.dialect.name == "postgresql" else 2), sent


def test_insert_many_is_one_transaction_with_the_caller(session: Session) -> None:
    insert_many(session, [TableRows(THINGS, [_row("a")]), TableRows(TALLIES, [{"name": "x", "n": 1}])])
    session.rollback()
    assert session.execute(select(THINGS)).all() == []
    assert session.execute(select(TALLIES)).all() == []


def test_insert_many_refuses_one_table_twice(session: Session) -> None:
    with pytest.raises(ValueError, match="each table once"):
        insert_many(session, [TableRows(THINGS, [_row("a")]), TableRows(THINGS, [_row("b")])])


@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
        ),
    )
)
def test_sqlite_time_text_is_isoformat_of_the_utc_time(moment: datetime) -> None:
    # The stored text of every DateTime column on SQLite: the cached-minute formatting
    # must give exactly what isoformat gives (years before 1000, whole seconds, offsets).
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    assert _sqlite_time(moment) == utc.isoformat(sep=" ", timespec="microseconds")


def test_sqlite_time_across_minutes_in_any_order() -> None:
    # The cached minute is replaced when a time falls outside it, going back as well as forward.
    moments = [T0, T0 + timedelta(seconds=59), T0 - timedelta(microseconds=1), T0 + timedelta(hours=25), T0]
    texts = [_sqlite_time(m) for m in moments]
    assert texts == [m.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") for m in moments]


def test_none_and_bytes_bind_as_null_and_blob_through_the_registered_adapters(tmp_path: Path) -> None:
    # create_engine_for registers sqlite3 adapters for None and bytes (a cheaper bind):
    # the stored values stay NULL and the same BLOB, a bytes subclass still binds as a BLOB.
    class Tagged(bytes):
        pass

    engine = create_engine_for(f"sqlite:///{tmp_path / 'adapters.db'}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (n INTEGER, a, b)")
            conn.exec_driver_sql(
                "INSERT INTO t VALUES (?, ?, ?), (?, ?, ?)", (1, None, b"\x00\xff", 2, Tagged(b"k"), None)
            )
            rows = conn.exec_driver_sql("SELECT n, typeof(a), a, typeof(b), b FROM t ORDER BY n").all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        (1, "null", None, "blob", b"\x00\xff"),
        (2, "blob", b"k", "null", None),
    ]
