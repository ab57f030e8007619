"""My API tokens (``/auth/tokens``): list, mint (shown once), revoke."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from lineguard.server.auth import api_tokens
from lineguard.server.auth.dependencies import (
    allow_authenticated,
)
from lineguard.server.auth.models import ApiToken
from lineguard.server.auth.principal import Principal
from lineguard.server.auth.schemas import (
    TokenRequest,
    TokenView,
)
from lineguard.server.auth.views_signin import runtime_of
from lineguard.server.context import get_context, get_session

__all__ = ["router"]


__all__ = ["router"]

router = APIRouter()

DbSession = Annotated[Session, Depends(get_session)]
Signed = Annotated[Principal, Depends(allow_authenticated())]


def _token_view(row: ApiToken, text: str | None = None) -> TokenView:
    return TokenView(
        id=row.id,
        name=row.name,
        actions=list(row.actions),
        lines=row.lines,
        expires_at=row.expires_at.astimezone(UTC),
        revoked=row.revoked_at is not None,
        token=text,
    )


@router.get("/tokens", summary="My API tokens (never their secrets)")
def get_tokens(session: DbSession, principal: Signed) -> list[TokenView]:
    return [_token_view(r) for r in api_tokens.list_tokens(session, user_id=principal.user_id)]


@router.post("/tokens", status_code=201, summary="Mint a scoped, expiring API token (shown once)")
def post_token(body: TokenRequest, request: Request, session: DbSession, principal: Signed) -> TokenView:
    text, row = api_tokens.issue_token(
        session,
        runtime=runtime_of(request),
        owner=principal,
        name=body.name,
        actions=body.actions,
        lines=body.lines,
        days=body.days,
        audit=get_context(request).audit,
    )
    session.commit()
    return _token_view(row, text)


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke one of my API tokens")
def delete_token(token_id: str, request: Request, session: DbSession, principal: Signed) -> None:
    api_tokens.revoke_token(
        session,
        runtime=runtime_of(request),
        token_id=token_id,
        by=principal,
        audit=get_context(request).audit,
    )
    session.commit()
