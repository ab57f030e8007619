"""``bench_partitions.py --bulk``: load 10 M–100 M events fast, then measure the dashboard queries.

The layered filler of bench_partitions.py inserts row by row into tables whose indexes are
all live, with text ids (``'evt_' || g``) that land all over the B-trees: past the page
cache each million took 10+ minutes. This loader builds each month the way a bulk load
should, and the rows the way real ingest writes them:

* **one fresh database per size**, partitioned (head schema, months made by
  ``ensure_partitions`` as a running server makes them), loaded month by month in time
  order; each month of ``inspection_events``, ``alerts`` and ``audit_log`` in one
  transaction: its empty partition is dropped, created again as a plain table
  (``LIKE`` the parent) with a ``CHECK`` on its range, filled by one server-side
  ``INSERT … SELECT … FROM generate_series``, then ``ATTACH``\\ ed — which builds the
  parent's primary key, unique constraint and indexes on the loaded rows (index after
  load) and skips the range scan thanks to the ``CHECK`` (dropped afterwards). Then
  ``VACUUM`` of the month, and one ``ANALYZE`` of the three parents at the end;
* **ids as the edge node makes them** (``contracts.ids.new_id``): ``evt_``/``alr_``/``dek_``
  + 32 hex digits of a UUIDv7 whose first 48 bits are the capture time in ms, so they append
  to the B-trees like real ids; idempotency keys ``<node>:<id>``;
* **payload sizes as real ingest stores them**: every event has a part id (``P-`` + 8
  digits, bench_ingest's) stored as the envelope real sealing produces
  (``crypto.sealed.encode_header`` prefix and JSON header with category, ``dek_`` key id and
  the ``<node>:<idempotency key>`` object id, then 12 nonce bytes, ciphertext, 16 tag bytes:
  the header is the real text, the rest random bytes of the real length); a failing event
  (1 in 20) carries a real ``DefectRegion`` dump and an ``evd_`` evidence id; its alert's
  message is the node's defect text, sealed the same way. Alerts (one per failing event)
  and audit entries (one per 100 events) are bench_partitions.py's proportions. The
  ``data_keys`` rows sealing writes (one per sealed field) are **not** loaded: no
  dashboard query reads them, and they would cost ~100 B × 105 M rows of disk;
* **a throwaway cluster** (``BULK_PG_SETTINGS``): ``wal_level=minimal`` (a table created
  in the loading transaction is written without WAL and synced at commit),
  ``synchronous_commit=off``, autovacuum off (the loader vacuums each month itself), 1 GB
  ``maintenance_work_mem`` for the index builds. **Never** settings for a plant's
  database: they only make this disposable copy fast to build. The queries then run on it
  as they would on a durable one (reads do not touch WAL).

A :class:`DiskGuard` keeps the disk above ``--min-free-gb``: before each month it
projects the month's bytes from the months already loaded, and a watchdog thread
cancels the loading statement (the transaction rolls back, its files go) if free space
still falls below the floor. The fill then stops cleanly, says so, and the events
already committed are measured.

Measured at each size, with bench_partitions.py's ``measure`` (warm: one warm-up run, then
``--repeat`` runs, median and worst) and, new here, **cold**: before each query the
cluster is restarted (empty shared buffers) and the database's files are dropped from the
OS page cache (``posix_fadvise(DONTNEED)`` on its files only, nothing else on the
machine), then one timed run. Every query's statements (captured from the engine) are
``EXPLAIN (ANALYZE, BUFFERS)``\\ ed warm and cold: partitions read, buffers hit / read, ms.
The database is dropped before the next size, and the cluster deleted at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bench_ingest import BENCH_PG_SETTINGS
from bench_partitions import SITE, drop_oldest_month, load, measure, queries

#: The throwaway benchmark cluster's settings (see the module docstring: never a plant's).
BULK_PG_SETTINGS = {
    **BENCH_PG_SETTINGS,
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "synchronous_commit": "off",
    "autovacuum": "off",
    "maintenance_work_mem": "1GB",
    "max_parallel_maintenance_workers": "0",
}
GB = 1024**3
#: bench_ingest's part ids: ``P-`` and 8 digits.
PART_ID_BYTES = 10
#: The node's alert text for a failing part (what the alerts' sealed message is as long as).
ALERT_MESSAGE = "defect on part P-00012345 at station st-1 (camera cam-0)"
#: What the first month is assumed to take per event, before one has been measured.
FIRST_GUESS_BYTES_PER_EVENT = 1200


class DiskLowError(RuntimeError):
    """Free space would fall (or fell) below the floor: the fill stopped."""


@dataclass
class DiskGuard:
    """Keeps ``path``'s file system above ``min_free_gb``.

    :meth:`check` refuses the next step if its projected bytes would cross the floor; the
    watchdog (:meth:`watching`) polls every ``poll_s`` and calls ``cancel`` when free space
    is already below it, for the statement that was not projected well enough."""

    path: Path
    min_free_gb: float
    poll_s: float = 1.0
    tripped: bool = False
    lowest_free: float = field(default=float("inf"))

    def free_bytes(self) -> int:
        free = shutil.disk_usage(self.path).free
        self.lowest_free = min(self.lowest_free, free)
        return free

    def check(self, need_bytes: float, what: str) -> None:
        free = self.free_bytes()
        if free - need_bytes < self.min_free_gb * GB:
            msg = (
                f"{what}: needs ~{need_bytes / GB:.1f} GB, {free / GB:.1f} GB free,"
                f" floor {self.min_free_gb:g} GB: stopping before it"
            )
            raise DiskLowError(msg)

    @contextmanager
    def watching(self, cancel: Callable[[], None]) -> Iterator[None]:
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(self.poll_s):
                if self.free_bytes() < self.min_free_gb * GB and not self.tripped:
                    self.tripped = True
                    cancel()

        thread = threading.Thread(target=watch, name="disk-guard", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def _id(prefix: str, h: str, at: int) -> str:
    """SQL for ``<prefix>_`` + 32 hex digits laid out as ``contracts.ids`` lays out a UUIDv7:
    48 bits of the row's time in ms and the version (``y.ms7``), 12 random bits, the variant
    (``y.v``), 62 random bits; the random digits from the md5 hex ``h`` starting at ``at``."""
    return f"'{prefix}_' || y.ms7 || substr({h}, {at}, 3) || y.v || substr({h}, {at + 3}, 15)"


def _sealed(key_id: str, plaintext_bytes: int) -> str:
    """SQL for what ``Envelope.seal`` stores (sealed format v2): ``LGSEAL``, the version, the
    key id's 16 bytes (the real id's), then nonce + ciphertext + tag (bytes of the real length;
    random-looking, never compressed at this size). The record (``category``, ``object_id``) is
    bound in the associated data, not stored, so it does not appear here."""
    from lineguard.contracts.ids import new_id
    from lineguard.crypto.sealed import encode_v2_prefix

    head = encode_v2_prefix(new_id("dek"))[:7]  # magic and version
    tail = 12 + plaintext_bytes + 16
    randoms = " || ".join(["x.h", "x.r"] * ((tail + 31) // 32))
    return (
        f"decode('{head.hex()}', 'hex') || decode(substr({key_id}, 5), 'hex')"
        f" || substring(decode({randoms}, 'hex') FROM 1 FOR {tail})"
    )


def sealed_length(plaintext_bytes: int) -> int:
    """The length real sealing gives (``prefix + nonce + AESGCM.encrypt``): what the SQL must match."""
    from lineguard.contracts.ids import new_id
    from lineguard.crypto.sealed import encode_v2_prefix

    return len(encode_v2_prefix(new_id("dek"))) + 12 + plaintext_bytes + 16


def _region_json() -> str:
    from lineguard.contracts.events import BoundingBox, DefectRegion

    region = DefectRegion(
        defect_class="scratch", score=0.8731, bbox=BoundingBox(x=412, y=188, width=64, height=37)
    )
    return json.dumps([region.model_dump(mode="json")])


# Each row's time, node and random hex once (OFFSET 0 keeps the planner from pasting the
# expressions into every use), then the UUIDv7 time prefix once.
_ROWS = """FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) AS g
CROSS JOIN LATERAL (
    SELECT CAST(:start AS timestamptz) + (g - 1) * CAST(:step AS bigint) * interval '1 microsecond' AS t,
    'node-' || (g % 9) AS node, md5(g::text) AS h, md5('r' || g) AS r OFFSET 0) AS x
