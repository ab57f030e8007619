"""Kill the PostgreSQL primary mid-ingest, promote the standby: nothing acknowledged is lost,
nothing is stored twice.

A real primary and a synchronous streaming standby (``pg_basebackup -R``), a real plant
server (uvicorn, mTLS) whose database URL names both hosts with
``target_session_attrs=read-write``, and an enrolled node posting batches over HTTPS the
way its outbox does: a batch is resent, with the same idempotency keys, until a 200
acknowledges it. While it posts, the primary is stopped the way a crash stops it and the
standby is promoted a moment later; the server's pool reconnects to the new primary.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select
from tests.support.outbox import post_until_acknowledged
from tests.support.postgres import postgres_pair
from tests.unit.server.conftest import AuditTrail, Plant, make_plant_ca
from tests.unit.server.ingest import factory

from lineguard.config.server import DatabaseConfig, ServerConfig
from lineguard.edge.identity import enroll, https_client
from lineguard.server.app import create_app
from lineguard.server.ingest.models import InspectionEventRow
from lineguard.server.pki import ca_paths
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for
from lineguard.server.tls import ServerThread

BATCH = "/api/v1/ingest/batch"
BATCHES, EVENTS_PER_BATCH, KILL_AFTER_ACKS = 30, 5, 8


def test_failover_mid_ingest_loses_nothing_acknowledged_and_duplicates_nothing(tmp_path: Path) -> None:
    with postgres_pair() as pair:
        plain = f"postgresql://{pair.user}@127.0.0.1:{pair.primary_port}/postgres"
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute("CREATE DATABASE lineguard")
        url = pair.url("lineguard")
        engine = create_engine_for(url)
        settings = ServerConfig(
            kind="server", site_id="plant-a", data_dir=tmp_path / "server", database=DatabaseConfig(url=url)
        )
        ca = make_plant_ca(settings.data_dir)
        app = create_app(settings, engine=engine, sealer=NoEncryption(), ca=ca)  # the real audit chain
        paths = ca_paths(settings.data_dir)
        acknowledged: list[dict[str, Any]] = []
        failover: dict[str, float] = {}

        def crash_and_promote() -> None:
            while len(acknowledged) < KILL_AFTER_ACKS:
                time.sleep(0.01)
            failover["killed"] = time.monotonic()
            pair.kill_primary()
            time.sleep(1.0)  # an operator (or a failover manager) notices and promotes
            pair.promote()
            failover["promoted"] = time.monotonic()

        try:
            with ServerThread(
                app, cert_file=paths.server_cert, key_file=paths.server_key, ca_file=paths.cert
            ) as server:
                plant = Plant(settings, ca, engine, server, AuditTrail())
                enroll(plant.url, plant.token("node-a"), tmp_path / "node")
                batches = [
                    factory.batch("node-a", [factory.event("node-a") for _ in range(EVENTS_PER_BATCH)])
                    for _ in range(BATCHES)
                ]
                crasher = threading.Thread(target=crash_and_promote, name="crash")
                crasher.start()
                retried = 0
                with https_client(tmp_path / "node") as client:
                    for body in batches:
                        retried += post_until_acknowledged(client, body) - 1
                        if "killed" in failover and "first_ack_after" not in failover:
                            failover["first_ack_after"] = time.monotonic()
                        acknowledged.append(body)
                crasher.join(30)
            assert "promoted" in failover, "the primary was never killed: the run ended too soon"
            assert retried > 0  # the outage was seen by the node, not missed between batches

            with engine.connect() as conn:  # the pool now reaches the promoted standby
                assert conn.exec_driver_sql("SELECT pg_is_in_recovery()").scalar_one() is False
                keys = conn.scalars(select(InspectionEventRow.idempotency_key)).all()
                per_key = conn.execute(
                    select(func.count())
                    .select_from(InspectionEventRow)
                    .group_by(InspectionEventRow.idempotency_key)
                ).scalars()
                assert set(per_key) == {1}  # nothing stored twice
            sent = {e["idempotency_key"] for b in acknowledged for e in b["events"]}
            assert len(sent) == BATCHES * EVENTS_PER_BATCH
            assert set(keys) == sent  # every acknowledged event survived the failover
            outage_s = failover["first_ack_after"] - failover["killed"]
            print(f"failover outage window: {outage_s:.2f} s, {retried} retried posts")
        finally:
            engine.dispose()
