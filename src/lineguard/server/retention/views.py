"""Retention routes (thin): the policy (read, change), recent sweeps, legal holds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from lineguard.crypto import utc_text
from lineguard.server.auth import Access, Action, require
from lineguard.server.context import get_session
from lineguard.server.retention import service
from lineguard.server.retention.models import LegalHoldRow
from lineguard.server.retention.policy import effective_policy, update_policy

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
        "released_by": h.released_by,
        "release_reason": h.release_reason,
    }


@router.get("/policy", summary="Days each data category is kept (server.yaml plus changes made here)")
def get_policy(access: ReadPolicy, session: DbSession) -> dict[str, int]:
    return effective_policy(session, access.context.settings.retention).model_dump()


@router.put("/policy", summary="Change retention periods (audited as config.changed)")
def put_policy(access: WritePolicy, session: DbSession, body: dict[str, int]) -> dict[str, int]:
    changes = {k: v for k, v in body.items() if k != "sweep_interval_s"}
    policy = update_policy(
        session,
        access.context.settings.retention,
        changes,
        actor=access.principal.actor,
        audit=access.context.audit,
    )
    return policy.model_dump()


@router.get("/sweeps", summary="Recent retention sweeps, newest first")
def list_sweeps(
    access: ReadPolicy, session: DbSession, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> list[dict[str, Any]]:
    sweeps = service.list_sweeps(session, limit=limit)
    return [
        {
            "sweep_id": s.sweep_id,
            "started_at": utc_text(s.started_at),
            "finished_at": utc_text(s.finished_at) if s.finished_at else None,
            "trigger": s.trigger,
            "status": s.status,
            "deleted": s.deleted,
            "held": s.held,
            "keys_shredded": s.keys_shredded,
            "error": s.error,
        }
        for s in sweeps
    ]


@router.get("/holds", summary="Legal holds, newest first (released ones included)")
def list_holds(
    access: ReadPolicy, session: DbSession, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[dict[str, Any]]:
    holds = service.list_holds(session, limit=limit)
    return [_hold(h) for h in holds]


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
    return _hold(hold)


@router.post("/holds/{hold_id}/release", summary="Release a legal hold")
def release_hold(
    access: WritePolicy, session: DbSession, hold_id: str, body: ReleaseRequest
) -> dict[str, Any]:
    hold = service.release_hold(
        session, hold_id=hold_id, reason=body.reason, actor=access.principal.actor, audit=access.context.audit
    )
    return _hold(hold)
