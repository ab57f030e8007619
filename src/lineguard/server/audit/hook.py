"""The server's audit recorder: typed events in, hash-chained entries out.

``ServerContext.audit(session, IngestBatchAccepted(node_id=…, batch_id=…, events=100),
actor="node:n1")`` appends the event through :func:`record`, in the caller's
transaction. Events are the typed contracts of :mod:`lineguard.contracts.audit`,
validated where they are built; there is no way to audit by name with loose fields.
Benchmarks measure the cost of auditing with ``AuditRecorder(enabled=False)``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from lineguard.contracts.audit import AuditEvent
from lineguard.contracts.errors import ContractError
from lineguard.server.audit.service import record

__all__ = ["AuditRecorder"]


class AuditRecorder:
    """Callable ``(session, event, *, actor)``: the server's ``AuditHook``."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled

    def __call__(self, session: Session, event: AuditEvent, /, *, actor: str) -> None:
        if not self.enabled:
            return
        if not isinstance(event, AuditEvent):  # an untyped caller (a name, a dict) is a bug
            msg = f"audit events are typed (lineguard.contracts.audit), not {type(event).__name__}"
            raise ContractError(msg)
        record(session, event, actor=actor)

    def __repr__(self) -> str:
        return f"AuditRecorder(enabled={self.enabled})"
