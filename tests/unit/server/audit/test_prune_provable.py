"""Finding 1 of the 2026-12 security review: a retention prune must be provable.

The attack: an insider with database access deletes the oldest entries (here minutes
old) and moves ``audit_chain_head.base_seq`` to a checkpoint past them. Before the fix
``verify`` accepted the shortened log, even with exported checkpoints as anchors. Now a
pruned log verifies only with an ``audit.pruned`` entry naming the new base, a signed
checkpoint there, and that checkpoint older than the retention the prune claims (at
least the configured floor of 365 days).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.audit import AuditPruned
from lineguard.contracts.errors import AuditChainError
from lineguard.server.audit import (
    AuditSigner,
    DatabaseLog,
    Ed25519Verifier,
    ExportedLog,
    VerifyReport,
    create_checkpoint,
    prune,
    read_checkpoints,
    record,
)
from lineguard.server.audit.models import AuditChainHead, AuditEntryRow
from tests.unit.server.audit.conftest import SITE, export_to, fill


def _verify(
    sessions: sessionmaker[Session],
    signer: AuditSigner,
    *,
    anchors: Path | None = None,
    now: datetime | None = None,
) -> VerifyReport:
    trusted = read_checkpoints(anchors) if anchors else []
    with sessions() as session:
        return Ed25519Verifier(signer.public).verify(
            DatabaseLog(session, site_id=SITE), trusted_checkpoints=trusted, now=now
        )


def _forge_prune(sessions: sessionmaker[Session], through: int) -> None:
    with sessions.begin() as session:  # what the reviewer did on the live database
        session.execute(delete(AuditEntryRow).where(AuditEntryRow.seq <= through))
        session.execute(update(AuditChainHead).values(base_seq=through))


@pytest.fixture
def recent(sessions: sessionmaker[Session], signer: AuditSigner) -> sessionmaker[Session]:
    fill(sessions, signer, 30, start=datetime.now(UTC) - timedelta(minutes=40))
    return sessions


def test_forged_prune_of_recent_entries_fails_naming_the_gap(
    recent: sessionmaker[Session], signer: AuditSigner, tmp_path: Path
) -> None:
    anchors = export_to(recent, signer, tmp_path / "anchors.jsonl")
    _forge_prune(recent, 20)
    with pytest.raises(AuditChainError, match=r"entries 1-20 were removed.*no audit\.pruned entry"):
        _verify(recent, signer)
    with pytest.raises(AuditChainError, match=r"entries 1-20 were removed"):
        _verify(recent, signer, anchors=anchors)


def test_forged_prune_with_a_forged_pruned_entry_fails_on_age(
    recent: sessionmaker[Session], signer: AuditSigner
) -> None:
    _forge_prune(recent, 20)
    with recent.begin() as session:  # the insider also appends a well-chained audit.pruned
        record(session, AuditPruned(through_seq=20, retention_days=365), actor="system:retention")
    with pytest.raises(AuditChainError, match=r"entries 1-20 were removed.*checkpoint at seq 20 .* is only"):
        _verify(recent, signer)


def test_forged_prune_claiming_a_short_retention_fails(
    sessions: sessionmaker[Session], signer: AuditSigner
) -> None:
    fill(sessions, signer, 30, start=datetime.now(UTC) - timedelta(days=40))
    _forge_prune(sessions, 20)
    with sessions.begin() as session:
        record(session, AuditPruned(through_seq=20, retention_days=30), actor="system:retention")
    with pytest.raises(AuditChainError, match=r"claims a retention of 30 days, below the floor of 365"):
        _verify(sessions, signer)


def test_genuine_prune_verifies_on_the_database_and_in_an_export(
    sessions: sessionmaker[Session], signer: AuditSigner, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    fill(sessions, signer, 30, start=now - timedelta(days=800))
    with sessions.begin() as session:
        result = prune(session, retention_days=400, now=now)
        record(
            session, AuditPruned(through_seq=result.through_seq, retention_days=400), actor="system:retention"
        )
        create_checkpoint(session, signer, site_id=SITE)
    assert result.through_seq == 30
    report = _verify(sessions, signer)
    assert (report.first_seq, report.last_seq) == (31, 31)
    exported = ExportedLog(export_to(sessions, signer, tmp_path / "pruned.jsonl"))
    assert Ed25519Verifier(signer.public).verify(exported).first_seq == 31


def test_export_with_a_moved_base_is_refused(
    recent: sessionmaker[Session], signer: AuditSigner, tmp_path: Path
) -> None:
    path = export_to(recent, signer, tmp_path / "a.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[0]["base_seq"] = 10
    kept = [line for line in lines if not (line["type"] == "entry" and line["seq"] <= 10)]
    path.write_text("".join(json.dumps(line) + "\n" for line in kept))
    with pytest.raises(AuditChainError, match=r"entries 1-10 were removed"):
        Ed25519Verifier(signer.public).verify(ExportedLog(path))


def test_prune_waits_for_a_checkpoint_that_is_itself_older_than_the_retention(
    sessions: sessionmaker[Session], signer: AuditSigner
) -> None:
    now = datetime.now(UTC)
    fill(sessions, signer, 10, start=now - timedelta(days=401), checkpoint_every=100)
    with sessions.begin() as session:  # the checkpoint over those old entries is signed only today
        create_checkpoint(session, signer, site_id=SITE, now=now)
        assert prune(session, retention_days=400, now=now).deleted == 0
