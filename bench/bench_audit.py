"""Audit log and envelope-encryption benchmark (one command, figures for docs/benchmarks.md).

    .venv/bin/python bench/bench_audit.py [--entries 200000] [--db sqlite|postgresql|URL]

Measures, in one run and against baselines taken in the same run:

* ``record()`` — appending one audit entry through the choke point (chain-head lock,
  hash, Merkle frontier) vs a plain INSERT of the same row: the cost of tamper evidence;
* verification throughput (entries/s) of a long log, from the database and from an
  export file (the issue asks for >= 100,000 entries/s);
* envelope sealing per object, with data keys stored one by one vs batched
  (``Envelope.batch()``), vs bare AES-256-GCM with a fixed key.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from sqlalchemy import insert

from lineguard.contracts.audit import IngestBatchAccepted
from lineguard.crypto import Envelope, KdfParams, Keyring, canonical_json, utc_text
from lineguard.server.audit import (
    AuditSigner,
    DatabaseLog,
    Ed25519Verifier,
    ExportedLog,
    MerkleFrontier,
    create_checkpoint,
    entry_hash,
    record,
    write_export,
)
from lineguard.server.audit.models import AuditChainHead, AuditEntryRow
from lineguard.server.keystore import SqlDataKeyStore
from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s"


def bench_record(sessions, n: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Mean µs per record() and per plain INSERT, each in its own transaction."""
    event = IngestBatchAccepted(node_id="node-1", batch_id="b", events=100)
    start = time.perf_counter()
    for _ in range(n):
        with sessions.begin() as session:
            record(session, event, actor="node:node-1")
    audited = (time.perf_counter() - start) / n * 1e6
    payload = canonical_json(event.model_dump(mode="json")).decode()
    start = time.perf_counter()
    for i in range(n):
        with sessions.begin() as session:
            session.execute(
                insert(AuditEntryRow),
                [
                    {
                        "seq": 10_000_000 + i,
                        "event_id": f"plain{i}",
                        "recorded_at": datetime.now(UTC),
                        "name": event.event_name,
                        "actor": "node:node-1",
                        "outcome": "success",
                        "payload": payload,
                        "prev_hash": "0" * 64,
                        "entry_hash": "0" * 64,
                    }
                ],
            )
    plain = (time.perf_counter() - start) / n * 1e6
    with sessions.begin() as session:
        session.query(AuditEntryRow).filter(AuditEntryRow.seq >= 10_000_000).delete()
    return audited, plain


def fill_fast(sessions, signer: AuditSigner, n: int, start_seq: int) -> None:  # type: ignore[no-untyped-def]
    """Append ``n`` valid entries by bulk insert (computing the chain here), then sign a checkpoint."""
    with sessions.begin() as session:
        head = session.get(AuditChainHead, 1)
        prev, frontier = head.entry_hash, MerkleFrontier.from_json(head.frontier)
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        payload = canonical_json(
            IngestBatchAccepted(node_id="node-1", batch_id="b", events=100).model_dump(mode="json")
        ).decode()
        rows = []
        for seq in range(start_seq, start_seq + n):
            at = t0 + timedelta(milliseconds=seq)
            h = entry_hash(
                seq=seq,
                event_id=f"aud_{seq}",
                recorded_at=utc_text(at),
                name="ingest.batch_accepted",
                actor="node:node-1",
                outcome="success",
                payload=payload,
                prev_hash=prev,
            )
            rows.append(
                {
                    "seq": seq,
                    "event_id": f"aud_{seq}",
                    "recorded_at": at,
                    "name": "ingest.batch_accepted",
                    "actor": "node:node-1",
                    "outcome": "success",
                    "payload": payload,
                    "prev_hash": prev,
                    "entry_hash": h,
                }
            )
            frontier.append_entry(h)
            prev = h
            if len(rows) == 10_000:
                session.execute(insert(AuditEntryRow), rows)
                rows = []
        if rows:
            session.execute(insert(AuditEntryRow), rows)
        head.seq, head.entry_hash, head.frontier = start_seq + n - 1, prev, frontier.to_json()
    with sessions.begin() as session:
        create_checkpoint(session, signer, site_id="bench")


