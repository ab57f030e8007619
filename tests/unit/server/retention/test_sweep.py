"""Sweeps delete what is older than its category's retention, crypto-shred it, keep held records."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import RetentionConfig
from lineguard.contracts.errors import ConflictError, CryptoError, InputError, NotFoundError
from lineguard.crypto import Envelope
from lineguard.server.audit import AuditSigner, DatabaseLog, Ed25519Verifier, create_checkpoint
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.ingest.models import AlertRow, InspectionEventRow
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
