"""``bench/bench_partitions.py --bulk`` on a real PostgreSQL, a few thousand rows: every month
loaded into its partition with the parent's indexes, ids and sealed payloads as ingest makes
them, the disk floor stopping the fill cleanly, ``--fill-months`` loading only the newest
months, and ``--index-ab`` measuring each candidate index and leaving the shipped one."""

from __future__ import annotations

import re
import shutil
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text

from lineguard.crypto import Envelope, KdfParams, Keyring, SqliteDataKeyStore
from lineguard.crypto.sealed import parse_sealed
from lineguard.server.storage import create_engine_for, ensure_partitions, month_partitions, upgrade_to_head

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bench_partitions_bulk as bulk

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
MONTHS = 12
UUID7 = re.compile(r"^(evt|alr|evd|aud|dek)_([0-9a-f]{12})7[0-9a-f]{3}[89ab][0-9a-f]{15}$")
GB = 1024**3


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine_for(postgres_url)
    upgrade_to_head(engine)
    span = bulk.span_for(1, NOW, MONTHS)
    with engine.begin() as conn:
        for month in range(MONTHS + 1):
            ensure_partitions(conn, now=span.start + timedelta(days=30.4 * month))
    yield engine
    engine.dispose()


def _quiet(_line: str) -> None:
    pass


def _guard(floor_gb: float) -> bulk.DiskGuard:
    return bulk.DiskGuard(Path("/tmp"), floor_gb)


def test_span_puts_every_event_in_exactly_one_month() -> None:
    span = bulk.span_for(3_000, NOW, MONTHS)
    month = span.start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    covered = []
    while month <= NOW:
        end = (month + timedelta(days=32)).replace(day=1)
        a, b = span.range_in(month, end)
        for g in (a, b) if a <= b else ():
            assert month <= span.at(g) < end
        covered += range(a, b + 1)
        month = end
    assert covered == list(range(1, 3_001))


def test_bulk_fill_loads_each_month_with_the_parents_indexes(pg: Engine, tmp_path: Path) -> None:
    # what real sealing gives for the same plaintext lengths: the loaded payloads must match
    keyring = Keyring.create(tmp_path / "k.json", SecretStr("bulk"), kdf=KdfParams.insecure_for_tests())
    envelope = Envelope(keyring, SqliteDataKeyStore(tmp_path / "dk.db"))
    real_part_length = len(
        envelope.seal(b"P-00012345", object_id="node-0:node-0:evt_1", category="inspection_events")
    )
    real_message_length = len(
        envelope.seal(bulk.ALERT_MESSAGE.encode(), object_id="n:n:alr_1", category="alerts")
    )
    span = bulk.span_for(3_000, NOW, MONTHS)
    report = bulk.fill_bulk(pg, span, _guard(0), log=_quiet)

    assert (report.events, report.first, report.stopped) == (3_000, 1, None)
    with pg.connect() as conn:
        counts = [
            conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("inspection_events", "alerts", "audit_log")
        ]
        assert counts == [3_000, 150, 30]
        for table in ("inspection_events", "alerts", "audit_log"):
            assert (
                conn.execute(text(f"SELECT count(*) FROM lineguard_partitions.{table}_default")).scalar_one()
                == 0
            )
            parent_indexes = conn.execute(
                text("SELECT count(*) FROM pg_index WHERE indrelid = to_regclass(:t)"), {"t": table}
            ).scalar_one()
            for month in month_partitions(conn, table):
                # every index of the parent has its partition on this month (attached, none extra)
                attached = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid"
                        " WHERE x.indrelid = to_regclass(:m) AND i.inhparent IN"
                        " (SELECT indexrelid FROM pg_index WHERE indrelid = to_regclass(:t))"
                    ),
                    {"m": month.qualified, "t": table},
                ).scalar_one()
                own = conn.execute(
                    text("SELECT count(*) FROM pg_index WHERE indrelid = to_regclass(:m)"),
                    {"m": month.qualified},
                ).scalar_one()
                assert attached == own == parent_indexes, month.name
        assert (
            conn.execute(text("SELECT count(*) FROM pg_constraint WHERE conname = 'bulk_range'")).scalar_one()
            == 0
        )

        events = conn.execute(
            text(
                "SELECT row_id, event_id, idempotency_key, node_id, captured_at, part_id_sealed, verdict,"
                " evidence_ref FROM inspection_events ORDER BY captured_at"
            )
        ).all()
        assert [e.row_id for e in events] == list(range(1, 3_001))
        # time-ordered ids: they append to the B-tree in capture order, like the node's UUIDv7
        assert [e.event_id for e in events] == sorted(e.event_id for e in events)
        for e in events[::97]:
            match = UUID7.match(e.event_id)
            assert match and int(match[2], 16) == int(e.captured_at.timestamp() * 1000)
            assert e.idempotency_key == f"{e.node_id}:{e.event_id}"
            assert span.at(e.row_id) == e.captured_at
            sealed = bytes(e.part_id_sealed)
            # sealed format v2: the record is bound in the tag, only the key id is stored
            parsed = parse_sealed(sealed)
            assert (parsed.version, parsed.header) == (2, None)
            key = UUID7.match(parsed.key_id)
            assert key and key[1] == "dek" and int(key[2], 16) == int(e.captured_at.timestamp() * 1000)
            assert len(sealed) == bulk.sealed_length(bulk.PART_ID_BYTES) == real_part_length
            assert (e.verdict == "fail") == (e.row_id % 20 == 0) == (e.evidence_ref is not None)
            if e.evidence_ref is not None:
                assert UUID7.match(e.evidence_ref)
        alert = conn.execute(
            text(
                "SELECT alert_id, idempotency_key, node_id, event_id, message_sealed"
                " FROM alerts WHERE row_id = 5"
            )
        ).one()
        assert alert.event_id == events[99].event_id
        assert alert.idempotency_key == f"{alert.node_id}:{alert.alert_id}"
        message = parse_sealed(bytes(alert.message_sealed))
        assert message.version == 2 and UUID7.match(message.key_id)
        assert len(alert.message_sealed) == bulk.sealed_length(len(bulk.ALERT_MESSAGE)) == real_message_length
        next_row = conn.execute(text("SELECT nextval(pg_get_serial_sequence('inspection_events', 'row_id'))"))
        assert next_row.scalar_one() == 3_001


