"""Retention routes (thin): the policy and its state, and legal holds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard.crypto import utc_text
from lineguard.server.auth.catalog import Action
from lineguard.server.auth.dependencies import Access, require
from lineguard.server.context import get_session
from lineguard.server.retention import service
from lineguard.server.retention.models import LegalHoldRow, RetentionSweepRow
from lineguard.server.retention.registry import CATEGORIES

__all__ = ["router"]

router = APIRouter(prefix="/retention", tags=["retention"])

ReadPolicy = Annotated[Access, Depends(require(Action.RETENTION_POLICY_READ))]
WritePolicy = Annotated[Access, Depends(require(Action.RETENTION_POLICY_WRITE))]
DbSession = Annotated[Session, Depends(get_session)]


class HoldRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str = Field(min_length=1, max_length=64)
    record_id: str = Field(min_length=1, max_length=256)
    reason: str = Field(min_length=1, max_length=500)


class ReleaseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


def _hold(h: LegalHoldRow) -> dict[str, Any]:
    return {
        "hold_id": h.hold_id,
        "category": h.category,
        "record_id": h.record_id,
        "reason": h.reason,
        "placed_by": h.placed_by,
        "placed_at": utc_text(h.placed_at),
        "released_at": utc_text(h.released_at) if h.released_at else None,
    }


@router.get("/status", summary="Retention per category, active legal holds, recent sweeps")
def status(access: ReadPolicy, session: DbSession) -> dict[str, Any]:
    config = access.context.settings.retention
    holds = session.scalars(select(LegalHoldRow).where(LegalHoldRow.released_at.is_(None))).all()
    sweeps = session.scalars(
        select(RetentionSweepRow).order_by(RetentionSweepRow.started_at.desc()).limit(10)
    ).all()
    return {
        "categories": {c.name: c.days(config) for c in CATEGORIES.values()}
        | {"audit_log": config.audit_log_days},
        "sweep_interval_s": config.sweep_interval_s,
        "holds": [_hold(h) for h in holds],
        "sweeps": [
            {
                "sweep_id": s.sweep_id,
                "started_at": utc_text(s.started_at),
                "status": s.status,
                "deleted": s.deleted,
                "held": s.held,
                "keys_shredded": s.keys_shredded,
            }
            for s in sweeps
        ],
    }


@router.post("/holds", status_code=201, summary="Place a legal hold on a named record")
def place_hold(access: WritePolicy, session: DbSession, body: HoldRequest) -> dict[str, Any]:
    hold = service.place_hold(
        session,
        category_name=body.category,
        record_id=body.record_id,
        reason=body.reason,
        actor=access.principal.actor,
        audit=access.context.audit,
    )
    session.commit()
    return _hold(hold)


@router.post("/holds/{hold_id}/release", summary="Release a legal hold")
def release_hold(
    access: WritePolicy, session: DbSession, hold_id: str, body: ReleaseRequest
) -> dict[str, Any]:
    hold = service.release_hold(
        session, hold_id=hold_id, reason=body.reason, actor=access.principal.actor, audit=access.context.audit
    )
    session.commit()
    return _hold(hold)
