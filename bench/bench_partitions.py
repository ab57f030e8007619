"""Dashboard queries on the raw tables at 10 M events: monthly partitions against plain tables.

Two databases in one PostgreSQL cluster (durable settings, as bench_ingest): one migrated to
head (``inspection_events``, ``alerts`` and ``audit_log`` partitioned by month), one taken
back to plain tables (``storage_0001`` downgraded). Both are filled the same way, in SQL
with ``generate_series`` (not through the API: ingest speed is bench_ingest.py's subject),
with ``--events`` inspection events spread evenly over ``--months`` months up to now
(3 lines, 9 cameras, one in 20 failing), one alert per failing event, and one audit entry
per 100 events (what ingest's one entry per batch gives). Then, on each, the queries the
dashboard runs against those tables, through the real service functions:

* alerts page 1 (``dashboard.queue.alert_page``: alerts joined to their event and review);
* latest 100 alerts (``query.recent_alerts``);
* a record opened from an alert (``dashboard.find_record``: by ``event_id``, no time);
* audit log, newest 100 (``audit.list_entries``) and one day of it;
* a line's last hour of events and a line's failures in one day (the drill-down indexes);
* the MQTT publisher's catch-up read (``row_id > x ORDER BY row_id LIMIT 500``);

each timed warm, ``--repeat`` times (median and worst), plus what retention costs to
remove the oldest month: ``DROP`` of its partition against ``DELETE … WHERE captured_at <``.
The dashboard's aggregate pages read ``rollup_hourly``/``rollup_daily``, which are not
partitioned and do not grow with the raw tables (bench_dashboard.py).

    python bench/bench_partitions.py                        # 10,000,000 events over 12 months
    python bench/bench_partitions.py --events 1000000       # the 1 M point of the curve
    nice -n 10 python bench/bench_partitions.py --layout partitioned --events 1000000,10000000,50000000
    nice -n 10 python bench/bench_partitions.py --bulk --events 10000000,100000000 --fill-deadline 16:03
    nice -n 10 ionice -c3 python bench/bench_partitions.py --bulk --events 100000000 \
        --fill-months 2 --index-ab

``--bulk`` (bench_partitions_bulk.py) is the fast loader for 10 M–100 M: a fresh partitioned
database per size on a throwaway ``wal_level=minimal`` cluster, month by month (newest
first) with ``INSERT … SELECT`` and the indexes built after the rows, ids and sealed
payload sizes as real ingest writes them, a disk floor (``--min-free-gb``, 12), and cold as
well as warm figures with every query's plan.

``--layout`` measures one layout only (half the disk: a copy takes ~0.75 GB per million
events on disk, alerts, audit and WAL included). ``--events`` takes several sizes, ascending:
the same database is grown to each and measured there, every size spread evenly over the
same months (each growth step is one more even layer of events over the whole span, oldest
months first), so the curve shows how query time grows with total size on one database.
Fill, ``VACUUM ANALYZE``, measurements and the plans of the month-bounded drill-downs print
as they go.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_ingest import BENCH_PG_SETTINGS  # noqa: E402

SITE = "plant-a"
CHUNK = 1_000_000

_EVENTS = """
INSERT INTO inspection_events (event_id, idempotency_key, node_id, site_id, line_id, station_id,
    camera_id, part_id_sealed, frame_id, captured_at, received_at, model_id, model_version,
    model_sha256, verdict, anomaly_score, threshold, regions, evidence_ref, latency_ms)
SELECT 'evt_' || g, 'k' || g, 'node-' || (g % 9), 'plant-a', 'line-' || (g % 3 + 1), 'st-1',
    'cam-' || (g % 9), NULL, g, t, t, 'model-a', 1, repeat('0', 64),
    CASE WHEN g % 20 = 0 THEN 'fail' ELSE 'pass' END, (g % 997) / 997.0, 0.5,
    CASE WHEN g % 20 = 0 THEN '[{"defect_class": "scratch"}]' ELSE '[]' END::json,
    CASE WHEN g % 20 = 0 THEN 'evd_' || g END, 12.0
FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) AS g,
    LATERAL (SELECT :start + (g - :first) * :step * interval '1 microsecond' AS t) AS x
"""
_ALERTS = """
INSERT INTO alerts (alert_id, idempotency_key, node_id, site_id, line_id, camera_id, kind, severity,
    raised_at, received_at, message_sealed, event_id, defect_class)
SELECT 'alr_' || g, 'a' || g, 'node-' || (g % 9), 'plant-a', 'line-' || (g % 3 + 1), 'cam-' || (g % 9),
    'defect', 'high', t, t, convert_to('scratch on part', 'UTF8'), 'evt_' || g, 'scratch'
FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) AS g,
    LATERAL (SELECT :start + (g - :first) * :step * interval '1 microsecond' AS t) AS x
WHERE g % 20 = 0
"""
_AUDIT = """
INSERT INTO audit_log (seq, event_id, recorded_at, name, actor, outcome, payload, prev_hash, entry_hash)
SELECT g / 100, 'aud_' || g, t, 'ingest.batch_accepted', 'node:node-' || (g % 9), 'success',
    '{"events": 100}', repeat('0', 64), repeat('1', 64)
FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) AS g,
    LATERAL (SELECT :start + (g - :first) * :step * interval '1 microsecond' AS t) AS x
WHERE g % 100 = 0
"""


_LINE_HOUR = (
    "SELECT event_id, verdict FROM inspection_events WHERE line_id = :line"
    " AND captured_at >= :a AND captured_at < :b ORDER BY captured_at DESC LIMIT 100"
)
_LINE_DAY_FAILS = (
    "SELECT count(*) FROM inspection_events WHERE line_id = :line AND verdict = 'fail'"
    " AND captured_at >= :a AND captured_at < :b"
)


def fill(engine: Any, first: int, last: int, start: datetime, end: datetime) -> float:
    """Insert events ``first..last`` spread evenly over ``start..end``, in chunks of a
    million; returns the seconds it took (VACUUM ANALYZE included)."""
    from sqlalchemy import text

    step_us = (end - start) / timedelta(microseconds=1) / (last - first + 1)
    began = time.perf_counter()
    for a in range(first, last + 1, CHUNK):
        b = min(last, a + CHUNK - 1)
        with engine.begin() as conn:
            for sql in (_EVENTS, _ALERTS, _AUDIT):
                conn.execute(text(sql), {"a": a, "b": b, "first": first, "start": start, "step": step_us})
        print(f"    {b:>11,} events ({time.perf_counter() - began:.0f} s)", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE inspection_events, alerts, audit_log"))
    return time.perf_counter() - began


def queries(now: datetime, n_events: int, middle_event: str | None = None) -> dict[str, Callable[[Any], Any]]:
    """Name → a function of a session that runs one dashboard query."""
    from sqlalchemy import text

    from lineguard.server.audit.queries import list_entries
    from lineguard.server.dashboard.queue import AlertFilter, alert_page
    from lineguard.server.dashboard.service import find_record
    from lineguard.server.protection import NoEncryption
    from lineguard.server.query.service import recent_alerts

    sealer = NoEncryption()
    if middle_event is None:
        middle_event = f"evt_{(n_events // 2) // 20 * 20}"
    hour = {"line": "line-2", "a": now - timedelta(hours=1), "b": now}
    day = {"line": "line-2", "a": now - timedelta(days=30), "b": now - timedelta(days=29)}
    return {
        "alerts page 1 (queue)": lambda s: alert_page(
            s, site_id=SITE, lines=None, sealer=sealer, where=AlertFilter(), limit=50
        ),
        "latest 100 alerts": lambda s: recent_alerts(s, site_id=SITE, lines=None, sealer=sealer, limit=100),
        "record by event_id": lambda s: find_record(s, site_id=SITE, event_id=middle_event),
        "audit: newest 100": lambda s: list_entries(s, limit=100),
        "audit: one day, 100": lambda s: list_entries(
            s, limit=100, since=now - timedelta(days=30), until=now - timedelta(days=29)
        ),
        "line: last hour, 100 newest": lambda s: s.execute(text(_LINE_HOUR), hour).all(),
        "line: failures in one day (count)": lambda s: s.execute(text(_LINE_DAY_FAILS), day).scalar(),
        "MQTT catch-up (row_id > x, 500)": lambda s: s.execute(
            text("SELECT row_id FROM inspection_events WHERE row_id > :x ORDER BY row_id LIMIT 500"),
            {"x": n_events - 1000},
        ).all(),
    }


def measure(
    engine: Any, now: datetime, n_events: int, repeat: int, middle_event: str | None = None
) -> dict[str, tuple[float, float]]:
    from sqlalchemy.orm import Session

    out = {}
    for name, run in queries(now, n_events, middle_event).items():
        with Session(engine) as session:
            run(session)  # warm
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                run(session)
                times.append(1000 * (time.perf_counter() - t0))
        out[name] = (statistics.median(times), max(times))
    return out


def explain(engine: Any, now: datetime) -> list[str]:
    """The plan of each time-bounded drill-down: which months it reads, buffers, ms.

    This is what makes those queries independent of the table's total size: the planner
    prunes to the months the bounds name, so the work grows with one month's rows."""
    from sqlalchemy import text

    hour = {"line": "line-2", "a": now - timedelta(hours=1), "b": now}
    day = {"line": "line-2", "a": now - timedelta(days=30), "b": now - timedelta(days=29)}
    lines = []
    with engine.connect() as conn:
        for name, sql, params in (
            ("line: last hour, 100 newest", _LINE_HOUR, hour),
            ("line: failures in one day (count)", _LINE_DAY_FAILS, day),
        ):
            plan = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql), params).scalar_one()[
                0
            ]
            relations: list[str] = []

            def walk(node: dict[str, Any], relations: list[str] = relations) -> None:
                if "Relation Name" in node:
                    relations.append(node["Relation Name"])
                for child in node.get("Plans", []):
                    walk(child)

            walk(plan["Plan"])
            top = plan["Plan"]
            lines.append(
                f"    plan of {name}: reads {sorted(set(relations))},"
                f" buffers hit {top.get('Shared Hit Blocks', 0)} read {top.get('Shared Read Blocks', 0)},"
                f" planning {plan['Planning Time']:.2f} ms, execution {plan['Execution Time']:.2f} ms"
            )
    return lines


