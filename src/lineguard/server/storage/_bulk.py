"""Many rows, one statement: the write path of ingest (and of its data keys).

An ingest batch stores about a hundred rows per table. Written through the ORM or a
SQLAlchemy ``executemany``, every row costs Python work per bound value and, on
PostgreSQL, one statement per row in the database. :func:`insert_rows` instead sends
the whole batch of a table as **one** statement whose text depends only on the table
(so the driver prepares it once):

* SQLite: a multi-row ``INSERT … VALUES (?, …), (?, …)`` (the text depends on the row
  count too; sqlite3 keeps the few shapes seen in its statement cache); a value every
  row shares is bound once and named in each row (``?1``), see :func:`_shared_columns`;
* PostgreSQL: ``INSERT … SELECT … FROM jsonb_to_recordset(%s::jsonb)`` — the rows
  travel as one JSON parameter that the server parses in C; bytes go as hex.

Conflicts are resolved in the same statement: ``ON CONFLICT (…) DO NOTHING
RETURNING key`` tells the caller exactly which rows were new (idempotent ingest; on
SQLite without ``RETURNING`` when every row was new, see :func:`_insert_reporting_new`), and
``ON CONFLICT (…) DO UPDATE SET n = n + excluded.n`` adds counts (rollups, counters). Values are
converted here the way the column types would (UTC datetimes, JSON, bytes), so rows
read back through the ORM are indistinguishable from rows it wrote.

On PostgreSQL a partitioned table's unique constraints include its partition key
(``storage._partitions``): the conflict target gains that column there, so callers name
the same columns on both engines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, DateTime, LargeBinary, String, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from lineguard.server.storage._driver import driver_execute, driver_rowcount
from lineguard.server.storage._partitions import PARTITION_KEYS

__all__ = ["TableRows", "insert_columns", "insert_many", "insert_rows"]

#: SQLite binds at most 32,766 values per statement; stay well below it.
_SQLITE_MAX_VALUES = 30_000


#: (column position, converter) for the columns whose values need converting.
_Converters = tuple[tuple[int, Callable[[Any], Any]], ...]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        msg = f"naive datetime {value.isoformat()} given; expected a timezone-aware UTC time"
        raise ValueError(msg)
    return value


#: "00" … "59": a second's two digits by index.
_TWO_DIGITS = tuple(f"{n:02d}" for n in range(60))
_MINUTE = timedelta(minutes=1)


class _MinuteText:
    """The text of one UTC minute, ``YYYY-MM-DD HH:MM:``, and the minute's bounds.

    ``datetime.isoformat`` formats every field through C ``sprintf`` (~16k instructions
    a call under callgrind, the largest single cost of an ingest batch on SQLite);
    events of a batch fall in a few minutes, so the minute's text is reused and only
    seconds and microseconds are formatted (~5k). Immutable: threads share the latest
    one through one attribute rebind, which is atomic."""

    __slots__ = ("end", "start", "text")

    def __init__(self, moment: datetime) -> None:
        self.start = moment.replace(second=0, microsecond=0)
        self.end = self.start + _MINUTE
        # Not strftime: its %Y does not pad years before 1000 on glibc; isoformat does.
        self.text = "%04d-%02d-%02d %02d:%02d:" % (  # noqa: UP031 - zero-padded fields
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
        )


_last_minute = _MinuteText(datetime(2000, 1, 1, tzinfo=UTC))


def _sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite storage format for DateTime, in UTC (see UtcDateTime):
    ``YYYY-MM-DD HH:MM:SS.ffffff``, byte for byte ``isoformat(sep=" ",
    timespec="microseconds")`` of the UTC time without its offset (a property test
    holds the two together)."""
    global _last_minute
    if value.tzinfo is not UTC:  # the contracts' validators give UTC; anything else is converted
        value = _aware(value).astimezone(UTC)
    minute = _last_minute
    if not minute.start <= value < minute.end:  # same tzinfo object: compared as plain fields
        minute = _last_minute = _MinuteText(value)
    return minute.text + _TWO_DIGITS[value.second] + "." + str(1_000_000 + value.microsecond)[1:]


def _json_text(value: Any) -> str:
    """``json.dumps(value)``, as the JSON column type stores it; an empty list (an event
    without regions, most of them) without json's Python layers (~4k instructions)."""
    if type(value) is list and not value:
        return "[]"
    return json.dumps(value)


def _pg_time(value: datetime) -> str:
    return _aware(value).isoformat()


def _is_datetime(column_type: Any) -> bool:
    return isinstance(column_type, DateTime) or isinstance(getattr(column_type, "impl", None), DateTime)


@cache
def _sqlite_converters(table: Table, columns: tuple[str, ...]) -> _Converters:
    out: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(columns):
        column_type = table.c[name].type
        if _is_datetime(column_type):
            out.append((i, _sqlite_time))
        elif isinstance(column_type, JSON):
            out.append((i, _json_text))
    return tuple(out)


