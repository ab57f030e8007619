"""Sign a checkpoint only over a span the signer has re-checked itself.

:func:`create_checkpoint` locks the chain head, then re-walks every entry since the
previous checkpoint (whose signature it checks first): sequence without gaps, each
link, each hash recomputed, and the Merkle frontier rebuilt from the previous
checkpoint's — the stored head must agree with the walk. It then compares the span
with the process's :class:`~lineguard.server.audit.witness.ChainWitness`, the hashes
of the entries this server itself appended. It signs the root it computed, never the
stored one. Any disagreement raises :class:`AuditChainError` and nothing is signed, so
a tampered span can never be vouched for by a later checkpoint.

What is detected when (docs/security.md, finding 2): an inconsistent edit, a removed
or inserted entry, or a head that does not match the entries — at the next checkpoint,
whoever wrote them; a consistent rewrite or a cut of entries this server process wrote
— at the next checkpoint of that process; a consistent rewrite of entries written by
another process (a CLI command), or a well-formed forged append — not by the signer
(they are counted and logged as not witnessed), only by comparing with exports kept
elsewhere.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard.contracts.errors import AuditChainError, SignatureError
from lineguard.crypto import b64e, utc_text
from lineguard.server.audit.chain import MerkleFrontier
from lineguard.server.audit.models import AuditCheckpointColumns
from lineguard.server.audit.records import Checkpoint, entries_between
from lineguard.server.audit.service import checkpoint_statement, lock_head
from lineguard.server.audit.signing import AuditKey, verify_ed25519
from lineguard.server.audit.tables import PLANT_AUDIT, AuditTables
from lineguard.server.audit.verifier import _Walk
from lineguard.server.audit.witness import pending_appends, witness_of

__all__ = ["create_checkpoint"]

log = logging.getLogger(__name__)


def create_checkpoint(
    session: Session,
    signer: AuditKey,
    *,
    site_id: str,
    now: datetime | None = None,
    tables: AuditTables = PLANT_AUDIT,
) -> AuditCheckpointColumns | None:
    """Sign the Merkle root over every entry, after re-walking the span since the last checkpoint.

    None if nothing is new since the last one; :class:`AuditChainError` (nothing signed)
    if the span, the chain head or this process's own writes disagree.
    """
    head = lock_head(session, tables=tables)
    if head.seq == 0:
        return None
    checkpoints = tables.checkpoints
    beyond = session.scalar(select(checkpoints.seq).where(checkpoints.seq > head.seq).limit(1))
    if beyond is not None:
        msg = (
            f"refusing to sign: a checkpoint covers seq {beyond}, but the chain head is at seq {head.seq} "
            "(the log was cut and its head rewound)"
        )
        raise AuditChainError(msg)
    previous = session.scalars(select(checkpoints).order_by(checkpoints.seq.desc()).limit(1)).one_or_none()
    if previous is not None and previous.seq == head.seq:
        return None
    try:
        walk, unwitnessed = _recheck_span(
            session,
            signer,
            previous,
            head.seq,
            head.entry_hash,
            head.frontier,
            site_id=site_id,
            base_seq=head.base_seq,
            tables=tables,
        )
    except AuditChainError as exc:
        msg = f"refusing to sign a checkpoint: {exc.message}"
        raise AuditChainError(msg) from None
    row = _sign(
        session,
        signer,
        seq=head.seq,
        entry_hash=walk.prev,
        frontier=walk.frontier,
        site_id=site_id,
        now=now,
        row_type=checkpoints,
    )
    witness = witness_of(session)
    if witness is not None:
        witness.signed_through(head.seq)
        if unwitnessed:
            log.info(
                "audit checkpoint at seq %d: %d entries since the last one were written by another "
                "process (chain-checked, not witnessed)",
                head.seq,
                unwitnessed,
            )
    return row


def _recheck_span(
    session: Session,
    signer: AuditKey,
    previous: AuditCheckpointColumns | None,
    head_seq: int,
    head_hash: str,
    head_frontier: str,
    *,
    site_id: str,
    base_seq: int,
    tables: AuditTables,
) -> tuple[_Walk, int]:
    """Walk the entries after ``previous`` up to the head; (the walk, entries not witnessed)."""
    walk = _span_walk(session, signer, previous, site_id=site_id, base_seq=base_seq)
    witnessed = _witnessed(session)
    unwitnessed = 0
    for entry in entries_between(session, after_seq=walk.expected - 1, through_seq=head_seq, tables=tables):
        walk.step(entry)
        wrote = witnessed.get(entry.seq)
        if wrote is None:
            unwitnessed += 1
        elif wrote != entry.entry_hash:
            msg = (
                f"entry {entry.seq} was rewritten after this server wrote it "
                f"(it wrote hash {wrote}, the log has {entry.entry_hash})"
            )
            raise AuditChainError(msg)
    cut = max(witnessed, default=0)
    if cut > head_seq:
        msg = f"this server wrote entries up to seq {cut}, but the chain head is at seq {head_seq} (a cut)"
        raise AuditChainError(msg)
    walk.finish((head_seq, head_hash))
    stored, root = MerkleFrontier.from_json(head_frontier).root(), walk.frontier.root()
    if stored != root:
        msg = f"the chain head's Merkle root {stored} does not match the entries since then ({root})"
        raise AuditChainError(msg)
    return walk, unwitnessed


def _span_walk(
    session: Session,
    signer: AuditKey,
    previous: AuditCheckpointColumns | None,
    *,
    site_id: str,
    base_seq: int,
) -> _Walk:
    """A walk positioned after the previous checkpoint, whose signature is checked first."""
    if previous is None:
        if base_seq:
            msg = f"the log starts after seq {base_seq} but no checkpoint is stored there"
            raise AuditChainError(msg)
        return _Walk(None, {})
    cp = Checkpoint.from_row(previous, site_id=site_id)
    if cp.key_id != signer.key_id:
        msg = f"the previous checkpoint (seq {cp.seq}) names key {cp.key_id}, not {signer.key_id}"
        raise SignatureError(msg)
    statement = checkpoint_statement(
        seq=cp.seq,
        entry_hash=cp.entry_hash,
        merkle_root=cp.merkle_root,
        created_at=cp.created_at,
        key_id=cp.key_id,
        site_id=site_id,
    )
    signature = base64.urlsafe_b64decode(cp.signature + "=" * (-len(cp.signature) % 4))
    verify_ed25519(signer.public, statement, signature, what=f"previous checkpoint at seq {cp.seq}")
    return _Walk(cp, {})


def _witnessed(session: Session) -> dict[int, str]:
    witness = witness_of(session)
    seen = witness.unsigned() if witness is not None else {}
    seen.update(pending_appends(session))
    return seen


def _sign(
    session: Session,
    signer: AuditKey,
    *,
    seq: int,
    entry_hash: str,
    frontier: MerkleFrontier,
    site_id: str,
    now: datetime | None,
    row_type: type[AuditCheckpointColumns],
) -> AuditCheckpointColumns:
    created = utc_text(now or datetime.now(UTC))
    root = frontier.root()
    statement = checkpoint_statement(
        seq=seq,
        entry_hash=entry_hash,
        merkle_root=root,
        created_at=created,
        key_id=signer.key_id,
        site_id=site_id,
    )
    row = row_type()  # a mapped class built from the mixin: attributes set one by one
    row.seq, row.entry_hash, row.merkle_root = seq, entry_hash, root
    row.frontier, row.key_id = frontier.to_json(), signer.key_id
    row.created_at = datetime.fromisoformat(created.replace("Z", "+00:00"))
    row.signature = b64e(signer.sign(statement))
    session.add(row)
    session.flush()
    return row
