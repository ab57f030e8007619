"""Audit-log routes for auditors (thin): read entries and checkpoints, fetch the public key,
verify the live chain. Each needs ``audit_log.read`` and is itself recorded as a read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard.contracts.errors import NotFoundError
from lineguard.crypto import utc_text
from lineguard.server.audit.models import AuditCheckpointRow, AuditEntryRow
from lineguard.server.audit.records import Checkpoint, DatabaseLog
from lineguard.server.audit.signing import load_public_key
from lineguard.server.audit.verifier import Ed25519Verifier
from lineguard.server.auth.catalog import Action
from lineguard.server.auth.dependencies import Access, require
from lineguard.server.context import get_session

__all__ = ["router"]

router = APIRouter(prefix="/audit", tags=["audit"])

ReadAudit = Annotated[Access, Depends(require(Action.AUDIT_LOG_READ))]
DbSession = Annotated[Session, Depends(get_session)]


@router.get("/entries", summary="Audit entries in order, after a sequence number")
def list_entries(
    access: ReadAudit,
    session: DbSession,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    name: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=160)] = None,
) -> list[dict[str, Any]]:
    stmt = select(AuditEntryRow).where(AuditEntryRow.seq > after_seq)
    if name:
        stmt = stmt.where(AuditEntryRow.name == name)
    if actor:
        stmt = stmt.where(AuditEntryRow.actor == actor)
    rows = session.scalars(stmt.order_by(AuditEntryRow.seq).limit(limit)).all()
    out = [
        {
            "seq": r.seq,
            "event_id": r.event_id,
            "recorded_at": utc_text(r.recorded_at),
            "name": r.name,
            "actor": r.actor,
            "outcome": r.outcome,
            "payload": r.payload,
            "prev_hash": r.prev_hash,
            "entry_hash": r.entry_hash,
        }
        for r in rows
    ]
    access.record_read(records=len(out))
    return out


@router.get("/checkpoints", summary="Signed checkpoints (keep copies outside the server)")
def list_checkpoints(access: ReadAudit, session: DbSession) -> list[dict[str, Any]]:
    rows = session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq)).all()
    site = access.context.settings.site_id
    out = [
        Checkpoint(
            r.seq,
            r.entry_hash,
            r.merkle_root,
            r.frontier,
            utc_text(r.created_at),
            r.key_id,
            r.signature,
            site,
        ).to_json()
        for r in rows
    ]
    access.record_read(records=len(out))
    return out


def _public_key_pem(access: Access) -> bytes:
    path = access.context.settings.data_dir / "audit" / "signing-key.pub.pem"
    try:
        return path.read_bytes()
    except OSError:
        msg = "the audit key has not been created yet (the server creates it at start-up with a keyring)"
        raise NotFoundError(msg) from None


@router.get("/public-key", summary="The Ed25519 public key that verifies checkpoints (PEM)")
def public_key(access: ReadAudit) -> PlainTextResponse:
    pem = _public_key_pem(access)
    access.record_read(records=0)
    return PlainTextResponse(pem.decode("ascii"), media_type="application/x-pem-file")


@router.get("/verify", summary="Verify the whole live chain against its signed checkpoints")
def verify(access: ReadAudit, session: DbSession) -> dict[str, int]:
    verifier = Ed25519Verifier(load_public_key(_public_key_pem(access)))
    report = verifier.verify(DatabaseLog(session, site_id=access.context.settings.site_id))
    access.record_read(records=report.entries)
    return {
        "entries": report.entries,
        "first_seq": report.first_seq,
        "last_seq": report.last_seq,
        "checkpoints": report.checkpoints,
        "last_checkpoint_seq": report.last_checkpoint_seq,
        "unanchored": report.unanchored,
    }