def _columns_of(rows: Sequence[Mapping[str, Any]], names: tuple[str, ...]) -> list[Sequence[Any]]:
    """The rows' values column by column (one C call per row, one transpose)."""
    get = itemgetter(*names)
    if len(names) == 1:
        return [[get(row) for row in rows]]
    return list(zip(*map(get, rows), strict=True))


def _converted(columns: list[Sequence[Any]], converters: _Converters) -> list[Sequence[Any]]:
    """``columns`` with the few that need it converted as the column type would (the rest,
    most of them, are taken as they are)."""
    if not converters:
        return columns
    out = list(columns)
    for at, convert in converters:
        converted_column: list[Any] = []
        append = converted_column.append
        # The last conversion is reused: rows of a batch share objects (``received_at`` is
        # one datetime for every row), and an identity check costs less than a conversion.
        seen: Any = None
        converted: Any = None
        for value in columns[at]:
            if value is None:
                append(None)
                continue
            if value is not seen:
                seen, converted = value, convert(value)
            append(converted)
        out[at] = converted_column
    return out


@cache
def _pg_plan(table: Table, columns: tuple[str, ...]) -> tuple[str, str, _Converters]:
    """(recordset column list, select list, converters) for ``columns`` of ``table``."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    record: list[str] = []
    select: list[str] = []
    convert: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(columns):
        column_type = table.c[name].type
        if isinstance(column_type, LargeBinary):
            record.append(f"{name} text")
            select.append(f"decode(x.{name}, 'hex')")
            convert.append((i, bytes.hex))
            continue
        if _is_datetime(column_type):
            record.append(f"{name} timestamptz")
            convert.append((i, _pg_time))
        else:
            impl = getattr(column_type, "impl", column_type)
            record.append(f"{name} {impl.compile(dialect=dialect)}")
        select.append(f"x.{name}")
    return ", ".join(record), ", ".join(select), tuple(convert)


def _conflict_clause(
    conflict: Sequence[str] | None,
    add: Sequence[str],
    replace: Sequence[str],
    returning: str | None,
    table: str,
) -> str:
    if conflict is None:
        clause = ""
    elif add or replace:
        sets = [f"{c} = {table}.{c} + excluded.{c}" for c in add] + [f"{c} = excluded.{c}" for c in replace]
        clause = f" ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {', '.join(sets)}"
    else:
        clause = f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    return clause + (f" RETURNING {returning}" if returning else "")


@dataclass(frozen=True)
class TableRows:
    """One table's rows for :func:`insert_many`; the options are :func:`insert_rows`'s."""

    table: Table
    rows: Sequence[Mapping[str, Any]]
    on_conflict: Sequence[str] | None = None
    add_on_conflict: Sequence[str] = ()
    replace_on_conflict: Sequence[str] = ()


def _pg_insert(
    table: Table, names: tuple[str, ...], columns: list[Sequence[Any]], conflict: str
) -> tuple[str, str]:
    """(statement, its one JSON parameter) for the rows in ``columns`` of ``table`` on PostgreSQL."""
    record, select, converters = _pg_plan(table, names)
    payload = json.dumps(
        [
            dict(zip(names, values, strict=True))
            for values in zip(*_converted(columns, converters), strict=True)
        ]
    )
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {select}"  # noqa: S608 - names from Table metadata
        f" FROM jsonb_to_recordset(%s::jsonb) AS x({record}){conflict}"
    )
    return sql, payload


def _conflict_target(table: Table, columns: Sequence[str] | None, *, postgres: bool) -> Sequence[str] | None:
    """``columns``, plus the partition key of a partitioned table on PostgreSQL."""
    key = PARTITION_KEYS.get(table.name) if postgres else None
    if columns is None or key is None or key in columns:
        return columns
    return [*columns, key]


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    on_conflict: Sequence[str] | None = None,
    add_on_conflict: Sequence[str] = (),
    replace_on_conflict: Sequence[str] = (),
    returning: str | None = None,
) -> list[Any]:
    """Insert ``rows`` (dicts with the same keys) into ``table`` with one statement.

    ``on_conflict``: the unique columns; a conflicting row is skipped (``DO NOTHING``)
    unless ``add_on_conflict`` (counters added to the stored row) or
    ``replace_on_conflict`` (columns overwritten with the new values) name columns.
    ``returning``: a column whose values for the rows actually written come back (with
    ``DO NOTHING``: exactly the new rows). Runs in the session's transaction.
    """
    if not rows:
        return []
    names = tuple(rows[0])
    return insert_columns(
        session,
        table,
        dict(zip(names, _columns_of(rows, names), strict=True)),
        on_conflict=on_conflict,
        add_on_conflict=add_on_conflict,
        replace_on_conflict=replace_on_conflict,
        returning=returning,
    )


def insert_columns(
    session: Session,
    table: Table,
    columns: Mapping[str, Sequence[Any]],
    *,
    on_conflict: Sequence[str] | None = None,
    add_on_conflict: Sequence[str] = (),
    replace_on_conflict: Sequence[str] = (),
    returning: str | None = None,
) -> list[Any]:
    """:func:`insert_rows` for rows given column by column: ``columns`` maps each column's
    name to its values, one per row (all of one length). A caller that holds its data by
    field (ingest's events) hands it over without building a dict per row; the statement
    and what it stores are the same as for the rows those columns make.
    """
    names = tuple(columns)
    values = [columns[name] for name in names]
    count = len(values[0]) if values else 0
    if any(len(column) != count for column in values):
        lengths = {name: len(columns[name]) for name in names}
        msg = f"insert_columns needs one value per row in every column; got lengths {lengths}"
        raise ValueError(msg)
    if not count:
        return []
    name = table.name
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    target = _conflict_target(table, on_conflict, postgres=postgres)
    conflict = _conflict_clause(target, add_on_conflict, replace_on_conflict, returning, name)
    returned: list[Any] = []
    if postgres:
        sql, payload = _pg_insert(table, names, values, conflict)
        result = connection.exec_driver_sql(sql, (payload,))
        if returning:
            returned = [r[0] for r in result]
        return returned
    converters = _sqlite_converters(table, names)
    per_statement = max(1, _SQLITE_MAX_VALUES // len(names))
    # ``RETURNING`` costs SQLite ~12k instructions a row (the returned rows kept in an
    # ephemeral table, then fetched); a ``DO NOTHING`` insert that inserted every row it
    # was sent has nothing to report but the rows' own keys (see _insert_reporting_new).
    counted = returning is not None and not (add_on_conflict or replace_on_conflict) and returning in names
    plain = _conflict_clause(target, add_on_conflict, replace_on_conflict, None, name)
    for start in range(0, count, per_statement):
        chunk = values if count <= per_statement else [c[start : start + per_statement] for c in values]
        converted = _converted(chunk, converters)
        rows = min(per_statement, count - start)
        shared = _shared_columns(converted)
        params = _bound(converted, shared)
        # The driver's rows (no type processing, as a text statement never had), without
        # SQLAlchemy's execution context and result (storage._driver).
        if not returning:
            driver_execute(connection, _sqlite_insert(name, names, shared, rows, conflict), params)
            continue
        keys = list(converted[names.index(returning)]) if counted else []
        if counted and set(map(type, keys)) == {str} and _is_text(table, returning):
            returned += _insert_reporting_new(
                connection,
                _sqlite_insert(name, names, shared, rows, plain),
                _sqlite_insert(name, names, shared, rows, conflict),
                params,
                keys,
            )
        else:
            sql = _sqlite_insert(name, names, shared, rows, conflict)
            returned += [value for (value,) in driver_execute(connection, sql, params)]
    return returned


#: The savepoint of :func:`_insert_reporting_new` (released before it returns).
_SAVEPOINT = "lineguard_insert_rows"


def _insert_reporting_new(
    connection: Connection, insert: str, insert_returning: str, params: Sequence[Any], keys: list[str]
) -> list[str]:
    """The keys of the rows an ``INSERT … ON CONFLICT DO NOTHING`` inserted, as
    ``RETURNING`` would name them, without ``RETURNING`` when every row was new.

    The insert runs without ``RETURNING`` inside a savepoint: when it changed as many
    rows as it was sent, every row was inserted and the keys are the rows' own (text
    keys into a text column: stored as sent). Otherwise (a retried batch: some rows
    were there) the savepoint is rolled back and the insert runs again with
    ``RETURNING``, so exactly the new rows' keys come back, as before. The savepoint
    nests in the caller's transaction, which is begun first if the driver has not
    (sqlite3 begins one before an ``INSERT``; a ``SAVEPOINT`` outside a transaction
    would start its own, which its ``RELEASE`` would commit).
    """
    if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        driver_execute(connection, "BEGIN")
    driver_execute(connection, f"SAVEPOINT {_SAVEPOINT}")
    try:
        if driver_rowcount(connection, insert, params) == len(keys):
            returned = keys
        else:
            driver_execute(connection, f"ROLLBACK TO {_SAVEPOINT}")
            returned = [value for (value,) in driver_execute(connection, insert_returning, params)]
    except BaseException:
        # The failed statement undid its own writes; leave the transaction as it was
        # before the savepoint (the caller decides what to do with it) and re-raise.
        with suppress(Exception):
            driver_execute(connection, f"ROLLBACK TO {_SAVEPOINT}")
            driver_execute(connection, f"RELEASE {_SAVEPOINT}")
        raise
    driver_execute(connection, f"RELEASE {_SAVEPOINT}")
    return returned


def _is_text(table: Table, column: str) -> bool:
    """Whether SQLite stores text bound to ``column`` as that text (TEXT affinity)."""
    return isinstance(table.c[column].type, String)


def _shared_columns(columns: list[Sequence[Any]]) -> tuple[int, ...]:
    """Positions of the columns whose value is alike in every row, bound once per statement.

    An ingest batch's rows repeat most of their columns (node, site, line, station,
    model, received time, NULLs): sqlite3 binds a text by copying it into SQLite's
    memory (~780 instructions), so binding each such value once and naming it in every
    row (``?NNN``) saves ~10k instructions per event row. Alike means equal and of one
    type (``1``, ``1.0`` and ``True`` are equal but bind differently), and never a
    float zero (``0.0 == -0.0``). The stored rows are the same either way."""
    count = len(columns[0]) if columns else 0
    if count < 2:
        return ()
    shared = []
    for at, column in enumerate(columns):
        value = column[0]
        if column.count(value) != count or len(set(map(type, column))) != 1:
            continue
        if type(value) is float and value == 0.0:
            continue
        shared.append(at)
    return tuple(shared)


def _bound(columns: list[Sequence[Any]], shared: tuple[int, ...]) -> tuple[Any, ...]:
    """The statement's parameters: the shared columns' values once, then each row's others
    (row by row, in column order)."""
    if not shared:
        return tuple(chain.from_iterable(zip(*columns, strict=True)))
    head = [columns[at][0] for at in shared]
    varying = [column for at, column in enumerate(columns) if at not in shared]
    if not varying:
        return tuple(head)
    tail = varying[0] if len(varying) == 1 else chain.from_iterable(zip(*varying, strict=True))
    return (*head, *tail)


@lru_cache(maxsize=128)
def _sqlite_insert(
    name: str, columns: tuple[str, ...], shared: tuple[int, ...], count: int, tail: str
) -> str:
    """``INSERT INTO name (columns) VALUES …`` for ``count`` rows, then ``tail``.

    Without shared columns every value is a ``?``; with them each shared column is
    ``?1``… (bound once) in every row and the rest are numbered after them, row by row,
    as :func:`_bound` orders the parameters. The text depends only on its arguments, so
    the driver's statement cache holds it, and building it is done once per shape."""
    head = f"INSERT INTO {name} ({', '.join(columns)}) VALUES "  # noqa: S608 - names from Table metadata
    if not shared:
        marks = "(" + ", ".join("?" * len(columns)) + ")"
        return head + ", ".join([marks] * count) + tail
    number = {at: i + 1 for i, at in enumerate(shared)}
    varying = len(columns) - len(shared)
    rows = []
    for row in range(count):
        nxt = len(shared) + row * varying
        row_marks = []
        for at in range(len(columns)):
            if at in number:
                row_marks.append(f"?{number[at]}")
            else:
                nxt += 1
                row_marks.append(f"?{nxt}")
        rows.append("(" + ", ".join(row_marks) + ")")
    return head + ", ".join(rows) + tail


