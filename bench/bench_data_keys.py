"""Bytes per event of the ``data_keys`` rows real encrypted ingest writes (PostgreSQL).

``bench_partitions --bulk`` loads events, alerts and audit with real payload sizes but no
``data_keys`` rows. Real ingest with encryption on writes one wrapped data key per sealed
field: every event's part id (category ``inspection_events``) and every alert's message
(``alerts``, 1 alert per 20 events in the bulk loader's proportions). This seals
``--events`` part ids and their alerts' messages with the server's envelope (a real
keyring, ``SqlDataKeyStore``), in ingest's batches of 100 under ``envelope.batch()`` with
ingest's object ids (``<node>:<idempotency key>``), on a head-schema database, then
``VACUUM ANALYZE`` and reports ``pg_total_relation_size('data_keys')`` (heap, TOAST and
every index) per row and per event.

    python bench/bench_data_keys.py --events 200000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_partitions import load  # noqa: E402

BATCH = 100
ALERT_EVERY = 20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()

    import psycopg
    from pydantic import SecretStr
    from sqlalchemy import text
    from tests.support.postgres import postgres_cluster

    from lineguard.contracts.ids import new_id
    from lineguard.crypto import Envelope, KdfParams, Keyring
    from lineguard.server.keystore import SqlDataKeyStore
    from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head

    print(f"bench_data_keys: {args.events:,} events, 1 alert per {ALERT_EVERY}; {load()}", flush=True)
    with postgres_cluster() as base, tempfile.TemporaryDirectory() as tmp:
        with psycopg.connect(base.replace("+psycopg", "") + "/postgres", autocommit=True) as c:
            c.execute('CREATE DATABASE "keys"')
        engine = create_engine_for(f"{base}/keys")
        try:
            upgrade_to_head(engine)
            sessions = session_factory(engine)
            keyring = Keyring.create(
                Path(tmp) / "keyring.json", SecretStr("bench keyring"), kdf=KdfParams.insecure_for_tests()
            )
            envelope = Envelope(keyring, SqlDataKeyStore(sessions))
            node = "node-00"
            t0 = time.perf_counter()
            for start in range(0, args.events, BATCH):
                keys = [f"{node}:{new_id('evt')}" for _ in range(start, min(args.events, start + BATCH))]
                with envelope.batch():
                    envelope.seal_many([(k, b"P-ACME-0000042") for k in keys], category="inspection_events")
                    alerts = [(f"{node}:{new_id('alr')}", b"scratch on part 42") for k in keys[::ALERT_EVERY]]
                    envelope.seal_many(alerts, category="alerts")
            seconds = time.perf_counter() - t0
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE data_keys"))
                rows = conn.execute(text("SELECT count(*) FROM data_keys")).scalar_one()
                parts = conn.execute(
                    text(
                        "SELECT pg_relation_size('data_keys'), pg_indexes_size('data_keys'),"
                        " pg_total_relation_size('data_keys'),"
                        " avg(octet_length(key_id) + octet_length(category) + octet_length(object_id)"
                        " + octet_length(kek_id) + octet_length(wrapped)) FROM data_keys"
                    )
                ).one()
        finally:
            engine.dispose()
    heap, indexes, total, fields = parts
    print(
        f"  {rows:,} data_keys rows in {seconds:.0f} s: heap {heap / rows:.0f} B/row,"
        f" indexes {indexes / rows:.0f} B/row, total {total / rows:.0f} B/row"
        f" (field bytes {float(fields):.0f});"
        f" per event (1 + 1/{ALERT_EVERY} keys) {total / args.events:.0f} B; {load()}",
        flush=True,
    )


if __name__ == "__main__":
    main()
