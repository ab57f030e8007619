"""Periodic access reviews: list every account and what is wrong with it, then sign off.

:func:`start_review` freezes a snapshot — every account with its roles, line scope, end
dates and last sign-in — and the findings a reviewer must act on: dormant accounts,
partner grants ending soon or never, MFA missing, shared names, separation-of-duties
breaches. :func:`sign_off` closes it: the reviewer (the named audit-log reviewer or
system-security owner, see ``governance.owners``) signs, and each grant they revoke is
revoked through the access-control domain (audited ``user.role_revoked``). Start and
sign-off are audited; a review completed after its due date is recorded as overdue.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from lineguard.config.server import ServerConfig
from lineguard.contracts.audit import AccessReviewSignedOff, AccessReviewStarted
from lineguard.contracts.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from lineguard.contracts.ids import new_id
from lineguard.crypto import utc_text
from lineguard.server.audit import AuditRecorder, record
from lineguard.server.auth import AuthRuntime, Role, conflicts, looks_shared, revoke_role
from lineguard.server.governance.checklist import age_days
from lineguard.server.governance.checks_access import dormant_accounts, policy_engine
from lineguard.server.governance.models import AccessReviewRow
from lineguard.server.governance.state import PlantState, gather, latest_review

__all__ = [
    "REVIEWER_DUTIES",
    "check_reviewer",
    "due_state",
    "findings",
    "get_review",
    "sign_off",
    "snapshot",
    "start_review",
    "status",
]

#: The owners who may sign an access review off.
REVIEWER_DUTIES = ("audit_log_reviewer", "security_owner")


def findings(state: PlantState) -> list[dict[str, str]]:
    """What the reviewer must decide on, one entry per account (and grant) concerned."""
    found: list[dict[str, str]] = []
    warn_days = state.settings.governance.partner_expiry_warning_days
    for account in dormant_accounts(state):
        seen = account.last_login_at or account.created_at
        found.append(
            {"kind": "dormant", "username": account.username, "detail": f"last sign-in {seen:%Y-%m-%d}"}
        )
    for account in state.active_accounts:
        if account.needs_mfa and not account.mfa:
            found.append(
                {"kind": "mfa_missing", "username": account.username, "detail": "MFA role without TOTP"}
            )
        if looks_shared(account.username):
            found.append(
                {"kind": "shared_name", "username": account.username, "detail": "named after a function"}
            )
        for problem in conflicts(policy_engine(), account.roles, now=state.now):
            found.append({"kind": "separation_of_duties", "username": account.username, "detail": problem})
        for grant in account.grants:
            if grant.role is not Role.EXTERNAL_PARTNER:
                continue
            if grant.valid_until is None:
                found.append(
                    {"kind": "partner_open_ended", "username": account.username, "grant": grant.grant_id,
                     "detail": "partner grant without an end date"}
                )  # fmt: skip
            elif grant.valid_until - state.now < timedelta(days=warn_days):
                found.append(
                    {"kind": "partner_expiring", "username": account.username, "grant": grant.grant_id,
                     "detail": f"ends {grant.valid_until:%Y-%m-%d}"}
                )  # fmt: skip
    return found


def snapshot(state: PlantState) -> dict[str, Any]:
    accounts = [
        {
            "username": a.username,
            "name": a.display_name,
            "disabled": a.disabled,
            "mfa": a.mfa,
            "last_sign_in": utc_text(a.last_login_at) if a.last_login_at else None,
            "grants": [
                {
                    "grant_id": g.grant_id,
                    "role": g.role.value,
                    "scope": g.site if g.lines is None else f"{g.site}: {', '.join(g.lines)}",
                    "until": utc_text(g.valid_until) if g.valid_until else None,
                }
                for g in a.grants
            ],
        }
        for a in state.accounts
    ]
    return {"accounts": accounts, "findings": findings(state)}


def due_state(state: PlantState) -> tuple[bool, str]:
    """``(overdue, text)``: is an access review due past its interval, by the last sign-off?"""
    interval = state.settings.governance.access_review_interval_days
    signed = state.last_signed_review
    if signed is None or signed.signed_off_at is None:
        return True, "no access review was ever signed off"
    age = age_days(state.now, signed.signed_off_at)
    due = signed.signed_off_at + timedelta(days=interval)
    if age > interval:
        return True, f"overdue since {due:%Y-%m-%d} (every {interval} days)"
    return False, f"next due {due:%Y-%m-%d}"


def start_review(
    session: Session, *, settings: ServerConfig, actor: str, now: datetime | None = None
) -> AccessReviewRow:
    """Freeze the accounts and findings into a new review; one open review at a time."""
    state = gather(session, settings, now=now)
    if state.last_review is not None and state.last_review.signed_off_at is None:
        msg = f"access review {state.last_review.id} is still open: sign it off first"
        raise ConflictError(msg)
    row = AccessReviewRow(
        id=new_id("arv"), started_at=state.now, started_by=actor, snapshot=snapshot(state), note="",
        revoked_grants=[],
    )  # fmt: skip
    session.add(row)
    record(
        session,
        AccessReviewStarted(
            review_id=row.id, accounts=len(row.snapshot["accounts"]), findings=len(row.snapshot["findings"])
        ),
        actor=actor,
    )
    session.commit()
    return row


def get_review(session: Session, review_id: str | None = None) -> AccessReviewRow:
    """The named review, or the latest one."""
    row = latest_review(session) if review_id is None else session.get(AccessReviewRow, review_id)
    if row is None:
        msg = (
            f"no access review {review_id}"
            if review_id
            else "no access review yet: run `access-review start`"
        )
        raise NotFoundError(msg)
    return row


def status(
    session: Session, *, settings: ServerConfig, review_id: str | None = None, now: datetime | None = None
) -> tuple[AccessReviewRow, bool, str]:
    """A review (default: the latest) and whether the next one is overdue."""
    row = get_review(session, review_id)
    overdue, due = due_state(gather(session, settings, now=now))
    return row, overdue, due


def check_reviewer(settings: ServerConfig, username: str) -> None:
    """:class:`PermissionDeniedError` unless ``username`` is a named reviewer (governance.owners)."""
    owners = settings.governance.owners
    allowed = {getattr(owners, d).username for d in REVIEWER_DUTIES if getattr(owners, d) is not None}
    if username not in allowed:
        named = ", ".join(sorted(allowed)) or "nobody (set governance.owners in server.yaml)"
        msg = f"{username} may not sign off access reviews; the named reviewers are: {named}"
        raise PermissionDeniedError(msg)


def sign_off(
    session: Session,
    *,
    settings: ServerConfig,
    review_id: str,
    reviewer: str,
    revoke: list[str],
    note: str = "",
    now: datetime | None = None,
) -> AccessReviewRow:
    """Sign ``review_id`` off as ``reviewer``, revoking the listed grants first (all or none)."""
    check_reviewer(settings, reviewer)
    row = get_review(session, review_id)
    if row.signed_off_at is not None:
        msg = f"access review {row.id} was signed off already by {row.signed_off_by}"
        raise ConflictError(msg)
    listed = {g["grant_id"] for a in row.snapshot["accounts"] for g in a["grants"]}
    unknown = sorted(set(revoke) - listed)
    if unknown:
        msg = f"grants not in review {row.id}: {', '.join(unknown)}"
        raise InputError(msg)
    moment = now or datetime.now(UTC)
    state = gather(session, settings, now=moment)
    overdue, _ = due_state(state)
    actor = f"user:{reviewer}"
    runtime = AuthRuntime.build(settings.site_id, settings.auth)
    audit = AuditRecorder()
    for grant_id in sorted(set(revoke)):
        revoke_role(session, runtime=runtime, grant_id=grant_id, by=None, by_label=actor, audit=audit)
    row.signed_off_at, row.signed_off_by = moment, reviewer
    row.note, row.revoked_grants = note[:1000], sorted(set(revoke))
    record(
        session,
        AccessReviewSignedOff(review_id=row.id, revoked_grants=len(row.revoked_grants), overdue=overdue),
        actor=actor,
    )
    session.commit()
    return row
