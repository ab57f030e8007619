"""Finding 2 of the 2026-12 security review: the checkpoint signer re-checks what it signs.

The attack: after the last checkpoint, an insider with database access rewrites, cuts
or re-chains entries and fixes the chain head to match. Before the fix the next
checkpoint signed the stored head as genuine and verification passed forever after.
Now ``create_checkpoint`` re-walks the span from the previous (signature-checked)
checkpoint, compares it with what this process wrote (its ``ChainWitness``), signs the
root it computed, and refuses — signing nothing — on any disagreement.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.audit import EvidenceAccessed
from lineguard.contracts.errors import AuditChainError, SignatureError
from lineguard.server.audit import (
    AuditSigner,
    ChainWitness,
    DatabaseLog,
    Ed25519Verifier,
    MerkleFrontier,
    create_checkpoint,
    entry_hash,
    record,
)
from lineguard.server.audit.models import GENESIS_HASH, AuditChainHead, AuditCheckpointRow, AuditEntryRow
from tests.unit.server.audit.conftest import SITE, fill


def _rechain_from(
    session: Session, first: int, *, edit: dict[str, str] | None = None, last: int | None = None
) -> None:
    """Rewrite entries ``first``..``last`` consistently (hashes, links, head and frontier)."""
    rows = list(session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.seq)))
    frontier, prev = MerkleFrontier(), GENESIS_HASH
    for row in rows:
        if last is not None and row.seq > last:
            session.delete(row)
            continue
        if row.seq >= first:
            if row.seq == first and edit:
                for field, value in edit.items():
                    setattr(row, field, value)
            row.prev_hash = prev
            row.entry_hash = entry_hash(
                seq=row.seq,
                event_id=row.event_id,
                recorded_at=row.recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                name=row.name,
                actor=row.actor,
                outcome=row.outcome,
                payload=row.payload,
                prev_hash=prev,
            )
        frontier.append_entry(row.entry_hash)
        prev = row.entry_hash
    kept = [r for r in rows if last is None or r.seq <= last]
    session.execute(
        update(AuditChainHead).values(seq=kept[-1].seq, entry_hash=prev, frontier=frontier.to_json())
    )


@pytest.fixture
def witnessed(sessions: sessionmaker[Session], signer: AuditSigner) -> sessionmaker[Session]:
    ChainWitness().attach(sessions)
    fill(sessions, signer, 25)  # checkpoints at 10 and 20; 21-25 not yet signed
    return sessions


def _checkpoint(sessions: sessionmaker[Session], signer: AuditSigner) -> int | None:
    with sessions.begin() as session:
        row = create_checkpoint(session, signer, site_id=SITE)
        return None if row is None else row.seq


def _checkpoints(sessions: sessionmaker[Session]) -> list[int]:
    with sessions() as session:
        return list(session.scalars(select(AuditCheckpointRow.seq).order_by(AuditCheckpointRow.seq)))


def test_consistent_rewrite_after_the_last_checkpoint_is_not_signed(
    witnessed: sessionmaker[Session], signer: AuditSigner
) -> None:
    with witnessed.begin() as session:
        _rechain_from(session, 23, edit={"actor": "user:mallory"})
    with witnessed() as session:  # the forgery is consistent: the stored chain verifies up to its head
        assert Ed25519Verifier(signer.public).verify(DatabaseLog(session, site_id=SITE)).last_seq == 25
    with pytest.raises(
        AuditChainError, match=r"refusing to sign.*entry 23 was rewritten after this server wrote it"
    ):
        _checkpoint(witnessed, signer)
    assert _checkpoints(witnessed) == [10, 20]


def test_cut_and_rewound_head_after_the_last_checkpoint_is_not_signed(
    witnessed: sessionmaker[Session], signer: AuditSigner
) -> None:
    with witnessed.begin() as session:
        _rechain_from(session, 26, last=22)  # drop 23-25, head rewound to 22
    with pytest.raises(AuditChainError, match="wrote entries up to seq 25, but the chain head is at seq 22"):
        _checkpoint(witnessed, signer)


def test_rewrite_with_a_stale_head_is_caught_by_the_re_walk_without_a_witness(
    sessions: sessionmaker[Session], signer: AuditSigner
) -> None:
    fill(sessions, signer, 25)  # no witness: as a CLI `audit checkpoint` would run
    with sessions.begin() as session:
        head = session.get(AuditChainHead, 1)
        assert head is not None
        frontier = head.frontier
        _rechain_from(session, 23, edit={"actor": "user:mallory"})
        session.execute(update(AuditChainHead).values(frontier=frontier))  # hash fixed, frontier not
    with pytest.raises(AuditChainError, match=r"refusing to sign.*Merkle root"):
        _checkpoint(sessions, signer)


def test_edit_before_the_last_checkpoint_with_a_rewound_span_is_not_signed(
    sessions: sessionmaker[Session], signer: AuditSigner
) -> None:
    fill(sessions, signer, 25)
    with sessions.begin() as session:  # entry 21 no longer links to the signed checkpoint at 20
        session.execute(update(AuditEntryRow).where(AuditEntryRow.seq == 21).values(prev_hash="ab" * 32))
    with pytest.raises(AuditChainError, match=r"refusing to sign.*entry 21 does not link"):
        _checkpoint(sessions, signer)


def test_forged_previous_checkpoint_is_not_built_upon(
    sessions: sessionmaker[Session], signer: AuditSigner
) -> None:
    fill(sessions, signer, 25)
    with sessions.begin() as session:
        session.execute(  # a checkpoint row vouching for another entry hash, signed by nobody
            update(AuditCheckpointRow).where(AuditCheckpointRow.seq == 20).values(entry_hash="cd" * 32)
        )
    with pytest.raises(SignatureError, match="previous checkpoint at seq 20"):
        _checkpoint(sessions, signer)


def test_untampered_span_is_signed_and_rolled_back_appends_are_not_held_against_it(
    witnessed: sessionmaker[Session], signer: AuditSigner
) -> None:
    with pytest.raises(RuntimeError), witnessed.begin() as session:
        record(session, EvidenceAccessed(evidence_ref="evd_x"), actor="user:qe")
        raise RuntimeError  # rolled back: seq 26 is claimed again below, with another hash
    with witnessed.begin() as session:
        record(session, EvidenceAccessed(evidence_ref="evd_y"), actor="user:qe")
    assert _checkpoint(witnessed, signer) == 26
    with witnessed() as session:
        report = Ed25519Verifier(signer.public).verify(DatabaseLog(session, site_id=SITE))
        stored = json.loads(session.get(AuditEntryRow, 26).payload)  # type: ignore[union-attr]
    assert (report.last_seq, report.last_checkpoint_seq, stored["evidence_ref"]) == (26, 26, "evd_y")
    with witnessed.begin() as session:
        session.execute(delete(AuditEntryRow).where(AuditEntryRow.seq == 26))
    assert _checkpoint(witnessed, signer) is None  # nothing new to sign: the head still says 26
