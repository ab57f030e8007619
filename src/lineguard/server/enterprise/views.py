"""Enterprise route (thin): what this plant sends its roll-up, and whether it got there."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from lineguard.server.auth import Access, Action, require
from lineguard.server.context import ServerContext, get_context, get_session
from lineguard.server.enterprise import service
from lineguard.server.enterprise.schemas import RollupStatus

__all__ = ["router"]

router = APIRouter(prefix="/enterprise", tags=["enterprise"])

Read = Annotated[Access, Depends(require(Action.INTEGRATIONS_READ))]
DbSession = Annotated[Session, Depends(get_session)]
Context = Annotated[ServerContext, Depends(get_context)]


@router.get("", summary="The enterprise roll-up: on or off, where to, and the counts not yet acknowledged")
def rollup_status(_access: Read, session: DbSession, context: Context) -> RollupStatus:
    return service.rollup_status(session, settings=context.settings)