CROSS JOIN LATERAL (SELECT lpad(to_hex(floor(extract(epoch FROM x.t) * 1000)::bigint), 12, '0') || '7' AS ms7,
    substr('89ab', 1 + (g % 4)::int, 1) AS v OFFSET 0) AS y"""


def _events_sql(table: str) -> str:
    evt = _id("evt", "x.h", 1)
    sealed = _sealed(_id("dek", "x.r", 1), PART_ID_BYTES)
    return f"""
INSERT INTO {table} (row_id, event_id, idempotency_key, node_id, site_id, line_id, station_id, camera_id,
    part_id_sealed, frame_id, captured_at, received_at, model_id, model_version, model_sha256, verdict,
    anomaly_score, threshold, regions, evidence_ref, latency_ms)
SELECT g, e.evt, z.idem, x.node, '{SITE}', 'line-' || (g % 3 + 1), 'st-1', 'cam-' || (g % 9),
    {sealed}, g, x.t, x.t + interval '350 milliseconds', 'model-a', 3,
    '9f2c4e1ab8d35f7c60e4a2b91d8c7f3e5a6b0c1d2e3f4a5b6c7d8e9f0a1b2c3d',
    CASE WHEN g % 20 = 0 THEN 'fail' ELSE 'pass' END, (g * 7919 % 997) / 997.0, 0.5,
    CASE WHEN g % 20 = 0 THEN CAST('{_region_json()}' AS json) ELSE CAST('[]' AS json) END,
    CASE WHEN g % 20 = 0 THEN {_id("evd", "reverse(x.h)", 1)} END, 11.0 + g % 13
{_ROWS}
CROSS JOIN LATERAL (SELECT {evt} AS evt OFFSET 0) AS e
CROSS JOIN LATERAL (SELECT x.node || ':' || e.evt AS idem OFFSET 0) AS z
"""


def _alerts_sql(table: str) -> str:
    sealed = _sealed(_id("dek", "x.r", 1), len(ALERT_MESSAGE))
    return f"""
