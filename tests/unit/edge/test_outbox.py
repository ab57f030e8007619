"""The durable outbox and its sender: outages cost delay, never events; no duplicates."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lineguard.contracts.events import InspectionEvent, ModelRef, Verdict
from lineguard.contracts.ids import new_id
from lineguard.edge.outbox import (
    BatchRejectedError,
    MemoryIngestServer,
    MemoryTransport,
    Outbox,
    OutboxSender,
)


def event(verdict: Verdict = Verdict.PASS, node_id: str = "node-1") -> InspectionEvent:
    eid = new_id("evt")
    return InspectionEvent(
        event_id=eid,
        idempotency_key=f"{node_id}:{eid}",
        node_id=node_id,
        site_id="plant-a",
        line_id="line-1",
        station_id="st-10",
        camera_id="cam-1",
        frame_id=0,
        captured_at=datetime.now(UTC),
        model=ModelRef(model_id="m", version=1, sha256="ab" * 32),
        verdict=verdict,
        anomaly_score=0.1,
        threshold=0.5,
        latency_ms=1.0,
    )


def test_put_is_durable_across_reopen_and_idempotent(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    e = event()
    box.put(e)
    box.put(e)  # same idempotency key: stored once
    box.close()
    again = Outbox(tmp_path / "o.db")
    assert again.backlog() == 1
    assert InspectionEvent.model_validate_json(again.pending(10)[0].body) == e


def test_shed_frees_delivered_rows_then_old_passes_never_fails(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", fsync=False)
    fails = [event(Verdict.FAIL) for _ in range(3)]
    passes = [event(Verdict.PASS) for _ in range(5)]
    for e in [*fails, *passes]:
        box.put(e)
    sent = box.pending(1)  # the first fail, delivered
    box.mark_sent([i.seq for i in sent])
    assert box.shed(3) == 3  # 1 delivered row + 2 oldest passes
    left = {i.idempotency_key for i in box.pending(100)}
    assert {e.idempotency_key for e in fails[1:]} <= left
    assert {e.idempotency_key for e in passes[2:]} <= left
    assert box.shed(100) == 3  # only the remaining passes go
    assert {i.idempotency_key for i in box.pending(100)} == {e.idempotency_key for e in fails[1:]}
    assert box.shed_count == 5


def _sender(box: Outbox, server: MemoryIngestServer, stop: threading.Event) -> OutboxSender:
    return OutboxSender(
        stop,
        outbox=box,
        transport=MemoryTransport(server),
        node_id="node-1",
        batch_size=7,
        flush_interval_s=0.01,
        retry_max_s=0.05,
    )


def _wait(predicate: object, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def test_an_outage_of_any_length_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", fsync=False)
    server = MemoryIngestServer()
    stop = threading.Event()
    sender = _sender(box, server, stop)
    sender.start()
    try:
        keys = set()
        for round_ in range(3):
            server.up = round_ != 1  # the middle round happens during an outage
            for _ in range(20):
                e = event()
                keys.add(e.idempotency_key)
                box.put(e)
            if round_ == 1:
                _wait(lambda: sender.failures >= 3)
                assert box.backlog() >= 20 and not sender.connected
        server.up = True
        _wait(lambda: len(server.items) == 60 and box.backlog() == 0)
    finally:
        stop.set()
        sender.join(5)
    assert set(server.items) == keys
    assert server.duplicates == 0


def test_a_resend_after_a_lost_acknowledgement_is_deduplicated_by_the_server(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", fsync=False)
    server = MemoryIngestServer()
    for _ in range(5):
        box.put(event())
    # The server stores the batch, but the node dies before marking it sent.
    from lineguard.edge.outbox import build_batch

    MemoryTransport(server).send_batch(build_batch("node-1", box.pending(10)))
    stop = threading.Event()
    sender = _sender(box, server, stop)
    sender.start()
    _wait(lambda: box.backlog() == 0)
    stop.set()
    sender.join(5)
    assert len(server.items) == 5
    assert server.duplicates == 5  # delivered twice, stored once


def test_a_rejected_batch_is_kept_and_counted_not_retried_forever(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", fsync=False)
    box.put(event())

    class Refusing(MemoryTransport):
        def send_batch(self, batch: object) -> None:
            raise BatchRejectedError("server refused /api/v1/ingest/batch with 422")

    stop = threading.Event()
    sender = OutboxSender(
        stop, outbox=box, transport=Refusing(MemoryIngestServer()), node_id="node-1", flush_interval_s=0.01
    )
    sender.step()
    assert sender.rejected == 1
    assert box.backlog() == 0
    assert box.counts() == {"rejected": 1}


@pytest.mark.parametrize("minutes_down", [0, 1])
def test_heartbeats_carry_node_health(tmp_path: Path, minutes_down: int) -> None:
    from lineguard.contracts.events import NodeHeartbeat

    box = Outbox(tmp_path / "o.db", fsync=False)
    server = MemoryIngestServer()
    server.up = minutes_down == 0
    hb = NodeHeartbeat(
        node_id="node-1",
        site_id="plant-a",
        line_id="line-1",
        sent_at=datetime.now(UTC),
        software_version="x",
        uptime_s=1.0,
        outbox_backlog=0,
        disk_used_bytes=0,
    )
    sender = OutboxSender(
        threading.Event(),
        outbox=box,
        transport=MemoryTransport(server),
        node_id="node-1",
        flush_interval_s=0.001,
        heartbeat=lambda: hb,
    )
    sender.step()
    assert server.heartbeats == ([hb] if server.up else [])


def test_delete_on_ack_keeps_only_what_the_server_has_not_acknowledged(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", fsync=False, delete_on_ack=True)
    events = [event() for _ in range(50)]
    for e in events:
        box.put(e)
    server = MemoryIngestServer()
    sender = OutboxSender(
        threading.Event(), outbox=box, transport=MemoryTransport(server), node_id="node-1", batch_size=20
    )
    sender.step()
    assert len(server.items) == 20
    assert box.counts() == {"pending": 30}  # the 20 acknowledged rows are gone, not 'sent'
    server.up = False
    sender.step()  # not acknowledged: nothing is deleted
    assert box.counts() == {"pending": 30}
    assert box.keys() == {e.idempotency_key for e in events[20:]}


def test_free_pages_go_back_to_the_file_system_after_a_backlog_is_delivered(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = Outbox(path, fsync=False, delete_on_ack=True)
    for _ in range(3000):
        box.put(event())
    box._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    full = path.stat().st_size
    server = MemoryIngestServer()
    sender = OutboxSender(
        threading.Event(), outbox=box, transport=MemoryTransport(server), node_id="node-1", batch_size=500
    )
    while box.backlog():
        sender.step()
    assert len(server.items) == 3000
    assert box.release_free_pages() > 0
    box._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert path.stat().st_size < full / 10, (full, path.stat().st_size)
    assert box.release_free_pages() == 0  # nothing left to give back


def test_an_old_database_without_auto_vacuum_keeps_working(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "o.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE items (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
        "idempotency_key TEXT NOT NULL UNIQUE, verdict TEXT, body BLOB NOT NULL, created_at REAL NOT NULL, "
        "sent_at REAL, status TEXT NOT NULL DEFAULT 'pending');"
    )
    old.close()
    box = Outbox(path, fsync=False, delete_on_ack=True)
    assert box._db.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    e = event()
    box.put(e)
    box.mark_sent([s.seq for s in box.pending(10)])
    assert box.counts() == {}
    box.release_free_pages()  # reports free pages, changes nothing: no error
