"""Which index serves "a line's failures in one day" (``bench_partitions --bulk --index-ab``).

On the database the bulk loader filled (head schema: the partial index of failing events
by line and time, ``ingest_0009``), the query is measured with each candidate in turn,
in the same run, on the same rows:

* **partial** ``(line_id, captured_at) WHERE verdict = 'fail'``: what the schema ships;
* **none**: that index dropped (the older ``captured_at`` / ``line_id, captured_at``
  indexes only; before ``ingest_0010`` also ``verdict, captured_at``, which the planner
  did not choose for this query: the plan before ``ingest_0009``);
* **full** ``(line_id, verdict, captured_at)``: every event in it.

For each: its size on disk (every partition's piece) per event loaded, the time to build
it on the loaded months, the query warm (median / worst of ``repeat``) and cold (a
restarted server, the database's files out of the page cache), and the plan: node types,
the index read, buffers hit / read. The schema is left as it was found (the partial index
rebuilt).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench_partitions import _LINE_DAY_FAILS, load
from lineguard.server.ingest.models import FAILED_BY_LINE_INDEX, FAILED_PREDICATE

FULL_INDEX = "ix_bench_inspection_events_line_id_verdict_captured_at"
_PARTIAL_SQL = (
    f"CREATE INDEX {FAILED_BY_LINE_INDEX} ON inspection_events (line_id, captured_at)"
    f" WHERE {FAILED_PREDICATE}"
)


@dataclass(frozen=True)
class Candidate:
    name: str
    index: str | None
    #: Statements that turn the shipped schema into this candidate's, and back.
    setup: tuple[str, ...]
    teardown: tuple[str, ...]


CANDIDATES = (
    Candidate("partial (line_id, captured_at) WHERE verdict = 'fail'", FAILED_BY_LINE_INDEX, (), ()),
    Candidate("none (ingest_0008's indexes)", None, (f"DROP INDEX {FAILED_BY_LINE_INDEX}",), (_PARTIAL_SQL,)),
    Candidate(
        "full (line_id, verdict, captured_at)",
        FULL_INDEX,
        (
            f"DROP INDEX {FAILED_BY_LINE_INDEX}",
            f"CREATE INDEX {FULL_INDEX} ON inspection_events (line_id, verdict, captured_at)",
        ),
        (f"DROP INDEX {FULL_INDEX}", _PARTIAL_SQL),
    ),
)


def _index_bytes(conn: Any, index: str | None) -> int:
    from sqlalchemy import text

    if index is None:
        return 0
    return int(
        conn.execute(
            text("SELECT coalesce(sum(pg_relation_size(relid)), 0) FROM pg_partition_tree(to_regclass(:i))"),
            {"i": index},
        ).scalar_one()
    )


def _plan(conn: Any, params: dict[str, Any]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS): the scan nodes (type and index), buffers hit / read, exec ms."""
    plan = conn.exec_driver_sql(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "
        + _LINE_DAY_FAILS.replace(":line", "%(line)s").replace(":a", "%(a)s").replace(":b", "%(b)s"),
        params,
    ).scalar_one()[0]
    scans: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if "Relation Name" in node:
            heap = f", heap fetches {node['Heap Fetches']}" if "Heap Fetches" in node else ""
            scans.append(f"{node['Node Type']} {node.get('Index Name', node['Relation Name'])}{heap}")
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    top = plan["Plan"]
    return (
        f"{'; '.join(scans)}; buffers hit {top.get('Shared Hit Blocks', 0):,}"
        f" read {top.get('Shared Read Blocks', 0):,}; exec {plan['Execution Time']:.2f} ms"
    )


def compare_indexes(
    engine: Any, cold: Callable[[], None], now: datetime, events_loaded: int, repeat: int
) -> None:
    """Measure the query under each candidate (``cold()``: restart + drop the page cache)."""
    from sqlalchemy import text

    def log(line: str) -> None:
        print(line, flush=True)

    params = {"line": "line-2", "a": now - timedelta(days=30), "b": now - timedelta(days=29)}
    log(f"  index A/B for a line's failures in one day ({events_loaded:,} events loaded; {load()})")
    for candidate in CANDIDATES:
        with engine.begin() as conn:
            t0 = time.perf_counter()
            for sql in candidate.setup:
                conn.execute(text(sql))
            build_s = time.perf_counter() - t0
        with engine.connect() as conn:
            size = _index_bytes(conn, candidate.index)
            count = conn.execute(text(_LINE_DAY_FAILS), params).scalar_one()
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                conn.execute(text(_LINE_DAY_FAILS), params).scalar_one()
                times.append(1000 * (time.perf_counter() - t0))
            warm_plan = _plan(conn, params)
        cold()
        with engine.connect() as conn:
            t0 = time.perf_counter()
            conn.execute(text(_LINE_DAY_FAILS), params).scalar_one()
            cold_ms = 1000 * (time.perf_counter() - t0)
        cold()
        with engine.connect() as conn:
            cold_plan = _plan(conn, params)
        log(
            f"    {candidate.name}: {size / 2**20:,.0f} MB ({size / max(events_loaded, 1):.1f} B/event)"
            + (f", built in {build_s:.1f} s" if candidate.setup and candidate.index else "")
            + f"; count {count:,}"
        )
        log(
            f"      warm {statistics.median(times):.2f} / {max(times):.2f} ms   {warm_plan}\n"
            f"      cold {cold_ms:.2f} ms   {cold_plan}   ({load()})"
        )
        with engine.begin() as conn:
            t0 = time.perf_counter()
            for sql in candidate.teardown:
                conn.execute(text(sql))
            if candidate.teardown:
                log(f"      back to the shipped schema in {time.perf_counter() - t0:.1f} s")