INSERT INTO {table} (row_id, alert_id, idempotency_key, node_id, site_id, line_id, camera_id, kind, severity,
    raised_at, received_at, message_sealed, event_id, defect_class)
SELECT g / 20, a.alr, x.node || ':' || a.alr, x.node, '{SITE}', 'line-' || (g % 3 + 1), 'cam-' || (g % 9),
    'defect', 'warning', x.t, x.t + interval '350 milliseconds', {sealed}, {_id("evt", "x.h", 1)}, 'scratch'
{_ROWS}
CROSS JOIN LATERAL (SELECT {_id("alr", "reverse(x.r)", 1)} AS alr OFFSET 0) AS a
WHERE g % 20 = 0
"""


def _audit_sql(table: str) -> str:
    return f"""
INSERT INTO {table} (seq, event_id, recorded_at, name, actor, outcome, payload, prev_hash, entry_hash)
SELECT g / 100, {_id("aud", "x.r", 1)}, x.t, 'ingest.batch_accepted', 'node:' || x.node, 'success',
    '{{"events": 100}}', x.h || x.r, x.r || x.h
{_ROWS}
WHERE g % 100 = 0
"""


_FILLS: dict[str, Callable[[str], str]] = {
    "inspection_events": _events_sql,
    "alerts": _alerts_sql,
    "audit_log": _audit_sql,
}


@dataclass(frozen=True)
class Span:
    """``n`` events, event ``g`` captured at ``start + (g - 1) * step_us`` µs (integers: exact)."""

    n: int
    start: datetime
    step_us: int

    def at(self, g: int) -> datetime:
        return self.start + timedelta(microseconds=(g - 1) * self.step_us)

    def range_in(self, lo: datetime, hi: datetime) -> tuple[int, int]:
        """The events ``a..b`` captured in ``[lo, hi)`` (``a > b``: none)."""
        d_lo = (lo - self.start) // timedelta(microseconds=1)
        d_hi = (hi - self.start) // timedelta(microseconds=1)
        a = 1 if d_lo <= 0 else -(-d_lo // self.step_us) + 1
        b = min(self.n, -(-d_hi // self.step_us)) if d_hi > 0 else 0
        return a, b


def span_for(n: int, now: datetime, months: int) -> Span:
    start = now - timedelta(days=30.4 * months)
    span_us = (now - start) // timedelta(microseconds=1)
    return Span(n, start, max(1, span_us // n))


@dataclass
class FillReport:
    events: int = 0
    #: The oldest event loaded (months load newest first).
    first: int = 0
    seconds: float = 0.0
    insert_s: float = 0.0
    attach_s: float = 0.0
    vacuum_s: float = 0.0
    analyze_s: float = 0.0
    bytes_on_disk: int = 0
    stopped: str | None = None


def _literal(moment: datetime) -> str:
    return f"'{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}+00'"


def _load_month(
    conn: Any, table: str, qualified: str, key: str, lo: datetime, hi: datetime, params: dict[str, Any]
) -> tuple[float, float]:
    """Drop the empty month, create it as a plain table, fill it, attach it (its indexes
    built then); in the caller's transaction. Returns (insert s, attach s)."""
    from sqlalchemy import text

    conn.execute(text(f"DROP TABLE {qualified}"))
    conn.execute(text(f"CREATE TABLE {qualified} (LIKE {table} INCLUDING DEFAULTS)"))
    conn.execute(
        text(
            f"ALTER TABLE {qualified} ADD CONSTRAINT bulk_range"
            f" CHECK ({key} >= {_literal(lo)} AND {key} < {_literal(hi)})"
        )
    )
    t0 = time.perf_counter()
    conn.execute(text(_FILLS[table](qualified)), params)
    t1 = time.perf_counter()
    conn.execute(
        text(
            f"ALTER TABLE {table} ATTACH PARTITION {qualified}"
            f" FOR VALUES FROM ({_literal(lo)}) TO ({_literal(hi)})"
        )
    )
    conn.execute(text(f"ALTER TABLE {qualified} DROP CONSTRAINT bulk_range"))
    return t1 - t0, time.perf_counter() - t1


