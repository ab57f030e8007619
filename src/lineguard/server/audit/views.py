"""Audit-log routes for auditors (thin): read entries and checkpoints, fetch the public key,
verify the live chain (the dashboard's audit page). Each needs ``audit_log.read`` and is
itself recorded as a read (``access.audit_read``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from lineguard.contracts.errors import IntegrityError, NotFoundError
from lineguard.server.audit import queries
from lineguard.server.audit.records import DatabaseLog
from lineguard.server.audit.signing import load_public_key
from lineguard.server.audit.verifier import Ed25519Verifier
from lineguard.server.auth import Access, Action, require
from lineguard.server.context import get_session

__all__ = ["router"]

router = APIRouter(prefix="/audit", tags=["audit"])

ReadAudit = Annotated[Access, Depends(require(Action.AUDIT_LOG_READ))]
DbSession = Annotated[Session, Depends(get_session)]


@router.get("/entries", summary="Audit entries, newest first (or oldest first after a sequence number)")
def list_entries(
    access: ReadAudit,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_seq: Annotated[int | None, Query(ge=1, description="Newest first, older than this.")] = None,
    after_seq: Annotated[int | None, Query(ge=0, description="Oldest first, newer than this.")] = None,
    name_prefix: Annotated[
        str | None, Query(max_length=64, description="e.g. 'auth.' or 'access.evidence'")
    ] = None,
    actor: Annotated[str | None, Query(max_length=160)] = None,
    exclude: Annotated[
        list[Annotated[str, Query(max_length=64)]] | None,
        Query(max_length=20, description="Leave out names starting with these, e.g. 'ingest.'"),
    ] = None,
    since: Annotated[datetime | None, Query(description="Recorded at or after (UTC).")] = None,
    until: Annotated[datetime | None, Query(description="Recorded before (UTC).")] = None,
) -> list[dict[str, Any]]:
    entries = queries.list_entries(
        session,
        limit=limit,
        before_seq=before_seq,
        after_seq=after_seq,
        name_prefix=name_prefix,
        actor=actor,
        exclude=exclude or (),
        since=since,
        until=until,
    )
    out = [e.to_json() for e in entries]
    access.record_read(records=len(out))
    return out


@router.get("/checkpoints", summary="Signed checkpoints (keep copies outside the server)")
def list_checkpoints(access: ReadAudit, session: DbSession) -> list[dict[str, Any]]:
    checkpoints = queries.list_checkpoints(session, site_id=access.context.settings.site_id)
    out = [c.to_json() for c in checkpoints]
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


@router.get("/verification", summary="Verify the whole live chain against its signed checkpoints")
def verification(access: ReadAudit, session: DbSession) -> dict[str, Any]:
    """``{"ok": true, …report}``, or ``{"ok": false, "code", "error"}`` naming the first broken entry."""
    verifier = Ed25519Verifier(load_public_key(_public_key_pem(access)))
    try:
        report = verifier.verify(DatabaseLog(session, site_id=access.context.settings.site_id))
    except IntegrityError as exc:
        access.record_read(records=0)
        return {"ok": False, "code": exc.code, "error": exc.message}
    access.record_read(records=report.entries)
    return {
        "ok": True,
        "entries": report.entries,
        "first_seq": report.first_seq,
        "last_seq": report.last_seq,
        "checkpoints": report.checkpoints,
        "last_checkpoint_seq": report.last_checkpoint_seq,
        "unanchored": report.unanchored,
    }
