"""Signing in and out, the session, CSRF, my password and my TOTP (``/auth/...``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from lineguard.contracts.audit import Logout
from lineguard.contracts.errors import AuthenticationError, InputError
from lineguard.server.auth import accounts, grants, login
from lineguard.server.auth.admin import grant_view
from lineguard.server.auth.bearer import csrf_token_for
from lineguard.server.auth.catalog import ACTIONS
from lineguard.server.auth.dependencies import (
    SESSION_COOKIE,
    allow_authenticated,
    allow_public,
)
from lineguard.server.auth.models import BrowserSession, User
from lineguard.server.auth.principal import Principal
from lineguard.server.auth.runtime import AuthRuntime
from lineguard.server.auth.schemas import (
    CodeRequest,
    CsrfResponse,
    LoginRequest,
    MeResponse,
    MfaEnrollment,
    PasswordChangeRequest,
    PermissionView,
    SessionResponse,
)
from lineguard.server.auth.sessions import IssuedSession, start_session
from lineguard.server.context import get_context, get_session

__all__ = ["router"]


__all__ = ["router"]

router = APIRouter()

DbSession = Annotated[Session, Depends(get_session)]
ANY_STATE = frozenset({"mfa_pending", "password_change", "mfa_enroll", "active"})


def runtime_of(request: Request) -> AuthRuntime:
    return get_context(request).auth


def source_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def _set_cookie(response: Response, issued: IssuedSession) -> None:
    # A browser-session cookie (no Max-Age/Expires): it dies with the browser; the
    # server ends the session itself on idle and absolute timeouts.
    response.set_cookie(SESSION_COOKIE, issued.token, path="/", secure=True, httponly=True, samesite="strict")


def _answer(response: Response, issued: IssuedSession, user: User, runtime: AuthRuntime) -> SessionResponse:
    _set_cookie(response, issued)
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


# ---- signing in and out -------------------------------------------------------------


@router.post(
    "/login",
    dependencies=[Depends(allow_public("signing in is how a credential is obtained"))],
    summary="Sign in with user name and password",
)
def post_login(
    body: LoginRequest, request: Request, response: Response, session: DbSession
) -> SessionResponse:
    runtime, context = runtime_of(request), get_context(request)
    step = login.login(
        session,
        runtime=runtime,
        username=body.username,
        password=body.password,
        source=source_of(request),
        user_agent=request.headers.get("user-agent"),
        # Anyone can reach this route: failures are throttled and summarised.
        audit=context.checkpoints.throttle.hook(context.audit, source=source_of(request)),
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
    runtime, context = runtime_of(request), get_context(request)
    row, user = _current_row(request, session, principal)
    issued = login.verify_mfa(
        session,
        runtime=runtime,
        pending=row,
        user=user,
        code=body.code,
        sealer=context.sealer,
        source=source_of(request),
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
    row.revoked_at = runtime_of(request).now()
    get_context(request).audit(session, Logout(username=principal.username), actor=principal.actor)
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
    runtime = runtime_of(request)
    user = accounts.get_user(session, principal.user_id)
    now = runtime.now()
    permissions = []
    if principal.session_state == "active":
        for action in ACTIONS:
            scope = principal.scope(runtime.engine, action, site=runtime.site, now=now)
            if not scope.empty:
                lines = None if scope.all_lines else sorted(scope.lines)
                permissions.append(PermissionView(action=action, lines=lines))
    active = principal.session_state == "active"
    # Before sign-in is complete (password only, or a step still owed) the answer says
    # where the session stands and nothing about the person's roles.
    return MeResponse(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name if active else user.username,
        state=principal.session_state,
        mfa=principal.subject.mfa,
        grants=[grant_view(r) for r in grants.grant_rows(session, user_id=user.id, now=now)]
        if active
        else [],
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
    runtime, context = runtime_of(request), get_context(request)
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
            session, runtime=runtime, username=user.username, source=source_of(request), audit=context.audit
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
        source=source_of(request),
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
        session, runtime=runtime_of(request), user=user, sealer=get_context(request).sealer
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
    runtime, context = runtime_of(request), get_context(request)
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
