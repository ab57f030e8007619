"""User administration (``/auth/users``, ``/auth/grants``): needs ``users_and_roles`` permissions."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard.contracts.errors import InputError
from lineguard.server.auth import accounts, grants, login
from lineguard.server.auth.catalog import Action
from lineguard.server.auth.dependencies import (
    Access,
    require,
)
from lineguard.server.auth.engine import Target
from lineguard.server.auth.lockout import account_key, locked_until
from lineguard.server.auth.models import RoleGrant, User
from lineguard.server.auth.runtime import AuthRuntime
from lineguard.server.auth.schemas import (
    CreatedUser,
    CreateUserRequest,
    GrantRequest,
    GrantView,
    UserView,
)
from lineguard.server.auth.views_signin import grant_view
from lineguard.server.context import get_session

__all__ = ["router"]


__all__ = ["router"]

router = APIRouter()

DbSession = Annotated[Session, Depends(get_session)]


def _user_view(session: Session, user: User, runtime: AuthRuntime) -> UserView:
    rows = grants.grant_rows(session, user_id=user.id, now=runtime.now())
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        disabled=user.disabled,
        mfa_enabled=user.mfa_enabled,
        must_change_password=user.must_change_password,
        locked_until=locked_until(session, account=account_key(user.username), now=runtime.now()),
        grants=[grant_view(r) for r in rows],
    )


@router.get("/users", summary="All accounts and their grants")
def get_users(access: Annotated[Access, Depends(require(Action.USERS_AND_ROLES_READ))]) -> list[UserView]:
    session = access.session
    users = session.scalars(select(User).order_by(User.username))
    return [_user_view(session, u, access.runtime) for u in users]


@router.post("/users", status_code=201, summary="Create an account with a one-time password")
def post_user(
    body: CreateUserRequest, access: Annotated[Access, Depends(require(Action.USERS_AND_ROLES_WRITE))]
) -> CreatedUser:
    user, password = accounts.create_user(
        access.session,
        runtime=access.runtime,
        username=body.username,
        display_name=body.display_name,
        by=access.principal.actor,
        audit=access.context.audit,
    )
    access.session.commit()
    return CreatedUser(user=_user_view(access.session, user, access.runtime), one_time_password=password)


@router.post("/users/{user_id}/disable", summary="Disable an account: its sessions and tokens end")
def post_disable(
    user_id: str, access: Annotated[Access, Depends(require(Action.USERS_AND_ROLES_WRITE))]
) -> UserView:
    user = accounts.get_user(access.session, user_id)
    accounts.disable_user(
        access.session,
        runtime=access.runtime,
        user=user,
        by=access.principal.actor,
        audit=access.context.audit,
    )
    access.session.commit()
    return _user_view(access.session, user, access.runtime)


@router.post("/users/{user_id}/reset-mfa", summary="Remove a user's TOTP (lost device); they enroll again")
def post_reset_mfa(
    user_id: str, access: Annotated[Access, Depends(require(Action.USERS_AND_ROLES_WRITE))]
) -> UserView:
    user = accounts.get_user(access.session, user_id)
    login.reset_mfa(
        access.session,
        runtime=access.runtime,
        user=user,
        by=access.principal.actor,
        audit=access.context.audit,
    )
    access.session.commit()
    return _user_view(access.session, user, access.runtime)


@router.post("/users/{user_id}/unlock", summary="Clear an account's sign-in locks from every source")
def post_unlock(
    user_id: str, access: Annotated[Access, Depends(require(Action.USERS_AND_ROLES_WRITE))]
) -> UserView:
    user = accounts.get_user(access.session, user_id)
    login.unlock_account(access.session, user=user, by=access.principal.actor, audit=access.context.audit)
    access.session.commit()
    return _user_view(access.session, user, access.runtime)


@router.post("/users/{user_id}/grants", status_code=201, summary="Grant a role (never to yourself)")
def post_grant(
    user_id: str,
    body: GrantRequest,
    access: Annotated[Access, Depends(require(Action.USERS_AND_ROLES_GRANT))],
) -> GrantView:
    grantee = accounts.get_user(access.session, user_id)
    if body.until is not None and body.until.tzinfo is None:
        msg = "until must carry a time zone (e.g. 2027-01-31T18:00:00Z)"
        raise InputError(msg)
    until = None if body.until is None else body.until.astimezone(UTC)
    site = access.runtime.site
    access.check(Target(site, kind="role_grant", grantee=grantee.id, role=body.role.value), record=grantee.id)
    row = grants.grant_role(
        access.session,
        runtime=access.runtime,
        grantee=grantee,
        role=body.role,
        lines=body.lines,
        until=until,
        by=access.principal.subject,
        by_label=access.principal.actor,
        audit=access.context.audit,
    )
    access.session.commit()
    return grant_view(row)


@router.delete("/grants/{grant_id}", status_code=204, summary="Revoke a role grant")
def delete_grant(
    grant_id: str, access: Annotated[Access, Depends(require(Action.USERS_AND_ROLES_GRANT))]
) -> None:
    row = access.session.get(RoleGrant, grant_id)
    if row is not None:
        access.check(
            Target(row.site, kind="role_grant", grantee=row.user_id, role=row.role), record=row.user_id
        )
    grants.revoke_role(
        access.session,
        runtime=access.runtime,
        grant_id=grant_id,
        by=access.principal.subject,
        by_label=access.principal.actor,
        audit=access.context.audit,
    )
    access.session.commit()
