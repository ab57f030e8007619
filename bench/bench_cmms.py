"""CMMS delivery benchmark: sustained work-order throughput with a failing CMMS, p99 after recovery.

    .venv/bin/python bench/bench_cmms.py [--orders 400] [--db sqlite|URL] [--concurrency 4]

A local webhook CMMS over HTTPS (the test suite's :class:`FakeWebhook`: signature
checked, idempotency keys honoured, a pinned test CA) and the real delivery path
(queue, leases, :class:`Dispatcher`, egress gate, sealing with ``NoEncryption``,
the real audit chain). Three phases, each on a fresh database, in one run:

1. **baseline** — ``--orders`` work orders, the CMMS answers every request;
2. **20 % failing** — the same, the CMMS answers 20 % of requests ``503`` at random;
   backoff 50 ms doubling to 1 s with jitter (short, so the run is about throughput,
   not waiting); prints orders/s and the ratio to the baseline;
3. **outage and recovery** — the CMMS answers everything ``503`` while ``--orders``
   work orders are queued over 3 s, then recovers; prints the delivery latency of each
   order measured from the recovery (p50 / p99 / max), and from being queued.

Every phase checks that each work order was created exactly once at the CMMS.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select
from tests.support.fake_cmms import FakeWebhook
from tests.support.http_stub import Reply, StubRequest
from tests.support.test_pki import TestCa

from lineguard.config.server import ServerConfig
from lineguard.contracts.ids import new_id
from lineguard.server.audit import AuditRecorder
from lineguard.server.egress import build_gate
from lineguard.server.integrations import (
    CmmsDeliveryRow,
    IntegrationsState,
    WorkOrder,
    queue_work_order,
)
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head

KEY = "bench-webhook-key-0123456789abcdef0123456789"


class FlakyWebhook(FakeWebhook):
    """Fails a fraction of create requests with 503 (before creating anything)."""

    def __init__(self, *, fail_ratio: float, **kw: Any) -> None:
        super().__init__(**kw)
        self.fail_ratio = fail_ratio
        self.rng = random.Random(7)
        self.requests_seen = 0

    def _handle(self, request: StubRequest) -> Reply:
        self.requests_seen += 1
        if request.method == "POST" and self.rng.random() < self.fail_ratio:
            return Reply(503, b'{"message": "injected"}')
        return super()._handle(request)


def _database(tmp: Path, db: str, phase: str) -> str:
    if db == "sqlite":
        return f"sqlite:///{tmp / f'{phase}.db'}"
    return db


def _orders(n: int) -> list[WorkOrder]:
    now = datetime.now(UTC)
    return [
        WorkOrder(
            work_order_id=(wid := new_id("rev")),
            idempotency_key=wid,
            title="Recurring scratch defects on line-1",
            description="3 scratch defects on line line-1 within 10 minutes (rule defect_burst).",
            priority="high",
            site_id="plant-a",
            line_id="line-1",
            station_id="st-3",
            asset_id="4711",
            location_id="12",
            defect_class="scratch",
            evidence_ref="ev-1",
            source="rule:defect_burst",
            created_at=now,
        )
        for _ in range(n)
    ]


def run_phase(tmp: Path, db_url: str, ca: TestCa, *, orders: int, fail_ratio: float, concurrency: int,
              outage_s: float = 0.0) -> dict[str, Any]:  # fmt: skip
    leaf = ca.issue(["localhost"], stem=f"cmms-{new_id('c')[-6:]}")
    fake = FlakyWebhook(fail_ratio=fail_ratio, key_id="k1", secret=KEY, tls=leaf).__enter__()
    engine = create_engine_for(db_url)
    upgrade_to_head(engine)
    sessions = session_factory(engine)
    settings = ServerConfig.model_validate({
        "kind": "server", "site_id": "plant-a", "data_dir": str(tmp / "data"),
        "egress": {"allow": [{"scheme": "https", "host": "localhost", "port": fake.port,
                              "ca_file": str(ca.cert_path), "addresses": ["127.0.0.0/8"]}]},
        "integrations": {
            "cmms": [{"kind": "webhook", "name": "hook", "url": f"https://localhost:{fake.port}/hooks/work-orders",
                      "signing": {"key_id": "k1", "secret": {"env": "LG_BENCH_WEBHOOK_KEY"}}}],
            "delivery": {"max_attempts": 50, "backoff_base_s": 0.05, "backoff_max_s": 1.0, "batch": 50},
        },
    })  # fmt: skip
    audit = AuditRecorder()
    gate = build_gate(settings, sessions=sessions, audit=audit,
                      resolver=lambda h, p: [ipaddress.ip_address("127.0.0.1")])  # fmt: skip
    state = IntegrationsState.build(
        settings, sessions=sessions, sealer=NoEncryption(), audit=audit, gate=gate
    )
    state.dispatcher.concurrency = concurrency
    work = _orders(orders)
    queued_at: dict[str, datetime] = {}
    stop = threading.Event()

    def deliver() -> None:
        while not stop.is_set():
            if not state.dispatcher.run_once().settled:
                time.sleep(0.005)

    recovery_at: datetime | None = None
    if outage_s:
        fake.fail_ratio = 1.0
        sender = threading.Thread(target=deliver)
        sender.start()
        start = time.perf_counter()
        for i, order in enumerate(work):
            with sessions.begin() as session:
                queue_work_order(session, order=order, sealer=NoEncryption(), destinations=["hook"])
            queued_at[order.work_order_id] = datetime.now(UTC)
            time.sleep(max(0.0, start + outage_s * (i + 1) / orders - time.perf_counter()))
        fake.fail_ratio = fail_ratio
        recovery_at = datetime.now(UTC)
        t0 = time.perf_counter()
    else:
        with sessions.begin() as session:
            for order in work:
                queue_work_order(session, order=order, sealer=NoEncryption(), destinations=["hook"])
                queued_at[order.work_order_id] = datetime.now(UTC)
        t0 = time.perf_counter()
        sender = threading.Thread(target=deliver)
        sender.start()
    while True:
        with sessions() as session:
            rows = session.scalars(select(CmmsDeliveryRow)).all()
        if rows and all(r.state != "pending" for r in rows):
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - t0
    stop.set()
    sender.join()
    fake.__exit__()
    engine.dispose()
    assert all(r.state == "delivered" for r in rows), "an order was dead-lettered"
    assert len(fake.created) == orders, f"created {len(fake.created)} of {orders}"
    assert len(set(fake.by_key)) == orders, "a work order was created twice"
    since_queued = sorted((r.delivered_at - queued_at[r.work_order_id]).total_seconds() * 1000 for r in rows)
    result: dict[str, Any] = {
        "orders_per_s": orders / elapsed,
        "requests": fake.requests_seen,
        "attempts": sum(r.attempts for r in rows),
        "p50_queued_ms": statistics.median(since_queued),
        "p99_queued_ms": since_queued[int(0.99 * (len(since_queued) - 1))],
    }
    if recovery_at is not None:
        since_recovery = sorted(max(0.0, (r.delivered_at - recovery_at).total_seconds() * 1000) for r in rows)
        result |= {
            "p50_recovery_ms": statistics.median(since_recovery),
            "p99_recovery_ms": since_recovery[int(0.99 * (len(since_recovery) - 1))],
            "max_recovery_ms": since_recovery[-1],
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument(
        "--db", default="sqlite", help="sqlite, or a postgresql+psycopg:// URL of an empty database"
    )
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    os.environ["LG_BENCH_WEBHOOK_KEY"] = KEY
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ca = TestCa(tmp / "pki", "bench")
        print(f"{args.orders} work orders, webhook over HTTPS, {args.concurrency} senders, db {args.db}, "
              f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
        base = run_phase(tmp, _database(tmp, args.db, "base"), ca, orders=args.orders, fail_ratio=0.0,
                         concurrency=args.concurrency)  # fmt: skip
        flaky = run_phase(tmp, _database(tmp, args.db, "flaky"), ca, orders=args.orders, fail_ratio=0.2,
                          concurrency=args.concurrency)  # fmt: skip
        outage = run_phase(tmp, _database(tmp, args.db, "outage"), ca, orders=args.orders, fail_ratio=0.0,
                           concurrency=args.concurrency, outage_s=3.0)  # fmt: skip
        print(
            f"baseline (0 % failing):  {base['orders_per_s']:7.1f} orders/s, {base['requests']} requests, "
            f"queued→delivered p50 {base['p50_queued_ms']:.0f} ms p99 {base['p99_queued_ms']:.0f} ms"
        )
        ratio = flaky["orders_per_s"] / base["orders_per_s"]
        print(
            f"20 % failing:            {flaky['orders_per_s']:7.1f} orders/s ({ratio:.2f}× "
            f"baseline), {flaky['attempts']} attempts for {args.orders} orders, "
            f"queued→delivered p99 {flaky['p99_queued_ms']:.0f} ms"
        )
        print(f"outage 3 s, recovery:    after recovery p50 {outage['p50_recovery_ms']:.0f} ms, "
              f"p99 {outage['p99_recovery_ms']:.0f} ms, max {outage['max_recovery_ms']:.0f} ms "
              f"({outage['attempts']} attempts); every order created once in every phase")  # fmt: skip
        print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