def _partition_bytes(conn: Any, qualified: list[str]) -> int:
    from sqlalchemy import text

    return int(
        conn.execute(
            text(
                "SELECT coalesce(sum(pg_total_relation_size(to_regclass(q))), 0)"
                " FROM unnest(CAST(:q AS text[])) AS q"
            ),
            {"q": qualified},
        ).scalar_one()
    )


def fill_bulk(
    engine: Any,
    span: Span,
    guard: DiskGuard,
    *,
    deadline: float | None = None,
    max_months: int | None = None,
    log: Callable[[str], None] = print,
) -> FillReport:
    """Load ``span``'s events (and their alerts and audit entries) month by month, newest
    first (the months the dashboard reads are loaded first if the fill has to stop), each
    month in time order with its indexes built after its rows; stop cleanly at the disk
    floor, or before a month that would end past ``deadline`` (``time.time()``), or after
    ``max_months`` months."""
    from sqlalchemy import text

    from lineguard.server.storage import PARTITION_KEYS, month_partitions

    report = FillReport()
    began = time.perf_counter()
    with engine.connect() as probe:
        months = month_partitions(probe, "inspection_events")
    loaded: list[str] = []
    per_event = float(FIRST_GUESS_BYTES_PER_EVENT)
    last_month_s = 0.0
    for month in reversed(months):
        a, b = span.range_in(month.start, month.end)
        if a > b:
            continue
        if max_months is not None and len(loaded) >= max_months * len(_FILLS):
            report.stopped = f"month {month.start:%Y-%m}: {max_months} month(s) loaded, as asked"
            log(f"    STOPPED: {report.stopped}")
            break
        if deadline is not None and time.time() + last_month_s > deadline:
            report.stopped = f"month {month.start:%Y-%m}: it would end past the fill deadline"
            log(f"    STOPPED: {report.stopped}")
            break
        month_began = time.perf_counter()
        names = [f"{month.qualified.rsplit('.', 1)[0]}.{table}_p{month.start:%Y%m}" for table in _FILLS]
        try:
            guard.check(per_event * (b - a + 1) * 1.15, f"month {month.start:%Y-%m} ({b - a + 1:,} events)")
            with engine.connect() as conn:
                pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
                conn.commit()

                def cancel(pid: int = pid) -> None:
                    with engine.connect() as other:
                        other.execute(text("SELECT pg_cancel_backend(:p)"), {"p": pid})

                with guard.watching(cancel), conn.begin():
                    params = {"a": a, "b": b, "start": span.start, "step": span.step_us}
                    for table, name in zip(_FILLS, names, strict=True):
                        ins, att = _load_month(
                            conn, table, name, PARTITION_KEYS[table], month.start, month.end, params
                        )
                        report.insert_s += ins
                        report.attach_s += att
        except Exception as exc:
            if isinstance(exc, DiskLowError) or guard.tripped:
                report.stopped = (
                    str(exc)
                    if isinstance(exc, DiskLowError)
                    else (
                        f"month {month.start:%Y-%m}: free space fell below {guard.min_free_gb:g} GB"
                        " while loading; the month was rolled back"
                    )
                )
                log(f"    STOPPED: {report.stopped}")
                break
            raise
        t0 = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in names:
                conn.execute(text(f"VACUUM {name}"))
            loaded += names
            report.bytes_on_disk = _partition_bytes(conn, loaded)
        report.vacuum_s += time.perf_counter() - t0
        report.events += b - a + 1
        report.first = a
        per_event = report.bytes_on_disk / report.events
        elapsed = time.perf_counter() - began
        last_month_s = time.perf_counter() - month_began
        log(
            f"    {month.start:%Y-%m}: {b - a + 1:>10,} events, {report.events:>12,} in {elapsed:6.0f} s"
            f" ({report.events / elapsed:,.0f} ev/s),"
            f" {report.bytes_on_disk / GB:5.1f} GB ({per_event:.0f} B/event),"
            f" {guard.free_bytes() / GB:.1f} GB free; {load()}"
        )
    t0 = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table, column, per in (("inspection_events", "row_id", 1), ("alerts", "row_id", 20)):
            conn.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), :n)"),
                {"n": max(1, span.n // per)},
            )
        conn.execute(text("ANALYZE inspection_events, alerts, audit_log"))
    report.analyze_s = time.perf_counter() - t0
    report.seconds = time.perf_counter() - began
    return report


# --- plans ---------------------------------------------------------------------------


def captured_statements(engine: Any, run: Callable[[Any], Any]) -> list[tuple[str, Any]]:
    """The SELECTs one run of a dashboard query sends, with their parameters."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    seen: list[tuple[str, Any]] = []

    def before(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        with Session(engine) as session:
            run(session)
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return seen


def _partitions_of(name: str) -> str:
    for table in _FILLS:
        if name == table or name.startswith(table + "_"):
            return table
    return name


def plan_summary(engine: Any, statements: list[tuple[str, Any]]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement, summed: partitions read per table,
    buffers hit / read, execution ms."""
    hit = read = 0
    ms = 0.0
    reads: dict[str, set[str]] = {}
    pruned = 0
    with engine.connect() as conn:
        for statement, parameters in statements:
            plan = conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters or None
            ).scalar_one()[0]

            def walk(node: dict[str, Any]) -> None:
                nonlocal pruned
                if "Relation Name" in node:
                    reads.setdefault(_partitions_of(node["Relation Name"]), set()).add(node["Relation Name"])
                pruned += int(node.get("Subplans Removed", 0))
                for child in node.get("Plans", []):
                    walk(child)

            walk(plan["Plan"])
            hit += plan["Plan"].get("Shared Hit Blocks", 0)
            read += plan["Plan"].get("Shared Read Blocks", 0)
            ms += plan["Execution Time"]
    tables = ", ".join(
        f"{t} {len(names)}" + (" month" if len(names) == 1 else " months") if t in _FILLS else t
        for t, names in sorted(reads.items())
    )
    more = f" (+{pruned} pruned at run time)" if pruned else ""
    return (
        f"{len(statements)} stmt; reads {tables}{more}; buffers hit {hit:,} read {read:,}; exec {ms:.2f} ms"
    )


