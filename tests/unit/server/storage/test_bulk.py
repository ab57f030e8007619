"""``insert_rows`` (one statement per batch) and ``insert_many`` (several tables, one
statement on PostgreSQL) on SQLite and PostgreSQL: exactly the new keys come back,
counters add up, and what the ORM reads back equals what it would have written itself
(UTC times, JSON, bytes, NULLs)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Engine,
    Float,
    LargeBinary,
    MetaData,
    String,
    Table,
    event,
    exc,
    select,
)
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
#: Loosely typed values (a text column given numbers) for the rows that share a bound value.
MIXED = [
    Table(
        name,
        METADATA,
        Column("key", String(64), primary_key=True),
        Column("label", String(64), nullable=True),
        Column("amount", Float, nullable=True),
        Column("note", String(64), nullable=True),
    )
    for name in ("bulk_mixed_one_statement", "bulk_mixed_row_by_row")
]
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


def test_rows_that_repeat_values_store_what_one_row_at_a_time_stores(session: Session) -> None:
    # On SQLite a value every row has is bound once (``?1`` in each row): equal values of
    # different types (1, 1.0, True) and float zeros of either sign must still be stored
    # exactly as each row alone would store them, and so must the values really shared.
    labels, amounts = [1, 1.0, True, 1], [0.0, -0.0, 0.0, 0.0]
    rows = [
        {"key": f"k{i}", "label": label, "amount": amount, "note": "same"}
        for i, (label, amount) in enumerate(zip(labels, amounts, strict=True))
    ]
    together, alone = MIXED
    insert_rows(session, together, rows)
    for row in rows:
        insert_rows(session, alone, [row])
    session.commit()

    def stored(table: Table) -> list[tuple[Any, ...]]:
        query = select(table.c.key, table.c.label, table.c.amount, table.c.note).order_by(table.c.key)
        return [
            (k, label, amount, math.copysign(1, amount), note)
            for k, label, amount, note in session.execute(query)
        ]

    assert stored(together) == stored(alone)
    assert [r[4] for r in stored(together)] == ["same"] * 4


def test_a_returning_insert_that_starts_the_transaction_is_rolled_back_with_it(session: Session) -> None:
    # On SQLite the insert runs in a savepoint: releasing it must not commit the caller's work.
    assert insert_rows(session, THINGS, [_row("a"), _row("b")], on_conflict=["key"], returning="key") == [
        "a",
        "b",
    ]
    session.rollback()
    assert session.execute(select(THINGS)).all() == []


def test_a_key_twice_in_one_insert_is_stored_and_returned_once(session: Session) -> None:
    keys = insert_rows(session, THINGS, [_row("a"), _row("a", hits=2)], on_conflict=["key"], returning="key")
    session.commit()
    assert keys == ["a"]
    assert session.execute(select(THINGS.c.key, THINGS.c.hits)).all() == [("a", 1)]


def test_returning_is_sent_only_when_some_rows_were_there(session: Session, engine: Engine) -> None:
    # SQLite: an insert whose every row is new reports the rows' own keys without
    # RETURNING; when some were there it is undone and sent again with RETURNING.
    # PostgreSQL: always one statement with RETURNING.
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement.split(" (", 1)[0] + (" RETURNING" if "RETURNING" in statement else ""))

    session.connection()
    event.listen(engine, "before_cursor_execute", record)
    try:
        new = insert_rows(session, THINGS, [_row("a"), _row("b")], on_conflict=["key"], returning="key")
        first = list(sent)
        sent.clear()
        again = insert_rows(session, THINGS, [_row("b"), _row("c")], on_conflict=["key"], returning="key")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    session.commit()
    assert (new, again) == (["a", "b"], ["c"])
    if engine.dialect.name == "postgresql":
        assert first == sent == ["INSERT INTO bulk_things RETURNING"]
        return
    savepoint = "lineguard_insert_rows"
    # The transaction's first write: begun as sqlite3 would begin it before an INSERT.
    assert first == ["BEGIN", f"SAVEPOINT {savepoint}", "INSERT INTO bulk_things", f"RELEASE {savepoint}"]
    assert sent == [
        f"SAVEPOINT {savepoint}",
        "INSERT INTO bulk_things",
        f"ROLLBACK TO {savepoint}",
        "INSERT INTO bulk_things RETURNING",
        f"RELEASE {savepoint}",
    ]


def test_a_failed_returning_insert_leaves_the_sqlite_transaction_as_it_was(tmp_path: Path) -> None:
    # The same error as before; the rows written before it in the transaction stay, the
    # failed statement's do not, and the transaction goes on (SQLite undoes only the statement).
    engine = create_engine_for(f"sqlite:///{tmp_path / 'failed.db'}")
    try:
        METADATA.create_all(engine)
        with session_factory(engine)() as session:
            insert_rows(session, THINGS, [_row("a")])
            with pytest.raises(exc.IntegrityError, match="NOT NULL"):
                insert_rows(
                    session,
                    THINGS,
                    [_row("b"), _row("x", payload=None)],
                    on_conflict=["key"],
                    returning="key",
                )
            assert insert_rows(session, THINGS, [_row("c")], on_conflict=["key"], returning="key") == ["c"]
            session.commit()
            assert session.scalars(select(THINGS.c.key).order_by(THINGS.c.key)).all() == ["a", "c"]
    finally:
        engine.dispose()


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
