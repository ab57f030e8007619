"""How access control writes to the audit log: typed events, one call.

Events are the typed contracts of :mod:`lineguard.contracts.audit` (documented in
``docs/audit-events.md``), validated where they are built, and handed to the server's
audit choke point, ``ServerContext.audit(session, event, actor=...)``
(``lineguard.server.audit.record`` behind it), in the caller's transaction (a denial or
a failed sign-in commits its event on its own). Actors read ``user:<name>``, ``token:<id>`` or
``cli:<os user>``. No password, code, session id or token secret is ever a field.
"""

from __future__ import annotations

__all__ = ["user_actor"]


def user_actor(username: str) -> str:
    return f"user:{username}"
