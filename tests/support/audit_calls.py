"""The real audit recorder's contract, for the in-memory audit trails tests hand to the server.

A trail that accepted any fields hid a production failure once (node renewal audited
fields its typed event does not have, and no actor), so every test trail checks a call
exactly as :class:`lineguard.server.audit.hook.AuditRecorder` would.
"""

from __future__ import annotations

import re
from typing import Any

from lineguard.contracts.audit import ACTOR_PATTERN, AuditEvent
from lineguard.crypto.canonical import canonical_json

__all__ = ["checked_audit_call"]


def checked_audit_call(event: AuditEvent, actor: str) -> tuple[str, dict[str, Any]]:
    """The event's name and fields, after the checks the real recorder makes (AssertionError otherwise)."""
    assert isinstance(event, AuditEvent), f"audit events are typed, not {type(event).__name__} ({event!r})"
    name, fields = event.event_name, event.model_dump()
    assert re.match(ACTOR_PATTERN, actor), f"bad actor {actor!r} for {name}"
    assert event.event_name, f"{type(event).__name__} is not a concrete audit event"
    # The recorder hashes the canonical JSON of the fields: a value without a canonical
    # form (a float, once, in ca retire's audit) fails there and must fail here too.
    canonical_json(event.model_dump(mode="json"))
    return name, fields