def bench_envelope(tmp: Path, sessions, n: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    keyring = Keyring.create(
        tmp / "keyring.json", SecretStr("bench passphrase"), kdf=KdfParams.insecure_for_tests()
    )
    env = Envelope(keyring, SqlDataKeyStore(sessions))
    value = b"part-0001234567"
    out: dict[str, float] = {}
    key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
    aead = AESGCM(key)
    start = time.perf_counter()
    for _ in range(n):
        aead.encrypt(nonce, value, b"")
    out["bare AES-256-GCM (fixed key)"] = (time.perf_counter() - start) / n * 1e6
    start = time.perf_counter()
    for i in range(n // 10):
        env.seal(value, object_id=f"single{i}", category="bench")
    out["seal, data key stored per object"] = (time.perf_counter() - start) / (n // 10) * 1e6
    start = time.perf_counter()
    blobs = []
    for b in range(n // 100):
        with env.batch():
            blobs += [env.seal(value, object_id=f"b{b}-{i}", category="bench") for i in range(100)]
    out["seal, batched per 100 (ingest batch)"] = (time.perf_counter() - start) / n * 1e6
    start = time.perf_counter()
    for i, blob in enumerate(blobs[:2000]):
        env.open(blob, object_id=f"b{i // 100}-{i % 100}", category="bench")
    out["open (key fetched + unwrapped)"] = (time.perf_counter() - start) / 2000 * 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--records", type=int, default=2_000)
    parser.add_argument(
        "--db", default="sqlite", help="'sqlite' (temp file) or a SQLAlchemy URL of an empty database"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lg-bench-audit-"))
    with contextlib.ExitStack() as stack:
        if args.db == "sqlite":
            url = f"sqlite:///{tmp / 'bench.db'}"
        elif args.db == "postgresql":
            import psycopg

            # tests.support.postgres: the same throwaway cluster as the tests
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.support.postgres import postgres_cluster

            base = stack.enter_context(postgres_cluster())
            with psycopg.connect(
                base.replace("postgresql+psycopg://", "postgresql://") + "/postgres", autocommit=True
            ) as c:
                c.execute('CREATE DATABASE "bench_audit"')
            url = f"{base}/bench_audit"
        else:
            url = args.db
        run(args, tmp, url)


def run(args: argparse.Namespace, tmp: Path, url: str) -> None:
    engine = create_engine_for(url)
    upgrade_to_head(engine)
    sessions = session_factory(engine)
    signer = AuditSigner.generate()
    load = os.getloadavg()[0]
    print(f"database: {engine.dialect.name}; cores: {os.cpu_count()}; load average at start: {load:.1f}")
    print("(wall-clock rates suffer when other work shares the cores; per-CPU-second rates much less)")

    audited, plain = bench_record(sessions, args.records)
    print(
        f"record(): {audited:,.0f} µs/entry vs plain INSERT {plain:,.0f} µs  (ratio {audited / plain:.2f}x; "
        f"at 100 events per ingest batch: {audited / 100:.1f} µs per event)"
    )

    fill_fast(sessions, signer, args.entries, start_seq=args.records + 1)
    verifier = Ed25519Verifier(signer.public)
    runs, cpu = [], []
    for _ in range(3):
        with sessions() as session:
            start, start_cpu = time.perf_counter(), time.process_time()
            report = verifier.verify(DatabaseLog(session, site_id="bench"))
            runs.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    print(
        f"verify from {engine.dialect.name}: {report.entries:,} entries, "
        f"wall {_rate(report.entries, statistics.median(runs))}"
        f", per CPU-second {_rate(report.entries, statistics.median(cpu))}"
    )
    export = tmp / "audit.jsonl"
    with sessions() as session, export.open("w", encoding="utf-8") as out:
        start = time.perf_counter()
        write_export(session, out, site_id="bench", key_id=signer.key_id)
        took = time.perf_counter() - start
        print(f"export: {_rate(report.entries, took)} ({export.stat().st_size / 1e6:.0f} MB)")
    runs, cpu = [], []
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        report = verifier.verify(ExportedLog(export))
        runs.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(
        f"verify export file: wall {_rate(report.entries, statistics.median(runs))}, "
        f"per CPU-second {_rate(report.entries, statistics.median(cpu))}"
    )

    for what, micros in bench_envelope(tmp, sessions, 20_000).items():
        print(f"envelope: {what}: {micros:,.1f} µs/object")
    engine.dispose()


if __name__ == "__main__":
    main()
