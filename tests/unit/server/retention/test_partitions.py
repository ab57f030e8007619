"""Retention on PostgreSQL's monthly partitions: an expired month is crypto-shredded, then
dropped whole; a month holding a record under legal hold is swept row by row instead; the
audit log's expired months go at a signed checkpoint and the chain still verifies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import RetentionConfig
from lineguard.contracts.audit import KeysRotated
from lineguard.contracts.errors import CryptoError
from lineguard.crypto import Envelope
from lineguard.server.audit import AuditSigner, DatabaseLog, Ed25519Verifier, create_checkpoint, record
from lineguard.server.ingest.models import InspectionEventRow
from lineguard.server.keystore.models import DataKeyRow
from lineguard.server.retention import place_hold, run_sweep
from lineguard.server.storage import ensure_partitions, month_partitions
from tests.unit.server.retention.conftest import NOW, add_event

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

CONFIG = RetentionConfig(inspection_events_days=365, evidence_refs_days=90, alerts_days=30)
OLD_DAYS = 420  # 2025-09-28 .. before NOW = 2026-11-22: a month wholly past 365 days


def _months(sessions: sessionmaker[Session], table: str) -> list[str]:
    with sessions() as session:
        return [p.name for p in month_partitions(session.connection(), table)]


def _keys(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return sorted(session.scalars(select(InspectionEventRow.idempotency_key)))


def test_an_expired_month_is_shredded_then_dropped_whole(
    sessions: sessionmaker[Session], envelope: Envelope
) -> None:
    old = [add_event(sessions, envelope, f"old-{i}", OLD_DAYS + i / 10) for i in range(3)]
    fresh = add_event(sessions, envelope, "fresh", 5)
    old_month = f"inspection_events_p{NOW - timedelta(days=OLD_DAYS):%Y%m}"

    result = run_sweep(sessions, CONFIG, now=NOW)

    assert old_month not in _months(sessions, "inspection_events")  # dropped, not emptied
    assert f"inspection_events_p{NOW:%Y%m}" in _months(sessions, "inspection_events")
    assert result.deleted["inspection_events"] == 3
    assert result.keys_shredded == 3
    assert _keys(sessions) == ["fresh"]
    for i, sealed in enumerate(old):  # shredded before the drop: a backup copy no longer opens
        with pytest.raises(CryptoError, match="crypto-shredded"):
            envelope.open(sealed, object_id=f"node-1:old-{i}", category="inspection_events")
    assert envelope.open(fresh, object_id="node-1:fresh", category="inspection_events") == b"part-fresh"
    with sessions() as session:
        assert (
            session.scalar(select(DataKeyRow.object_id).where(DataKeyRow.object_id == "node-1:old-0")) is None
        )


def test_a_month_with_a_held_record_is_kept_and_swept_row_by_row(
    sessions: sessionmaker[Session], envelope: Envelope
) -> None:
    for i in range(3):
        add_event(sessions, envelope, f"old-{i}", OLD_DAYS + i / 10)
    with sessions() as session:
        place_hold(
            session,
            category_name="inspection_events",
            record_id="evt_old-1",
            reason="case 7",
            actor="user:qa",
        )
    old_month = f"inspection_events_p{NOW - timedelta(days=OLD_DAYS):%Y%m}"

    result = run_sweep(sessions, CONFIG, now=NOW)

    assert old_month in _months(sessions, "inspection_events")
    assert _keys(sessions) == ["old-1"]  # the held one stays, the others expired row by row
    assert result.deleted["inspection_events"] == 2
    assert result.held["inspection_events"] == 1


def _bucket_keys(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return len(
            session.scalars(select(DataKeyRow.key_id).where(DataKeyRow.object_id.startswith("#"))).all()
        )


def test_a_dropped_month_takes_its_hour_buckets_keys_with_it(
    sessions: sessionmaker[Session], envelope: Envelope
) -> None:
    old = [add_event(sessions, envelope, f"old-{i}", OLD_DAYS + i / 10, bucketed=True) for i in range(3)]
    add_event(sessions, envelope, "old-3", OLD_DAYS + 0.2 + 1 / 3600, bucketed=True)  # old-2's hour
    fresh = add_event(sessions, envelope, "fresh", 5, bucketed=True)
    assert _bucket_keys(sessions) == 4

    result = run_sweep(sessions, CONFIG, now=NOW)

    assert result.deleted["inspection_events"] == 4
    assert result.keys_shredded == 3  # three hour buckets, in the partition's transaction
    assert _bucket_keys(sessions) == 1
    for i, sealed in enumerate(old):
        with pytest.raises(CryptoError, match="crypto-shredded"):
            envelope.open(sealed, object_id=f"node-1:old-{i}", category="inspection_events")
    assert envelope.open(fresh, object_id="node-1:fresh", category="inspection_events") == b"part-fresh"


def test_a_held_record_keeps_its_month_and_its_buckets_key(
    sessions: sessionmaker[Session], envelope: Envelope
) -> None:
    old = {i: add_event(sessions, envelope, f"old-{i}", OLD_DAYS + i / 10, bucketed=True) for i in range(3)}
    with sessions() as session:
        place_hold(
            session, category_name="inspection_events", record_id="evt_old-1", reason="c", actor="user:qa"
        )

    result = run_sweep(sessions, CONFIG, now=NOW)

    assert _keys(sessions) == ["old-1"]
    assert result.keys_shredded == 2  # the held record's hour stays; the month's other two go
    assert envelope.open(old[1], object_id="node-1:old-1", category="inspection_events") == b"part-old-1"
    for i in (0, 2):
        with pytest.raises(CryptoError, match="crypto-shredded"):
            envelope.open(old[i], object_id=f"node-1:old-{i}", category="inspection_events")


def test_expired_audit_months_drop_at_a_checkpoint_and_the_chain_still_verifies(
    sessions: sessionmaker[Session],
) -> None:
    signer = AuditSigner.generate()
    for i in range(12):  # entries 800..789 days old, two months of them; checkpoints at 5 and 10
        at = NOW - timedelta(days=800 - 3 * i)
        with sessions.begin() as session:
            record(session, KeysRotated(old_kek_id="a", new_kek_id="b", rewrapped=i), actor="cli:t", now=at)
            if i in (4, 9):
                create_checkpoint(session, signer, site_id="plant-a", now=at)
    with sessions.begin() as session:  # what the sweep does first: the entries' months get partitions
        ensure_partitions(session.connection(), now=NOW)
    before = _months(sessions, "audit_log")
    assert {"audit_log_p202409", "audit_log_p202410"} <= set(before)

    result = run_sweep(sessions, RetentionConfig(audit_log_days=400), now=NOW)

    assert result.deleted["audit_log"] == 10
    # September (seq 1-6) lies wholly inside the prune (through the checkpoint at 10): dropped.
    # October also holds 11 and 12, which wait for the next checkpoint: kept, 7-10 deleted.
    assert set(before) - set(_months(sessions, "audit_log")) == {"audit_log_p202409"}
    with sessions.begin() as session:
        create_checkpoint(session, signer, site_id="plant-a")
    with sessions() as session:
        report = Ed25519Verifier(signer.public).verify(DatabaseLog(session, site_id="plant-a"))
    assert report.first_seq == 11
