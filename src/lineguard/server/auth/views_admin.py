"""User administration (``/auth/users``, ``/auth/grants``): needs ``users_and_roles`` permissions.

Thin: each route checks its permission and calls :mod:`lineguard.server.auth.admin`, which
queries and commits.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Depends

from lineguard.contracts.errors import InputError
from lineguard.server.auth import accounts, admin
from lineguard.server.auth.catalog import Action
from lineguard.server.auth.dependencies import Access, require
from lineguard.server.auth.engine import Target
from lineguard.server.auth.schemas import CreatedUser, CreateUserRequest, GrantRequest, GrantView, UserView

__all__ = ["router"]

router = APIRouter()

ReadUsers = Annotated[Access, Depends(require(Action.USERS_AND_ROLES_READ))]
WriteUsers = Annotated[Access, Depends(require(Action.USERS_AND_ROLES_WRITE))]
GrantRoles = Annotated[Access, Depends(require(Action.USERS_AND_ROLES_GRANT))]


@router.get("/users", summary="All accounts and their grants")
def get_users(access: ReadUsers) -> list[UserView]:
    return admin.list_users(access.session, runtime=access.runtime)


@router.post("/users", status_code=201, summary="Create an account with a one-time password")
def post_user(body: CreateUserRequest, access: WriteUsers) -> CreatedUser:
    return admin.create_user(
        access.session,
        runtime=access.runtime,
        username=body.username,
        display_name=body.display_name,
        by=access.principal.actor,
        audit=access.context.audit,
    )


@router.post("/users/{user_id}/disable", summary="Disable an account: its sessions and tokens end")
def post_disable(user_id: str, access: WriteUsers) -> UserView:
    return admin.disable_user(
        access.session,
        runtime=access.runtime,
        user_id=user_id,
        by=access.principal.actor,
        audit=access.context.audit,
    )


@router.post("/users/{user_id}/reset-mfa", summary="Remove a user's TOTP (lost device); they enroll again")
def post_reset_mfa(user_id: str, access: WriteUsers) -> UserView:
    return admin.reset_mfa(
        access.session,
        runtime=access.runtime,
        user_id=user_id,
        by=access.principal.actor,
        audit=access.context.audit,
    )


@router.post("/users/{user_id}/unlock", summary="Clear an account's sign-in locks from every source")
def post_unlock(user_id: str, access: WriteUsers) -> UserView:
    return admin.unlock_user(
        access.session,
        runtime=access.runtime,
        user_id=user_id,
        by=access.principal.actor,
        audit=access.context.audit,
    )


@router.post("/users/{user_id}/grants", status_code=201, summary="Grant a role (never to yourself)")
def post_grant(user_id: str, body: GrantRequest, access: GrantRoles) -> GrantView:
    grantee = accounts.get_user(access.session, user_id)
    if body.until is not None and body.until.tzinfo is None:
        msg = "until must carry a time zone (e.g. 2027-01-31T18:00:00Z)"
        raise InputError(msg)
    until = None if body.until is None else body.until.astimezone(UTC)
    site = access.runtime.site
    access.check(Target(site, kind="role_grant", grantee=grantee.id, role=body.role.value), record=grantee.id)
    return admin.grant_role(
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


@router.delete("/grants/{grant_id}", status_code=204, summary="Revoke a role grant")
def delete_grant(grant_id: str, access: GrantRoles) -> None:
    target = admin.grant_target(access.session, grant_id)
    if target is not None:
        access.check(target, record=target.grantee)
    admin.revoke_grant(
        access.session,
        runtime=access.runtime,
        grant_id=grant_id,
        by=access.principal.subject,
        by_label=access.principal.actor,
        audit=access.context.audit,
    )