# --- the cluster: cold cache ---------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    data: Path
    pg_bin: Path

    def restart(self) -> None:
        kwargs: dict[str, Any] = {"check": True, "capture_output": True}
        if os.geteuid() == 0:
            kwargs.update(user="postgres", group="postgres")
        subprocess.run(
            [
                str(self.pg_bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.data.parent / "log"),
                "-m",
                "fast",
                "-w",
                "restart",
            ],
            **kwargs,
        )

    def drop_from_page_cache(self, db_oid: int) -> None:
        """Evict this database's files from the OS page cache (only them)."""
        for path in (self.data / "base" / str(db_oid)).iterdir():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fdatasync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def cold(engine: Any, cluster: Cluster, db_oid: int) -> None:
    engine.dispose()
    cluster.restart()
    cluster.drop_from_page_cache(db_oid)


def measure_cold(
    engine: Any, cluster: Cluster, db_oid: int, now: datetime, n: int, middle_event: str
) -> dict[str, tuple[float, str]]:
    """Each query once on a cold cache (ms), and its plan on a cold cache again."""
    from sqlalchemy.orm import Session

    out: dict[str, tuple[float, str]] = {}
    for name, run in queries(now, n, middle_event).items():
        statements = captured_statements(engine, run)
        cold(engine, cluster, db_oid)
        with Session(engine) as session:
            session.connection()  # connect before the clock starts
            t0 = time.perf_counter()
            run(session)
            ms = 1000 * (time.perf_counter() - t0)
        cold(engine, cluster, db_oid)
        out[name] = (ms, plan_summary(engine, statements))
    return out


