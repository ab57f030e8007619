"""Building the server's one :class:`EgressGate` and recording what it refuses.

``build_gate(settings, sessions=..., audit=...)`` is called once per process (the app's
state, a CLI command); each denial becomes an ``egress.denied`` audit entry in its own
transaction, actor ``system:egress``, so a refused connection is on the record even
when the work that asked for it fails and rolls back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.contracts.audit import EgressDenied
from lineguard.server.egress.gate import Denial, EgressGate, Resolver, system_resolver

__all__ = ["EGRESS_ACTOR", "build_gate"]

EGRESS_ACTOR = "system:egress"


def build_gate(
    settings: ServerConfig,
    *,
    sessions: sessionmaker[Session] | None,
    audit: Callable[..., Any] | None,
    resolver: Resolver = system_resolver,
) -> EgressGate:
    """The gate for ``settings.egress``; denials audited when ``sessions`` and ``audit`` are given."""

    def record(denial: Denial) -> None:
        if sessions is None or audit is None:
            return
        event = EgressDenied(
            destination=str(denial.destination)[:500],
            purpose=denial.purpose[:500],
            reason=denial.reason[:500],
        )
        with sessions.begin() as session:
            audit(session, event, actor=EGRESS_ACTOR)

    return EgressGate(settings.egress, resolver=resolver, on_denied=record)
