"""The per-rule auto-approval policy an administrator sets (``work_order_auto_approval``).

Off unless enabled. Setting it is audited as ``config.changed``
(``integrations.auto_approve.<rule>``); each recommendation it approves is an
``ai.decision`` by ``system:auto-approval`` whose reason names the rule and who enabled
the policy when, so the record shows it was the policy, not a person.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.audit import ConfigChanged
from lineguard.contracts.errors import InputError
from lineguard.crypto import utc_text
from lineguard.server.integrations.models import AutoApprovalRow
from lineguard.server.integrations.recommendations.rules import RULES

__all__ = ["AUTO_APPROVER", "policies", "set_auto_approval", "set_auto_approval_in_transaction"]

AUTO_APPROVER = "system:auto-approval"


def policies(session: Session) -> dict[str, AutoApprovalRow]:
    """Rules whose auto-approval is on, with who turned it on and when."""
    rows = session.scalars(select(AutoApprovalRow).where(AutoApprovalRow.enabled.is_(True)))
    return {r.rule: r for r in rows}


def set_auto_approval(
    session: Session, *, rule: str, enabled: bool, actor: str, audit: Callable[..., Any], now: datetime
) -> dict[str, object]:
    if rule not in RULES:
        msg = f"unknown rule {rule[:64]!r}: expected one of {', '.join(RULES)}"
        raise InputError(msg)
    row = session.get(AutoApprovalRow, rule, with_for_update=True)
    before = bool(row and row.enabled)
    if row is None:
        row = AutoApprovalRow(rule=rule, enabled=enabled, changed_by=actor, changed_at=now)
        session.add(row)
    else:
        row.enabled, row.changed_by, row.changed_at = enabled, actor, now
    session.flush()
    audit(
        session,
        ConfigChanged(
            setting=f"integrations.auto_approve.{rule}", before=json.dumps(before), after=json.dumps(enabled)
        ),
        actor=actor,
    )
    return {"rule": rule, "auto_approve": enabled, "changed_by": actor, "changed_at": utc_text(now)}


def set_auto_approval_in_transaction(
    sessions: sessionmaker[Session], *, rule: str, enabled: bool, actor: str, audit: Callable[..., Any]
) -> dict[str, object]:
    """:func:`set_auto_approval` in its own transaction (the route)."""
    with sessions.begin() as session:
        return set_auto_approval(
            session, rule=rule, enabled=enabled, actor=actor, audit=audit, now=datetime.now(UTC)
        )
