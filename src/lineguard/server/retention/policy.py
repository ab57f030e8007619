"""The effective retention policy: server.yaml's ``retention`` section plus run-time changes.

People with ``retention_policy.write`` change a period through the API; the change is a
row in ``retention_policy`` (who, when) and a ``config.changed`` audit entry with the
old and new value. Every sweep reads the effective policy afresh. Bounds are those of
:class:`~lineguard.config.server.RetentionConfig` (the audit log keeps at least 365
days), checked by validating the merged policy.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard.config.server import RetentionConfig
from lineguard.contracts.audit import ConfigChanged
from lineguard.contracts.errors import InputError
from lineguard.contracts.validation import format_validation_error
from lineguard.server.audit import record
from lineguard.server.retention.models import RetentionPolicyRow

__all__ = ["DAY_SETTINGS", "effective_policy", "update_policy"]

#: The settings a person may change at run time (the sweep interval stays in server.yaml).
DAY_SETTINGS = tuple(name for name in RetentionConfig.model_fields if name.endswith("_days"))


def effective_policy(session: Session, base: RetentionConfig) -> RetentionConfig:
    overrides = {
        r.setting: r.days for r in session.scalars(select(RetentionPolicyRow)) if r.setting in DAY_SETTINGS
    }
    return base.model_copy(update=overrides) if overrides else base


def update_policy(
    session: Session,
    base: RetentionConfig,
    changes: dict[str, int],
    *,
    actor: str,
    audit: Callable[..., object] = record,
) -> RetentionConfig:
    """Apply ``changes`` (setting → days); audit each change and commit; return the new effective policy."""
    unknown = sorted(set(changes) - set(DAY_SETTINGS))
    if unknown:
        msg = f"unknown retention settings: {', '.join(unknown)}; expected some of {', '.join(DAY_SETTINGS)}"
        raise InputError(msg)
    current = effective_policy(session, base)
    try:
        merged = RetentionConfig.model_validate({**current.model_dump(), **changes})
    except ValidationError as exc:
        msg = "retention policy not changed"
        raise InputError(msg, details=format_validation_error(exc)) from None
    now = datetime.now(UTC)
    for setting, days in sorted(changes.items()):
        before = getattr(current, setting)
        if before == days:
            continue
        row = session.get(RetentionPolicyRow, setting)
        if row is None:
            session.add(RetentionPolicyRow(setting=setting, days=days, changed_by=actor, changed_at=now))
        else:
            row.days, row.changed_by, row.changed_at = days, actor, now
        audit(
            session,
            ConfigChanged(setting=f"retention.{setting}", before=str(before), after=str(days)),
            actor=actor,
        )
    session.commit()
    return merged