# --- the same index's insert cost, in-process ------------------------------------------


def insert_ab(engine_name: str, events: int, rounds: int) -> None:
    """CPU seconds to insert ``events`` events (batches of 100, 1 in 20 failing, ingest's
    row shape) into a head-schema database with the partial index (A) and without it (B),
    alternating ``rounds`` times; the ratio of the medians. SQLite runs in this process;
    on PostgreSQL (a durable cluster, ``BENCH_PG_SETTINGS``) the CPU of the backend is added
    to this process's. Only the table's inserts: ``bench_ingest.py --index-ab`` measures the
    whole server."""
    import tempfile
    from contextlib import ExitStack
    from pathlib import Path

    from sqlalchemy import insert, text

    from bench_ingest import BENCH_PG_SETTINGS, _proc_cpu_s
    from lineguard.server.ingest.models import InspectionEventRow
    from lineguard.server.storage import create_engine_for, upgrade_to_head

    def row(g: int, at: datetime) -> dict[str, Any]:
        fail = g % 20 == 0
        return {
            "event_id": f"evt_{g:032x}",
            "idempotency_key": f"node-1:evt_{g:032x}",
            "node_id": "node-1",
            "site_id": "plant-a",
            "line_id": f"line-{g % 3 + 1}",
            "station_id": "st-1",
            "camera_id": f"cam-{g % 9}",
            "part_id_sealed": bytes(208),
            "frame_id": g,
            "captured_at": at + timedelta(milliseconds=g),
            "received_at": at + timedelta(milliseconds=g),
            "model_id": "model-a",
            "model_version": 1,
            "model_sha256": "0" * 64,
            "verdict": "fail" if fail else "pass",
            "anomaly_score": 0.9 if fail else 0.1,
            "threshold": 0.5,
            "regions": [{"defect_class": "scratch"}] if fail else [],
            "evidence_ref": f"evd_{g:032x}" if fail else None,
            "latency_ms": 12.0,
        }

    start = datetime(2026, 11, 1, tzinfo=UTC)
    batches = [[row(g, start) for g in range(a, min(events, a + 100))] for a in range(0, events, 100)]
    cpu: dict[str, list[float]] = {"A": [], "B": []}
    print(
        f"{engine_name} insert A/B: {events:,} events in batches of 100, {rounds} rounds; {load()}",
        flush=True,
    )
    with ExitStack() as stack:
        if engine_name == "postgresql":
            import psycopg
            from tests.support.postgres import postgres_cluster

            base = stack.enter_context(postgres_cluster(BENCH_PG_SETTINGS))
        for r in range(rounds):
            for variant in ("A", "B"):
                with tempfile.TemporaryDirectory() as tmp:
                    if engine_name == "postgresql":
                        name = f"ab_{r}_{variant.lower()}"
                        with psycopg.connect(
                            base.replace("+psycopg", "") + "/postgres", autocommit=True
                        ) as c:
                            c.execute(f'CREATE DATABASE "{name}"')
                        engine = create_engine_for(f"{base}/{name}")
                    else:
                        engine = create_engine_for(f"sqlite:///{Path(tmp) / 'ab.db'}")
                    upgrade_to_head(engine)
                    if variant == "B":
                        with engine.begin() as conn:
                            conn.execute(text(f"DROP INDEX {FAILED_BY_LINE_INDEX}"))
                    with engine.connect() as conn:
                        backend = (
                            int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
                            if engine_name == "postgresql"
                            else None
                        )
                        backend_cpu = _proc_cpu_s(backend) if backend else 0.0
                        t0 = time.process_time()
                        for batch in batches:
                            conn.execute(insert(InspectionEventRow), batch)
                            conn.commit()
                        spent = time.process_time() - t0
                        if backend:
                            spent += _proc_cpu_s(backend) - backend_cpu
                    cpu[variant].append(spent)
                    engine.dispose()
                print(f"  round {r + 1} {variant}: {cpu[variant][-1]:.2f} CPU s; {load()}", flush=True)
    a, b = statistics.median(cpu["A"]), statistics.median(cpu["B"])
    print(
        f"  median CPU with the index {a:.2f} s, without {b:.2f} s: with/without {a / b:.3f}"
        f" ({1e6 * (a - b) / events:.1f} µs per event); {load()}",
        flush=True,
    )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=insert_ab.__doc__)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    insert_ab(arguments.engine, arguments.events, arguments.rounds)