def insert_many(session: Session, writes: Sequence[TableRows]) -> None:
    """Each write as :func:`insert_rows` does it, in the session's transaction, and on
    PostgreSQL all in **one** statement: every write but the last is a data-modifying
    CTE (``WITH w0 AS (INSERT …), w1 AS (INSERT …) INSERT …``), which PostgreSQL runs
    exactly once, to completion, whether or not anything reads it; one round trip
    instead of one per table. On SQLite (in process, no round trips) one statement per
    table. The tables must differ: one statement may not change a row twice.
    """
    writes = [w for w in writes if w.rows]
    names = [w.table.name for w in writes]
    if len(set(names)) != len(names):
        msg = f"insert_many writes each table once; got {names}"
        raise ValueError(msg)
    if len(writes) > 1 and session.connection().dialect.name == "postgresql":
        statements, payloads = [], []
        for w in writes:
            target = _conflict_target(w.table, w.on_conflict, postgres=True)
            conflict = _conflict_clause(target, w.add_on_conflict, w.replace_on_conflict, None, w.table.name)
            columns = tuple(w.rows[0])
            sql, payload = _pg_insert(w.table, columns, _columns_of(w.rows, columns), conflict)
            statements.append(sql)
            payloads.append(payload)
        ctes = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(statements[:-1]))
        session.connection().exec_driver_sql(f"WITH {ctes} {statements[-1]}", tuple(payloads))
        return
    for w in writes:
        insert_rows(
            session,
            w.table,
            w.rows,
            on_conflict=w.on_conflict,
            add_on_conflict=w.add_on_conflict,
            replace_on_conflict=w.replace_on_conflict,
        )
