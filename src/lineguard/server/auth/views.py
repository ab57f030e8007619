"""``/api/v1/auth``: sign-in, MFA, sessions, CSRF, own API tokens, user administration.

Thin: each handler picks its access rule, calls the service, and shapes the answer.
The browser session lives only in the ``__Host-`` cookie; responses carry the CSRF token
the page must send back on unsafe requests.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard.contracts.audit import Logout
from lineguard.contracts.errors import AuthenticationError, InputError
from lineguard.server.auth import accounts, api_tokens, grants, login
from lineguard.server.auth.bearer import csrf_token_for
from lineguard.server.auth.catalog import ACTIONS, Action
from lineguard.server.auth.dependencies import (
    SESSION_COOKIE,
    Access,
    allow_authenticated,
    allow_public,
    require,
)
from lineguard.server.auth.engine import Target
from lineguard.server.auth.events import emit
from lineguard.server.auth.models import ApiToken, BrowserSession, RoleGrant, User
from lineguard.server.auth.principal import Principal
from lineguard.server.auth.runtime import AuthRuntime, auth_runtime
from lineguard.server.auth.schemas import (
    CodeRequest,
    CreatedUser,
    CreateUserRequest,
    CsrfResponse,
    GrantRequest,
    GrantView,
    LoginRequest,
    MeResponse,
    MfaEnrollment,
    PasswordChangeRequest,
    PermissionView,
    SessionResponse,
    TokenRequest,
    TokenView,
    UserView,
)
from lineguard.server.auth.sessions import IssuedSession, start_session
from lineguard.server.context import get_context, get_session

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"])

DbSession = Annotated[Session, Depends(get_session)]
ANY_STATE = frozenset({"mfa_pending", "password_change", "mfa_enroll", "active"})
Signed = Annotated[Principal, Depends(allow_authenticated())]


def _runtime(request: Request) -> AuthRuntime:
    return auth_runtime(get_context(request))


def _source(request: Request) -> str | None:
    return request.client.host if request.client else None


def _set_cookie(response: Response, issued: IssuedSession, runtime: AuthRuntime) -> None:
    max_age = int((issued.row.expires_at - issued.row.created_at).total_seconds())
    response.set_cookie(
        SESSION_COOKIE, issued.token, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict"
    )


def _answer(response: Response, issued: IssuedSession, user: User, runtime: AuthRuntime) -> SessionResponse:
    _set_cookie(response, issued, runtime)
    response.headers["Cache-Control"] = "no-store"
    return SessionResponse(
        state=issued.row.state,
        csrf_token=csrf_token_for(issued.token),
        username=user.username,
        mfa=issued.row.mfa,
    )


def _current_row(request: Request, session: Session, principal: Principal) -> tuple[BrowserSession, User]:
    if principal.session_id is None:
        msg = "this route needs a browser session, not an API token"
        raise AuthenticationError(msg)
    row = session.get(BrowserSession, principal.session_id)
    user = session.get(User, principal.user_id)
    assert row is not None and user is not None  # noqa: S101 - resolved this request
    return row, user


def _grant_view(row: RoleGrant) -> GrantView:
    return GrantView(id=row.id, role=row.role, site=row.site, lines=row.lines, until=row.valid_until)


def _user_view(session: Session, user: User, runtime: AuthRuntime) -> UserView:
    rows = grants.grant_rows(session, user_id=user.id, now=runtime.now())
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        disabled=user.disabled,
        mfa_enabled=user.mfa_enabled,
        must_change_password=user.must_change_password,
        locked_until=user.locked_until,
        grants=[_grant_view(r) for r in rows],
    )


# ---- signing in and out -------------------------------------------------------------


@router.post(
    "/login",
    dependencies=[Depends(allow_public("signing in is how a credential is obtained"))],
    summary="Sign in with user name and password",
)
def post_login(
    body: LoginRequest, request: Request, response: Response, session: DbSession
) -> SessionResponse:
    runtime, context = _runtime(request), get_context(request)
    step = login.login(
        session,
        runtime=runtime,
        username=body.username,
        password=body.password,
        source=_source(request),
        user_agent=request.headers.get("user-agent"),
        audit=context.audit,
    )
    return _answer(response, step.issued, step.user, runtime)


@router.post("/login/mfa", summary="Second step of sign-in: the authenticator code")
def post_login_mfa(
    body: CodeRequest,
    request: Request,
    response: Response,
    session: DbSession,
    principal: Annotated[Principal, Depends(allow_authenticated(states=frozenset({"mfa_pending"})))],
) -> SessionResponse:
    runtime, context = _runtime(request), get_context(request)
    row, user = _current_row(request, session, principal)
    issued = login.verify_mfa(
        session,
        runtime=runtime,
        pending=row,
        user=user,
        code=body.code,
        sealer=context.sealer,
        source=_source(request),
        audit=context.audit,
    )
    return _answer(response, issued, user, runtime)


@router.post("/logout", status_code=204, summary="End this browser session")
def post_logout(
    request: Request,
    response: Response,
    session: DbSession,
    principal: Annotated[Principal, Depends(allow_authenticated(states=ANY_STATE))],
) -> None:
    row, _ = _current_row(request, session, principal)
    row.revoked_at = _runtime(request).now()
    emit(get_context(request).audit, session, Logout(username=principal.username), actor=principal.actor)
    session.commit()
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")


@router.get("/csrf", summary="The CSRF token of this session (send it as X-CSRF-Token)")
def get_csrf(
    request: Request, principal: Annotated[Principal, Depends(allow_authenticated(states=ANY_STATE))]
) -> CsrfResponse:
    return CsrfResponse(csrf_token=csrf_token_for(request.cookies.get(SESSION_COOKIE, "")))


@router.get("/me", summary="Who I am, my grants and what I may do (the dashboard hides the rest)")
def get_me(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(allow_authenticated(states=ANY_STATE))],
) -> MeResponse:
    runtime = _runtime(request)
    user = accounts.get_user(session, principal.user_id)
    now = runtime.now()
    permissions = []
    if principal.session_state == "active":
        for action in ACTIONS:
            scope = principal.scope(runtime.engine, action, site=runtime.site, now=now)
            if not scope.empty:
                lines = None if scope.all_lines else sorted(scope.lines)
                permissions.append(PermissionView(action=action, lines=lines))
    return MeResponse(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        state=principal.session_state,
        mfa=principal.subject.mfa,
        grants=[_grant_view(r) for r in grants.grant_rows(session, user_id=user.id, now=now)],
        permissions=permissions,
    )


@router.post("/password", summary="Change my password (and leave one-time-password state)")
def post_password(
    body: PasswordChangeRequest,
    request: Request,
    response: Response,
    session: DbSession,
    principal: Annotated[
        Principal, Depends(allow_authenticated(states=frozenset({"active", "password_change"})))
    ],
) -> SessionResponse:
    runtime, context = _runtime(request), get_context(request)
    row, user = _current_row(request, session, principal)
    try:
        accounts.change_password(
            session,
            runtime=runtime,
            user=user,
            current=body.current_password,
            new=body.new_password,
            audit=context.audit,
        )
    except AuthenticationError:
        # A stolen session must not become a free password oracle: count it like a sign-in.
        login.record_failure(
            session, runtime=runtime, user=user, source=_source(request), audit=context.audit
        )
        session.commit()
        msg = "current password is wrong"
        raise InputError(msg) from None
    accounts.end_sessions(session, user_id=user.id, runtime=runtime, keep=row.id)
    issued = start_session(
        session,
        runtime=runtime,
        user=user,
        state=login.next_state(session, runtime=runtime, user=user, mfa=row.mfa),
        mfa=row.mfa,
        source=_source(request),
        user_agent=row.user_agent,
        replaces=row,
    )
    session.commit()
    return _answer(response, issued, user, runtime)


_ENROLL_STATES = frozenset({"active", "mfa_enroll"})


@router.post("/mfa/enroll", summary="Start TOTP enrollment: a secret for the authenticator app")
def post_mfa_enroll(
    request: Request,
    response: Response,
    session: DbSession,
    principal: Annotated[Principal, Depends(allow_authenticated(states=_ENROLL_STATES))],
) -> MfaEnrollment:
    _, user = _current_row(request, session, principal)
    enrollment = login.begin_mfa_enrollment(
        session, runtime=_runtime(request), user=user, sealer=get_context(request).sealer
    )
    response.headers["Cache-Control"] = "no-store"
    return MfaEnrollment(secret=enrollment.secret, otpauth_uri=enrollment.uri)


@router.post("/mfa/confirm", summary="Finish TOTP enrollment with one code")
def post_mfa_confirm(
    body: CodeRequest,
    request: Request,
    response: Response,
    session: DbSession,
    principal: Annotated[Principal, Depends(allow_authenticated(states=_ENROLL_STATES))],
) -> SessionResponse:
    runtime, context = _runtime(request), get_context(request)
    row, user = _current_row(request, session, principal)
    issued = login.confirm_mfa_enrollment(
        session,
        runtime=runtime,
        user=user,
        code=body.code,
        sealer=context.sealer,
        current=row,
        audit=context.audit,
    )
    return _answer(response, issued, user, runtime)


# ---- my API tokens ------------------------------------------------------------------


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
        runtime=_runtime(request),
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
        session, runtime=_runtime(request), token_id=token_id, by=principal, audit=get_context(request).audit
    )
    session.commit()


# ---- user administration ------------------------------------------------------------


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
    return _grant_view(row)


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
