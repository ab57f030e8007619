"""Scoped, expiring API tokens for integrations (MES, SIEM, reporting), shown once.

A person mints a token for an integration from a signed-in session (never from another
token), naming the actions it may use, optionally the lines, and a lifetime of at most
``auth.api_token_max_days``. The token acts for that person and shrinks with them: when
a grant ends or the account is disabled, the token loses the same rights. Only the
SHA-256 of its secret is stored; a lost token is revoked and replaced, never recovered.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard.contracts.audit import ApiTokenIssued, ApiTokenRevoked
from lineguard.contracts.errors import AuthenticationError, InputError, NotFoundError, PermissionDeniedError
from lineguard.contracts.ids import uuid7
from lineguard.server.auth.bearer import digest, new_api_token, parse_api_token
from lineguard.server.auth.catalog import Action
from lineguard.server.auth.events import user_actor
from lineguard.server.auth.models import ApiToken, User
from lineguard.server.auth.principal import Principal
from lineguard.server.auth.runtime import AuthRuntime
from lineguard.server.context import AuditHook

__all__ = ["issue_token", "list_tokens", "resolve_token", "revoke_token"]


def issue_token(
    session: Session,
    *,
    runtime: AuthRuntime,
    owner: Principal,
    name: str,
    actions: Iterable[Action],
    lines: Iterable[str] | None,
    days: int,
    audit: AuditHook,
) -> tuple[str, ApiToken]:
    """Create a token; return ``(token text shown once, row)``."""
    if owner.via_token:
        msg = "an API token cannot mint API tokens: sign in"
        raise PermissionDeniedError(msg)
    wanted = sorted(set(actions))
    if not wanted:
        msg = "an API token needs at least one action"
        raise InputError(msg)
    if not 1 <= days <= runtime.config.api_token_max_days:
        msg = f"token lifetime must be 1-{runtime.config.api_token_max_days} days, got {days}"
        raise InputError(msg)
    line_list = None if lines is None else sorted(set(lines))
    now = runtime.now()
    as_token = Principal(
        owner.user_id,
        owner.username,
        owner.display_name,
        replace(owner.subject, mfa=False, via_token=True),
        token_id="pending",  # noqa: S106 - a placeholder id, not a secret
        token_actions=frozenset(wanted),
        token_lines=None if line_list is None else frozenset(line_list),
    )
    refused = [a for a in wanted if as_token.scope(runtime.engine, a, site=runtime.site, now=now).empty]
    if refused:
        msg = "an API token can only carry permissions you hold and tokens may use"
        raise PermissionDeniedError(
            msg, details=[f"{a}: not permitted through a token of yours" for a in refused]
        )
    token_id = uuid7().hex
    text, secret_hash = new_api_token(token_id)
    row = ApiToken(
        id=token_id,
        secret_hash=secret_hash,
        user_id=owner.user_id,
        name=name.strip()[:80] or "integration",
        actions=[a.value for a in wanted],
        site=runtime.site,
        lines=line_list,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(row)
    session.flush()
    event = ApiTokenIssued(
        token_id=token_id, owner=owner.username, scopes=row.actions, expires_at=row.expires_at
    )
    audit(session, event, actor=user_actor(owner.username))
    return text, row


def resolve_token(session: Session, *, runtime: AuthRuntime, token: str) -> tuple[ApiToken, User]:
    """The token row and its owner; :class:`AuthenticationError` for anything not valid now."""
    parts = parse_api_token(token)
    row = session.get(ApiToken, parts.token_id)
    # Compare even when the row is missing, so timing does not reveal which ids exist.
    expected = row.secret_hash if row is not None else digest("absent")
    if row is None or not hmac.compare_digest(expected, digest(parts.secret)):
        msg = "unknown API token"
        raise AuthenticationError(msg)
    now = runtime.now()
    if row.revoked_at is not None:
        msg = "API token revoked"
        raise AuthenticationError(msg)
    if now >= row.expires_at:
        msg = f"API token expired at {row.expires_at.isoformat()}"
        raise AuthenticationError(msg)
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        msg = "API token owner disabled"
        raise AuthenticationError(msg)
    return row, user


def list_tokens(session: Session, *, user_id: str) -> list[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at)
    return list(session.scalars(stmt))


def revoke_token(
    session: Session, *, runtime: AuthRuntime, token_id: str, by: Principal, audit: AuditHook
) -> ApiToken:
    """Revoke one of the caller's own tokens."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != by.user_id:
        msg = f"no token {token_id} of yours"
        raise NotFoundError(msg)
    if row.revoked_at is None:
        row.revoked_at = runtime.now()
        audit(session, ApiTokenRevoked(token_id=row.id), actor=by.actor)
    return row
