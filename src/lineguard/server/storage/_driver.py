"""Driver SQL on SQLite without SQLAlchemy's per-statement work, its errors unchanged.

``Connection.exec_driver_sql`` builds an execution context and a cursor result for
every statement: ~38k instructions on top of SQLite's own work for an ``UPDATE``, and
~105k for an ``UPDATE … RETURNING`` read with ``one_or_none()`` (result metadata from
the cursor description), under callgrind. An ingest batch sends seven statements
(its rows, two rollups, the counters, the audit claim, entry and head), so that
work was about a seventh of a batch's fixed cost. :func:`driver_execute` sends the
statement to the pooled sqlite3 connection instead, in the same transaction (sqlite3
begins it before the first write, whichever cursor sends it), and returns the rows.

What callers see does not change:

* errors: a sqlite3 error is handed to the connection's own error handling
  (``Connection._handle_dbapi_exception``, what ``exec_driver_sql`` calls), so it
  arrives as the same :class:`sqlalchemy.exc.DBAPIError` subclass with the same
  message, statement and parameters, ``handle_error`` listeners run, and a
  disconnect invalidates the connection (a test holds the two paths together);
* listeners: when ``before_cursor_execute``/``after_cursor_execute`` listeners are
  registered (statement counters in tests, tracing), the statement goes through
  ``exec_driver_sql`` so they see it;
* PostgreSQL: always ``exec_driver_sql`` (its statements are one round trip each;
  psycopg's errors and cursors are left to SQLAlchemy).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

__all__ = ["driver_execute", "driver_rowcount"]


def driver_execute(connection: Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Run one statement of driver SQL in ``connection``'s transaction; the rows it returned
    (``RETURNING``, ``SELECT``), or ``[]``. Errors as ``exec_driver_sql`` raises them."""
    return _run(connection, sql, params)[0]


def driver_rowcount(connection: Connection, sql: str, params: Sequence[Any] = ()) -> int:
    """:func:`driver_execute` for a statement that returns no rows: the rows it changed
    (sqlite3's ``rowcount``, ``sqlite3_changes``: an ``INSERT … ON CONFLICT DO NOTHING``
    counts the rows it inserted, not those it skipped)."""
    return _run(connection, sql, params)[1]


def _run(connection: Connection, sql: str, params: Sequence[Any]) -> tuple[list[Any], int]:
    if (
        connection.dialect.name != "sqlite"
        or connection._has_events  # what exec_driver_sql checks before firing cursor events
        or connection.engine._has_events
    ):
        result = connection.exec_driver_sql(sql, tuple(params))
        if not result.returns_rows:
            return [], result.rowcount
        returned = list(result.cursor.fetchall())
        result.close()
        return returned, result.rowcount
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, params)
        rows = list(cursor.fetchall())
    except connection.dialect.loaded_dbapi.Error as exc:
        # SQLAlchemy's own handling (wrapping, handle_error, invalidation on disconnect,
        # closing the cursor); it always raises.
        connection._handle_dbapi_exception(exc, sql, params, cursor, None)
    changed = cursor.rowcount
    cursor.close()
    return rows, changed
