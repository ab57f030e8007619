"""What every request handler of the server may reach: the one ``ServerContext``.

``create_app`` builds it once from the settings and keeps it on ``app.state``;
handlers get it (and a database session) through the dependencies here, never from a
global. A domain that keeps state for the app's lifetime (a rate limit, a relay, a
decrypted key) defines one typed object for it, exported from its front module;
``create_app`` builds it and the context holds it in a field named after it. What is
expensive or needs a secret is a :class:`~lineguard.server.once.Once`, built on first
use exactly once, even under concurrent first requests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.contracts.audit import AuditEvent
from lineguard.server.egress import EgressGate
from lineguard.server.once import Once
from lineguard.server.storage import Leadership

if TYPE_CHECKING:  # the domains' state types; they import this module, not the reverse
    from lineguard.server.assistant import AssistantState
    from lineguard.server.audit import Checkpoints
    from lineguard.server.auth import AuthRuntime
    from lineguard.server.dashboard import LiveSettings
    from lineguard.server.evidence_views import EvidenceViewsState
    from lineguard.server.ingest import IngestState
    from lineguard.server.integrations import IntegrationsState
    from lineguard.server.pki import LiveCa
    from lineguard.server.registry import Registry

__all__ = ["API_PREFIX", "AuditHook", "Sealer", "ServerContext", "get_context", "get_session"]

#: Where every domain's router is mounted.
API_PREFIX = "/api/v1"


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

    def seal_in_buckets(self, items: Sequence[tuple[str, str, bytes]], *, category: str) -> list[bytes]:
        """Seal each ``(object_id, bucket, plaintext)`` under its bucket's one data key
        (inspection events: one per line and hour; ``lineguard.server.keystore.buckets``)."""
        ...

    def open(self, sealed: bytes, *, object_id: str, category: str) -> bytes: ...


class AuditHook(Protocol):
    """The audit domain's single choke point: ``audit(session, event, actor=...)`` appends
    one typed event (:mod:`lineguard.contracts.audit`) in the caller's transaction.

    ``lineguard.server.audit.AuditRecorder`` is the server's; there is no other way to
    write an audit entry, and no event by name.
    """

    def __call__(self, session: Session, event: AuditEvent, /, *, actor: str) -> None: ...


@dataclass
class ServerContext:
    settings: ServerConfig
    engine: Engine
    sessions: sessionmaker[Session]
    sealer: Sealer
    audit: AuditHook
    #: The one door to the outside (``lineguard.server.egress``); built by ``create_app``.
    egress: EgressGate
    #: Access control: policy engine, hashing, lockout, session timeouts, the clock.
    auth: AuthRuntime
    #: The plant CA, decrypted with ``pki.ca_passphrase`` on first use, re-read when
    #: ``lineguard ca rotate`` / ``retire`` change its files (``server/pki/live.py``).
    ca: LiveCa
    #: The model registry, opened on first use (its TUF keys need the keyring passphrase).
    registry: Once[Registry]
    #: Ingest's per-node rate limit and SQLite write gate.
    ingest: IngestState
    #: Remote evidence views: the in-memory relay and the nodes' poll rate.
    evidence_views: EvidenceViewsState
    #: Signed audit checkpoints: the interval and, once loaded, the signing key.
    checkpoints: Checkpoints
    #: Timing of the dashboard's live alert stream.
    live: LiveSettings
    #: CMMS connectors, their delivery queue and the MQTT publisher.
    integrations: IntegrationsState
    #: Which singleton background duties this process runs (advisory locks across replicas).
    leadership: Leadership
    #: The assistant's language model (``assistant.language_model``), loaded on first use.
    assistant: AssistantState


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
