"""Monthly partitions on real PostgreSQL: the migration of a database that holds data, a
row landing in its month, a row for a month that has no partition yet; SQLite unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session

from lineguard.contracts.events import IngestBatch
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.ingest import service as ingest
from lineguard.server.ingest.models import AlertRow, InspectionEventRow
from lineguard.server.nodes.service import NodeIdentity
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import (
    alembic_config,
    create_engine_for,
    ensure_partitions,
    month_partitions,
    partition_key,
    session_factory,
    upgrade_to_head,
)
from tests.unit.server.conftest import AuditTrail
from tests.unit.server.ingest import factory
from tests.unit.server.retention.conftest import alert_row, event_row

NODE = NodeIdentity("node-1", "plant-a", "line-1", frozenset({"cam-1"}), "s1")
#: The revision just before the partitioning one (whatever it is as others add theirs).
_PARTITIONING = ScriptDirectory.from_config(alembic_config()).get_revision("storage_0001")
BEFORE_PARTITIONS = str(_PARTITIONING.down_revision if _PARTITIONING else None)


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine_for(postgres_url)
    yield engine
    engine.dispose()


def _where(engine: Engine, table: str, column: str, value: str) -> list[str]:
    """The partition (``schema.table``) that holds each row with ``column = value``."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(f"SELECT tableoid::regclass::text FROM {table} WHERE {column} = :v"),
                {"v": value},
            ).scalars()
        )


def _ingest(engine: Engine, batch: dict[str, object]) -> tuple[int, int]:
    with session_factory(engine)() as session:
        receipt = ingest.ingest_batch(
            session,
            node=NODE,
            batch=IngestBatch.model_validate(batch),
            sealer=NoEncryption(),
            audit=AuditTrail(),
        )
    return receipt.stored, receipt.duplicates


def test_the_migration_partitions_a_database_that_holds_data(pg: Engine) -> None:
    config = alembic_config(pg)
    command.upgrade(config, BEFORE_PARTITIONS)
    september, october = datetime(2026, 9, 15, tzinfo=UTC), datetime(2026, 10, 3, tzinfo=UTC)
    with Session(pg) as session, session.begin():
        session.execute(
            insert(InspectionEventRow), [event_row("sep-1", september), event_row("oct-1", october)]
        )
        session.execute(insert(AlertRow), [alert_row("1", september)])
        session.execute(
            insert(AuditEntryRow),
            [
                {
                    "seq": 1,
                    "event_id": "aud_1",
                    "recorded_at": october,
                    "name": "keys.rotated",
                    "actor": "cli:t",
                    "outcome": "success",
                    "payload": "{}",
                    "prev_hash": "0" * 64,
                    "entry_hash": "1" * 64,
                }
            ],
        )
    with pg.connect() as conn:
        old_max = conn.execute(select(func.max(InspectionEventRow.row_id))).scalar_one()

    upgrade_to_head(pg)

    assert _where(pg, "inspection_events", "idempotency_key", "sep-1") == [
        "lineguard_partitions.inspection_events_p202609"
    ]
    assert _where(pg, "inspection_events", "idempotency_key", "oct-1") == [
        "lineguard_partitions.inspection_events_p202610"
    ]
    assert _where(pg, "alerts", "alert_id", "alr_1") == ["lineguard_partitions.alerts_p202609"]
    assert _where(pg, "audit_log", "event_id", "aud_1") == ["lineguard_partitions.audit_log_p202610"]
    with pg.connect() as conn:
        kinds: dict[str, str] = dict(
            conn.execute(
                text(
                    "SELECT relname, relkind FROM pg_class WHERE relname IN"
                    " ('inspection_events', 'alerts', 'audit_log') AND relnamespace = 'public'::regnamespace"
                )
            ).all()
        )
        assert kinds == {"inspection_events": "p", "alerts": "p", "audit_log": "p"}
    # The months from the oldest row to three months ahead exist; the row-id sequence goes on.
    with pg.connect() as conn:
        names = [p.name for p in month_partitions(conn, "inspection_events")]
    now = datetime.now(UTC)
    assert names[0] == "inspection_events_p202609"
    assert f"inspection_events_p{now:%Y%m}" in names
    stored, _ = _ingest(pg, factory.batch("node-1", [factory.event("node-1", at=now)]))
    assert stored == 2  # the event and its part
    with pg.connect() as conn:
        assert conn.execute(select(func.max(InspectionEventRow.row_id))).scalar_one() > old_max

    # And back: the data survives a downgrade to plain tables.
    command.downgrade(alembic_config(pg), BEFORE_PARTITIONS)
    with pg.connect() as conn:
        assert conn.execute(select(func.count()).select_from(InspectionEventRow)).scalar_one() == 3
        kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = 'inspection_events'::regclass"))
        assert kind.scalar_one() == "r"


def test_an_ingested_row_lands_in_its_month_and_a_retry_is_still_a_duplicate(pg: Engine) -> None:
    upgrade_to_head(pg)
    at = datetime.now(UTC) - timedelta(minutes=5)
    batch = factory.batch("node-1", [factory.event("node-1", at=at, key="k-now")], [factory.alert("node-1")])
    assert _ingest(pg, batch) == (3, 0)
    assert _where(pg, "inspection_events", "idempotency_key", "k-now") == [
        f"lineguard_partitions.inspection_events_p{at:%Y%m}"
    ]
    assert _ingest(pg, batch) == (0, 3)  # ON CONFLICT on (node, key, captured_at) still decides


def test_a_row_for_a_month_without_a_partition_waits_in_the_default_and_moves_when_it_is_made(
    pg: Engine,
) -> None:
    upgrade_to_head(pg)
    far = datetime(2031, 5, 10, 8, 30, tzinfo=UTC)  # a node whose clock is years ahead
    batch = factory.batch("node-1", [factory.event("node-1", at=far, key="k-2031")])
    assert _ingest(pg, batch) == (2, 0)  # stored, not refused
    assert _where(pg, "inspection_events", "idempotency_key", "k-2031") == [
        "lineguard_partitions.inspection_events_default"
    ]

    with pg.begin() as conn:
        created = ensure_partitions(conn)
    assert "inspection_events_p203105" in created
    assert _where(pg, "inspection_events", "idempotency_key", "k-2031") == [
        "lineguard_partitions.inspection_events_p203105"
    ]
    assert _ingest(pg, batch) == (0, 2)  # the moved row still deduplicates a resend
    with pg.begin() as conn:
        assert ensure_partitions(conn) == []  # nothing left to create


@pytest.mark.parametrize("empty_db_url", ["sqlite"], indirect=True)
def test_sqlite_keeps_plain_tables(empty_db_url: str) -> None:
    engine = create_engine_for(empty_db_url)
    try:
        upgrade_to_head(engine)
        with engine.begin() as conn:
            assert partition_key(conn, "inspection_events") is None
            assert ensure_partitions(conn) == []
            sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'inspection_events'"))
            assert "PARTITION" not in str(sql.scalar()).upper()
    finally:
        engine.dispose()
