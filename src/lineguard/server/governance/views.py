"""Governance routes (thin): the doctor's report for the dashboard's governance page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from lineguard.server.auth import Access, Action, require
from lineguard.server.context import get_session
from lineguard.server.governance import service

__all__ = ["router"]

router = APIRouter(prefix="/governance", tags=["governance"])

ReadGovernance = Annotated[Access, Depends(require(Action.GOVERNANCE_READ))]
DbSession = Annotated[Session, Depends(get_session)]


@router.get("/doctor", summary="The deployment self-check: every item pass / warn / fail, grouped")
def get_doctor(access: ReadGovernance, session: DbSession) -> dict[str, Any]:
    return service.doctor(session, settings=access.context.settings).to_json()
