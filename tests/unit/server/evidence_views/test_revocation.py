"""Revoking a replica's relay identity, on PostgreSQL: every replica agrees at once, none renews it.

Two :class:`SharedRelay` objects stand for two replicas on one database (the transport
refusal is in test_peers.py; two real replicas over mTLS in
tests/integration/test_evidence_relay_replicas.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session

from lineguard.contracts.audit import AuditEvent, ReplicaRevoked
from lineguard.contracts.errors import ConflictError, NotFoundError
from lineguard.contracts.evidence_view import EvidenceViewUnavailableError, ReplicaRevokedError
from lineguard.server.evidence_views.revocation import (
    check_not_revoked,
    issue_unless_revoked,
    list_replicas,
    revoke_replica,
)
from lineguard.server.evidence_views.shared import SharedRelay
from lineguard.server.pki import PlantCa
from lineguard.server.storage import create_engine_for, session_factory

on_postgresql = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
JPEG = b"\xff\xd8 pretend image bytes \xff\xd9"


def _open(relay: SharedRelay, node_id: str) -> str:
    view = relay.open(
        node_id=node_id,
        event_id="evt_1",
        evidence_ref="evd_1",
        camera_id="cam-1",
        user_id="u-1",
        session_id="s",
    )
    return view.view_id


@on_postgresql
def test_a_revoked_replica_is_refused_everywhere_at_once_and_cannot_renew(
    db_url: str, tmp_path: Path
) -> None:
    engine = create_engine_for(db_url)
    sessions = session_factory(engine)
    ca = PlantCa.create(tmp_path, SecretStr("revocation test passphrase"), site_id="plant-a")
    a, b = SharedRelay(sessions, replica_id="rep_a"), SharedRelay(sessions, replica_id="rep_b")
    try:
        a.heartbeat("10.0.0.1", 9443)
        b.heartbeat("10.0.0.2", 9443)
        waiting = _open(a, "edge-1")
        ready = _open(a, "edge-2")
        b.requests_now("edge-2")
        view = a.get(ready)
        assert view is not None
        a.hold(ready, JPEG, request_id=view.request_id, node_id="edge-2")
        assert b.peer("rep_a") is not None

        audited: list[tuple[AuditEvent, str]] = []

        def audit(_session: Session, event: AuditEvent, /, *, actor: str) -> None:
            audited.append((event, actor))

        def revoke(session: Session, replica_id: str, reason: str) -> ReplicaRevoked:
            return revoke_replica(
                session,
                replica_id=replica_id,
                reason=reason,
                actor="user:ivan.it",
                audit=audit,
                lost_reason=SharedRelay.lost_reason,
            )

        with sessions() as session:
            event = revoke(session, "rep_a", "host relay-a decommissioned")
        assert audited == [(event, "user:ivan.it")]
        assert event == ReplicaRevoked(
            replica_id="rep_a", host="10.0.0.1:9443", reason="host relay-a decommissioned", views_ended=2
        )

        # Every replica agrees at once: B no longer counts A alive, and A's views ended lost.
        assert b.peer("rep_a") is None
        for view_id in (waiting, ready):
            ended = b.get(view_id)
            assert ended is not None and ended.state == "lost" and "revoked" in ended.reason
        with pytest.raises(
            ReplicaRevokedError, match=r"rep_a was revoked at .* by user:ivan.it: host relay-a"
        ):
            check_not_revoked(sessions, "rep_a")
        check_not_revoked(sessions, "rep_b")  # the others are untouched

        # A learns it at its next heartbeat: drops what it held, opens nothing, renews nothing.
        assert a.held_bytes() == len(JPEG)
        a.heartbeat("10.0.0.1", 9443)
        assert a.revoked and a.held_bytes() == 0
        with pytest.raises(EvidenceViewUnavailableError, match=r"rep_a.*was revoked"):
            _open(a, "edge-3")
        with pytest.raises(ReplicaRevokedError, match="rep_a was revoked"):
            issue_unless_revoked(sessions, ca, replica_id="rep_a", host="10.0.0.1", hours=1)
        renewed = issue_unless_revoked(sessions, ca, replica_id="rep_b", host="10.0.0.2", hours=1)
        assert b"BEGIN CERTIFICATE" in renewed.cert_pem
        b.heartbeat("10.0.0.2", 9443)
        assert not b.revoked

        with sessions() as session:
            listed = {r.replica_id: r.revoked for r in list_replicas(session)}
            assert listed == {"rep_a": True, "rep_b": False}
            with pytest.raises(ConflictError, match="rep_a was already revoked"):
                revoke(session, "rep_a", "again")
            session.rollback()
            with pytest.raises(NotFoundError, match="no server replica 'rep_nobody' is registered"):
                revoke(session, "rep_nobody", "typo")
        assert len(audited) == 1  # refused revocations write nothing
    finally:
        engine.dispose()