# --- the run -------------------------------------------------------------------------


def _middle_event(engine: Any, span: Span, first: int) -> str:
    """The id of a failing event halfway through the events loaded (what an alert opens)."""
    from sqlalchemy import text

    g = max(20, ((first + span.n) // 2) // 20 * 20)
    with engine.connect() as conn:
        return str(
            conn.execute(
                text("SELECT event_id FROM inspection_events WHERE captured_at = :t AND row_id = :g"),
                {"t": span.at(g), "g": g},
            ).scalar_one()
        )


def run_bulk(
    sizes: list[int],
    *,
    months: int,
    repeat: int,
    min_free_gb: float,
    fill_deadline: float | None = None,
    fill_months: int | None = None,
    index_ab: bool = False,
) -> None:
    import psycopg
    from sqlalchemy import text
    from tests.support.postgres import find_pg_bin, postgres_cluster

    from lineguard.server.storage import create_engine_for, ensure_partitions, upgrade_to_head

    print(
        f"bench_partitions --bulk: {', '.join(f'{n:,}' for n in sizes)} events over {months} months,"
        f" partitioned, {repeat} warm runs each, floor {min_free_gb:g} GB free; {load()}",
        flush=True,
    )
    summary: dict[
        int, tuple[dict[str, tuple[float, float]], dict[str, str], dict[str, tuple[float, str]], FillReport]
    ] = {}
    with postgres_cluster(BULK_PG_SETTINGS) as base:
        for n in sizes:
            now = datetime.now(UTC).replace(microsecond=0)
            span = span_for(n, now, months)
            name = f"bulk_{n}"
            admin = base.replace("+psycopg", "") + "/postgres"
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(f'CREATE DATABASE "{name}"')
            engine = create_engine_for(f"{base}/{name}")
            try:
                with engine.connect() as conn:
                    data = Path(conn.execute(text("SHOW data_directory")).scalar_one())
                    db_oid = int(
                        conn.execute(
                            text("SELECT oid FROM pg_database WHERE datname = current_database()")
                        ).scalar_one()
                    )
                pg_bin = find_pg_bin()
                assert pg_bin is not None
                cluster = Cluster(data, pg_bin)
                guard = DiskGuard(data, min_free_gb)
                free_before = guard.free_bytes()
                upgrade_to_head(engine)
                with engine.begin() as conn:
                    for month in range(months + 1):
                        ensure_partitions(conn, now=span.start + timedelta(days=30.4 * month))
                print(f"  filling {n:,} ({guard.free_bytes() / GB:.1f} GB free; {load()})", flush=True)
                report = fill_bulk(engine, span, guard, deadline=fill_deadline, max_months=fill_months)
                used = free_before - guard.free_bytes()
                loaded = report.events
                print(
                    f"  filled {loaded:,} events in {report.seconds:.0f} s"
                    f" ({loaded / report.seconds:,.0f} ev/s):"
                    f" insert {report.insert_s:.0f} s, attach (index builds) {report.attach_s:.0f} s,"
                    f" vacuum {report.vacuum_s:.0f} s, analyze {report.analyze_s:.0f} s;"
                    f" events + alerts + audit {report.bytes_on_disk / GB:.1f} GB"
                    f" ({report.bytes_on_disk / max(loaded, 1):.0f} B/event), disk used {used / GB:.1f} GB,"
                    f" lowest free {guard.lowest_free / GB:.1f} GB; {load()}",
                    flush=True,
                )
                if loaded == 0:
                    continue
                if report.stopped:
                    print(
                        f"  the fill stopped: {loaded:,} of {n:,} events loaded, the newest months"
                        f" (events {report.first:,}..{n:,}) at {n:,}-event density; measuring those",
                        flush=True,
                    )
                middle = _middle_event(engine, span, report.first)
                print(f"  warm ({load()})", flush=True)
                warm = measure(engine, now, n, repeat, middle)
                warm_plans = {
                    q: plan_summary(engine, captured_statements(engine, run))
                    for q, run in queries(now, n, middle).items()
                }
                for q, (median, worst) in warm.items():
                    print(f"    {q:36s} {median:8.2f} / {worst:8.2f} ms   {warm_plans[q]}", flush=True)
                print(
                    f"  cold: restart + this database's files out of the page cache before each ({load()})",
                    flush=True,
                )
                cold_runs = measure_cold(engine, cluster, db_oid, now, n, middle)
                for q, (ms, plan) in cold_runs.items():
                    print(f"    {q:36s} {ms:8.2f} ms   {plan}", flush=True)
                if index_ab:
                    from bench_partitions_index import compare_indexes

                    compare_indexes(engine, partial(cold, engine, cluster, db_oid), now, loaded, repeat)
                drop_s, dropped = drop_oldest_month(engine, True, span.start)
                print(
                    f"  removing the oldest month ({dropped:,} events): DROP {drop_s:.2f} s; {load()}",
                    flush=True,
                )
                summary[loaded] = (warm, warm_plans, cold_runs, report)
            finally:
                engine.dispose()
                with psycopg.connect(admin, autocommit=True) as c:
                    c.execute(f'DROP DATABASE IF EXISTS "{name}"')
                print(
                    f"  dropped database {name}; {shutil.disk_usage(data).free / GB:.1f} GB free", flush=True
                )
    print("\n  query: warm median / worst ms, cold ms")
    for n, (warm, _, cold_runs, _) in summary.items():
        print(f"  at {n:,} events")
        for q in warm:
            print(f"    {q:36s} {warm[q][0]:8.2f} / {warm[q][1]:8.2f}   cold {cold_runs[q][0]:8.2f}")