def test_the_disk_floor_stops_the_fill_before_a_month_and_leaves_the_partitions(pg: Engine) -> None:
    free_gb = shutil.disk_usage("/tmp").free / GB
    lines: list[str] = []
    report = bulk.fill_bulk(pg, bulk.span_for(3_000, NOW, MONTHS), _guard(free_gb + 1), log=lines.append)

    assert report.events == 0
    assert report.stopped is not None and "stopping before it" in report.stopped
    assert any("STOPPED" in line for line in lines)
    with pg.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM inspection_events")).scalar_one() == 0
        assert len(month_partitions(conn, "inspection_events")) >= MONTHS


def test_the_disk_watchdog_cancels_the_running_statement(pg: Engine) -> None:
    """Below the floor while a statement runs: the watchdog cancels it on the server."""
    free_gb = shutil.disk_usage("/tmp").free / GB
    guard = bulk.DiskGuard(Path("/tmp"), free_gb + 1, poll_s=0.05)
    cancelled = threading.Event()
    with pg.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        conn.commit()

        def cancel() -> None:
            with pg.connect() as other:
                other.execute(text("SELECT pg_cancel_backend(:p)"), {"p": pid})
            cancelled.set()

        with guard.watching(cancel), pytest.raises(Exception, match="cancel"):
            conn.execute(text("SELECT pg_sleep(30)"))
    assert guard.tripped and cancelled.is_set()


def test_fill_months_loads_only_the_newest_months(pg: Engine) -> None:
    span = bulk.span_for(3_000, NOW, MONTHS)
    lines: list[str] = []
    report = bulk.fill_bulk(pg, span, _guard(0), max_months=2, log=lines.append)

    with pg.connect() as conn:
        months = [m for m in month_partitions(conn, "inspection_events") if m.start <= NOW]
        older, newest = months[-3], months[-2:]
        first, _ = span.range_in(newest[0].start, newest[0].end)
        assert (report.events, report.first) == (3_000 - first + 1, first)
        assert report.stopped == f"month {older.start:%Y-%m}: 2 month(s) loaded, as asked"
        assert any("STOPPED" in line for line in lines)
        per_month = {
            m.name: conn.execute(text(f"SELECT count(*) FROM {m.qualified}")).scalar_one() for m in months
        }
        assert sum(per_month[m.name] for m in newest) == report.events
        assert all(per_month[m.name] == 0 for m in months[:-2])


def test_index_ab_measures_each_candidate_and_leaves_the_shipped_index(
    pg: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    import bench_partitions_index as ab
    from lineguard.server.ingest.models import FAILED_BY_LINE_INDEX

    report = bulk.fill_bulk(pg, bulk.span_for(3_000, NOW, MONTHS), _guard(0), log=_quiet)
    with pg.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT count(*) FROM inspection_events WHERE line_id = 'line-2' AND verdict = 'fail'"
                " AND captured_at >= :a AND captured_at < :b"
            ),
            {"a": NOW - timedelta(days=30), "b": NOW - timedelta(days=29)},
        ).scalar_one()
    colds: list[int] = []
    ab.compare_indexes(pg, lambda: colds.append(1), NOW, report.events, repeat=2)

    out = capsys.readouterr().out
    for candidate in ab.CANDIDATES:
        assert f"{candidate.name}: " in out
    assert out.count(f"count {expected:,}") == len(ab.CANDIDATES)
    assert len(colds) == 2 * len(ab.CANDIDATES)
    with pg.connect() as conn:
        pieces = conn.execute(
            text("SELECT count(*) FROM pg_partition_tree(to_regclass(:i)) WHERE level > 0"),
            {"i": FAILED_BY_LINE_INDEX},
        ).scalar_one()
        partitions = conn.execute(
            text("SELECT count(*) FROM pg_partition_tree('inspection_events') WHERE level > 0")
        ).scalar_one()
        assert pieces == partitions
        assert conn.execute(text("SELECT to_regclass(:i)"), {"i": ab.FULL_INDEX}).scalar() is None