def drop_oldest_month(engine: Any, partitioned: bool, start: datetime) -> tuple[float, int]:
    """What retention does to the oldest month: seconds, rows removed."""
    from sqlalchemy import text

    from lineguard.server.storage import drop_partition, month_partitions

    t0 = time.perf_counter()
    with engine.begin() as conn:
        if partitioned:
            oldest = month_partitions(conn, "inspection_events")[0]
            rows = drop_partition(conn, oldest)
        else:
            month_end = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
            result = conn.execute(
                text("DELETE FROM inspection_events WHERE captured_at < :e"), {"e": month_end}
            )
            rows = result.rowcount
    return time.perf_counter() - t0, rows


def size_mb(engine: Any) -> float:
    from sqlalchemy import text

    with engine.connect() as conn:
        return float(
            conn.execute(
                text(
                    "SELECT sum(pg_total_relation_size(c.oid)) / 1048576.0 FROM pg_class c"
                    " WHERE c.relkind = 'r' AND (c.relname = 'inspection_events'"
                    " OR c.relname LIKE 'inspection\\_events\\_%')"
                )
            ).scalar_one()
        )


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", default="10000000", help="events, or several ascending sizes separated by commas"
    )
    parser.add_argument("--layout", choices=["both", "partitioned", "unpartitioned"], default="both")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--bulk",
        action="store_true",
        help="fast bulk loader (bench_partitions_bulk.py): a fresh database per size, partitioned only,"
        " on a throwaway cluster with wal_level=minimal; cold and warm figures and every query's plan",
    )
    parser.add_argument("--min-free-gb", type=float, default=12.0, help="--bulk stops cleanly below this")
    parser.add_argument(
        "--fill-deadline",
        help="--bulk: UTC HH:MM after which no further month is started (the months loaded are measured)",
    )
    parser.add_argument(
        "--fill-months", type=int, help="--bulk: load at most this many months (newest first), then measure"
    )
    parser.add_argument(
        "--index-ab",
        action="store_true",
        help="--bulk: also measure a line's failures in one day with each candidate index"
        " (bench_partitions_index.py)",
    )
    args = parser.parse_args()
    sizes = [int(x) for x in args.events.split(",")]
    if sizes != sorted(set(sizes)) or sizes[0] < 1:
        parser.error("--events: positive sizes in ascending order")
    if args.bulk:
        from bench_partitions_bulk import run_bulk

        deadline = None
        if args.fill_deadline:
            hour, minute = (int(x) for x in args.fill_deadline.split(":"))
            moment = datetime.now(UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
            deadline = moment.timestamp()
        run_bulk(
            sizes,
            months=args.months,
            repeat=args.repeat,
            min_free_gb=args.min_free_gb,
            fill_deadline=deadline,
            fill_months=args.fill_months,
            index_ab=args.index_ab,
        )
        return
    modes = ("unpartitioned", "partitioned") if args.layout == "both" else (args.layout,)

    import psycopg
    from alembic import command
    from tests.support.postgres import postgres_cluster

    from lineguard.server.storage import alembic_config, create_engine_for, ensure_partitions, upgrade_to_head

    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=30.4 * args.months)
    results: dict[tuple[str, int], dict[str, tuple[float, float]]] = {}
    print(
        f"bench_partitions: {', '.join(f'{n:,}' for n in sizes)} events over {args.months} months,"
        f" {'/'.join(modes)}, {args.repeat} warm runs each; {load()}",
        flush=True,
    )
    with postgres_cluster(BENCH_PG_SETTINGS) as base:
        for mode in modes:
            with psycopg.connect(base.replace("+psycopg", "") + "/postgres", autocommit=True) as c:
                c.execute(f'CREATE DATABASE "{mode}"')
            engine = create_engine_for(f"{base}/{mode}")
            try:
                upgrade_to_head(engine)
                if mode == "unpartitioned":
                    command.downgrade(alembic_config(engine), "storage_0001-1")
                else:  # the months a running server would have made as time went by
                    with engine.begin() as conn:
                        for month in range(args.months + 1):
                            ensure_partitions(conn, now=start + timedelta(days=30.4 * month))
                filled = 0
                for n_events in sizes:
                    print(f"  {mode}: filling to {n_events:,} ({load()})", flush=True)
                    fill_s = fill(engine, filled + 1, n_events, start, now)
                    filled = n_events
                    results[mode, n_events] = measured = measure(engine, now, n_events, args.repeat)
                    print(
                        f"  {mode} at {n_events:,}: filled in {fill_s:.0f} s, events table + indexes"
                        f" {size_mb(engine):,.0f} MB; {load()}",
                        flush=True,
                    )
                    for name, (median, worst) in measured.items():
                        print(f"    {name:36s} {median:8.2f} / {worst:8.2f} ms", flush=True)
                    for line in explain(engine, now):
                        print(line, flush=True)
                drop_s, dropped = drop_oldest_month(engine, mode == "partitioned", start)
                print(
                    f"  {mode}: removing the oldest month ({dropped:,} events) took {drop_s:.2f} s; {load()}",
                    flush=True,
                )
            finally:
                engine.dispose()
    header = "".join(f" {f'{mode[:5]} {n / 1e6:g} M':>17s}" for mode in modes for n in sizes)
    print(f"\n  median / worst ms\n  {'query':36s}{header}")
    for name in results[modes[0], sizes[0]]:
        cells = "".join(
            f" {results[mode, n][name][0]:7.2f} / {results[mode, n][name][1]:6.2f}"
            for mode in modes
            for n in sizes
        )
        print(f"  {name:36s}{cells}")


if __name__ == "__main__":
    main()
