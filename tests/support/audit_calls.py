"""The real audit recorder's contract, for the in-memory audit trails tests hand to the server.

A trail that accepted any fields hid a production failure once (node renewal audited
fields its typed event does not have, and no actor), so every test trail checks a call
exactly as :class:`lineguard.server.audit.hook.AuditRecorder` would.
"""

from __future__ import annotations

import re
from typing import Any

from lineguard.contracts.audit import ACTOR_PATTERN, AuditEvent, audit_event_class

__all__ = ["checked_audit_call"]


def checked_audit_call(
    event: str | AuditEvent, actor: str, fields: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The event's name and fields, after the checks the real recorder makes (AssertionError otherwise)."""
    if isinstance(event, AuditEvent):  # a typed event (what ``emit`` passes)
        assert not fields, "pass either an event object or a name with fields, not both"
        name, fields = event.event_name, event.model_dump()
    else:
        name = event
        audit_event_class(name).model_validate(fields)
    assert re.match(ACTOR_PATTERN, actor), f"bad actor {actor!r} for {name}"
    return name, fields
