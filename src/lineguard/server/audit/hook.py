"""The audit hook handed to ``create_app``: named events in, typed entries out.

``ServerContext.audit(session, "ingest.batch_accepted", actor="node:n1", node_id=…,
batch_id=…, events=100)`` builds the typed event named in
:mod:`lineguard.contracts.audit` and appends it through :func:`record`, in the
caller's transaction. A ready event may be passed instead of a name. Benchmarks
measure the cost of auditing with ``AuditRecorder(enabled=False)``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from lineguard.contracts.audit import AuditEvent, audit_event_class
from lineguard.contracts.errors import ContractError
from lineguard.server.audit.service import record

__all__ = ["AuditRecorder"]


class AuditRecorder:
    """Callable ``(session, name_or_event, *, actor, **fields)``; the server's ``AuditHook``."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled

    def __call__(self, session: Session, event: str | AuditEvent, /, *, actor: str, **fields: Any) -> None:
        if not self.enabled:
            return
        if isinstance(event, str):
            cls = audit_event_class(event)
            try:
                event = cls(**fields)
            except ValidationError as exc:
                msg = f"audit event {cls.event_name!r} is malformed"
                details = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
                raise ContractError(msg, details=details) from None
        elif fields:
            msg = "pass either an event object or a name with fields, not both"
            raise ContractError(msg)
        record(session, event, actor=actor)

    def __repr__(self) -> str:
        return f"AuditRecorder(enabled={self.enabled})"
