"""``driver_execute``: the same rows, the same transaction and exactly the same errors as
``exec_driver_sql``, on SQLite (its own path) and PostgreSQL (``exec_driver_sql`` itself)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, event, exc, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from lineguard.server.storage import driver_execute, session_factory

METADATA = MetaData()
HEAD = Table(
    "driver_head",
    METADATA,
    Column("id", BigInteger, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("name", String(32), nullable=False, unique=True),
)
#: The placeholder style of each engine's driver.
MARK = {"sqlite": "?", "postgresql": "%s"}


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    METADATA.create_all(engine)
    with session_factory(engine)() as s:
        s.execute(HEAD.insert(), [{"id": 1, "seq": 0, "name": "head"}, {"id": 2, "seq": 0, "name": "other"}])
        s.commit()
        yield s
    METADATA.drop_all(engine)


def _sql(connection: Connection, text: str) -> str:
    return text.replace("?", MARK[connection.dialect.name])


def test_returning_rows_and_plain_statements(session: Session) -> None:
    connection = session.connection()
    claim = _sql(connection, "UPDATE driver_head SET seq = seq + 1 WHERE id = ? RETURNING seq, name")
    assert [tuple(r) for r in driver_execute(connection, claim, (1,))] == [(1, "head")]
    assert [tuple(r) for r in driver_execute(connection, claim, (1,))] == [(2, "head")]
    assert driver_execute(connection, claim, (99,)) == []  # no row matched
    plain = _sql(connection, "UPDATE driver_head SET seq = ? WHERE id = 2")
    assert driver_execute(connection, plain, (7,)) == []
    session.commit()
    assert session.execute(select(HEAD.c.id, HEAD.c.seq).order_by(HEAD.c.id)).all() == [(1, 2), (2, 7)]


def test_writes_share_the_sessions_transaction(session: Session) -> None:
    """A rollback undoes what went through the driver, and a commit keeps it."""
    connection = session.connection()
    driver_execute(connection, "UPDATE driver_head SET seq = 5 WHERE id = 1")
    assert session.scalar(select(HEAD.c.seq).where(HEAD.c.id == 1)) == 5  # same transaction sees it
    session.rollback()
    assert session.scalar(select(HEAD.c.seq).where(HEAD.c.id == 1)) == 0
    driver_execute(session.connection(), "UPDATE driver_head SET seq = 6 WHERE id = 1")
    session.commit()
    assert session.scalar(select(HEAD.c.seq).where(HEAD.c.id == 1)) == 6


FAILING = {
    "no such table": ("UPDATE driver_missing SET seq = 1 WHERE id = ?", (1,)),
    "unique violated": ("UPDATE driver_head SET name = ? WHERE id = ?", ("head", 2)),
    "not null violated": ("INSERT INTO driver_head (id, seq, name) VALUES (?, ?, ?)", (3, None, "x")),
    "syntax": ("UPDATE driver_head SET WHERE id = ?", (1,)),
    "parameter count": ("UPDATE driver_head SET seq = ? WHERE id = ?", (1,)),
}


def _error(run: Any) -> exc.DBAPIError:
    with pytest.raises(exc.DBAPIError) as caught:
        run()
    return caught.value


@pytest.mark.parametrize("case", sorted(FAILING))
def test_errors_are_exactly_exec_driver_sqls(engine: Engine, session: Session, case: str) -> None:
    """The same SQLAlchemy class, message, statement, parameters, driver error and
    invalidation flag as ``exec_driver_sql`` raises; the session rolls back and goes on."""
    text, params = FAILING[case]
    sql = _sql(session.connection(), text)
    expected = _error(lambda: session.connection().exec_driver_sql(sql, params))
    session.rollback()
    got = _error(lambda: driver_execute(session.connection(), sql, params))
    assert type(got) is type(expected)
    assert str(got) == str(expected)
    assert (got.statement, got.params) == (expected.statement, expected.params)
    assert type(got.orig) is type(expected.orig)
    assert got.orig.args == expected.orig.args
    assert got.connection_invalidated == expected.connection_invalidated is False
    assert isinstance(got.__cause__, engine.dialect.loaded_dbapi.Error)
    session.rollback()
    driver_execute(session.connection(), "UPDATE driver_head SET seq = 9 WHERE id = 1")
    session.commit()
    assert session.scalar(select(HEAD.c.seq).where(HEAD.c.id == 1)) == 9


def test_handle_error_listeners_see_and_replace_errors(engine: Engine, session: Session) -> None:
    """``handle_error`` runs for a driver error, as for ``exec_driver_sql``."""

    class RefusedError(Exception):
        pass

    def replace(context: Any) -> Exception:
        return RefusedError(type(context.original_exception).__name__)

    event.listen(engine, "handle_error", replace)
    try:
        with pytest.raises(RefusedError, match=r"OperationalError|UndefinedTable"):
            driver_execute(session.connection(), "UPDATE driver_missing SET seq = 1")
    finally:
        event.remove(engine, "handle_error", replace)


def test_cursor_listeners_see_every_statement(engine: Engine, session: Session) -> None:
    """With cursor listeners registered, statements go where the listeners see them."""
    sent: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    connection = session.connection()
    event.listen(engine, "before_cursor_execute", count)
    try:
        rows = driver_execute(connection, "UPDATE driver_head SET seq = seq + 1 WHERE id = 1 RETURNING seq")
        driver_execute(connection, "UPDATE driver_head SET seq = 0 WHERE id = 2")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [tuple(r) for r in rows] == [(1,)]
    assert sent == [
        "UPDATE driver_head SET seq = seq + 1 WHERE id = 1 RETURNING seq",
        "UPDATE driver_head SET seq = 0 WHERE id = 2",
    ]
