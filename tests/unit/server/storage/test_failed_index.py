"""The partial index of failing events by line and time (``ingest_0009``): up and down on
both engines, on every monthly partition of PostgreSQL (those made later too), and the plan
of a line's failures in one day reading it, on both engines, at a size where the
alternative is a scan of the whole day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, insert, text

from lineguard.server.ingest.models import FAILED_BY_LINE_INDEX, FAILED_PREDICATE, InspectionEventRow
from lineguard.server.storage import (
    alembic_config,
    create_engine_for,
    ensure_partitions,
    month_partitions,
    upgrade_to_head,
)
from tests.unit.server.retention.conftest import event_row

_REVISION = ScriptDirectory.from_config(alembic_config()).get_revision("ingest_0009")
BEFORE = str(_REVISION.down_revision if _REVISION else None)
#: The first day of this month: its partition exists in every test database (storage_0001
#: makes this month and three ahead).
DAY = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
MONTH = f"inspection_events_p{DAY:%Y%m}"
#: What the dashboard asks: one line's failing events in one day (``bench_partitions``).
LINE_DAY_FAILS = (
    "SELECT count(*) FROM inspection_events WHERE line_id = :line AND verdict = 'fail'"
    " AND captured_at >= :a AND captured_at < :b"
)


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine_for(postgres_url)
    yield engine
    engine.dispose()


def _index_sql(conn: Connection) -> str | None:
    """The index's definition on ``inspection_events`` (the parent on PostgreSQL), or None."""
    if conn.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"
    else:
        query = "SELECT indexdef FROM pg_indexes WHERE tablename = 'inspection_events' AND indexname = :n"
    found = conn.execute(text(query), {"n": FAILED_BY_LINE_INDEX}).scalar()
    return None if found is None else str(found)


def _partitions_with_the_index(conn: Connection) -> dict[str, str]:
    """Each partition of ``inspection_events`` → its piece of the index (attached to the parent's)."""
    rows = conn.execute(
        text(
            "SELECT t.relname, i.relname FROM pg_inherits x"
            " JOIN pg_class i ON i.oid = x.inhrelid"
            " JOIN pg_index ix ON ix.indexrelid = i.oid"
            " JOIN pg_class t ON t.oid = ix.indrelid"
            " WHERE x.inhparent = to_regclass(:parent)"
        ),
        {"parent": FAILED_BY_LINE_INDEX},
    ).all()
    return {str(table): str(index) for table, index in rows}


def _all_partitions(conn: Connection) -> set[str]:
    return {p.name for p in month_partitions(conn, "inspection_events")} | {"inspection_events_default"}


def test_the_migration_adds_and_removes_the_index_on_both_engines(empty_db_url: str) -> None:
    engine = create_engine_for(empty_db_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, BEFORE)
        with engine.connect() as conn:
            assert _index_sql(conn) is None
        command.upgrade(config, "ingest_0009")
        with engine.connect() as conn:
            definition = _index_sql(conn)
            assert definition is not None
            assert "(line_id, captured_at)" in definition
            assert "WHERE" in definition.upper()
            assert "'fail'" in definition
            if conn.dialect.name == "postgresql":
                assert _all_partitions(conn) == set(_partitions_with_the_index(conn))
        command.downgrade(config, BEFORE)
        with engine.connect() as conn:
            assert _index_sql(conn) is None
            if conn.dialect.name == "postgresql":
                assert _partitions_with_the_index(conn) == {}
        upgrade_to_head(engine)
        with engine.connect() as conn:
            assert _index_sql(conn) is not None
    finally:
        engine.dispose()


def test_the_upgrade_is_a_no_op_when_the_index_was_built_beforehand(pg: Engine) -> None:
    """docs/deployment.md: on a large database the index is built without holding ingest
    back (each partition ``CONCURRENTLY``, then attached), before the upgrade."""
    config = alembic_config(pg)
    command.upgrade(config, BEFORE)
    with pg.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(
            text(
                f"CREATE INDEX {FAILED_BY_LINE_INDEX} ON ONLY inspection_events (line_id, captured_at)"
                f" WHERE {FAILED_PREDICATE}"
            )
        )
        for partition in _all_partitions(conn):
            piece = f"{partition}_failed_idx"
            conn.execute(
                text(
                    f"CREATE INDEX CONCURRENTLY {piece} ON lineguard_partitions.{partition}"
                    f" (line_id, captured_at) WHERE {FAILED_PREDICATE}"
                )
            )
            conn.execute(
                text(f"ALTER INDEX {FAILED_BY_LINE_INDEX} ATTACH PARTITION lineguard_partitions.{piece}")
            )
        valid = conn.execute(
            text("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:n)"),
            {"n": FAILED_BY_LINE_INDEX},
        ).scalar_one()
        assert valid  # every partition attached: the parent's index is complete
    upgrade_to_head(pg)
    with pg.connect() as conn:
        assert _all_partitions(conn) == set(_partitions_with_the_index(conn))
        assert (
            conn.execute(
                text("SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%WHERE%fail%'")
            ).scalar_one()
            == len(_all_partitions(conn)) + 1
        )  # built once, not twice


