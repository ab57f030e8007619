"""What every request handler of the server may reach: the one ``ServerContext``.

``create_app`` builds it once from the settings and keeps it on ``app.state``;
handlers get it (and a database session) through the dependencies here, never from a
global. Other domains add what they need as fields with defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.server.egress import EgressGate

__all__ = ["AuditHook", "Sealer", "ServerContext", "get_context", "get_session"]


class Sealer(Protocol):
    """Envelope encryption of one field or file (``lineguard.crypto.envelope.Envelope``).

    ``batch()`` groups the data keys of many seals into one durable write; ingest seals
    a whole request inside one such block, before committing the rows.
    """

    def batch(self) -> AbstractContextManager[None]: ...

    def seal(self, plaintext: bytes, *, object_id: str, category: str) -> bytes: ...

    def seal_many(self, items: Sequence[tuple[str, bytes]], *, category: str) -> list[bytes]:
        """``seal`` of each ``(object_id, plaintext)``, the per-call work done once."""
        ...

    def open(self, sealed: bytes, *, object_id: str, category: str) -> bytes: ...


#: ``audit(session, name, **fields)`` appends one typed audit event in the caller's
#: transaction (the audit domain's single choke point, adapted in ``server/app.py``).
AuditHook = Callable[..., None]


@dataclass
class ServerContext:
    settings: ServerConfig
    engine: Engine
    sessions: sessionmaker[Session]
    sealer: Sealer
    audit: AuditHook
    #: The one door to the outside (``lineguard.server.egress``); built by ``create_app``.
    egress: EgressGate
    #: Per-domain objects (PKI, rate limiters, caches), keyed by domain name.
    extras: dict[str, Any] = field(default_factory=dict)


def get_context(request: Request) -> ServerContext:
    context = getattr(request.app.state, "lineguard", None)
    if not isinstance(context, ServerContext):
        msg = "the app was not built by lineguard.server.app.create_app"
        raise TypeError(msg)
    return context


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; the service decides when to commit."""
    with get_context(request).sessions() as session:
        yield session
