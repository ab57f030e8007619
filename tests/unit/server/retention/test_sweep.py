"""Sweeps delete what is older than its category's retention, crypto-shred it, keep held records."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import RetentionConfig
from lineguard.contracts.errors import ConflictError, CryptoError, InputError, NotFoundError
from lineguard.crypto import Envelope
from lineguard.server.audit import AuditSigner, DatabaseLog, Ed25519Verifier, create_checkpoint
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.ingest.models import AlertRow, InspectionEventRow
from lineguard.server.keystore import hour_bucket
from lineguard.server.keystore.models import DataKeyRow
from lineguard.server.retention import (
    CATEGORIES,
    RetentionCategory,
    place_hold,
    register,
    release_hold,
    run_sweep,
    start_sweeper,
)
from lineguard.server.retention.models import RetentionSweepRow
from tests.unit.server.retention.conftest import NOW, add_alert, add_event

CONFIG = RetentionConfig(inspection_events_days=365, evidence_refs_days=90, alerts_days=30)


def _events(sessions: sessionmaker[Session]) -> dict[str, str | None]:
    with sessions() as session:
        return dict(
            session.execute(select(InspectionEventRow.idempotency_key, InspectionEventRow.evidence_ref)).all()
        )  # type: ignore[arg-type]


def _audit_names(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(AuditEntryRow.name).order_by(AuditEntryRow.seq)))


def test_sweep_deletes_shreds_and_clears_per_category(
    sessions: sessionmaker[Session], envelope: Envelope
) -> None:
    old = add_event(sessions, envelope, "old", 400)
    add_event(sessions, envelope, "middle", 120)
    fresh = add_event(sessions, envelope, "fresh", 5)
    old_alert = add_alert(sessions, envelope, "a-old", 31)
    add_alert(sessions, envelope, "a-new", 2)

    result = run_sweep(sessions, CONFIG, now=NOW)

    assert result.deleted["inspection_events"] == 1
    assert result.deleted["evidence_refs"] == 1  # "middle": the event stays, its reference goes
    assert result.deleted["alerts"] == 1
    assert result.keys_shredded == 2
    assert _events(sessions) == {"middle": None, "fresh": "evd_fresh"}
    with sessions() as session:
        assert session.scalars(select(AlertRow.idempotency_key)).all() == ["a-new"]
    # Crypto-shredding: a stale copy of the old ciphertext elsewhere no longer opens.
    with pytest.raises(CryptoError, match="crypto-shredded"):
        envelope.open(old, object_id="node-1:old", category="inspection_events")
    with pytest.raises(CryptoError, match="crypto-shredded"):
        envelope.open(old_alert, object_id="node-1:a-old", category="alerts")
    assert envelope.open(fresh, object_id="node-1:fresh", category="inspection_events") == b"part-fresh"
    with sessions() as session:
        sweep = session.get(RetentionSweepRow, result.sweep_id)
        assert sweep is not None and sweep.status == "ok"
        assert sweep.deleted["inspection_events"] == 1 and sweep.keys_shredded == 2
    assert _audit_names(sessions) == ["retention.sweep"]
    assert run_sweep(sessions, CONFIG, now=NOW).deleted["inspection_events"] == 0  # idempotent


def test_sweep_shreds_v1_and_v2_sealed_records_alike(
    sessions: sessionmaker[Session], envelope: Envelope
) -> None:
    """A table written before and after sealed v2 holds both formats: each opens, and the
    sweep deletes and crypto-shreds both."""
    old_v1 = add_event(sessions, envelope, "old-v1", 400, sealed_v1=True)
    old_v2 = add_event(sessions, envelope, "old-v2", 400)
    fresh_v1 = add_event(sessions, envelope, "fresh-v1", 5, sealed_v1=True)
    assert (old_v1[6], old_v2[6]) == (1, 2)
    assert envelope.open(old_v1, object_id="node-1:old-v1", category="inspection_events") == b"part-old-v1"
    assert envelope.open(old_v2, object_id="node-1:old-v2", category="inspection_events") == b"part-old-v2"

    result = run_sweep(sessions, CONFIG, now=NOW)

    assert result.deleted["inspection_events"] == 2 and result.keys_shredded == 2
    for sealed, key in ((old_v1, "old-v1"), (old_v2, "old-v2")):
        with pytest.raises(CryptoError, match="crypto-shredded"):
            envelope.open(sealed, object_id=f"node-1:{key}", category="inspection_events")
    assert (
        envelope.open(fresh_v1, object_id="node-1:fresh-v1", category="inspection_events") == b"part-fresh-v1"
    )


def _days_before_now(at: datetime) -> float:
    return (NOW - at) / timedelta(days=1)


def _bucket_keys(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return sorted(
            session.scalars(
                select(DataKeyRow.object_id).where(
                    DataKeyRow.category == "inspection_events", DataKeyRow.object_id.startswith("#")
                )
            )
        )


def test_an_hour_buckets_key_goes_only_when_its_whole_hour_has_expired(
    sessions: sessionmaker[Session], envelope: Envelope
) -> None:
    """Part ids of one line and hour share a key: records are deleted as they expire,
    the key only when the last hour of its bucket has passed the cutoff."""
    later = NOW + timedelta(minutes=30)  # cutoff 365 days before: hh:30, inside an hour
    cutoff = later - timedelta(days=365)
    hour = cutoff.replace(minute=0)
    at = {
        "a1": hour - timedelta(minutes=50),  # the hour before the cutoff's: wholly expired
        "a2": hour - timedelta(minutes=10),
        "b1": hour + timedelta(minutes=10),  # the cutoff's own hour: expired ...
        "b2": hour + timedelta(minutes=40),  # ... and not yet
    }
    sealed = {k: add_event(sessions, envelope, k, _days_before_now(t), bucketed=True) for k, t in at.items()}
    assert len(_bucket_keys(sessions)) == 2
    add_event(sessions, envelope, "own-key", 400)  # sealed before buckets: a key of its own

    result = run_sweep(sessions, CONFIG, now=later)

    assert result.deleted["inspection_events"] == 4  # a1, a2, b1, own-key
    assert result.keys_shredded == 2  # own-key's and bucket a's
    assert set(_events(sessions)) == {"b2"}
    assert _bucket_keys(sessions) == [hour_bucket("plant-a", "line-1", hour)]
    for k in ("a1", "a2"):
        with pytest.raises(CryptoError, match="crypto-shredded"):
            envelope.open(sealed[k], object_id=f"node-1:{k}", category="inspection_events")
    # b1's row is gone from the database; a copy of it (a backup) opens until b's hour expires.
    assert envelope.open(sealed["b1"], object_id="node-1:b1", category="inspection_events") == b"part-b1"

    result = run_sweep(sessions, CONFIG, now=later + timedelta(hours=1))

    assert (result.deleted["inspection_events"], result.keys_shredded) == (1, 1)
    assert _events(sessions) == {} and _bucket_keys(sessions) == []
    for k in ("b1", "b2"):
        with pytest.raises(CryptoError, match="crypto-shredded"):
            envelope.open(sealed[k], object_id=f"node-1:{k}", category="inspection_events")


def test_a_legal_hold_keeps_its_buckets_key_until_released(
    sessions: sessionmaker[Session], envelope: Envelope
) -> None:
    base = (NOW - timedelta(days=400)).replace(minute=0)
    held = add_event(
        sessions, envelope, "case-9", _days_before_now(base + timedelta(minutes=5)), bucketed=True
    )
    other = add_event(
        sessions, envelope, "other", _days_before_now(base + timedelta(minutes=6)), bucketed=True
    )
    alone = add_event(sessions, envelope, "alone", _days_before_now(base + timedelta(hours=2)), bucketed=True)
    with sessions() as session:
        hold_id = place_hold(
            session,
            category_name="inspection_events",
            record_id="evt_case-9",
            reason="case 9",
            actor="user:qm",
        ).hold_id

    result = run_sweep(sessions, CONFIG, now=NOW)

    assert (result.deleted["inspection_events"], result.held["inspection_events"]) == (2, 1)
    assert result.keys_shredded == 1  # the other hour's bucket; the held record's stays
    assert set(_events(sessions)) == {"case-9"}
    assert envelope.open(held, object_id="node-1:case-9", category="inspection_events") == b"part-case-9"
    assert envelope.open(other, object_id="node-1:other", category="inspection_events") == b"part-other"
    with pytest.raises(CryptoError, match="crypto-shredded"):
        envelope.open(alone, object_id="node-1:alone", category="inspection_events")

    with sessions() as session:
        release_hold(session, hold_id=hold_id, reason="closed", actor="user:qm")
    result = run_sweep(sessions, CONFIG, now=NOW)
    assert (result.deleted["inspection_events"], result.keys_shredded) == (1, 1)
    for sealed, k in ((held, "case-9"), (other, "other")):
        with pytest.raises(CryptoError, match="crypto-shredded"):
            envelope.open(sealed, object_id=f"node-1:{k}", category="inspection_events")


def test_many_records_go_in_batches(sessions: sessionmaker[Session], envelope: Envelope) -> None:
    with envelope.batch():
        for i in range(23):
            add_event(sessions, envelope, f"e{i}", 500)
    result = run_sweep(sessions, CONFIG, now=NOW, batch_size=5)
    assert result.deleted["inspection_events"] == 23
    assert _events(sessions) == {}


def test_legal_hold_exempts_a_named_record_until_released(
    sessions: sessionmaker[Session], envelope: Envelope
) -> None:
    held = add_event(sessions, envelope, "case-17", 400)
    add_event(sessions, envelope, "other", 400)
    with sessions() as session:
        hold = place_hold(
            session,
            category_name="inspection_events",
            record_id="evt_case-17",
            reason="complaint 2026-117",
            actor="user:qm",
        )
        hold_id = hold.hold_id
    result = run_sweep(sessions, CONFIG, now=NOW)
    assert result.deleted["inspection_events"] == 1
    assert result.held["inspection_events"] == 1
    assert set(_events(sessions)) == {"case-17"}
    assert envelope.open(held, object_id="node-1:case-17", category="inspection_events") == b"part-case-17"

    with sessions() as session:
        release_hold(session, hold_id=hold_id, reason="case closed", actor="user:qm")
    assert run_sweep(sessions, CONFIG, now=NOW).deleted["inspection_events"] == 1
    assert _events(sessions) == {}
    assert _audit_names(sessions) == [
        "retention.hold_placed",
        "retention.sweep",
        "retention.hold_released",
        "retention.sweep",
    ]


def test_hold_mistakes_are_clear_errors(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        with pytest.raises(InputError, match="unknown data category 'evnts'"):
            place_hold(session, category_name="evnts", record_id="x", reason="r", actor="user:qm")
        with pytest.raises(InputError, match="needs a reason"):
            place_hold(session, category_name="alerts", record_id="x", reason="  ", actor="user:qm")
        hold = place_hold(session, category_name="alerts", record_id="alr_1", reason="r", actor="user:qm")
        with pytest.raises(ConflictError, match="already under legal hold"):
            place_hold(session, category_name="alerts", record_id="alr_1", reason="r", actor="user:qm")
        release_hold(session, hold_id=hold.hold_id, reason="done", actor="user:qm")
        with pytest.raises(ConflictError, match="already released"):
            release_hold(session, hold_id=hold.hold_id, reason="done", actor="user:qm")
        with pytest.raises(NotFoundError):
            release_hold(session, hold_id="hold_nope", reason="done", actor="user:qm")


def test_new_categories_plug_in_and_missing_tables_are_skipped(sessions: sessionmaker[Session]) -> None:
    entry = RetentionCategory(
        name="plant_data.vendor_terms",
        table="plant_vendor_terms",
        time_column="valid_until",
        hold_column="id",
        days=lambda r: r.plant_data_days,
        sealed_category="plant_data.vendor_terms",
        object_id_columns=("id",),
    )
    register(entry)
    try:
        assert "plant_data.vendor_terms" in run_sweep(sessions, CONFIG, now=NOW).skipped
    finally:
        del CATEGORIES[entry.name]


def test_a_failing_sweep_is_recorded_as_failed(sessions: sessionmaker[Session]) -> None:
    broken = RetentionCategory(
        name="broken", table="alerts", time_column="no_such_column", hold_column="alert_id", days=lambda r: 1
    )
    register(broken)
    try:
        with pytest.raises(KeyError):
            run_sweep(sessions, CONFIG, now=NOW)
    finally:
        del CATEGORIES[broken.name]
    with sessions() as session:
        sweep = session.scalars(select(RetentionSweepRow)).one()
    assert sweep.status == "failed" and "no_such_column" in (sweep.error or "")


def test_audit_log_retention_prunes_at_a_checkpoint_and_the_rest_still_verifies(
    sessions: sessionmaker[Session],
) -> None:
    from lineguard.contracts.audit import KeysRotated
    from lineguard.server.audit import record

    signer = AuditSigner.generate()
    for i in range(12):
        with sessions.begin() as session:
            record(
                session,
                KeysRotated(old_kek_id="a", new_kek_id="b", rewrapped=i),
                actor="cli:t",
                now=NOW - timedelta(days=800 - i),
            )
            if i in (4, 9):
                create_checkpoint(session, signer, site_id="plant-a", now=NOW - timedelta(days=800 - i))
    result = run_sweep(sessions, RetentionConfig(audit_log_days=400), now=NOW)
    assert (
        result.deleted["audit_log"] == 10
    )  # up to the checkpoint at seq 10; 11 and 12 wait for the next one
    with sessions.begin() as session:
        create_checkpoint(session, signer, site_id="plant-a")
    with sessions() as session:
        report = Ed25519Verifier(signer.public).verify(DatabaseLog(session, site_id="plant-a"))
    assert report.first_seq == 11
    assert _audit_names(sessions)[-2:] == ["audit.pruned", "retention.sweep"]


def test_sweeper_lifecycle(sessions: sessionmaker[Session]) -> None:
    sweeper = start_sweeper(sessions, CONFIG, interval_s=0.01)
    done = threading.Event()
    try:
        for _ in range(500):
            if sweeper.last_result is not None:
                done.set()
                break
            sweeper.stop_event.wait(0.01)
    finally:
        sweeper.stop()
    assert done.is_set() and sweeper.failures == 0
    assert not sweeper._thread.is_alive()  # type: ignore[union-attr]


def test_sweeps_follow_policy_changes_made_at_run_time(
    sessions: sessionmaker[Session], envelope: Envelope
) -> None:
    from lineguard.server.retention.policy import update_policy

    add_alert(sessions, envelope, "a-20", 20)
    assert run_sweep(sessions, CONFIG, now=NOW).deleted["alerts"] == 0  # 30 days in server.yaml
    with sessions() as session:
        update_policy(session, CONFIG, {"alerts_days": 10}, actor="user:admin")
    assert run_sweep(sessions, CONFIG, now=NOW).deleted["alerts"] == 1
    assert _audit_names(sessions)[1] == "config.changed"