def test_partitions_made_later_get_the_index(pg: Engine) -> None:
    upgrade_to_head(pg)
    with pg.begin() as conn:
        created = ensure_partitions(conn, now=datetime(2031, 5, 1, tzinfo=UTC))
        assert "inspection_events_p203105" in created
        # The bulk loader's (and a restore's) way: a plain table, attached afterwards.
        conn.execute(text("DROP TABLE lineguard_partitions.inspection_events_p203108"))
        conn.execute(
            text("CREATE TABLE lineguard_partitions.inspection_events_p203108 (LIKE inspection_events)")
        )
        conn.execute(
            text(
                "ALTER TABLE inspection_events ATTACH PARTITION"
                " lineguard_partitions.inspection_events_p203108"
                " FOR VALUES FROM ('2031-08-01 00:00:00+00') TO ('2031-09-01 00:00:00+00')"
            )
        )
    with pg.connect() as conn:
        pieces = _partitions_with_the_index(conn)
        assert {"inspection_events_p203105", "inspection_events_p203108"} <= set(pieces)
        assert _all_partitions(conn) == set(pieces)
        for piece in pieces.values():
            definition = conn.execute(
                text("SELECT pg_get_indexdef(to_regclass(:i))"), {"i": f"lineguard_partitions.{piece}"}
            ).scalar_one()
            assert "(line_id, captured_at) WHERE ((verdict)::text = 'fail'::text)" in definition


def _fill_one_day(engine: Engine, n: int) -> None:
    """``n`` events of three lines over :data:`DAY`, one in 20 failing, and a few outside it."""
    step = timedelta(days=1) / n
    rows: list[dict[str, Any]] = []
    for g in range(n):
        row = event_row(f"k{g}", DAY + g * step, verdict="fail" if g % 20 == 0 else "pass")
        rows.append(row | {"line_id": f"line-{g % 3 + 1}", "event_id": f"evt_{g}"})
    rows += [event_row("before", DAY - timedelta(seconds=1)), event_row("after", DAY + timedelta(days=1))]
    rows = [r | {"line_id": "line-2"} if r["idempotency_key"] in {"before", "after"} else r for r in rows]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # As in a plant (the test cluster commits asynchronously): a commit not yet on
            # disk leaves its rows without hint bits, and VACUUM cannot mark their pages
            # all-visible, which an index-only scan needs.
            conn.execute(text("SET LOCAL synchronous_commit = on"))
        conn.execute(insert(InspectionEventRow), rows)


def _plan(conn: Connection, sql: str, params: dict[str, Any]) -> str:
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql), params).all()
        return " | ".join(str(r[-1]) for r in rows)
    return "\n".join(str(r[0]) for r in conn.execute(text("EXPLAIN " + sql), params))


def test_a_lines_failures_in_a_day_read_the_index(db_url: str) -> None:
    """20,000 events in the day: the ``captured_at`` index would read all of them, the
    partial one only line-2's failing ones. PostgreSQL after ``VACUUM ANALYZE`` (what
    autovacuum keeps up): an index-only scan of the day's month; SQLite after ``ANALYZE``
    (what ``PRAGMA optimize`` keeps up): a search of the partial index."""
    engine = create_engine_for(db_url)
    try:
        _fill_one_day(engine, 20_000)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(
                text("VACUUM ANALYZE inspection_events" if conn.dialect.name == "postgresql" else "ANALYZE")
            )
        params = {"line": "line-2", "a": DAY, "b": DAY + timedelta(days=1)}
        with engine.connect() as conn:
            assert conn.execute(text(LINE_DAY_FAILS), params).scalar_one() == sum(
                1 for g in range(20_000) if g % 20 == 0 and g % 3 == 1
            )
            plan = _plan(conn, LINE_DAY_FAILS, params)
            piece = _partitions_with_the_index(conn).get(MONTH) if conn.dialect.name == "postgresql" else None
        if engine.dialect.name == "postgresql":
            assert f"Index Only Scan using {piece} on {MONTH}" in plan, plan
            assert plan.count(" on inspection_events_") == 1, plan  # pruned to the day's month
        else:
            # Not covering: SQLite looks each of line-2's failing rows up for ``verdict``
            # (it does not count a partial index's predicate column as held by the index).
            assert f"SEARCH inspection_events USING INDEX {FAILED_BY_LINE_INDEX} (line_id=?" in plan, plan
    finally:
        engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_bound_verdict_cannot_use_the_index_in_a_generic_plan(db_url: str) -> None:
    """Why the query says ``verdict = 'fail'`` as a literal: a plan made for any value of
    a parameter (a prepared statement's generic plan) cannot prove the index's predicate."""
    engine = create_engine_for(db_url)
    try:
        _fill_one_day(engine, 20_000)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE inspection_events"))
        params = {"line": "line-2", "a": DAY, "b": DAY + timedelta(days=1)}
        with engine.connect() as conn:
            conn.execute(text("SET plan_cache_mode = force_generic_plan"))
            conn.execute(
                text(
                    "PREPARE fails(text, text, timestamptz, timestamptz) AS"
                    " SELECT count(*) FROM inspection_events"
                    " WHERE line_id = $1 AND verdict = $2 AND captured_at >= $3 AND captured_at < $4"
                )
            )
            bound = _plan(conn, f"EXECUTE fails('line-2', 'fail', '{DAY:%Y-%m-%d}', '{DAY:%Y-%m}-02')", {})
            literal = _plan(conn, LINE_DAY_FAILS, params)
            piece = _partitions_with_the_index(conn)[MONTH]
        assert f"using {piece} " not in bound, bound
        assert f"Index Only Scan using {piece} on {MONTH}" in literal, literal
    finally:
        engine.dispose()
